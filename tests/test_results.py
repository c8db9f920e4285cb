"""``simulate`` and :class:`Results` on small runs: shapes, memory mode, statistics, tables and
``summary.json`` (docs/results-api.md, MODEL.md §5)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator import load_scenario, simulate
from simulator.engine import SERIES
from simulator.results import KPIS, Results
from simulator.results.kpis import monthly_rate, npv_horizon
from simulator.results.periods import fiscal_years, month_labels
from simulator.results.tables import funnel_table
from simulator.scenario.loader import DEFAULT_SCENARIO, load_text

SETS = ["simulation.horizon_months=36"]
PATHS, CHUNK, KEEP = 200, 64, 50
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(sets=SETS)


@pytest.fixture(scope="module")
def full(scenario) -> Results:
    calls = []
    results = simulate(
        scenario,
        paths=PATHS,
        seed=3,
        chunk_size=CHUNK,
        progress=lambda *a: calls.append(a),
        sets=SETS,
    )
    results.progress_calls = calls
    return results


@pytest.fixture(scope="module")
def thin(scenario) -> Results:
    """The same run keeping the series of every 4th path only."""
    return simulate(scenario, paths=PATHS, seed=3, chunk_size=CHUNK, keep_paths=KEEP)


@pytest.fixture(scope="module")
def expected(scenario) -> Results:
    return simulate(scenario, expected=True, paths=500)


def test_attributes_and_shapes(full, scenario):
    assert (full.paths, full.seed, full.mode, full.months) == (PATHS, 3, "monte_carlo", 36)
    assert full.plans == list(scenario.plans) and full.baseline == "stay_perpetual"
    assert full.currency == "EUR" and full.offers == ["perpetual", "saas_annual"]
    assert full.sources == ["web", "partners", "events"]
    assert full.month_labels[:2] == ["2027-01", "2027-02"] and full.month_labels[-1] == "2029-12"
    np.testing.assert_array_equal(full.kept, np.arange(PATHS))
    for plan in full.plans:
        assert full.series(plan, "revenue").shape == (PATHS, 36)
        assert full.offer_series(plan, "customers").shape == (PATHS, 2, 36)
        kpis = full.kpis(plan)
        assert list(kpis) == list(KPIS) and all(v.shape == (PATHS,) for v in kpis.values())
    assert full.progress_calls == [(64, PATHS), (128, PATHS), (192, PATHS), (200, PATHS)]


def test_kpis_agree_with_the_series(full, scenario):
    for plan in full.plans:
        kpis = full.kpis(plan)
        np.testing.assert_allclose(
            kpis["total_revenue"], full.series(plan, "revenue").sum(axis=1), rtol=1e-12
        )
        np.testing.assert_allclose(kpis["ending_arr"], full.series(plan, "arr")[:, -1], rtol=1e-12)
        rate = full.inputs(plan).get("finance.discount_rate", scenario.finance.discount_rate.mean)
        np.testing.assert_allclose(
            kpis["npv_horizon"], npv_horizon(full.series(plan, "net_cash_flow"), rate), rtol=1e-12
        )
        # terminal value: the path's own ARR multiple x ending ARR, discounted from the last month
        multiple = full.inputs(plan)["finance.terminal_value.multiple"]
        tv = multiple * kpis["ending_arr"] * (1 + monthly_rate(rate)) ** -36
        np.testing.assert_allclose(kpis["npv"] - kpis["npv_horizon"], tv, rtol=1e-9)
        assert multiple.std() > 0


def test_results_do_not_depend_on_the_chunk_size(full, scenario):
    other = simulate(scenario, paths=PATHS, seed=3, chunk_size=PATHS)
    for plan in full.plans:
        for name in KPIS:
            np.testing.assert_array_equal(
                other.kpis(plan)[name], full.kpis(plan)[name], err_msg=name
            )


def test_memory_mode_keeps_a_subsample_of_series_and_every_kpi(full, thin):
    np.testing.assert_array_equal(thin.kept, np.arange(0, PATHS, 4))
    for plan in full.plans:
        series = thin.series(plan, "cumulative_cash")
        assert series.shape == (KEEP, 36)
        np.testing.assert_array_equal(series, full.series(plan, "cumulative_cash")[thin.kept])
        assert thin.offer_series(plan, "revenue").shape == (KEEP, 2, 36)
        for name in KPIS:
            np.testing.assert_array_equal(thin.kpis(plan)[name], full.kpis(plan)[name])
        for name in SERIES:
            a, b = thin.series_stats(plan, name), full.series_stats(plan, name)
            np.testing.assert_array_equal(a["mean"], b["mean"])
            np.testing.assert_array_equal(a["se"], b["se"])
            everything = full.series(plan, name)
            np.testing.assert_allclose(b["mean"], everything.mean(axis=0), rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(
                b["se"], everything.std(axis=0, ddof=1) / np.sqrt(PATHS), rtol=1e-7, atol=1e-9
            )
            assert len(a["p50"]) == 36


def test_series_stats_are_ordered(full):
    stats = full.series_stats("hard_switch", "customers")
    assert set(stats) == {"mean", "se", "p5", "p25", "p50", "p75", "p95"}
    assert np.all(stats["p5"] <= stats["p25"]) and np.all(stats["p25"] <= stats["p50"])
    assert np.all(stats["p50"] <= stats["p75"]) and np.all(stats["p75"] <= stats["p95"])
    assert np.all(stats["se"] > 0)


def test_arrays_are_read_only(full):
    with pytest.raises(ValueError):
        full.series("phased", "revenue")[0, 0] = 1.0
    with pytest.raises(ValueError):
        full.kpis("phased")["npv"][0] = 1.0


def test_comparison_and_differences_are_paired(full):
    assert full.comparison(full.baseline) is None
    out = full.comparison("hard_switch")
    difference = full.differences("hard_switch", "npv")
    np.testing.assert_array_equal(
        difference, full.kpis("hard_switch")["npv"] - full.kpis("stay_perpetual")["npv"]
    )
    assert out["baseline"] == "stay_perpetual"
    assert out["p_npv_higher"] == pytest.approx(np.mean(difference > 0))
    assert out["npv_difference"]["mean"] == pytest.approx(difference.mean())
    for key in (
        "ending_arr_difference",
        "min_cash_difference",
        "revenue_crossover_month",
        "cash_crossover_month",
    ):
        assert key in out
    assert np.isnan(full.kpis(full.baseline)["revenue_crossover_month"]).all()


def test_kpi_stats_and_binary_probability(full):
    stats = full.kpi_stats("hard_switch", "cash_negative")
    p = full.kpis("hard_switch")["cash_negative"].mean()
    assert stats["mean"] == pytest.approx(p)
    assert stats["se"] == pytest.approx(np.sqrt(p * (1 - p) / PATHS))
    assert stats["p_defined"] == 1.0
    with pytest.raises(KeyError, match="no KPI named"):
        full.kpi_stats("hard_switch", "ebitda")
    with pytest.raises(KeyError, match="no plan named"):
        full.kpis("nope")
    with pytest.raises(KeyError, match="no series named"):
        full.series("phased", "profit")


def test_summary_and_series_tables(full):
    summary = full.summary()
    assert list(summary.columns) == ["plan", "kpi", "mean", "se", "p5", "p50", "p95", "p_defined"]
    assert len(summary) == len(full.plans) * len(KPIS)
    assert summary[["mean", "se", "p_defined"]].dtypes.map(pd.api.types.is_float_dtype).all()
    table = full.series_table()
    assert list(table.columns) == [
        "plan",
        "series",
        "month",
        "label",
        "mean",
        "se",
        "p5",
        "p25",
        "p50",
        "p75",
        "p95",
    ]
    assert len(table) == len(full.plans) * len(SERIES) * 36
    row = table[(table.plan == "phased") & (table.series == "revenue") & (table.month == 5)].iloc[0]
    assert row["label"] == "2027-06"
    assert row["mean"] == pytest.approx(full.series("phased", "revenue")[:, 5].mean())


def test_yearly_totals_by_fiscal_year(full):
    table = full.yearly("phased")
    assert list(table["fiscal_year"]) == ["FY2027", "FY2028", "FY2029"]
    assert list(table["months"]) == [12, 12, 12]
    revenue = full.series("phased", "revenue")
    assert table["revenue_mean"].iloc[1] == pytest.approx(revenue[:, 12:24].sum(axis=1).mean())
    assert table["ending_arr_p50"].iloc[0] == pytest.approx(
        np.median(full.series("phased", "arr")[:, 11])
    )
    assert (table["net_cash_flow_p5"] <= table["net_cash_flow_p95"]).all()


def test_inputs_are_the_per_path_draws(full):
    inputs = full.inputs("phased")
    assert inputs["plans.phased.migration.rate_per_year"].shape == (PATHS,)


def test_funnel_by_source(full):
    try:
        table = full.funnel("hard_switch")
    except NotImplementedError as exc:
        assert "source_flows" in str(exc)
        return
    assert list(table["source"]) == full.sources
    # summed over sources, the engine's per-source rows give the plan's leads and wins
    for column, series in (("leads", "leads"), ("customers_won", "new_customers")):
        total = full.series("hard_switch", series).sum(axis=1).mean()
        assert table[column].sum() == pytest.approx(total, rel=1e-9)
    assert table[["conversion_1", "conversion_2"]].gt(0).all().all()


def test_funnel_table_from_hand_made_totals():
    # 2 paths, 2 sources; rows: leads, cost, won, after stage 1 (padded: source b has 1 stage)
    totals = np.array(
        [
            [[100, 1000, 5, 20], [10, 500, 1, 1]],
            [[200, 1000, 10, 50], [0, 500, 0, 0]],
        ],
        dtype=float,
    )
    table = funnel_table(
        totals, ["a", "b"], [["trial", "contract"], ["contract"]], cltv=np.array([400.0, 200.0])
    )
    a, b = table.iloc[0], table.iloc[1]
    assert a["stages"] == "trial > contract"
    assert a["leads"] == 150 and a["marketing_cost"] == 1000
    assert a["cost_per_lead"] == pytest.approx((10 + 5) / 2)
    assert a["conversion_1"] == pytest.approx((0.2 + 0.25) / 2)
    assert a["conversion_2"] == pytest.approx((0.25 + 0.2) / 2)
    assert a["customers_won"] == 7.5 and a["cac"] == pytest.approx((200 + 100) / 2)
    assert a["roi"] == pytest.approx(((5 * 400 - 1000) / 1000 + (10 * 200 - 1000) / 1000) / 2)
    # source b: no leads on path 1 -> its ratios come from path 0 only; no second stage
    assert (
        b["cost_per_lead"] == 50
        and b["conversion_1"] == pytest.approx(0.1)
        and np.isnan(b["conversion_2"])
    )
    assert b["cac"] == 500 and b["roi"] == pytest.approx(((400 - 500) / 500 + (0 - 500) / 500) / 2)


def test_summary_json_as_model_section_5(full):
    document = full.to_summary_json()
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text) == document
    assert set(document) == {
        "scenario",
        "paths",
        "seed",
        "months",
        "mode",
        "version",
        "scenario_sha256",
        "plans",
        "comparisons",
    }
    assert (document["paths"], document["seed"], document["months"], document["mode"]) == (
        PATHS,
        3,
        36,
        "monte_carlo",
    )
    assert document["version"] == simulator.__version__
    assert document["scenario"] == "Mid-size ISV moving its installed base to SaaS"
    assert set(document["plans"]) == set(full.plans)
    for content in document["plans"].values():
        assert set(content["series"]) == set(SERIES) and set(content["kpis"]) == set(KPIS)
        for stats in content["series"].values():
            assert set(stats) == {"mean", "p5", "p50", "p95"}
            assert all(len(stats[key]) == 36 for key in stats)
            assert all(
                a <= b <= c for a, b, c in zip(stats["p5"], stats["p50"], stats["p95"], strict=True)
            )
        for stats in content["kpis"].values():
            assert set(stats) == {"mean", "se", "p5", "p50", "p95", "p_defined"}
            if stats["p_defined"]:
                assert stats["p5"] <= stats["p50"] <= stats["p95"]
    assert set(document["comparisons"]) == {"hard_switch", "phased"}
    comparison = document["comparisons"]["hard_switch"]
    assert comparison["baseline"] == "stay_perpetual" and 0 <= comparison["p_npv_higher"] <= 1
    assert set(comparison["npv_difference"]) >= {"mean", "p5", "p50", "p95"}
    assert document["plans"]["stay_perpetual"]["kpis"]["revenue_crossover_month"]["mean"] is None


def test_summary_json_in_memory_mode_has_the_same_means(full, thin):
    a, b = thin.to_summary_json(sets=SETS), full.to_summary_json()
    for plan in full.plans:
        assert a["plans"][plan]["kpis"] == b["plans"][plan]["kpis"]
        assert (
            a["plans"][plan]["series"]["revenue"]["mean"]
            == b["plans"][plan]["series"]["revenue"]["mean"]
        )
    assert a["comparisons"] == b["comparisons"]


def test_scenario_sha256_hashes_the_file_and_the_sets(full, thin):
    data = DEFAULT_SCENARIO.read_bytes()
    with_sets = hashlib.sha256(data + b"\n--set simulation.horizon_months=36").hexdigest()
    assert full.to_summary_json()["scenario_sha256"] == with_sets
    assert thin.to_summary_json()["scenario_sha256"] == hashlib.sha256(data).hexdigest()
    path = SCENARIOS / "isv_transition.yaml"
    results = simulate(load_scenario(path, sets=SETS), expected=True)
    assert (
        results.to_summary_json()["scenario_sha256"]
        == hashlib.sha256(path.read_bytes()).hexdigest()
    )
    assert (
        results.to_summary_json(sets=SETS)["scenario_sha256"]
        == hashlib.sha256(path.read_bytes() + b"\n--set simulation.horizon_months=36").hexdigest()
    )


def test_expected_value_mode(expected):
    assert (expected.paths, expected.mode) == (1, "expected")
    np.testing.assert_array_equal(expected.kept, [0])
    assert expected.series("hard_switch", "revenue").shape == (1, 36)
    stats = expected.kpi_stats("hard_switch", "npv")
    assert stats["se"] is None and stats["p_defined"] is None
    assert stats["mean"] == stats["p5"] == stats["p95"] == expected.kpis("hard_switch")["npv"][0]
    assert np.isnan(expected.series_stats("hard_switch", "revenue")["se"]).all()
    comparison = expected.comparison("hard_switch")
    assert comparison["p_npv_higher"] is None and comparison["npv_difference"]["se"] is None
    document = expected.to_summary_json()
    json.dumps(document, allow_nan=False)
    assert (document["mode"], document["paths"]) == ("expected", 1)
    assert document["comparisons"]["hard_switch"]["p_npv_higher"] is None
    assert expected.inputs("phased")["plans.phased.migration.rate_per_year"].shape == (1,)


def test_scenario_built_in_code_has_no_hash():
    text = """
