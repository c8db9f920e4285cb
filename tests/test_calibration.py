"""Calibration from data: churn (geometric vs sBG), funnel counts and deal sizes.

Statistical tests use fixed seeds and tolerances of three standard errors of the estimate
being checked (about 0.3% two-sided per comparison under the asymptotic normal).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import optimize

from simulator.calibration import CalibrationError, ChurnData, fit_churn, fit_deals, fit_funnel, survival
from simulator.calibration.cohorts import read_churn
from simulator.calibration.snippet import number
from simulator.cli import main
from simulator.scenario.loader import load_text

DATA = Path(__file__).resolve().parent / "data" / "calibration"
ROOT = Path(__file__).resolve().parent.parent

MINIMAL_SCENARIO = """
funnel:
  sources:
    web: {leads_per_month: 100, stages: {contract: 10%}}
segments:
  my_segment: {share: 100%}
offers:
  my_offer:
    type: subscription
    price_per_seat_month: 30
    churn: {monthly: 2%}
plans:
  base: {mix: {my_offer: 100%}}
"""


def merge(base: dict, extra: dict) -> dict:
    """``extra`` merged into ``base``: mappings recursively, lists appended, values replaced."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        elif isinstance(value, list) and isinstance(base.get(key), list):
            base[key] = base[key] + value
        else:
            base[key] = value
    return base


def scenario_with(snippet: str, remove: tuple[tuple, ...] = (), base: str = MINIMAL_SCENARIO):
    """Validate ``base`` with ``snippet`` pasted in (after removing the parts it replaces)."""
    data = yaml.safe_load(base)
    for path in sorted(remove, key=lambda p: [str(k) for k in p], reverse=True):
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    merged = merge(data, yaml.safe_load(snippet))
    return load_text(yaml.safe_dump(merged, sort_keys=False))


def simulate_cohorts(rng, *, cohorts, size, horizon, alpha=None, beta=None, churn=None) -> dict[str, list[int]]:
    """Alive counts of monthly cohorts: cohort j is observed for ``horizon - j`` periods (censored after).

    Each customer draws theta ~ Beta(alpha, beta) (or the fixed ``churn``) and leaves at a
    geometric renewal T >= 1.
    """
    out = {}
    for j in range(cohorts):
        theta = rng.beta(alpha, beta, size) if churn is None else np.full(size, churn)
        lifetimes = rng.geometric(theta)
        out[f"cohort{j:02d}"] = [int(np.sum(lifetimes > p)) for p in range(horizon - j + 1)]
    return out


# ------------------------------------------------------------------------------------------
# Churn
# ------------------------------------------------------------------------------------------

FADER_HARDIE = {  # published estimates (Fader & Hardie 2007, fitted to years 1..7)
    "high_end": (0.668, 3.806),
    "regular": (0.704, 1.182),
}


@pytest.mark.parametrize("segment", sorted(FADER_HARDIE))
def test_fader_hardie_published_estimates(segment):
    fit = fit_churn(DATA / f"fader_hardie_{segment}.csv", period="year", bootstrap=0)
    alpha, beta = FADER_HARDIE[segment]
    assert fit.sbg.alpha.value == pytest.approx(alpha, abs=0.005)
    assert fit.sbg.beta.value == pytest.approx(beta, abs=0.005)
    assert fit.data.customers == 1000 and fit.data.last_period == 7
    # the heterogeneous model fits these data far better than a constant churn
    assert fit.test.statistic > 40 and fit.test.p_mixture < 1e-6 and fit.preferred == "sbg"
    # retention rises with tenure: r(t) = (beta + t - 1) / (alpha + beta + t - 1)
    assert np.all(np.diff(fit.sbg.retention(np.arange(1, 13))) > 0)


