"""What a run says, in a table and in plain words: shared by the terminal and the report.

:func:`summary_rows` gives the compact per-plan table (NPV, cash trough, payback, crossovers,
ending ARR, LTV/CAC as P5 / P50 / P95, and the two probabilities); :func:`statements` the
sentences a reader can forward ("In 73% of paths the hard_switch plan's NPV beats
stay_perpetual (baseline) — median difference €4.1M; P5 −€2.0M, P95 €10.3M.").

In expected-value mode (one path at the means) there are no percentiles or probabilities:
rows hold the base-case value and sentences say "in the base case".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.outputs.formatting import MINUS, is_missing, money, month_label, number, percent

__all__ = ["Row", "Statement", "summary_rows", "statements", "is_expected"]


def is_expected(results) -> bool:
    """True for the expected-value run (the base case)."""
    return getattr(results, "mode", "monte_carlo") == "expected"


@dataclass
class Row:
    """One line of the summary table.

    ``cells[plan]`` is ``(p5, p50, p95)`` as text, or a single text where a range means nothing
    (a probability, the baseline's comparison with itself, the base case); ``notes[plan]`` an
    optional remark such as "in 64% of paths".
    """

    label: str
    cells: dict[str, tuple[str, str, str] | str]
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class Statement:
    """A sentence about one plan (``plan``), in plain words; ``kind`` is ``comparison``,
    ``cash`` or ``crossover``."""

    kind: str
    plan: str
    text: str


# ------------------------------------------------------------------------------------------
# Summary table
# ------------------------------------------------------------------------------------------

_KPI_ROWS = (
    ("npv", "NPV", "money"),
    ("min_cumulative_cash", "Cash trough (lowest balance)", "money"),
    ("trough_month", "Trough month", "month"),
    ("payback_month", "Payback month", "month"),
    ("revenue_crossover_month", "Revenue crossover vs baseline", "month"),
    ("cash_crossover_month", "Cash crossover vs baseline", "month"),
    ("ending_arr", "Ending ARR", "money"),
    ("ltv_to_cac", "LTV / CAC", "ratio"),
)


def _formatter(kind: str, results, minus: str):
    if kind == "money":
        return lambda v: money(v, results.currency, minus=minus)
    if kind == "month":
        return lambda v: month_label(v, results.month_labels, missing="never")
    if kind == "ratio":
        return lambda v: "–" if is_missing(v) else number(v, decimals=1, minus=minus) + "×"
    return lambda v: number(v, minus=minus)


def summary_rows(results, *, minus: str = MINUS) -> list[Row]:
    """The compact summary table of a run, one :class:`Row` per measure, plans as columns.

    Parameters
    ----------
    minus : str
        Sign of negative amounts (``"-"`` for terminals that may lack the typographic minus).
    """
    expected = is_expected(results)
    rows = []
    for kpi, label, kind in _KPI_ROWS:
        fmt = _formatter(kind, results, minus)
        row = Row(label, {})
        for plan in results.plans:
            if kpi.endswith("crossover_month") and plan == results.baseline:
                row.cells[plan] = "—"
                continue
            stats = results.kpi_stats(plan, kpi)
            defined = stats.get("p_defined")
            if expected:
                value = stats.get("p50") if not is_missing(stats.get("p50")) else stats.get("mean")
                row.cells[plan] = fmt(value) if not (kind == "month" and is_missing(value)) else "never"
                continue
            if kind == "month" and (is_missing(defined) or float(defined) == 0):
                row.cells[plan] = "never"
                continue
            row.cells[plan] = (fmt(stats.get("p5")), fmt(stats.get("p50")), fmt(stats.get("p95")))
            if kind == "month" and not is_missing(defined) and float(defined) < 1:
                row.notes[plan] = f"in {percent(defined)} of paths"
        rows.append(row)
    if expected:
        cash = Row("Cash below zero", {})
        for plan in results.plans:
            value = results.kpi_stats(plan, "cash_negative").get("mean")
            cash.cells[plan] = "–" if is_missing(value) else ("yes" if float(value) > 0 else "no")
        rows.append(cash)
        return rows
    higher = Row("P(NPV > baseline)", {})
    for plan in results.plans:
        comparison = results.comparison(plan) if plan != results.baseline else None
        higher.cells[plan] = "—" if not comparison else percent(comparison.get("p_npv_higher"))
    rows.append(higher)
    cash = Row("P(cash < 0)", {})
    for plan in results.plans:
        cash.cells[plan] = percent(results.kpi_stats(plan, "cash_negative").get("mean"))
    rows.append(cash)
    return rows


# ------------------------------------------------------------------------------------------
# Statements
# ------------------------------------------------------------------------------------------


def _signed_money(value, currency: str, minus: str) -> str:
    """``+€4.1M`` for a gain, ``−€2.0M`` for a loss (a difference reads better signed)."""
    text = money(value, currency, minus=minus)
    if not is_missing(value) and float(value) > 0 and any(c in "123456789" for c in text):
        return "+" + text
    return text


def statements(results, *, minus: str = MINUS) -> list[Statement]:
    """Plain-word statements: paired comparisons with the baseline, cash risk, crossovers."""
    out = []
    if is_expected(results):
        out += _expected_comparisons(results, minus)
        out += [_expected_cash(results, plan, minus) for plan in results.plans]
        out += _expected_crossovers(results)
        return out
    out += _comparisons(results, minus)
    out += [_cash(results, plan, minus) for plan in results.plans]
    out += _crossovers(results)
    return out


def _baseline_name(results) -> str:
    return f"{results.baseline} (baseline)"


def _comparisons(results, minus: str) -> list[Statement]:
    out = []
    cur = results.currency
    for plan in results.plans:
        comparison = results.comparison(plan) if plan != results.baseline else None
        if not comparison:
            continue
        diff = comparison.get("npv_difference") or {}
        p = comparison.get("p_npv_higher")
        text = (f"{_in_share(p)} the {plan} plan's NPV beats {_baseline_name(results)} — "
                f"median difference {money(diff.get('p50'), cur, minus=minus)}; "
                f"P5 {money(diff.get('p5'), cur, minus=minus)}, P95 {money(diff.get('p95'), cur, minus=minus)}.")
        arr = comparison.get("ending_arr_difference")
        if arr and not is_missing(comparison.get("p_ending_arr_higher")):
            text += (f" Its ending ARR is higher in {percent(comparison['p_ending_arr_higher'])} of paths "
                     f"(median {_signed_money(arr.get('p50'), cur, minus)}).")
        cash = comparison.get("min_cash_difference")
        if cash and not is_missing(comparison.get("p_min_cash_higher")):
            deeper = 1 - float(comparison["p_min_cash_higher"])
            text += (f" Its cash trough is deeper in {percent(deeper)} of paths "
                     f"(median difference in the lowest balance {_signed_money(cash.get('p50'), cur, minus)}).")
        out.append(Statement("comparison", plan, text))
    return out


def _in_share(p) -> str:
    """``In 73% of paths``; ``In every path`` and ``In no path`` at the ends."""
    if not is_missing(p) and float(p) >= 1:
        return "In every path"
    if not is_missing(p) and float(p) <= 0:
        return "In no path"
    return f"In {percent(p)} of paths"


def _cash(results, plan: str, minus: str) -> Statement:
    cur = results.currency
    p = results.kpi_stats(plan, "cash_negative").get("mean")
    trough = results.kpi_stats(plan, "min_cumulative_cash")
    month = results.kpi_stats(plan, "trough_month").get("p50")
    where = f"{plan}: " if plan != results.baseline else f"{_baseline_name(results)}: "
    if is_missing(p):
        return Statement("cash", plan, where + "the probability of running out of cash is not available.")
    if float(p) == 0:
        text = (f"{where}cash stays above zero in every path; the lowest balance is "
                f"{money(trough.get('p50'), cur, minus=minus)} at the median "
                f"(P5 {money(trough.get('p5'), cur, minus=minus)}), "
                f"around {month_label(month, results.month_labels)}.")
        return Statement("cash", plan, text)
    need = np.asarray(results.kpis(plan).get("funding_need", []), dtype=float)
    negative = np.asarray(results.kpis(plan).get("cash_negative", []), dtype=float)
    text = f"{where}cash falls below zero in {percent(p)} of paths"
    if need.size and negative.size == need.size and np.any(negative > 0):
        when = need[(negative > 0) & np.isfinite(need)]
        if when.size:
            text += f"; median funding need {money(np.median(when), cur, minus=minus)} where it does"
        cover = np.nanpercentile(need, 95)
        if cover > 0:
            text += f", and {money(cover, cur, minus=minus)} of funding would cover 95% of paths"
    text += (f". Median lowest balance {money(trough.get('p50'), cur, minus=minus)}, "
             f"around {month_label(month, results.month_labels)}.")
    return Statement("cash", plan, text)


def _month_range(stats, labels) -> str:
    return (f"at the median in {month_label(stats.get('p50'), labels)} "
            f"(P5 {month_label(stats.get('p5'), labels)}, P95 {month_label(stats.get('p95'), labels)})")


def _crossovers(results) -> list[Statement]:
    out = []
    labels = results.month_labels
    for plan in results.plans:
        if plan == results.baseline:
            continue
        parts = []
        for kind, what in (("revenue", "trailing-12-month revenue"), ("cash", "cumulative cash")):
            stats = results.kpi_stats(plan, f"{kind}_crossover_month")
            defined = stats.get("p_defined")
            if is_missing(defined) or float(defined) == 0:
                parts.append(f"its {what} never overtakes {results.baseline} for good within the horizon")
            else:
                share = "every path" if float(defined) >= 1 else f"{percent(defined)} of paths"
                parts.append(f"its {what} overtakes {results.baseline} for good in {share}, "
                             f"{_month_range(stats, labels)}")
        out.append(Statement("crossover", plan, f"{plan}: " + "; ".join(parts) + "."))
    return out


# Expected-value mode -------------------------------------------------------------------------


def _value(results, plan: str, kpi: str):
    stats = results.kpi_stats(plan, kpi)
    return stats.get("p50") if not is_missing(stats.get("p50")) else stats.get("mean")


def _expected_comparisons(results, minus: str) -> list[Statement]:
    out = []
    cur = results.currency
    base = _value(results, results.baseline, "npv")
    for plan in results.plans:
        if plan == results.baseline:
            continue
        npv = _value(results, plan, "npv")
        comparison = results.comparison(plan) or {}
        diff = (comparison.get("npv_difference") or {}).get("mean")
        if is_missing(diff) and not (is_missing(npv) or is_missing(base)):
            diff = float(npv) - float(base)
        text = (f"In the base case the {plan} plan's NPV is {money(npv, cur, minus=minus)} against "
                f"{money(base, cur, minus=minus)} for {_baseline_name(results)}")
        if not is_missing(diff):
            diff = float(diff)
            if abs(diff) >= 0.5:
                text += f": {money(abs(diff), cur)} {'higher' if diff > 0 else 'lower'}"
            else:
                text += ": the same"
        text += "."
        out.append(Statement("comparison", plan, text))
    return out


def _expected_cash(results, plan: str, minus: str) -> Statement:
    cur = results.currency
    negative = _value(results, plan, "cash_negative")
    low = _value(results, plan, "min_cumulative_cash")
    month = month_label(_value(results, plan, "trough_month"), results.month_labels)
    where = f"{plan}: " if plan != results.baseline else f"{_baseline_name(results)}: "
    if not is_missing(negative) and float(negative) > 0:
        need = _value(results, plan, "funding_need")
        text = (f"{where}in the base case cash falls below zero, to {money(low, cur, minus=minus)} "
                f"in {month}; funding need {money(need, cur, minus=minus)}.")
    else:
        text = (f"{where}in the base case cash stays above zero; lowest balance "
                f"{money(low, cur, minus=minus)} in {month}.")
    return Statement("cash", plan, text)


def _expected_crossovers(results) -> list[Statement]:
    out = []
    for plan in results.plans:
        if plan == results.baseline:
            continue
        parts = []
        for kind, what in (("revenue", "trailing-12-month revenue"), ("cash", "cumulative cash")):
            value = _value(results, plan, f"{kind}_crossover_month")
            if is_missing(value):
                parts.append(f"its {what} does not overtake {results.baseline} for good within the horizon")
            else:
                parts.append(f"its {what} overtakes {results.baseline} for good in "
                             f"{month_label(value, results.month_labels)}")
        out.append(Statement("crossover", plan, f"{plan}: in the base case " + "; ".join(parts) + "."))
    return out
