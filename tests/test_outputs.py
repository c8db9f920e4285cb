"""Outputs layer without the engine: charts, tables, statements, report and the atomic folder.

A small stand-in for ``Results`` (the interface of ``docs/results-api.md``) over seeded random
arrays keeps these tests fast and lets them reach cases a short simulation rarely produces
(a plan that never crosses over, a scenario name with HTML in it).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.engine import SERIES
from simulator.outputs import charts
from simulator.outputs.assumptions import assumption_sections, shown
from simulator.outputs.findings import statements, summary_rows
from simulator.outputs.folder import OutputFolderError, atomic_folder, clean_stale, temp_folder_for
from simulator.outputs.formatting import input_label, money, month_label, percent
from simulator.outputs.report import EmbeddedChart, render_report
from simulator.outputs.tables import run_tables, write_csv, write_excel
from simulator.results.kpis import KPIS
from simulator.scenario import load_scenario, load_text

PNG = b"\x89PNG\r\n\x1a\n"


class FakeResults:
    """The documented Results interface over seeded random arrays (3 plans, 30 months)."""

    def __init__(self, scenario=None, *, paths: int = 400, months: int = 30, expected: bool = False,
                 never_crosses: str | None = None, seed: int = 4433):
        self.scenario = scenario if scenario is not None else load_scenario(None)
        self.plans = list(self.scenario.plans)
        self.baseline = self.scenario.baseline_plan
        self.mode = "expected" if expected else "monte_carlo"
        self.paths = 1 if expected else paths
        self.seed = seed
        self.months = months
        self.month_labels = [f"{2027 + t // 12}-{t % 12 + 1:02d}" for t in range(months)]
        self.currency = "EUR"
        self.offers = list(self.scenario.offers)
        self.sources = list(self.scenario.funnel.sources)
        self.kept = np.arange(self.paths)
        self.sets = []
        rng = np.random.default_rng(seed)
        n, t = self.paths, np.arange(months)
        self._inputs = {"funnel.sources.web.stages.contract": rng.uniform(0.18, 0.28, n),
                        "offers.saas_annual.churn.annual": rng.uniform(0.08, 0.16, n),
                        "plans.phased.migration.rate_per_year": rng.uniform(0.2, 0.35, n),
                        "costs.fixed_opex_per_month": np.full(n, 500_000.0)}
        drive = 3e6 * (self._inputs["funnel.sources.web.stages.contract"] - 0.23) / 0.05
        self._series, self._kpis = {}, {}
        for k, plan in enumerate(self.plans):
            growth = 1 + 0.02 * k
            revenue = 1e6 * growth ** t * rng.lognormal(0, 0.1, (n, 1)) * (1 + 0.05 * rng.standard_normal((n, months)))
            if expected:
                revenue = 1e6 * growth ** t[None, :]
            series = {name: revenue * (0.2 + 0.01 * i) for i, name in enumerate(SERIES)}
            series["revenue"] = revenue
            series["customers"] = 1000 + 20 * (k + 1) * t + rng.normal(0, 30, (n, months))
            cash = 5e6 + np.cumsum(revenue - 1.25e6, axis=1)
            series["cumulative_cash"] = cash
            self._series[plan] = series
            kpis = {name: rng.normal(10, 2, n) for name in KPIS}
            kpis["npv"] = 20e6 + 5e6 * k + drive - 4e6 * k * (self._inputs["offers.saas_annual.churn.annual"] - 0.12) \
                / 0.04 + rng.normal(0, 1e6, n)
            kpis["min_cumulative_cash"] = cash.min(axis=1)
            kpis["trough_month"] = cash.argmin(axis=1).astype(float)
            kpis["cash_negative"] = (cash.min(axis=1) < 0).astype(float)
            kpis["funding_need"] = np.maximum(0, -cash.min(axis=1))
            for name in ("revenue_crossover_month", "cash_crossover_month", "payback_month"):
                months_drawn = rng.integers(0, months, n).astype(float)
                months_drawn[rng.uniform(size=n) < 0.2] = np.nan
                kpis[name] = months_drawn
            if plan == self.baseline:
                kpis["revenue_crossover_month"] = kpis["cash_crossover_month"] = np.full(n, np.nan)
            if plan == never_crosses:
                kpis["revenue_crossover_month"] = kpis["cash_crossover_month"] = np.full(n, np.nan)
            self._kpis[plan] = kpis

    def series(self, plan, name):
        return self._series[plan][name]

    def series_stats(self, plan, name):
        x = self._series[plan][name]
        q = np.percentile(x, [5, 25, 50, 75, 95], axis=0)
        return {"mean": x.mean(0), "se": x.std(0) / math.sqrt(len(x)), "p5": q[0], "p25": q[1], "p50": q[2],
                "p75": q[3], "p95": q[4]}

    def offer_series(self, plan, kind):
        return np.zeros((self.paths, len(self.offers), self.months))

    def kpis(self, plan):
        return self._kpis[plan]

    def kpi_stats(self, plan, name):
        x = self._kpis[plan][name]
        d = x[np.isfinite(x)]
        if not d.size:
            return {"mean": None, "se": None, "p5": None, "p50": None, "p95": None, "p_defined": 0.0}
        p5, p50, p95 = np.percentile(d, [5, 50, 95])
        return {"mean": float(d.mean()), "se": float(d.std() / math.sqrt(d.size)), "p5": p5, "p50": p50,
                "p95": p95, "p_defined": None if self.mode == "expected" else d.size / x.size}

    def differences(self, plan, kpi):
        return self._kpis[plan][kpi] - self._kpis[self.baseline][kpi]

    def comparison(self, plan):
        if plan == self.baseline:
            return None
        expected = self.mode == "expected"

        def diff(kpi):
            d = self.differences(plan, kpi)
            p5, p50, p95 = np.percentile(d, [5, 50, 95])
            return {"mean": float(d.mean()), "se": 0.0, "p5": p5, "p50": p50, "p95": p95}

        def higher(kpi):
            return None if expected else float(np.mean(self.differences(plan, kpi) > 0))

        out = {"baseline": self.baseline, "p_npv_higher": higher("npv"), "p_npv_higher_se": None,
               "npv_difference": diff("npv"), "p_ending_arr_higher": higher("ending_arr"),
               "ending_arr_difference": diff("ending_arr"), "p_min_cash_higher": higher("min_cumulative_cash"),
               "min_cash_difference": diff("min_cumulative_cash")}
        for name in ("revenue_crossover_month", "cash_crossover_month"):
            stats = self.kpi_stats(plan, name)
            stats.pop("se")
            out[name] = stats
        return out

    def inputs(self, plan):
        return self._inputs

    def funnel(self, plan):
        return pd.DataFrame({"source": self.sources, "stages": "a > b", "leads": 1000.0, "cost_per_lead": 40.0,
                             "customers_won": 30.0, "cac": 9000.0, "roi": 1.5})

    def yearly(self, plan):
        years = sorted({label[:4] for label in self.month_labels})
        return pd.DataFrame({"fiscal_year": [f"FY{y}" for y in years], "months": 12,
                             "revenue_p50": 1.2e7, "revenue_mean": 1.2e7, "net_cash_flow_p50": -1e6,
                             "net_cash_flow_mean": -1e6, "ending_arr_p50": 1e7, "ending_arr_mean": 1e7})

    def summary(self):
        return pd.DataFrame([{"plan": p, "kpi": k, **self.kpi_stats(p, k)} for p in self.plans for k in KPIS])

    def series_table(self):
        frames = [pd.DataFrame({"plan": p, "series": s, "month": np.arange(self.months), **self.series_stats(p, s)})
                  for p in self.plans for s in ("revenue", "customers")]
        return pd.concat(frames, ignore_index=True)

    def to_summary_json(self):
        return {"scenario": self.scenario.name, "paths": self.paths, "seed": self.seed, "months": self.months,
                "mode": self.mode, "version": "0.1.0", "scenario_sha256": "ab" * 32, "plans": {},
                "comparisons": {p: self.comparison(p) for p in self.plans if p != self.baseline}}


@pytest.fixture(scope="module")
def fake():
    return FakeResults()


@pytest.fixture(scope="module")
def fake_expected():
    return FakeResults(expected=True)


# ------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, text", [
    (4_100_000, "€4.1M"), (-2_000_000, "−€2.0M"), (850_000, "€850k"), (1_250_000_000, "€1.25B"),
    (312.4, "€312"), (9_999.0, "€10.0k"), (999_999, "€1.0M"), (None, "–"), (float("nan"), "–"),
])
def test_money(value, text):
    assert money(value, "EUR") == text


def test_money_other_currencies_and_plain_minus():
    assert money(1_500_000, "USD") == "$1.5M"
    assert money(-1_500_000, "CHF", minus="-") == "-CHF 1.5M"


def test_percent_and_months():
    assert percent(0.734) == "73%"
    assert percent(0.001) == "<1%"
    assert percent(0.999) == ">99%"
    assert percent(1.0) == "100%"
    assert percent(None) == "–"
    labels = ["2027-01", "2027-02", "2027-03"]
    assert month_label(1.4, labels) == "2027-02"
    assert month_label(float("nan"), labels) == "never"


@pytest.mark.parametrize("path, label", [
    ("funnel.sources.web.stages.contract", "web: contract conversion"),
    ("funnel.sources.web.leads_per_month", "web: leads / month"),
    ("funnel.sources.content.leads_per_month.schedule.12", "content: leads / month (month 12)"),
    ("offers.saas_annual.churn.annual", "saas_annual: annual churn"),
    ("offers.saas_annual.cost_to_serve_per_seat_month", "saas_annual: cost to serve / seat / month"),
    ("plans.phased.migration.rate_per_year", "phased: migration rate / year"),
    ("finance.terminal_value.multiple", "terminal value ARR multiple"),
    ("costs.fixed_opex_per_month", "fixed opex / month"),
    ("costs.channels.reseller.share", "reseller channel share"),
])
def test_input_labels(path, label):
    assert input_label(path) == label


# ------------------------------------------------------------------------------------------
# Charts
# ------------------------------------------------------------------------------------------


def _axes():
    return Figure().add_subplot()


@pytest.mark.parametrize("draw", [
    lambda r, ax: charts.plot_fan(r, "revenue", ax=ax),
    lambda r, ax: charts.plot_fan(r, "customers", ax=ax),
    lambda r, ax: charts.plot_revenue_mix(r, r.plans[1], ax=ax),
    lambda r, ax: charts.plot_cash(r, r.plans[1], ax=ax),
    lambda r, ax: charts.plot_cash(r, r.plans[1], ax=ax, months=12),
    lambda r, ax: charts.plot_npv_histogram(r, ax=ax),
    lambda r, ax: charts.plot_npv_difference(r, ax=ax),
    lambda r, ax: charts.plot_crossover(r, "revenue", ax=ax),
    lambda r, ax: charts.plot_crossover(r, "cash", ax=ax),
    lambda r, ax: charts.plot_tornado(r, r.plans[1], ax=ax),
    lambda r, ax: charts.plot_tornado(r, r.plans[1], target="npv_difference", ax=ax),
], ids=["fan", "fan-customers", "mix", "cash", "cash-close-up", "npv", "npv-difference", "crossover-revenue",
        "crossover-cash", "tornado", "tornado-difference"])
def test_chart_draws_on_the_given_axes_and_returns_it(fake, draw):
    ax = _axes()
    assert draw(fake, ax) is ax
    assert ax.get_title(loc="left")
    assert ax.get_xlabel() or ax.get_ylabel()


@pytest.mark.parametrize("draw", [
    lambda r: charts.plot_fan(r, "arr"),
    lambda r: charts.plot_cash(r, r.baseline),
    lambda r: charts.plot_tornado(r, r.baseline),
])
def test_chart_without_ax_makes_its_own_figure(fake, draw):
    ax = draw(fake)
    assert isinstance(ax, Axes)
    assert isinstance(ax.figure, Figure)


def test_fan_chart_has_one_legend_entry_per_plan_and_the_bands(fake):
    ax = charts.plot_fan(fake, "revenue", ax=_axes())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sum(plan in text for plan in fake.plans for text in texts) >= len(fake.plans)
    assert any("P5–P95" in text for text in texts)
    assert ax.get_ylabel() == "Revenue per month (EUR)"


def test_money_axis_labels_use_the_currency_and_suffixes(fake):
    ax = charts.plot_fan(fake, "revenue", ax=_axes())
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert all(label.startswith(("€", "−€")) for label in labels), labels
    assert any(label.endswith("M") for label in labels), labels


def test_difference_histogram_states_the_probability(fake):
    ax = charts.plot_npv_difference(fake, ax=_axes())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == len(fake.plans) - 1
    for plan, text in zip([p for p in fake.plans if p != fake.baseline], texts, strict=True):
        share = np.mean(fake.differences(plan, "npv") > 0)
        assert f"P(> 0) = {percent(share)}" in text


def test_crossover_chart_names_paths_that_never_cross():
    results = FakeResults(never_crosses="phased")
    ax = charts.plot_crossover(results, "revenue", ax=_axes())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "phased — never crosses within the horizon" in texts
    assert any(re.fullmatch(r"hard_switch — median 20\d\d-\d\d; never crosses: \d+%", text) for text in texts)


def test_spearman_sensitivity_ranks_the_driver_first(fake):
    ranked = charts.spearman_sensitivity(fake.inputs("stay_perpetual"), fake.kpis("stay_perpetual")["npv"])
    assert ranked[0][0] == "funnel.sources.web.stages.contract"
    assert ranked[0][1] > 0.8
    assert "costs.fixed_opex_per_month" not in dict(ranked)  # a constant input says nothing


def test_tornado_leaves_out_other_plans_settings(fake):
    ax = charts.plot_tornado(fake, "hard_switch", ax=_axes())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "web: contract conversion" in labels
    assert not any(label.startswith("phased:") for label in labels)
    ax = charts.plot_tornado(fake, "phased", ax=_axes())
    assert "phased: migration rate / year" in [t.get_text() for t in ax.get_yticklabels()]


def test_chart_figures_of_a_monte_carlo_run_save_as_png(fake, tmp_path):
    figures = charts.chart_figures(fake)
    names = [f.name for f in figures]
    assert names == ["revenue_fan", "revenue_by_type", "cumulative_cash", "arr_customers", "npv_histogram",
                     "npv_difference", "crossover", "tornado_npv", "tornado_npv_difference"]
    for figure in figures:
        path = figure.save(tmp_path)
        assert path.read_bytes()[:8] == PNG
        assert figure.title and figure.caption


@pytest.mark.parametrize("plans, close_up, full_count, close_count", [
    (3, True, 3, 3), (3, False, 3, None), (5, True, 5, 5), (5, False, 5, None),
])
def test_cash_figure_layout_keeps_panels_readable(plans, close_up, full_count, close_count):
    figure, full, close = charts._cash_panels(plans, close_up)
    assert len(full) == full_count
    assert (close is None and close_count is None) or len(close) == close_count
    width, _ = figure.get_size_inches()
    assert width <= 14  # more plans add rows, not ever narrower columns


def test_many_plans_on_one_fan_chart_draw_outer_bands_as_lines():
    scenario = load_text(HOSTILE.replace('  other: {mix: {saas: 100%}}',
                                         '  other: {mix: {saas: 100%}}\n  third: {mix: {saas: 100%}}\n'
                                         '  fourth: {mix: {saas: 100%}}'))
    results = FakeResults(scenario)
    ax = charts.plot_fan(results, "revenue", ax=_axes())
    assert len(ax.collections) == 4  # the P25-P75 band of each of the four plans only
    assert "90% of paths (P5–P95): thin lines" in [t.get_text() for t in ax.get_legend().get_texts()]
    ax = charts.plot_fan(FakeResults(), "revenue", ax=_axes())
    assert len(ax.collections) == 6  # three plans: both bands filled


def test_charts_without_a_start_month_count_months(fake):
    results = FakeResults(months=24)
    results.month_labels = [f"M{t + 1}" for t in range(24)]
    ax = charts.plot_cash(results, "hard_switch", ax=_axes())
    assert ax.get_xlabel() == "Month of the simulation"
    assert ax.get_xlim()[0] < 2 and ax.get_xlim()[1] > 23
    assert all(f.name for f in charts.chart_figures(results))


def test_expected_run_gets_the_charts_over_time_only(fake_expected):
    figures = charts.chart_figures(fake_expected)
    assert [f.name for f in figures] == ["revenue_fan", "revenue_by_type", "cumulative_cash", "arr_customers"]
    ax = charts.plot_fan(fake_expected, "revenue", ax=_axes())
    assert "base case" in ax.get_title(loc="left")
    assert not ax.collections  # no bands: one path has no spread


# ------------------------------------------------------------------------------------------
# Tables, statements, assumptions
# ------------------------------------------------------------------------------------------


def test_tables_write_to_csv_and_excel(fake, tmp_path):
    from openpyxl import load_workbook

    tables = run_tables(fake)
    assert set(tables) == {"kpi_summary", "series_percentiles", "comparisons", "yearly_totals", "funnel_by_source"}
    comparisons = tables["comparisons"]
    assert set(comparisons["plan"]) == set(fake.plans) - {fake.baseline}
    assert {"npv_difference", "revenue_crossover_month"} <= set(comparisons["measure"])
    assert "month_label" in tables["series_percentiles"].columns
    paths = write_csv(tables, tmp_path)
    assert all(p.exists() for p in paths)
    workbook = load_workbook(write_excel(tables, tmp_path / "t.xlsx", facts={"paths": 400}))
    assert workbook.sheetnames == ["Run", "KPIs", "Series", "Comparisons", "Yearly", "Funnel"]


def test_summary_rows_give_percentiles_per_plan(fake):
    rows = {row.label: row for row in summary_rows(fake)}
    assert list(rows) == ["NPV", "Cash trough (lowest balance)", "Trough month", "Payback month",
                          "Revenue crossover vs baseline", "Cash crossover vs baseline", "Ending ARR", "LTV / CAC",
                          "P(NPV > baseline)", "P(cash < 0)"]
    p5, p50, p95 = rows["NPV"].cells["hard_switch"]
    assert p50 == money(np.percentile(fake.kpis("hard_switch")["npv"], 50), "EUR")
    assert rows["Revenue crossover vs baseline"].cells[fake.baseline] == "—"
    assert rows["Payback month"].notes["hard_switch"].startswith("in ")
    share = np.mean(fake.differences("hard_switch", "npv") > 0)
    assert rows["P(NPV > baseline)"].cells["hard_switch"] == percent(share)


def test_comparison_statement_in_plain_words(fake):
    found = [s for s in statements(fake) if s.kind == "comparison" and s.plan == "hard_switch"]
    (statement,) = found
    d = fake.differences("hard_switch", "npv")
    share = np.mean(d > 0)
    assert 0 < share < 1
    expected = (f"In {percent(share)} of paths the hard_switch plan's NPV beats stay_perpetual (baseline) "
                f"— median difference {money(np.percentile(d, 50), 'EUR')}; P5 {money(np.percentile(d, 5), 'EUR')}, "
                f"P95 {money(np.percentile(d, 95), 'EUR')}.")
    assert statement.text.startswith(expected)


def test_cash_and_crossover_statements(fake):
    texts = {(s.kind, s.plan): s.text for s in statements(fake)}
    cash = texts[("cash", "hard_switch")]
    share = fake.kpi_stats("hard_switch", "cash_negative")["mean"]
    assert f"cash falls below zero in {percent(share)} of paths" in cash
    assert "median funding need" in cash
    assert "cash stays above zero in every path" in texts[("cash", "phased")]
    assert "overtakes stay_perpetual for good" in texts[("crossover", "hard_switch")]
    never = {(s.kind, s.plan): s.text for s in statements(FakeResults(never_crosses="phased"))}
    assert "never overtakes" in never[("crossover", "phased")]


def test_expected_mode_statements_have_no_probabilities(fake_expected):
    texts = [s.text for s in statements(fake_expected)]
    assert texts and all("in the base case" in t.lower() for t in texts)
    assert not any("% of paths" in t for t in texts)
    rows = {row.label: row for row in summary_rows(fake_expected)}
    assert "P(NPV > baseline)" not in rows
    assert rows["Cash below zero"].cells["stay_perpetual"] in ("yes", "no")


def test_assumptions_show_ranges_as_written():
    sections = {s.title: s for s in assumption_sections(load_scenario(None))}
    offers = {row[0]: row for row in sections["Offers (licence models)"].rows}
    assert offers["saas_annual"][3] == "annual 8% to 16%"
    assert offers["perpetual"][3] == "renewal 88% to 94%"
    sources = {row[0]: row for row in sections["Marketing sources and conversions"].rows}
    assert sources["web"][1] == "900 to 1,300"
    assert sources["web"][3] == "trial 6% to 10% → contract 18% to 28%"
    plans = {row[0]: row for row in sections["Plans compared"].rows}
    assert plans["stay_perpetual (baseline)"][2] == "perpetual 100%"
    assert "month 24: saas_annual 100%" in plans["phased"][2]
    money_rows = dict(sections["Cash, discounting and costs"].rows)
    assert money_rows["Discount rate (NPV)"] == "10% / year"
    assert money_rows["Terminal value"] == "3 to 6 × ending ARR"


def test_shown_named_distributions_keep_their_parameters():
    scenario = load_scenario(None)
    assert shown(scenario.segments["smb"].seats) == "lognormal(mean 12, sd 10)"


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------


HOSTILE = """
name: "<script>alert(1)</script> & Co"
description: "Uses <b>bold</b> claims"
funnel:
  sources:
    web: {leads_per_month: 100, stages: {contract: 10%}}