def test_gradients_of_the_log_likelihoods_match_finite_differences():
    data = ChurnData.from_cohorts({"a": [1000, 869, 743, 653, 593], "b": [500, 400, 330]})
    design = survival.Design.of(data)
    for model, x in (("geometric", [-1.5]), ("sbg", [-0.4, 1.3]), ("sbg_mean_spread", [-1.7, -1.2])):
        fun = survival.negative_loglik(model, design.lo, design.hi, design.counts)
        error = optimize.check_grad(lambda z, f=fun: f(z)[0], lambda z, f=fun: f(z)[1], np.array(x, dtype=float))
        assert error < 1e-4 * max(1.0, float(np.abs(fun(np.array(x, dtype=float))[1]).max())), model


def test_sbg_parameters_are_recovered_from_censored_cohorts():
    alpha, beta = 0.8, 3.0
    rng = np.random.default_rng(4433)
    cohorts = simulate_cohorts(rng, cohorts=24, size=300, horizon=24, alpha=alpha, beta=beta)
    fit = fit_churn(cohorts, bootstrap=0)
    se = np.sqrt(np.diag(fit.sbg.cov))  # standard errors of log alpha, log beta
    assert abs(fit.sbg.x[0] - math.log(alpha)) < 3 * se[0]
    assert abs(fit.sbg.x[1] - math.log(beta)) < 3 * se[1]
    assert 0 < se[0] < 0.3 and 0 < se[1] < 0.3
    assert fit.data.censored > 0  # later cohorts are cut by the end of the data


def test_lr_test_does_not_reject_geometric_data():
    rng = np.random.default_rng(20240607)
    cohorts = simulate_cohorts(rng, cohorts=12, size=200, horizon=12, churn=0.08)
    fit = fit_churn(cohorts, bootstrap=99, seed=11)
    assert fit.test.p_bootstrap > 0.05
    assert fit.test.p_mixture > 0.05
    assert not fit.test.rejects_geometric and fit.preferred == "geometric"
    assert abs(fit.geometric.churn.value - 0.08) < 3 * fit.geometric.churn.se


def test_lr_test_rejects_heterogeneous_churn():
    rng = np.random.default_rng(20240608)
    cohorts = simulate_cohorts(rng, cohorts=12, size=200, horizon=12, alpha=0.5, beta=2.5)
    fit = fit_churn(cohorts, bootstrap=99, seed=12)
    assert fit.test.p_bootstrap == pytest.approx(0.01)  # no replicate reached the observed LR
    assert fit.test.rejects_geometric and fit.preferred == "sbg"


def test_lr_reference_without_bootstrap_is_the_chi2_mixture():
    fit = fit_churn(DATA / "fader_hardie_high_end.csv", bootstrap=0)
    assert math.isnan(fit.test.p_bootstrap)
    assert fit.test.p_value == fit.test.p_mixture
    assert "mixture" in fit.test.reference


def test_bootstrap_standard_errors_agree_with_the_inverse_hessian():
    hessian = fit_churn(DATA / "fader_hardie_regular.csv", bootstrap=0)
    boot = fit_churn(DATA / "fader_hardie_regular.csv", bootstrap=80, bootstrap_se=True, seed=5)
    se_hessian = np.sqrt(np.diag(hessian.sbg.cov))
    # 80 replicates estimate a standard deviation to about 1/sqrt(160) = 8%; allow 4 such errors
    np.testing.assert_allclose(boot.bootstrap_se, se_hessian, rtol=0.32)
    assert "parametric bootstrap" in boot.to_yaml("sbg")


def test_customer_rows_give_the_same_fit_as_the_cohort_table(tmp_path):
    alive = [1000, 869, 743, 653, 593, 551, 517, 491]
    rows = ["customer,start,end"]
    k = 0
    for t in range(1, 8):
        for _ in range(alive[t - 1] - alive[t]):
            rows.append(f"c{k},0,{t}")
            k += 1
    rows += [f"c{k + i},0," for i in range(alive[-1])]
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(rows) + "\n")
    by_customer = fit_churn(path, bootstrap=0)
    by_cohort = fit_churn(DATA / "fader_hardie_high_end.csv", bootstrap=0)
    assert by_customer.data.kind == "customers"
    assert by_customer.sbg.loglik == pytest.approx(by_cohort.sbg.loglik, rel=1e-9)
    assert by_customer.sbg.alpha.value == pytest.approx(by_cohort.sbg.alpha.value, rel=1e-5)


