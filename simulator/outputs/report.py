"""``report.html``: one self-contained page that can be forwarded as it is.

Charts are embedded as base64 PNG, the CSS is inline, nothing is fetched from the network and
no JavaScript is needed. Every text that comes from the scenario (names, descriptions, plan
names) is escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from simulator.outputs.assumptions import Section, assumption_sections
from simulator.outputs.findings import is_expected, statements, summary_rows
from simulator.outputs.formatting import is_missing, money, number, percent

__all__ = ["EmbeddedChart", "render_report"]


@dataclass
class EmbeddedChart:
    """A chart for the report: its title, caption and PNG bytes."""

    title: str
    caption: str
    png: bytes


_CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #dde1e8; --band: #f5f7fa; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fff; line-height: 1.45; font-size: 15px; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 6px; }
p.lead { color: var(--muted); margin: 0 0 14px; font-size: 16px; }
p.note { color: var(--muted); font-size: 13px; }
.mode { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 13px; font-weight: 600;
        background: #e8f1fa; color: #174a7c; margin-bottom: 10px; }
.mode.expected { background: #fdf0e3; color: #7a4510; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.facts td:first-child { color: var(--muted); white-space: nowrap; }
table.summary td.num .p50 { font-weight: 700; font-size: 14.5px; }
table.summary td.num .range { display: block; color: var(--muted); font-size: 12px; }
table.summary td.num .note { display: block; color: var(--muted); font-size: 11.5px; font-style: italic; }
table.wide { width: 100%; }
ul.findings { padding-left: 20px; margin: 4px 0 10px; }
ul.findings li { margin: 4px 0; }
figure { margin: 18px 0 26px; }
figure img { width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.scroll { overflow-x: auto; }
span.base { color: var(--muted); font-weight: 400; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--line);
         padding-top: 10px; }
@media print { main { padding: 0; } figure { break-inside: avoid; } h2 { break-after: avoid; } }
"""


def _e(value) -> str:
    """Text escaped for an element's content."""
    return escape(str(value), quote=False)


def _attr(value) -> str:
    """Text escaped for an attribute value (quotes included)."""
    return escape(str(value), quote=True)


def _plan_header(results, plan: str) -> str:
    suffix = " <span class='base'>(baseline)</span>" if plan == results.baseline else ""
    return f"{_e(plan)}{suffix}"


# ------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------


def _facts(results, summary: Mapping, generated: _dt.datetime, files: Sequence[str]) -> str:
    scenario = results.scenario
    labels = results.month_labels
    expected = is_expected(results)
    rows = [
        ("Scenario", scenario.name or summary.get("scenario") or "–"),
        ("Scenario file", scenario.source or "–"),
        ("Plans", ", ".join(results.plans)),
        ("Baseline", results.baseline),
        ("Mode", "expected value (base case: every uncertain input at its mean, one path)" if expected
         else "Monte Carlo"),
    ]
    if not expected:
        kept = len(getattr(results, "kept", [])) or results.paths
        paths = f"{results.paths:,}"
        if kept < results.paths:
            paths += f" (monthly percentiles from {kept:,} of them; KPIs and means from all)"
        rows.append(("Paths", paths))
        rows.append(("Sampling", str(getattr(scenario.simulation.sampling, "value", scenario.simulation.sampling))
                     .replace("_", " ")))
    rows.append(("Seed", str(results.seed)))
    rows.append(("Horizon", f"{results.months} months ({labels[0]} to {labels[-1]})" if labels else
                 f"{results.months} months"))
    rows.append(("Currency", results.currency))
    sets = list(getattr(results, "sets", []) or [])
    if sets:
        rows.append(("Changes (--set)", "; ".join(sets)))
    rows.append(("saas-sim version", str(summary.get("version", ""))))
    rows.append(("Generated", generated.strftime("%Y-%m-%d %H:%M")))
    digest = summary.get("scenario_sha256")
    if digest:
        rows.append(("Scenario SHA-256", digest))
    if files:
        rows.append(("Also in this folder", ", ".join(files)))
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table class='facts'>{body}</table>"


def _run_line(results, summary: Mapping, generated: _dt.datetime) -> str:
    """One line of run facts under the title (the full table closes the report)."""
    labels = results.month_labels
    parts = [] if is_expected(results) else [f"{results.paths:,} paths"]
    parts.append(f"seed {results.seed}")
    span = f" ({labels[0]} to {labels[-1]})" if labels else ""
    parts.append(f"{results.months} months{span}")
    parts.append(f"amounts in {results.currency}")
    if getattr(results, "sets", None):
        parts.append(f"{len(results.sets)} --set change{'s' if len(results.sets) != 1 else ''}")
    parts.append(f"saas-sim {summary.get('version', '')}")
    parts.append(generated.strftime("%Y-%m-%d %H:%M"))
    return " · ".join(parts)


def _findings(results) -> str:
    groups = {"comparison": "Against the baseline", "cash": "Cash risk", "crossover": "Crossovers"}
    found = statements(results)
    html = []
    for kind, title in groups.items():
        items = [s for s in found if s.kind == kind]
        if not items:
            continue
        html.append(f"<h3>{_e(title)}</h3><ul class='findings'>")
        html.extend(f"<li>{_e(s.text)}</li>" for s in items)
        html.append("</ul>")
    return "".join(html)


