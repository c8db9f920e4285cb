"""Sampling layer: uniform designs, Iman–Conover rank correlation, plans on common random numbers.

Tolerances come from standard errors written next to each check. For Spearman's rho at ``n``
paths we use Fieller, Hartley and Pearson (1957): ``atanh(r_s)`` has variance about
``1.06 / (n - 3)`` under a bivariate normal copula, hence by the delta method
``SE(r_s) = (1 - rho**2) * sqrt(1.06 / (n - 3))``. It is the sampling error of an independent
sample with that copula, which Iman–Conover's correction for the scores' own correlation can
only reduce, so 3 SE is a conservative bound. It is still tight enough to catch a missing
Spearman-to-Pearson conversion: without it rho = 0.9 would come out near 0.891 (6/pi asin(0.45)),
2.9e-3 x 3 too far.
"""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import stats

from simulator.sampling import (
    INPUT_SPAWN_KEY,
    Draws,
    expected_inputs,
    impose_rank_correlation,
    sample_inputs,
    spearman_to_pearson,
    uniform_design,
)
from simulator.sampling.draws import input_rng
from simulator.scenario import load_scenario
from simulator.scenario.inputs import uncertain_inputs
from simulator.scenario.loader import load_text
from simulator.scenario.model import Correlation, SamplingMethod

METHODS = [m.value for m in SamplingMethod]

WEB = "funnel.sources.web"
LEADS, GROWTH, TRIAL, CONTRACT, CPL = (
    f"{WEB}.leads_per_month",
    f"{WEB}.growth_per_year",
    f"{WEB}.stages.trial",
    f"{WEB}.stages.contract",
    f"{WEB}.cost_per_lead",
)
CHURN, PRICE = "offers.saas.churn.monthly", "offers.saas.price_per_seat_month"
SERVE = "offers.saas.cost_to_serve_per_seat_month"

SMALL = f"""
simulation: {{sampling: random, seed: 7, paths: 500}}
funnel:
  sources:
    web:
      leads_per_month: 100 to 200
      growth_per_year: 0% to 10%
      stages: {{trial: 5% to 15%, contract: 20% to 30%}}
      cost_per_lead: {{dist: gamma, mean: 40, sd: 8}}
segments:
  all: {{share: 100%, seats: {{dist: lognormal, mean: 10, sd: 5}}}}
offers:
  saas:
    type: subscription
    price_per_seat_month: 30
    churn: {{monthly: 1% to 3%}}
    cost_to_serve_per_seat_month: 3 to 5
plans:
  base: {{mix: {{saas: 100%}}}}
  cheaper:
    mix: {{saas: 100%}}
    overrides:
      {CHURN}: 2% to 5%            # another distribution for the same input
      {PRICE}: 20 to 30            # fixed in the base scenario, uncertain in this plan
      {SERVE}: 4                   # uncertain in the base scenario, fixed in this plan
correlations:
  - {{between: [{LEADS}, {GROWTH}], rank: -0.3}}
  - {{between: [{LEADS}, {TRIAL}], rank: 0.4}}
  - {{between: [{GROWTH}, {CONTRACT}], rank: 0.7}}
  - {{between: [{CPL}, {CHURN}], rank: 0.9}}
"""
TARGETS = {(LEADS, GROWTH): -0.3, (LEADS, TRIAL): 0.4, (GROWTH, CONTRACT): 0.7, (CPL, CHURN): 0.9}


@pytest.fixture(scope="module")
def small():
    return load_text(SMALL)


@pytest.fixture(scope="module")
def bundled():
    return load_scenario()


def _spearman_se(rho: float, n: int) -> float:
    return (1 - rho**2) * math.sqrt(1.06 / (n - 3))


def _without_correlations(scenario):
    return scenario.model_copy(update={"correlations": []})


# ---------------------------------------------------------------------------------------------
# Shapes, names, reproducibility
# ---------------------------------------------------------------------------------------------