def test_customer_dates_are_read_by_period(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer,start,end\na,2023-01,2023-04\nb,2023-01-15,\nc,2023-03,2023-05\nd,2023-02,\n"
                    "e,2023-01,2023-02\nf,2023-02,2023-03\ng,2023-01,\n")
    data = read_churn(path, period="month")
    assert data.customers == 7 and data.churned == 4 and data.censored == 3
    assert "as of 2023-05" in data.note
    with pytest.raises(CalibrationError, match="--as-of must be a date"):
        read_churn(path, as_of="12")


def test_projection_extends_beyond_the_data_with_bands():
    fit = fit_churn(DATA / "fader_hardie_regular.csv", bootstrap=0, horizon=20)
    for projection in fit.projections.values():
        assert projection.periods[-1] == 20
        assert np.all(projection.p5 <= projection.p95)
        assert np.all((projection.p5[1:] < projection.point[1:]) & (projection.point[1:] < projection.p95[1:]))
    # Fader & Hardie's point: the sBG projects much more retention than a constant churn
    assert fit.projections["sbg"].point[20] > 2 * fit.projections["geometric"].point[20]


def test_churn_summary_and_plot():
    fit = fit_churn(DATA / "fader_hardie_high_end.csv", period="year", bootstrap=0)
    text = fit.summary()
    assert "alpha" in text and "0.6681" in text and "mixture" in text
    ax = fit.plot()
    assert ax.get_ylabel() == "share still active"
    from matplotlib.figure import Figure

    own = Figure().add_subplot()
    assert fit.plot(ax=own) is own


def test_data_without_identifying_information_is_rejected():
    with pytest.raises(CalibrationError, match="no customer left"):
        fit_churn({"a": [100, 100, 100]})
    with pytest.raises(CalibrationError, match="periods 0, 1 and 2"):
        fit_churn({"a": [100, 80], "b": [50, 45]})


# ------------------------------------------------------------------------------------------
# Snippets in scenarios
# ------------------------------------------------------------------------------------------


def test_sbg_snippet_validates_with_its_rank_correlation():
    fit = fit_churn(DATA / "fader_hardie_high_end.csv", period="year", bootstrap=0)
    snippet = fit.to_yaml("sbg")
    scenario = scenario_with(snippet, remove=(("offers", "my_offer", "churn"),))
    sbg = scenario.offers["my_offer"].churn.sbg
    assert sbg.alpha.spec["dist"] == "lognormal"
    assert float(np.exp(sbg.alpha.spec["mu"])) == pytest.approx(0.668, abs=0.005)  # median = estimate
    (correlation,) = scenario.correlations
    rho = fit.sbg.log_correlation
    assert correlation.rank == pytest.approx(6 / math.pi * math.asin(rho / 2), abs=1e-4)
    assert correlation.between == ("offers.my_offer.churn.sbg.alpha", "offers.my_offer.churn.sbg.beta")


@pytest.mark.parametrize("period, key", [("month", "monthly"), ("year", "annual"), ("quarter", "renewal_rate")])
def test_geometric_snippet_validates(period, key):
    fit = fit_churn(DATA / "fader_hardie_regular.csv", period=period, bootstrap=0)
    scenario = scenario_with(fit.to_yaml("geometric"), remove=(("offers", "my_offer", "churn"),))
    churn = scenario.offers["my_offer"].churn
    assert churn.form == key
    value = getattr(churn, key)
    expected = 1 - fit.geometric.churn.value if key == "renewal_rate" else fit.geometric.churn.value
    assert value.mean == pytest.approx(expected, rel=1e-4)
    assert float(value.dist.std()) == pytest.approx(fit.geometric.churn.se, rel=1e-3)