simulation: {horizon_months: 6, paths: 20, seed: 1}
funnel: {sources: {web: {leads_per_month: 50, stages: {contract: 10%}}}}
segments: {all: {share: 100%}}
offers: {saas: {type: subscription, price_per_seat_month: 10, churn: {monthly: 2%}}}
plans: {only: {mix: {saas: 100%}}}
"""
    results = simulate(load_text(text))
    document = results.to_summary_json()
    assert document["scenario_sha256"] is None and document["comparisons"] == {}
    assert document["paths"] == 20 and document["seed"] == 1
    assert results.month_labels == ["M1", "M2", "M3", "M4", "M5", "M6"]
    assert results.yearly("only")["fiscal_year"].tolist() == ["FY1"]
    assert np.isnan(results.kpis("only")["logo_churn_annual"]).all()  # horizon of 12 months or less


def test_invalid_arguments(scenario):
    with pytest.raises(ValueError, match="paths must be a whole number >= 1"):
        simulate(scenario, paths=0)
    with pytest.raises(ValueError, match="keep_paths"):
        simulate(scenario, paths=10, keep_paths=0)
    with pytest.raises(ValueError, match="kind must be customers or revenue"):
        simulate(scenario, expected=True).offer_series("phased", "seats")


def test_month_labels_and_fiscal_years():
    assert month_labels("2026-11", 3) == ["2026-11", "2026-12", "2027-01"]
    assert month_labels(None, 2) == ["M1", "M2"]
    labels, index = fiscal_years("2027-01", 1, 36)
    assert labels == ["FY2027", "FY2028", "FY2029"] and np.bincount(index).tolist() == [12, 12, 12]
    # July fiscal years: Sep 2026 - Jun 2027 is FY2027, then FY2028, then Jul - Aug 2028 in FY2029
    labels, index = fiscal_years("2026-09", 7, 24)
    assert labels == ["FY2027", "FY2028", "FY2029"] and np.bincount(index).tolist() == [10, 12, 2]
    labels, index = fiscal_years(None, 4, 15)  # month 0 is a January: Jan-Mar, Apr-Mar
    assert labels == ["FY1", "FY2"] and np.bincount(index).tolist() == [3, 12]