def test_shapes_and_names_of_the_bundled_scenario(bundled):
    draws = sample_inputs(bundled, paths=1000, seed=1)
    assert isinstance(draws, Draws)
    assert draws.names == list(uncertain_inputs(bundled))
    assert draws.uniforms.shape == (1000, len(draws.names)) and draws.uniforms.dtype == np.float64
    assert draws.method is SamplingMethod.LATIN_HYPERCUBE  # the file's simulation.sampling
    assert 0 < draws.uniforms.min() and draws.uniforms.max() < 1
    for plan in bundled.plans:
        values = draws.values(plan)
        assert list(values) == list(uncertain_inputs(bundled.for_plan(plan)))
        for array in values.values():
            assert (
                array.shape == (1000,) and array.dtype == np.float64 and np.all(np.isfinite(array))
            )


def test_scenario_defaults_for_paths_seed_and_method(small):
    draws = sample_inputs(small)
    assert (draws.paths, draws.seed, draws.method) == (500, 7, SamplingMethod.RANDOM)
    np.testing.assert_array_equal(
        draws.uniforms, sample_inputs(small, paths=500, seed=7, method="random").uniforms
    )


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_draws_other_seed_other_draws(small, method):
    first = sample_inputs(small, paths=300, seed=11, method=method)
    again = sample_inputs(small, paths=300, seed=11, method=SamplingMethod(method))
    other = sample_inputs(small, paths=300, seed=12, method=method)
    np.testing.assert_array_equal(first.uniforms, again.uniforms)
    assert not np.any(first.uniforms == other.uniforms)


def test_input_stream_is_spawn_key_zero(small):
    # The documented contract the engine relies on: inputs come from SeedSequence(seed, (0,)).
    scenario = _without_correlations(small)
    draws = sample_inputs(scenario, paths=200, seed=5, method="random")
    rng = np.random.default_rng(np.random.SeedSequence(5, spawn_key=INPUT_SPAWN_KEY))
    assert INPUT_SPAWN_KEY == (0,)
    np.testing.assert_array_equal(draws.uniforms, rng.random((200, len(draws.names))))


def test_unknown_method_and_bad_path_counts_raise(small):
    with pytest.raises(ValueError, match="unknown sampling method 'halton'"):
        sample_inputs(small, paths=10, method="halton")
    for paths in (0, -3, 2.5):
        with pytest.raises(ValueError, match="paths must be a whole number >= 1"):
            sample_inputs(small, paths=paths)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("paths", [1, 2, 3])
def test_tiny_path_counts(small, method, paths):
    draws = sample_inputs(small, paths=paths, seed=3, method=method)
    assert draws.uniforms.shape == (paths, len(draws.names))
    assert np.all((draws.uniforms > 0) & (draws.uniforms < 1))


# ---------------------------------------------------------------------------------------------
# Designs: uniform marginals, stratification
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_marginals_are_uniform(small, method):
    # Kolmogorov-Smirnov per column at n = 10,000 (after correlation, which keeps the values);
    # a fixed seed makes each p-value deterministic; 1e-3 is the level of each test.
    draws = sample_inputs(small, paths=10_000, seed=21, method=method)
    for j, name in enumerate(draws.names):
        assert stats.kstest(draws.uniforms[:, j], "uniform").pvalue > 1e-3, name


@pytest.mark.parametrize(
    "method, paths", [("latin_hypercube", 1000), ("latin_hypercube", 777), ("sobol", 1024)]
)
def test_each_of_n_bins_holds_one_point_per_column(small, method, paths):
    # Latin hypercube at any n; scrambled Sobol' when n is a power of two. Correlating
    # columns only reorders them, so the stratification survives it.
    draws = sample_inputs(small, paths=paths, seed=8, method=method)
    bins = np.floor(draws.uniforms * paths).astype(int)
    np.testing.assert_array_equal(
        np.sort(bins, axis=0), np.tile(np.arange(paths)[:, None], (1, len(draws.names)))
    )


def test_random_design_is_not_stratified(small):
    # The check above can fail: independent uniforms leave about n/e bins empty.
    draws = sample_inputs(small, paths=1000, seed=8, method="random")
    assert len(np.unique(np.floor(draws.uniforms[:, 0] * 1000))) < 700


def test_sobol_off_a_power_of_two_warns_nothing(small):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draws = sample_inputs(small, paths=1000, seed=8, method="sobol")
    assert draws.uniforms.shape == (1000, len(draws.names))