def test_churn_snippet_pastes_into_the_example_scenario():
    fit = fit_churn(DATA / "fader_hardie_high_end.csv", offer="saas_annual", period="year", bootstrap=0)
    base = (ROOT / "scenarios" / "isv_transition.yaml").read_text()
    # the example correlates the annual churn it replaces: that correlation goes with it
    old = yaml.safe_load(base)["correlations"]
    stale = [i for i, c in enumerate(old) if "offers.saas_annual.churn.annual" in c["between"]]
    remove = (("offers", "saas_annual", "churn"), *(("correlations", i) for i in stale))
    scenario = scenario_with(fit.to_yaml("sbg"), remove=remove, base=base)
    assert scenario.offers["saas_annual"].churn.form == "sbg"
    assert len(scenario.correlations) == len(old) - len(stale) + 1
    assert scenario.correlations[-1].between[0] == "offers.saas_annual.churn.sbg.alpha"


def test_funnel_and_deals_snippets_validate():
    funnel = fit_funnel(DATA / "funnel_example.csv")
    scenario = scenario_with(funnel.to_yaml(), remove=(("funnel", "sources"),))
    assert set(scenario.funnel.sources) == {"web", "partners"}
    web = scenario.funnel.sources["web"]
    assert list(web.stages) == ["trial", "contract"]
    assert web.seasonality is not None and scenario.funnel.sources["partners"].seasonality is None
    assert {c.between[1] for c in scenario.correlations} == {"funnel.sources.web.growth_per_year",
                                                             "funnel.sources.partners.growth_per_year"}
    deals = fit_deals(DATA / "deals_example.csv")
    for model in ("lognormal", "loglogistic"):
        scenario = scenario_with(deals.to_yaml(model))
        expected = "lognormal" if model == "lognormal" else "empirical"
        assert scenario.segments["my_segment"].seats.spec["dist"] == expected


def test_snippet_numbers_are_yaml_floats():
    for x in (1e-5, 2.5e20, 0.1234567, -3.0, 12.0):
        assert yaml.safe_load(number(x)) == pytest.approx(float(f"{x:.6g}"))
    assert number(1e-5) == "1.0e-05"


# ------------------------------------------------------------------------------------------
# Funnel
# ------------------------------------------------------------------------------------------

SEASON = np.array([1.2, 1.1, 1.0, 1.0, 0.95, 0.9, 0.7, 0.7, 1.0, 1.1, 1.15, 1.2])


def simulate_funnel(rng, months=36, level=600.0, growth=0.2, season=SEASON, conversions=(0.1, 0.3)):
    season = season / season.mean()
    records = []
    for t in range(months):
        month = 12 * 2021 + t  # from January 2021
        count = rng.poisson(level * (1 + growth) ** (t / 12) * season[t % 12])
        records.append((month, "web", "leads", int(count)))
        for stage, rate in zip(("trial", "contract"), conversions, strict=True):
            count = rng.binomial(count, rate)
            records.append((month, "web", stage, int(count)))
    return records


def test_funnel_recovers_conversions_growth_and_seasonality():
    rng = np.random.default_rng(9)
    level, growth, months = 600.0, 0.2, 36
    records = simulate_funnel(rng, months=months, level=level, growth=growth)
    from simulator.calibration.funnel import FunnelData

    fit = fit_funnel(FunnelData.from_records(records, months_are_dates=True))
    web = fit.sources["web"]
    for conversion, truth in zip(web.conversions, (0.1, 0.3), strict=True):
        assert abs(conversion.mean - truth) < 3 * conversion.sd
    leads = web.leads
    assert abs(leads.growth.value - growth) < 3 * leads.growth.se
    true_level = level * (1 + growth) ** (months / 12)  # month after the data, without season
    assert abs(math.log(leads.level.value / true_level)) < 3 * leads.log_level_se
    true_factors = SEASON / SEASON.mean()
    assert np.all(np.abs(np.log(leads.seasonality / true_factors)) < 3 * leads.seasonality_se)
    assert leads.seasonality_p < 1e-6


