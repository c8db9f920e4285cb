"""Uncertain values: each named distribution, the interval shorthand, percent strings, supports.

Statistical checks draw ``N`` values as ``ppf`` of seeded uniforms and compare them with an
independent truth (closed-form moments; scipy distributions built here from the written
parameters):

- the sample mean is within ``4 * sd / sqrt(N)`` of the true mean;
- at the true 5%, 50% and 95% quantiles ``x_p``, the empirical CDF is within
  ``4 * sqrt(F (1 - F) / N)`` of ``F = F(x_p)`` (the binomial standard error of a proportion;
  ``F = p`` for continuous laws, the CDF's jump level for discrete ones).

At 4 standard errors a correct implementation fails about once in 16,000 checks; seeds are
fixed, so the outcome is deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.scenario.uncertain import (
    InputError,
    Kind,
    Uncertain,
    check_positive,
    parse_uncertain,
)

N = 200_000
SEED = 20240607
PROBABILITIES = (0.05, 0.50, 0.95)


def _truncnorm_moments(mean: float, sd: float, low: float, high: float) -> tuple[float, float]:
    """Closed-form mean and sd of a normal truncated to [low, high]."""
    a, b = (low - mean) / sd, (high - mean) / sd
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    ratio = (stats.norm.pdf(a) - stats.norm.pdf(b)) / mass
    var = sd**2 * (1 + (a * stats.norm.pdf(a) - b * stats.norm.pdf(b)) / mass - ratio**2)
    return mean + sd * ratio, math.sqrt(var)


_TN_MEAN, _TN_SD = _truncnorm_moments(0.02, 0.015, 0.0, 0.05)
_LN_SIGMA2 = math.log1p(0.5**2)  # lognormal with mean 100, sd 50

# id, YAML value, kind, true mean, true sd, truth (scipy, built from the written parameters)
CASES = [
    (
        "uniform",
        {"dist": "uniform", "low": 2, "high": 5},
        Kind.AMOUNT,
        3.5,
        3 / math.sqrt(12),
        stats.uniform(2, 3),
    ),
    (
        "triangular",
        {"dist": "triangular", "low": 1, "mode": 2, "high": 6},
        Kind.AMOUNT,
        3.0,
        math.sqrt(21 / 18),
        stats.triang(0.2, loc=1, scale=5),
    ),
    (
        "pert",
        {"dist": "pert", "low": 10, "mode": 12, "high": 20},
        Kind.AMOUNT,
        13.0,
        math.sqrt(3.0),
        stats.beta(1.8, 4.2, loc=10, scale=10),
    ),
    (
        "pert_lambda",
        {"dist": "pert", "low": 0, "mode": 1, "high": 4, "lambda": 2},
        Kind.AMOUNT,
        1.5,
        math.sqrt(0.75),
        stats.beta(1.5, 2.5, loc=0, scale=4),
    ),
    ("normal", {"dist": "normal", "mean": 5, "sd": 2}, Kind.SIGNED, 5.0, 2.0, stats.norm(5, 2)),
    (
        "truncated_normal",
        {"dist": "normal", "mean": 0.02, "sd": 0.015, "low": 0, "high": 0.05},
        Kind.RATE,
        _TN_MEAN,
        _TN_SD,
        stats.truncnorm(-0.02 / 0.015, 0.03 / 0.015, loc=0.02, scale=0.015),
    ),
    (
        "lognormal_mean_sd",
        {"dist": "lognormal", "mean": 100, "sd": 50},
        Kind.AMOUNT,
        100.0,
        50.0,
        stats.lognorm(math.sqrt(_LN_SIGMA2), scale=100 * math.exp(-_LN_SIGMA2 / 2)),
    ),
    (
        "lognormal_mu_sigma",
        {"dist": "lognormal", "mu": 1, "sigma": 0.5},
        Kind.AMOUNT,
        math.exp(1.125),
        math.exp(1.125) * math.sqrt(math.expm1(0.25)),
        stats.lognorm(0.5, scale=math.e),
    ),
    (
        "beta",
        {"dist": "beta", "alpha": 2, "beta": 5},
        Kind.RATE,
        2 / 7,
        math.sqrt(10 / (49 * 8)),
        stats.beta(2, 5),
    ),
    (
        "beta_low_high",
        {"dist": "beta", "alpha": 2, "beta": 3, "low": 10, "high": 20},
        Kind.AMOUNT,
        14.0,
        2.0,
        stats.beta(2, 3, loc=10, scale=10),
    ),
    (
        "gamma_shape_scale",
        {"dist": "gamma", "shape": 3, "scale": 2},
        Kind.AMOUNT,
        6.0,
        2 * math.sqrt(3),
        stats.gamma(3, scale=2),
    ),
    (
        "gamma_mean_sd",
        {"dist": "gamma", "mean": 10, "sd": 4},
        Kind.AMOUNT,
        10.0,
        4.0,
        stats.gamma(6.25, scale=1.6),
    ),
    (
        "discrete",
        {"dist": "discrete", "values": [5, 1, 2], "probabilities": ["30%", "20%", "50%"]},
        Kind.AMOUNT,
        2.7,
        math.sqrt(0.2 * 1 + 0.5 * 4 + 0.3 * 25 - 2.7**2),
        stats.rv_discrete(values=([1, 2, 5], [0.2, 0.5, 0.3])),
    ),
    (
        "empirical",
        {"dist": "empirical", "values": [3, 1, 4, 1, 5, 9, 2, 6]},
        Kind.AMOUNT,
        31 / 8,
        float(np.std([3, 1, 4, 1, 5, 9, 2, 6])),
        stats.rv_discrete(values=([1, 2, 3, 4, 5, 6, 9], [2 / 8, *[1 / 8] * 6])),
    ),
]


def _draw(value: Uncertain, n: int = N, seed: int = SEED) -> np.ndarray:
    return value.ppf(np.random.default_rng(seed).random(n))


def _check_sample(x: np.ndarray, mean: float, sd: float, truth) -> None:
    n = len(x)
    assert abs(x.mean() - mean) < 4 * sd / math.sqrt(n), (x.mean(), mean)
    for p in PROBABILITIES:
        x_p = truth.ppf(p)
        level = float(truth.cdf(x_p))
        tol = 4 * math.sqrt(level * (1 - level) / n)
        assert abs(np.mean(x <= x_p) - level) <= tol, (p, x_p, np.mean(x <= x_p), level)


@pytest.mark.parametrize(
    "raw, kind, mean, sd, truth", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_distribution_mean_and_quantiles(raw, kind, mean, sd, truth):
    value = parse_uncertain(raw, kind)
    assert value.spec["dist"] == raw["dist"]
    assert value.mean == pytest.approx(mean, rel=1e-9)
    _check_sample(_draw(value), mean, sd, truth)


def test_empirical_from_csv_column(tmp_path):
    rows = ["month,churn,note", "1,1.5%,a", "2,2%,b", "3,,missing", "4,2.5%,c", "5,0.02,d"]
    (tmp_path / "history.csv").write_text("\n".join(rows) + "\n")
    raw = {"dist": "empirical", "csv": "history.csv", "column": "churn"}
    value = parse_uncertain(raw, Kind.RATE, base_dir=tmp_path)
    truth = stats.rv_discrete(values=([15, 20, 25], [0.25, 0.5, 0.25]))  # in tenths of a percent
    mean, sd = 0.02, math.sqrt(0.5 * 0.005**2)
    x = _draw(value)
    assert set(np.round(x * 1000, 9)) == {15.0, 20.0, 25.0}
    assert abs(x.mean() - mean) < 4 * sd / math.sqrt(N)
    for p in PROBABILITIES:
        level = float(truth.cdf(truth.ppf(p)))
        assert abs(np.mean(x * 1000 <= truth.ppf(p) + 1e-9) - level) <= 4 * math.sqrt(
            level * (1 - level) / N
        )


def test_empirical_csv_unknown_column(tmp_path):
    (tmp_path / "history.csv").write_text("month,churn\n1,2%\n")
    with pytest.raises(InputError, match="no column 'chrun'.*did you mean 'churn'"):
        parse_uncertain(
            {"dist": "empirical", "csv": "history.csv", "column": "chrun"},
            Kind.RATE,
            base_dir=tmp_path,
        )


def test_discrete_ppf_at_cumulative_levels():
    value = parse_uncertain(
        {"dist": "discrete", "values": [1, 2, 5], "probabilities": [0.2, 0.5, 0.3]}, Kind.AMOUNT
    )
    u = np.array([1e-300, 0.2, 0.2 + 1e-12, 0.7, 0.7 + 1e-12, 1 - 2.0**-53])
    np.testing.assert_array_equal(value.ppf(u), [1, 1, 2, 2, 5, 5])


def test_discrete_ppf_near_one_despite_rounded_cumulative_sum():
    # Seven equally likely values: the cumulative sum of 1/7 ends at 0.9999999999999998,
    # below the largest uniform 1 - 2**-53, which must still map to the largest value.
    value = parse_uncertain({"dist": "empirical", "values": [1, 2, 3, 4, 5, 6, 7]}, Kind.AMOUNT)
    assert np.cumsum(np.full(7, 1 / 7))[-1] < 1 - 2.0**-53
    assert value.ppf(np.array([1 - 2.0**-53]))[0] == 7


INTERVALS = [
    ("1% to 3%", Kind.RATE, "beta", (5, 0.01), (95, 0.03)),
    ("100 to 300", Kind.AMOUNT, "lognormal", (5, 100), (95, 300)),
    ("-5% to 10%", Kind.SIGNED, "normal", (5, -0.05), (95, 0.10)),
    ({"p5": 0.01, "p95": 0.03}, Kind.RATE, "beta", (5, 0.01), (95, 0.03)),
    ({"p10": 100, "p90": 200}, Kind.AMOUNT, "lognormal", (10, 100), (90, 200)),
    ({"p10": "-2%", "p90": "4%"}, Kind.SIGNED, "normal", (10, -0.02), (90, 0.04)),
    ({"p25": "40%", "p75": "60%"}, Kind.RATE, "beta", (25, 0.40), (75, 0.60)),
]


@pytest.mark.parametrize(
    "raw, kind, dist, low, high", INTERVALS, ids=[str(i[0]) for i in INTERVALS]
)
def test_interval_shorthand_puts_its_ends_at_the_written_quantiles(raw, kind, dist, low, high):
    value = parse_uncertain(raw, kind)
    assert value.spec["dist"] == dist
    for percent, x in (low, high):
        assert value.dist.cdf(x) == pytest.approx(percent / 100, abs=1e-6)


@pytest.mark.parametrize(
    "raw, kind, expected",
    [
        ("2%", Kind.RATE, 0.02),
        ("12.5 %", Kind.RATE, 0.125),
        (" 0.5% ", Kind.RATE, 0.005),
        ("-3%", Kind.SIGNED, -0.03),
        ("1e3", Kind.AMOUNT, 1000.0),
        ("1_000", Kind.AMOUNT, 1000.0),
        (7, Kind.AMOUNT, 7.0),
    ],
)
def test_fixed_numbers_and_percent_strings(raw, kind, expected):
    value = parse_uncertain(raw, kind)
    assert value.is_fixed
    assert value.mean == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(value.ppf(np.array([0.1, 0.9])), [expected, expected])


def test_percent_strings_inside_a_distribution():
    value = parse_uncertain(
        {"dist": "triangular", "low": "1%", "mode": "2%", "high": "4%"}, Kind.RATE
    )
    assert value.dist.support() == pytest.approx((0.01, 0.04))
    assert value.mean == pytest.approx(0.07 / 3)


@pytest.mark.parametrize(
    "raw, kind, message",
    [
        ({"dist": "normal", "mean": 0.02, "sd": 0.01}, Kind.RATE, "truncate"),
        ({"dist": "normal", "mean": 100, "sd": 30}, Kind.AMOUNT, "truncate"),
        ({"dist": "lognormal", "mean": 0.5, "sd": 0.1}, Kind.RATE, "ranges over"),
        ({"dist": "uniform", "low": -1, "high": 1}, Kind.AMOUNT, "must be >= 0"),
        (-5, Kind.AMOUNT, "must be >= 0"),
        ("-5", Kind.AMOUNT, "must be >= 0"),
        (1.5, Kind.RATE, "between 0% and 100%"),
        ("150%", Kind.RATE, "between 0% and 100%"),
        ("100 to 300", Kind.RATE, "strictly inside 0% to 100%"),
        ("0 to 300", Kind.AMOUNT, "lower end > 0"),
        ("3% to 1%", Kind.RATE, "lower end must be below"),
        (
            {"dist": "discrete", "values": [1, 2], "probabilities": [0.7, 0.5]},
            Kind.AMOUNT,
            "sum to 1",
        ),
        (
            {"dist": "discrete", "values": [1, 2], "probabilities": [1.5, -0.5]},
            Kind.AMOUNT,
            "must be >= 0",
        ),
        ({"dist": "lognormla", "mean": 1, "sd": 1}, Kind.AMOUNT, "did you mean 'lognormal'"),
        ({"dist": "pert", "low": 1, "high": 3}, Kind.AMOUNT, "pert takes"),
        ({"dist": "lognormal", "mean": 1, "sd": 1, "mu": 0}, Kind.AMOUNT, "lognormal takes"),
        (
            {"dist": "triangular", "low": 1, "mode": 5, "high": 3},
            Kind.AMOUNT,
            "low <= mode <= high",
        ),
        ({"p5": 1, "p50": 2, "p95": 3}, Kind.AMOUNT, "exactly two quantiles"),
        ({"p5": 1, "p05": 2}, Kind.AMOUNT, "two different quantiles"),
        ("lots", Kind.AMOUNT, "expected a number"),
        (None, Kind.AMOUNT, r"got nothing \(an empty value\)"),
        (True, Kind.AMOUNT, "expected a number, got true"),
        ({"dist": []}, Kind.AMOUNT, r"expected the name of a distribution .*, got \[\]"),
        ({"dist": {}}, Kind.AMOUNT, r"expected the name of a distribution .*, got \{\}"),
        ({"dist": None}, Kind.AMOUNT, "got nothing"),
        ({"dist": "lognormal", "mean": 5, "sd": 1e308}, Kind.AMOUNT, r"too large"),
        ({"dist": "lognormal", "mu": 1000, "sigma": 1}, Kind.AMOUNT, r"too large"),
        ({"dist": "gamma", "mean": 1e-300, "sd": 1e300}, Kind.AMOUNT, "division by zero"),
        ({"dist": "uniform", "low": -1e308, "high": 1e308}, Kind.SIGNED, "too wide"),
        ("1e-300 to 1e300", Kind.AMOUNT, "no finite mean"),
        ("-1e308 to 1e308", Kind.SIGNED, "no finite mean"),
    ],
)
def test_invalid_values_raise(raw, kind, message):
    with pytest.raises(InputError, match=message):
        parse_uncertain(raw, kind)


@pytest.mark.parametrize(
    "written, meant, kind",
    [
        ("1 to 3%", "1% to 3%", Kind.RATE),
        ("-5 to 10%", "-5% to 10%", Kind.SIGNED),
        ("2 to 4 %", "2% to 4%", Kind.AMOUNT),
    ],
)
def test_percent_sign_on_the_upper_end_covers_both_ends(written, meant, kind):
    assert parse_uncertain(written, kind).spec == parse_uncertain(meant, kind).spec


@pytest.mark.parametrize(
    "raw, ok",
    [
        (2, True),
        (0, False),
        ({"dist": "lognormal", "mean": 2, "sd": 1}, True),
        ({"dist": "uniform", "low": 0, "high": 2}, True),  # 0 has probability 0
        ({"dist": "discrete", "values": [1, 2], "probabilities": [0.5, 0.5]}, True),
        ({"dist": "discrete", "values": [0, 2], "probabilities": [0.5, 0.5]}, False),
        ({"dist": "empirical", "values": [3, 0, 5]}, False),
    ],
)
def test_positive_values(raw, ok):
    value = parse_uncertain(raw, Kind.AMOUNT)
    if ok:
        check_positive(value)
    else:
        with pytest.raises(InputError, match="must be > 0"):
            check_positive(value)