def test_uniform_design_without_inputs():
    assert uniform_design(5, 0, "sobol", input_rng(1)).shape == (5, 0)


# ---------------------------------------------------------------------------------------------
# Rank correlation (Iman–Conover)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_imposed_rank_correlations_are_reached(small, method):
    n = 10_000
    draws = sample_inputs(small, paths=n, seed=99, method=method)
    rho = stats.spearmanr(draws.uniforms).statistic
    for i, a in enumerate(draws.names):
        for j, b in enumerate(draws.names[:i]):
            target = TARGETS.get((a, b), TARGETS.get((b, a), 0.0))
            assert abs(rho[i, j] - target) < 3 * _spearman_se(target, n), (a, b, rho[i, j], target)


def test_scores_of_the_result_have_the_target_pearson_correlation():
    # Iman–Conover's correction: the rearranged scores have sample correlation exactly
    # 2 sin(pi rho / 6); re-ranking them to van der Waerden scores moves it by ~1e-4. Without
    # the correction the error would be that of a sample correlation, SE = (1 - r^2)/sqrt(n)
    # ~ 0.01 here; the bound is a tenth of that.
    n = 10_000
    target = np.array([[1, -0.3, 0.4, 0], [-0.3, 1, 0, 0.7], [0.4, 0, 1, 0], [0, 0.7, 0, 1]])
    uniforms = np.random.default_rng(12).random((n, 4))
    impose_rank_correlation(uniforms, target)
    scores = stats.norm.ppf(stats.rankdata(uniforms, axis=0) / (n + 1))
    np.testing.assert_allclose(
        np.corrcoef(scores, rowvar=False), spearman_to_pearson(target), atol=0.1 / math.sqrt(n)
    )


def test_values_keep_the_rank_correlation(small):
    # ppf is increasing, so the plan's values carry the ranks of the uniforms.
    draws = sample_inputs(small, paths=10_000, seed=4)
    values = draws.values("base")
    rho = stats.spearmanr(values[LEADS], values[GROWTH]).statistic
    np.testing.assert_allclose(
        rho, stats.spearmanr(draws.uniforms[:, 0], draws.uniforms[:, 1]).statistic
    )
    assert abs(rho + 0.3) < 3 * _spearman_se(-0.3, 10_000)


@pytest.mark.parametrize("method", METHODS)
def test_correlation_keeps_each_column_values(small, method):
    correlated = sample_inputs(small, paths=2000, seed=31, method=method).uniforms
    independent = sample_inputs(
        _without_correlations(small), paths=2000, seed=31, method=method
    ).uniforms
    np.testing.assert_array_equal(np.sort(correlated, axis=0), np.sort(independent, axis=0))
    assert not np.array_equal(correlated, independent)


def test_impose_rank_correlation_leaves_other_columns_alone():
    uniforms = np.random.default_rng(2).random((5000, 4))
    before = uniforms.copy()
    out = impose_rank_correlation(uniforms, [[1.0, 0.5], [0.5, 1.0]], columns=[1, 3])
    assert out is uniforms
    np.testing.assert_array_equal(uniforms[:, [0, 2]], before[:, [0, 2]])
    np.testing.assert_array_equal(np.sort(uniforms, axis=0), np.sort(before, axis=0))
    assert abs(stats.spearmanr(uniforms[:, 1], uniforms[:, 3]).statistic - 0.5) < 3 * _spearman_se(
        0.5, 5000
    )


@pytest.mark.parametrize("rho", [1.0, -1.0])
def test_singular_target_gives_identical_or_reversed_ranks(rho):
    uniforms = np.random.default_rng(3).random((2000, 3))
    target = [[1, rho, 0], [rho, 1, 0], [0, 0, 1]]
    impose_rank_correlation(uniforms, target)
    ranks = stats.rankdata(uniforms, axis=0)
    expected = ranks[:, 0] if rho > 0 else 2001 - ranks[:, 0]
    np.testing.assert_array_equal(ranks[:, 1], expected)
    assert abs(stats.spearmanr(uniforms[:, 0], uniforms[:, 2]).statistic) < 3 * _spearman_se(
        0, 2000
    )