def test_funnel_without_two_years_has_no_seasonality():
    rng = np.random.default_rng(10)
    from simulator.calibration.funnel import FunnelData

    fit = fit_funnel(FunnelData.from_records(simulate_funnel(rng, months=18), months_are_dates=True))
    leads = fit.sources["web"].leads
    assert leads.seasonality is None and "24 months" in leads.note
    assert leads.growth is not None
    assert "seasonality" not in fit.to_yaml()


def test_uncertain_growth_from_few_months_is_truncated_above_minus_100_percent():
    rng = np.random.default_rng(11)
    records = [(m, "web", "leads", int(rng.poisson(20))) for m in range(1, 5)]
    records += [(m, "web", "win", 2) for m in range(1, 5)]
    fit = fit_funnel(records)
    growth = yaml.safe_load(fit.to_yaml())["funnel"]["sources"]["web"]["growth_per_year"]
    assert growth["dist"] == "normal" and growth["low"] == -0.9
    scenario = scenario_with(fit.to_yaml(), remove=(("funnel", "sources"),))
    assert scenario.funnel.sources["web"].growth_per_year.dist.support()[0] == pytest.approx(-0.9)


def test_funnel_prior_is_stated_and_used():
    records = [(1, "web", "leads", 10), (1, "web", "contract", 0)]
    jeffreys = fit_funnel(records).sources["web"].conversions[0]
    uniform = fit_funnel(records, prior="uniform").sources["web"].conversions[0]
    assert (jeffreys.alpha, jeffreys.beta) == (0.5, 10.5)
    assert (uniform.alpha, uniform.beta) == (1.0, 11.0)
    assert "no trend" in fit_funnel(records).sources["web"].leads.note


def test_funnel_plots_return_their_axes():
    fit = fit_funnel(DATA / "funnel_example.csv")
    assert fit.plot().get_ylabel() == "leads per month"
    assert len(fit.plot_conversions().get_yticklabels()) == 4


# ------------------------------------------------------------------------------------------
# Deals
# ------------------------------------------------------------------------------------------


def test_lognormal_deals_choose_the_lognormal():
    rng = np.random.default_rng(77)
    mu, sigma = math.log(15), 0.8
    fit = fit_deals(rng.lognormal(mu, sigma, size=2000))
    assert fit.chosen == "lognormal"
    p = fit.lognormal.parameters
    assert abs(p["mu"].value - mu) < 3 * p["mu"].se
    assert abs(p["sigma"].value - sigma) < 3 * p["sigma"].se
    assert 0 < fit.lognormal.ks < 0.05


def test_heavy_tailed_deals_choose_the_loglogistic():
    rng = np.random.default_rng(78)
    seats = 5 * (1 + rng.pareto(1.3, size=2000))  # Pareto tail, index 1.3
    fit = fit_deals(seats)
    assert fit.chosen == "loglogistic"
    assert fit.loglogistic.aic < fit.lognormal.aic
    assert fit.loglogistic.parameters["c"].se > 0
    assert "empirical" in fit.to_yaml()


def test_deals_summary_states_the_criterion():
    fit = fit_deals(DATA / "deals_example.csv")
    assert "AIC" in fit.summary() and fit.column == "seats"
    assert fit.plot().get_xscale() == "log"


# ------------------------------------------------------------------------------------------
# Command line and malformed data
# ------------------------------------------------------------------------------------------