def _summary_table(results) -> str:
    expected = is_expected(results)
    rows = summary_rows(results)
    head = "".join(f"<th class='num'>{_plan_header(results, plan)}</th>" for plan in results.plans)
    body = []
    for row in rows:
        cells = []
        for plan in results.plans:
            cell = row.cells.get(plan, "–")
            note = row.notes.get(plan)
            if isinstance(cell, tuple):
                p5, p50, p95 = cell
                inner = (f"<span class='p50'>{_e(p50)}</span>"
                         f"<span class='range'>P5 {_e(p5)} · P95 {_e(p95)}</span>")
            else:
                inner = f"<span class='p50'>{_e(cell)}</span>"
            if note:
                inner += f"<span class='note'>{_e(note)}</span>"
            cells.append(f"<td class='num'>{inner}</td>")
        body.append(f"<tr><td>{_e(row.label)}</td>{''.join(cells)}</tr>")
    what = ("Base-case values (expected-value run)." if expected else
            "Median (P50) in bold; below it the 5th and 95th percentiles across paths. Months are the "
            "calendar month of the event; where an event does not happen on every path, its percentiles "
            "are over the paths where it does.")
    return (f"<div class='scroll'><table class='summary'><tr><th></th>{head}</tr>{''.join(body)}</table></div>"
            f"<p class='note'>{_e(what)}</p>")


_COMPARED = (
    ("npv_difference", "p_npv_higher", "NPV"),
    ("ending_arr_difference", "p_ending_arr_higher", "Ending ARR"),
    ("min_cash_difference", "p_min_cash_higher", "Lowest cash balance"),
)


def _comparison_table(results) -> str:
    expected = is_expected(results)
    cur = results.currency
    rows = []
    for plan in results.plans:
        comparison = results.comparison(plan) if plan != results.baseline else None
        if not comparison:
            continue
        for key, p_key, label in _COMPARED:
            stats = comparison.get(key) or {}
            if expected:
                cells = [money(stats.get("mean"), cur)]
            else:
                cells = [percent(comparison.get(p_key)), money(stats.get("p5"), cur), money(stats.get("p50"), cur),
                         money(stats.get("p95"), cur)]
            rows.append(f"<tr><td>{_e(plan)}</td><td>{_e(label)}</td>"
                        + "".join(f"<td class='num'>{_e(c)}</td>" for c in cells) + "</tr>")
    if not rows:
        return ""
    head = ("<th class='num'>Difference</th>" if expected else
            "<th class='num'>P(plan higher)</th><th class='num'>P5</th><th class='num'>P50</th>"
            "<th class='num'>P95</th>")
    how = "base case" if expected else "paired by path"
    return (f"<h3>Differences from {_e(results.baseline)} (plan minus baseline, {how})</h3>"
            f"<div class='scroll'><table><tr><th>Plan</th><th>Measure</th>{head}</tr>{''.join(rows)}</table></div>")


def _yearly_table(results) -> str:
    """Median (or base-case) revenue, net cash flow and ending ARR by fiscal year and plan."""
    blocks = []
    stat = "mean" if is_expected(results) else "p50"
    measures = (("revenue", "Revenue"), ("net_cash_flow", "Net cash flow"), ("ending_arr", "Ending ARR"))
    try:
        frames = {plan: results.yearly(plan) for plan in results.plans}
    except (NotImplementedError, AttributeError, KeyError):
        return ""
    years = None
    for plan, frame in frames.items():
        frame = frame.reset_index() if "fiscal_year" not in frame.columns else frame
        if "fiscal_year" not in frame.columns:
            return ""
        years = list(frame["fiscal_year"])
        frames[plan] = frame
    if not years:
        return ""
    head = "".join(f"<th class='num'>{_e(y)}</th>" for y in years)
    for column, label in measures:
        name = f"{column}_{stat}"
        rows = []
        for plan, frame in frames.items():
            if name not in frame.columns:
                continue
            cells = "".join(f"<td class='num'>{_e(money(v, results.currency))}</td>" for v in frame[name])
            rows.append(f"<tr><td>{_plan_header(results, plan)}</td>{cells}</tr>")
        if rows:
            blocks.append(f"<tr><th colspan='{len(years) + 1}'>{_e(label)}</th></tr>" + "".join(rows))
    if not blocks:
        return ""
    partial = ""
    if "months" in frames[results.plans[0]].columns:
        months = list(frames[results.plans[0]]["months"])
        if any(m != 12 for m in months):
            partial = " Years with fewer than 12 months in the horizon are partial."
    what = "base case" if is_expected(results) else "medians across paths"
    return (f"<h3>By fiscal year ({_e(what)})</h3><div class='scroll'><table class='wide'>"
            f"<tr><th></th>{head}</tr>{''.join(blocks)}</table></div>"
            "<p class='note'>Revenue and net cash flow are totals of the year; ending ARR at its last "
            f"month.{_e(partial)}</p>")