segments: {all: {share: 100%}}
offers:
  saas: {type: subscription, price_per_seat_month: 30, churn: {monthly: 2%}}
plans:
  "a<b": {mix: {saas: 100%}, description: "x </td> y"}
  other: {mix: {saas: 100%}}
"""


def test_report_is_self_contained_and_escapes_scenario_text(tmp_path):
    scenario = load_text(HOSTILE)
    results = FakeResults(scenario)
    png = charts.chart_figures(results)[0].save(tmp_path).read_bytes()
    html = render_report(results, [EmbeddedChart("Revenue", "caption", png)])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<b>bold</b>" not in html and "x &lt;/td&gt; y" in html
    assert "a&lt;b" in html and "a<b" not in html
    assert not re.search(r"https?://", html)
    assert html.count("data:image/png;base64,") == 1
    assert "<link" not in html and "<script" not in html


def test_report_sections_and_expected_mode_wording(fake, fake_expected):
    html = render_report(fake, [])
    for heading in ("Key findings", "Summary by plan", "Charts", "Key assumptions", "Run"):
        assert f"<h2>{heading}</h2>" in html
    assert "beats stay_perpetual (baseline)" in html
    html = render_report(fake_expected, [])
    assert "Expected-value run — the base case" in html
    assert "% of paths" not in html


# ------------------------------------------------------------------------------------------
# Atomic output folder
# ------------------------------------------------------------------------------------------


def _complete(folder, text="old"):
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(text)


def test_atomic_folder_replaces_a_previous_output(tmp_path):
    out = tmp_path / "out"
    _complete(out, "old")
    with atomic_folder(out) as temp:
        assert temp.name == f".out.tmp-{__import__('os').getpid()}" and temp.parent == tmp_path
        (temp / "summary.json").write_text("new")
    assert (out / "summary.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failure_leaves_the_destination_as_it_was(tmp_path):
    out = tmp_path / "out"
    _complete(out, "old")
    with pytest.raises(RuntimeError, match="boom"), atomic_folder(out) as temp:
        (temp / "summary.json").write_text("half")
        raise RuntimeError("boom")
    assert (out / "summary.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(KeyboardInterrupt), atomic_folder(tmp_path / "fresh"):
        raise KeyboardInterrupt
    assert not (tmp_path / "fresh").exists()


def test_stale_temp_folders_are_cleaned_and_live_ones_kept(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = temp_folder_for(out, int(dead.stdout))
    stale.mkdir()
    (stale / "summary.json").write_text("partial")
    live = temp_folder_for(out, 1)  # pid 1 always runs
    live.mkdir()
    removed = clean_stale(out)
    assert removed == [stale] and not stale.exists() and live.exists()


def test_a_previous_output_left_aside_is_restored(tmp_path):
    out = tmp_path / "out"
    aside = tmp_path / ".out.old-999999999"
    _complete(aside, "previous")
    clean_stale(out)
    assert (out / "summary.json").read_text() == "previous"


def test_someone_elses_folder_is_never_replaced(tmp_path, monkeypatch):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.docx").write_text("precious")
    with pytest.raises(OutputFolderError, match="not a saas-sim output folder"), atomic_folder(mine):
        pass
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFolderError, match="not a folder"), atomic_folder(tmp_path / "file"):
        pass
    monkeypatch.chdir(mine)
    with pytest.raises(OutputFolderError, match="current folder"), atomic_folder(tmp_path):
        pass
    assert (mine / "thesis.docx").read_text() == "precious"