def test_fit_churn_command_prints_summary_and_writes_plot_and_snippet(tmp_path, capsys):
    status = main(["fit", "churn", str(DATA / "fader_hardie_high_end.csv"), "--period", "year",
                   "--bootstrap", "19", "--out", str(tmp_path / "out"), "--offer", "saas"])
    out = capsys.readouterr().out
    assert status == 0
    assert "Geometric vs sBG" in out and "offers.saas.churn.sbg.alpha" in out
    snippet = (tmp_path / "out" / "fader_hardie_high_end-churn.yaml").read_text()
    assert yaml.safe_load(snippet)["offers"]["saas"]["churn"]["sbg"]["alpha"]["dist"] == "lognormal"
    png = tmp_path / "out" / "fader_hardie_high_end-churn-fit.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_commands_default_plot_is_next_to_the_data(tmp_path, capsys):
    for kind, name in (("funnel", "funnel_example.csv"), ("deals", "deals_example.csv")):
        copy = tmp_path / name
        copy.write_text((DATA / name).read_text())
        assert main(["fit", kind, str(copy), "--yaml", str(tmp_path / f"{kind}.yaml")]) == 0
        assert (tmp_path / f"{copy.stem}-{kind}-fit.png").exists()
        assert yaml.safe_load((tmp_path / f"{kind}.yaml").read_text())
    capsys.readouterr()


MALFORMED = [
    # (command, file text, expected stderr after "FILE:")
    ("churn", "", r"1: the file is empty"),
    ("churn", "cohort,period,customers\n", r"1: no data rows after the header"),
    ("churn", "cohort,period,alive\na,0,10\n", r"1: expected the columns cohort,period,customers"),
    ("churn", "cohort,period,customers\na,0,10\na,1,-3\n", r"3:5: customers: must be >= 0, got -3"),
    ("churn", "cohort,period,customers\na,0,10\na,1,ten\n", r"3:5: customers: expected a whole number, got 'ten'"),
    ("churn", "cohort,period,customers\na,0,10\na,1,8\na,2,9\n",
     r"4:5: customers: 9 customers alive at period 2 of cohort 'a', more than the 8 at period 1"),
    ("churn", "cohort,period,customers\na,1,10\na,2,8\n", r"2:3: period: cohort 'a' starts at period 1"),
    ("churn", "customer,start,end\nx,2023-05,2023-02\n", r"2:11: end: the customer ends \(2023-02\) before it starts"),
    ("funnel", "month,source,count\n2024-01,web,3\n", r"1: missing column 'stage'"),
    ("funnel", "month,source,stage,count\n2024-01,web,leads,10\n2024-01,web,trial,12\n",
     r"3: source 'web': 12 at stage 'trial' but only 10 at 'leads'"),
    ("funnel", "month,source,stage,count\n2024-13,web,leads,10\n", r"2:1: month: not a valid date: '2024-13'"),
    ("deals", "deal,seats\na,3\nb,0\n", r"3:3: seats: deal sizes must be > 0, got 0"),
    ("deals", "deal,seats\na,3\nb,x\n", r"3:3: seats: expected a number, got 'x'"),
]


@pytest.mark.parametrize("kind, text, expected", MALFORMED)
def test_malformed_data_exits_2_with_one_located_line(tmp_path, capsys, kind, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert main(["fit", kind, str(path), "--no-plot"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert re.match(re.escape(str(path)) + ":" + expected, lines[0]), lines[0]
    assert captured.out == ""


def test_missing_file_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["fit", "deals", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"{missing}: cannot read the file: No such file or directory"


def test_python_m_simulator_fit_reports_bad_data_without_traceback(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("cohort,period,customers\n2024-01,0,120\n2024-01,1,130\n")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-m", "simulator", "fit", "churn", str(bad)],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"{bad}:3:11: customers: 130 customers alive at period 1 of cohort '2024-01', "
                                     "more than the 120 at period 0; alive counts cannot increase within a cohort")