def _funnel_table(results) -> str:
    plan = results.baseline
    try:
        frame = results.funnel(plan)
    except (NotImplementedError, AttributeError, KeyError):
        return ""
    if frame is None or len(frame) == 0:
        return ""
    frame = frame.reset_index() if "source" not in frame.columns else frame
    columns = [c for c in ("source", "stages", "leads", "cost_per_lead", "customers_won", "cac", "roi")
               if c in frame.columns]
    labels = {"source": "Source", "stages": "Stages", "leads": "Leads", "cost_per_lead": "Cost per lead",
              "customers_won": "Customers won", "cac": "CAC", "roi": "ROI"}
    rows = []
    for _, record in frame[columns].iterrows():
        cells = []
        for c in columns:
            v = record[c]
            if c in ("cost_per_lead", "cac"):
                text, cls = money(v, results.currency), "num"
            elif c == "roi":
                text, cls = ("–" if is_missing(v) else f"{number(v, decimals=1)}×"), "num"
            elif c in ("leads", "customers_won"):
                text, cls = number(v), "num"
            else:
                text, cls = str(v), ""
            cells.append(f"<td class='{cls}'>{_e(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th class='{'num' if c not in ('source', 'stages') else ''}'>{_e(labels[c])}</th>"
                   for c in columns)
    what = "base case" if is_expected(results) else "means over paths"
    return (f"<h3>Funnel by source — {_e(plan)} ({_e(what)}, over the horizon)</h3><div class='scroll'>"
            f"<table><tr>{head}</tr>{''.join(rows)}</table></div>"
            "<p class='note'>Every plan's funnel is in funnel_by_source.csv.</p>")


def _section_table(section: Section) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in section.headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in section.rows)
    return f"<h3>{_e(section.title)}</h3><div class='scroll'><table class='wide'><tr>{head}</tr>{body}</table></div>"


def _charts(charts: Sequence[EmbeddedChart]) -> str:
    html = []
    for chart in charts:
        data = base64.b64encode(chart.png).decode("ascii")
        html.append(f"<figure><h3>{_e(chart.title)}</h3>"
                    f"<img alt='{_attr(chart.title)}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{_e(chart.caption)}</figcaption></figure>")
    return "".join(html)


# ------------------------------------------------------------------------------------------
# The page
# ------------------------------------------------------------------------------------------


def render_report(results, charts: Sequence[EmbeddedChart], *, summary: Mapping | None = None,
                  generated: _dt.datetime | None = None, files: Sequence[str] = ()) -> str:
    """The report of a run as one HTML document (a string).

    Parameters
    ----------
    results : Results
    charts : list of EmbeddedChart
        In display order.
    summary : mapping, optional
        ``results.to_summary_json()`` (for the version and the scenario's SHA-256); computed
        when not given.
    generated : datetime, optional
        Time stamp shown in the run facts (now by default).
    files : list of str
        Names of the other files of the output folder, listed in the run facts.
    """
    summary = summary if summary is not None else results.to_summary_json()
    generated = generated or _dt.datetime.now()
    scenario = results.scenario
    expected = is_expected(results)
    title = scenario.name or summary.get("scenario") or "saas-sim run"
    mode = ("<span class='mode expected'>Expected-value run — the base case</span>" if expected else
            f"<span class='mode'>Monte Carlo — {results.paths:,} paths</span>")
    intro = (
        "The base case: every uncertain input at its mean and every count at its expectation, on one "
        "path. It shows the central scenario, not its risk; with a non-linear model it is not the average "
        "of the Monte Carlo paths, and it carries no probabilities."
        if expected else
        "Every uncertain input is drawn once per path and every count month by month; the plans run on the "
        "same random numbers, so each comparison with the baseline is paired path by path. Percentiles "
        "(P5, P50, P95) and probabilities are across paths."
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)} — saas-sim report</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        mode,
    ]
    if scenario.description:
        parts.append(f"<p class='lead'>{_e(scenario.description.strip())}</p>")
    parts.append(f"<p class='note'>{_e(_run_line(results, summary, generated))}</p>")
    parts.append(f"<p>{_e(intro)}</p>")
    parts.append("<h2>Key findings</h2>" + _findings(results))
    parts.append("<h2>Summary by plan</h2>" + _summary_table(results) + _comparison_table(results)
                 + _yearly_table(results) + _funnel_table(results))
    parts.append("<h2>Charts</h2>" + _charts(charts))
    parts.append("<h2>Key assumptions</h2><p class='note'>As written in the scenario: a range "
                 "“a to b” is a 90% interval (5% chance below a, 5% above b), drawn once per path.</p>")
    parts.extend(_section_table(section) for section in assumption_sections(scenario))
    parts.append("<h2>Run</h2>" + _facts(results, summary, generated, files))
    parts.append(f"<footer>Generated by saas-sim {_e(summary.get('version', ''))} on "
                 f"{_e(generated.strftime('%Y-%m-%d %H:%M'))}. The numbers behind every table and chart are in "
                 "the CSV files and tables.xlsx beside this report; summary.json holds the statistics in a "
                 "form other programs read.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts)