def test_spearman_to_pearson():
    rank = np.array([[1.0, 0.5, -1.0], [0.5, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    expected = np.array(
        [
            [1.0, 2 * math.sin(math.pi / 12), -1.0],
            [2 * math.sin(math.pi / 12), 1.0, 0.0],
            [-1.0, 0.0, 1.0],
        ]
    )
    np.testing.assert_allclose(spearman_to_pearson(rank), expected, atol=1e-15)
    assert np.all(np.diag(spearman_to_pearson(rank)) == 1.0)


@pytest.mark.parametrize(
    "target, message",
    [
        ([[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]], "not positive semi-definite"),
        ([[1, 0.5], [0.4, 1]], "symmetric"),
        ([[1, 1.5], [1.5, 1]], "between -1 and 1"),
        ([[0.9, 0.5], [0.5, 1]], "1 on its diagonal"),
        ([[1, 0.5, 0.0], [0.5, 1, 0.0]], "square"),
    ],
)
def test_invalid_targets_raise(target, message):
    uniforms = np.random.default_rng(0).random((100, len(target[0])))
    with pytest.raises(ValueError, match=message):
        impose_rank_correlation(uniforms, target)


def test_columns_must_match_the_target_and_be_distinct():
    uniforms = np.random.default_rng(0).random((100, 3))
    with pytest.raises(ValueError, match="2 columns are to be correlated"):
        impose_rank_correlation(uniforms, np.eye(3), columns=[0, 1])
    with pytest.raises(ValueError, match="must be distinct"):
        impose_rank_correlation(uniforms, np.eye(2), columns=[1, 1])


def test_non_psd_scenario_correlations_raise(small):
    # The loader rejects such a file; sample_inputs must be safe on its own as well.
    bad = small.model_copy(
        update={
            "correlations": [
                Correlation(between=(LEADS, GROWTH), rank=0.9),
                Correlation(between=(LEADS, TRIAL), rank=0.9),
                Correlation(between=(GROWTH, TRIAL), rank=-0.9),
            ]
        }
    )
    with pytest.raises(ValueError, match="not positive semi-definite"):
        sample_inputs(bad, paths=100)


def test_correlation_of_an_input_not_drawn_per_path_raises(small):
    bad = small.model_copy(
        update={"correlations": [Correlation(between=(LEADS, "offers.saas.nothing"), rank=0.2)]}
    )
    with pytest.raises(ValueError, match="offers.saas.nothing"):
        sample_inputs(bad, paths=100)


def test_scores_correction_uses_little_memory():
    # One (paths, m) array of scores plus a few columns: under 1.5 x the uniforms here.
    n, k = 100_000, 30
    uniforms = np.random.default_rng(4).random((n, k))
    target = np.eye(k) + np.diag(np.full(k - 1, 0.3), 1) + np.diag(np.full(k - 1, 0.3), -1)
    tracemalloc.start()
    try:
        impose_rank_correlation(uniforms, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * uniforms.nbytes


@pytest.mark.slow
def test_a_million_paths_and_thirty_inputs(small):
    n, k = 1_000_000, 30
    uniforms = uniform_design(n, k, "latin_hypercube", input_rng(6))
    target = np.eye(6) + np.diag(np.full(5, 0.5), 1) + np.diag(np.full(5, 0.5), -1)
    impose_rank_correlation(uniforms, target, columns=[0, 5, 10, 15, 20, 25])
    assert uniforms.shape == (n, k) and 0 < uniforms.min() and uniforms.max() < 1
    rho = stats.spearmanr(uniforms[:, 0], uniforms[:, 5]).statistic
    assert abs(rho - 0.5) < 3 * _spearman_se(0.5, n)


# ---------------------------------------------------------------------------------------------
# Plans on common random numbers
# ---------------------------------------------------------------------------------------------


def test_a_plan_with_another_distribution_reuses_the_column(small):
    draws = sample_inputs(small, paths=5000, seed=17, method="latin_hypercube")
    column = draws.uniforms[:, draws.column(CHURN)]
    base, cheaper = draws.values("base")[CHURN], draws.values("cheaper")[CHURN]
    plan_churn = uncertain_inputs(small.for_plan("cheaper"))[CHURN]
    np.testing.assert_array_equal(cheaper, plan_churn.ppf(column))
    np.testing.assert_array_equal(base, uncertain_inputs(small)[CHURN].ppf(column))
    assert np.all(cheaper > base)  # 2%-5% vs 1%-3%: same quantile, higher value, on every path
    np.testing.assert_array_equal(np.argsort(cheaper), np.argsort(base))


def test_a_plan_only_input_gets_its_own_column(small):
    draws = sample_inputs(small, paths=5000, seed=17)
    assert draws.names[-1] == PRICE and draws.names[:-1] == list(uncertain_inputs(small))
    assert PRICE not in draws.values("base") and PRICE in draws.values("cheaper")
    price = draws.uniforms[:, -1]
    for j in range(len(draws.names) - 1):
        assert abs(stats.spearmanr(price, draws.uniforms[:, j]).statistic) < 3 * _spearman_se(
            0, 5000
        )
    np.testing.assert_array_equal(
        draws.values("cheaper")[PRICE],
        uncertain_inputs(small.for_plan("cheaper"))[PRICE].ppf(price),
    )


def test_a_plan_that_fixes_an_input_does_not_draw_it(small):
    draws = sample_inputs(small, paths=100, seed=1)
    assert SERVE in draws.values("base") and SERVE not in draws.values("cheaper")


def test_bundled_scenario_plan_override_reuses_the_column():
    name = "offers.saas_annual.churn.annual"
    scenario = load_scenario(sets=[f"plans.hard_switch.overrides={{{name}: 15% to 25%}}"])
    draws = sample_inputs(scenario, paths=2000, seed=9)
    assert draws.names == list(uncertain_inputs(scenario))
    baseline, switch = draws.values("stay_perpetual"), draws.values("hard_switch")
    assert np.all(switch[name] > baseline[name])
    np.testing.assert_array_equal(np.argsort(switch[name]), np.argsort(baseline[name]))
    for other in baseline.keys() - {name}:
        np.testing.assert_array_equal(switch[other], baseline[other])


def test_values_of_a_chunk_of_paths(small):
    draws = sample_inputs(small, paths=1000, seed=2)
    whole, chunk = draws.values("cheaper"), draws.values("cheaper", rows=slice(200, 300))
    for name in whole:
        np.testing.assert_array_equal(chunk[name], whole[name][200:300])
    with pytest.raises(KeyError, match="no plan named 'nope'"):
        draws.values("nope")


# ---------------------------------------------------------------------------------------------
# Expected-value mode
# ---------------------------------------------------------------------------------------------


def test_expected_inputs_are_the_means(small):
    for plan in small.plans:
        inputs = uncertain_inputs(small.for_plan(plan))
        expected = expected_inputs(small, plan)
        assert list(expected) == list(inputs)
        for name, value in inputs.items():
            assert expected[name].shape == (1,) and expected[name][0] == value.mean
    # Closed forms: a gamma given by its mean; a lognormal fitted to p5 = 20, p95 = 30.
    assert expected_inputs(small, "base")[CPL][0] == pytest.approx(40.0, rel=1e-12)
    sigma = math.log(30 / 20) / (2 * stats.norm.ppf(0.95))
    mean = math.exp(math.log(20 * 30) / 2 + sigma**2 / 2)
    assert expected_inputs(small, "cheaper")[PRICE][0] == pytest.approx(mean, rel=1e-9)


def test_monte_carlo_means_match_expected_inputs(small):
    # Sampled means within 4 SE (sd / sqrt(n), sd of each input's distribution) of the means.
    n = 20_000
    draws = sample_inputs(small, paths=n, seed=10, method="random")
    inputs = uncertain_inputs(small.for_plan("cheaper"))
    for name, sampled in draws.values("cheaper").items():
        sd = float(inputs[name].dist.std())
        assert abs(
            sampled.mean() - expected_inputs(small, "cheaper")[name][0]
        ) < 4 * sd / math.sqrt(n), name
