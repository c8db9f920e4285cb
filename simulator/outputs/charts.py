"""Charts of a run: fan charts, revenue mix, cash trough, NPV distributions, crossovers, tornado.

Every plot function takes the results (or plain arrays) and ``ax=None``, draws with
matplotlib's object API on ``ax`` (or on a new Figure that pyplot does not track) and returns
the Axes. matplotlib is imported only when a chart is drawn. :func:`chart_figures` lays the
charts of a run out on figures, as the ``run`` command saves them.

The results object is the one of ``docs/results-api.md``: ``series_stats``, ``kpis``,
``kpi_stats``, ``differences``, ``inputs``, ``plans``, ``baseline``, ``month_labels``,
``currency``, ``mode``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from simulator.outputs.formatting import (
    MINUS,
    currency_symbol,
    input_label,
    is_missing,
    money,
    month_dates,
    month_label,
    percent,
)

__all__ = [
    "REVENUE_TYPES", "ChartFigure", "chart_figures", "plan_colors", "fan", "plot_fan",
    "plot_revenue_mix", "plot_cash", "plot_npv_histogram", "plot_npv_difference",
    "plot_crossover", "plot_tornado", "spearman_sensitivity",
]

DPI = 150
"""Resolution of saved charts (a 10-inch-wide chart is 1500 pixels wide)."""

BASELINE_COLOR = "#4d4d4d"
PLAN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")

POSITIVE, NEGATIVE = "#4c72b0", "#dd8452"
"""Tornado bars: inputs that raise the outcome, and those that lower it."""

REVENUE_TYPES = {
    "license_revenue": ("Licences", "#4c72b0"),
    "maintenance_revenue": ("Maintenance", "#8fb0d9"),
    "term_revenue": ("Term support", "#8172b3"),
    "subscription_revenue": ("Subscriptions", "#dd8452"),
    "services_revenue": ("Services", "#9c9c9c"),
}
"""Revenue by type, in stacking order, with its legend label and colour."""

_MONEY_SERIES = {
    "cmrr", "arr", "revenue", "recurring_revenue", "subscription_revenue", "maintenance_revenue",
    "term_revenue", "license_revenue", "services_revenue", "billings", "deferred_revenue", "cash_in",
    "cash_out", "sm_spend", "cogs", "gross_margin", "opex", "operating_income", "net_cash_flow",
    "cumulative_cash",
}
_TITLES = {
    "revenue": ("Revenue per month", "Revenue per month"),
    "arr": ("ARR (12 × committed monthly recurring revenue)", "ARR at month end"),
    "cmrr": ("Committed monthly recurring revenue (CMRR)", "CMRR at month end"),
    "customers": ("Customers under contract", "Customers at month end"),
    "cumulative_cash": ("Cumulative cash", "Cash balance"),
    "net_cash_flow": ("Net cash flow per month", "Net cash flow per month"),
    "seats": ("Seats under contract", "Seats at month end"),
}


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def _new_axes(ax=None, figsize=(10, 5.5)):
    """``ax`` itself, or the single Axes of a new Figure (not registered with pyplot)."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def plan_colors(plans: Sequence[str], baseline: str | None = None) -> dict[str, str]:
    """One colour per plan, stable across charts: the baseline in grey, the others in order."""
    colors, others = {}, iter(PLAN_COLORS * (1 + len(plans) // len(PLAN_COLORS)))
    for plan in plans:
        colors[plan] = BASELINE_COLOR if plan == baseline else next(others)
    return colors


def _plan_name(results, plan: str) -> str:
    return f"{plan} (baseline)" if plan == results.baseline else plan


def _is_expected(results) -> bool:
    return getattr(results, "mode", "monte_carlo") == "expected"


def _money_formatter(currency: str):
    """Tick labels such as ``€0``, ``€2.5M``, ``−€500k``: one scale and just enough decimals."""
    from matplotlib.ticker import Formatter

    class MoneyFormatter(Formatter):
        ticks: list[float] = []

        def set_locs(self, locs):
            self.ticks = list(locs)

        def __call__(self, x, pos=None):
            locs = [abs(v) for v in self.ticks if np.isfinite(v)] or [abs(x)]
            top = max(locs)
            scale, suffix = next(((s, u) for s, u in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if top >= s),
                                 (1.0, ""))
            values = sorted(set(locs))
            step = min((b - a for a, b in pairwise(values)), default=top) or top or 1.0
            decimals = int(min(2, max(0, -math.floor(math.log10(step / scale) + 1e-9))))
            text = f"{abs(x) / scale:.{decimals}f}{suffix}"
            if float(text.rstrip(suffix) or 0) == 0:
                return f"{currency_symbol(currency)}0"
            return f"{MINUS if x < 0 else ''}{currency_symbol(currency)}{text}"

    return MoneyFormatter()


def _count_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos: f"{x:,.0f}".replace("-", MINUS))


def _percent_formatter():
    """``0%``, ``2.5%``, ``10%``: values already in percent, no needless decimals."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos: f"{round(x, 6):g}%")


def _month_x(results):
    """x values of the months: dates when the labels are ``YYYY-MM``, else month numbers 1..T."""
    dates = month_dates(results.month_labels)
    if dates is not None:
        return dates
    return np.arange(1, results.months + 1)


def _format_month_axis(ax, results, label: bool = True) -> None:
    if month_dates(results.month_labels) is not None:
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
        if label:
            ax.set_xlabel("Month")
    else:
        if label:
            ax.set_xlabel("Month of the simulation")
    ax.margins(x=0.01)


def _money_axis(axis, results) -> None:
    axis.set_major_formatter(_money_formatter(results.currency))


def _unit(results, name: str) -> str:
    return f"{results.currency}" if name in _MONEY_SERIES else ("customers" if name == "customers" else "")


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


# ------------------------------------------------------------------------------------------
# Fan charts
# ------------------------------------------------------------------------------------------


def fan(ax, x, stats: Mapping[str, np.ndarray], *, color: str, label: str, outer: bool = True,
        inner: bool = True, outer_fill: bool = True):
    """Draw one fan on ``ax``: P5–P95 and P25–P75 bands and the median line.

    Parameters
    ----------
    ax : matplotlib Axes
    x : ndarray, (T,)
        Months (dates or numbers).
    stats : mapping
        ``p5, p25, p50, p75, p95``, each ``ndarray(float64, (T,))``; missing bands are skipped.
    color, label : str
        Colour of the fan; legend label of its median line.
    outer, inner : bool
        Draw the P5–P95 and P25–P75 bands.
    outer_fill : bool
        Fill the P5–P95 band (else only its edges are drawn, which keeps many plans on one
        axis readable).

    Returns
    -------
    Axes
    """
    if outer and "p5" in stats and "p95" in stats:
        if outer_fill:
            ax.fill_between(x, stats["p5"], stats["p95"], color=color, alpha=0.10, linewidth=0)
        # Thin edges keep each plan's outer band readable where bands of several plans overlap.
        ax.plot(x, stats["p5"], color=color, linewidth=0.6, alpha=0.6)
        ax.plot(x, stats["p95"], color=color, linewidth=0.6, alpha=0.6)
    if inner and "p25" in stats and "p75" in stats:
        ax.fill_between(x, stats["p25"], stats["p75"], color=color, alpha=0.25, linewidth=0)
    ax.plot(x, stats["p50"], color=color, linewidth=2.0, label=label)
    return ax


def _band_legend(ax, results, extra_handles=(), outer_fill: bool = True):
    """Legend: one entry per plan (its median) plus grey swatches explaining the bands."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if not _is_expected(results):
        outer = Patch(color="0.5", alpha=0.15) if outer_fill else Line2D([], [], color="0.5", linewidth=0.8)
        handles += [Patch(color="0.5", alpha=0.45), outer]
        labels += ["middle 50% of paths (P25–P75)",
                   "90% of paths (P5–P95)" if outer_fill else "90% of paths (P5–P95): thin lines"]
    for handle, label in extra_handles:
        handles.append(handle)
        labels.append(label)
    ax.legend(handles, labels, loc="best", fontsize=8.5, framealpha=0.9)


def plot_fan(results, series: str = "revenue", plans: Sequence[str] | None = None, *, ax=None,
             title: str | None = None, legend: bool = True):
    """Fan chart of one series for several plans on one axis.

    Each plan gets its colour: a light P5–P95 band with thin edges, a darker P25–P75 band and
    the median line. In expected-value mode (one path) only the base-case line is drawn.

    Parameters
    ----------
    results : Results
    series : str
        A series of MODEL.md §4 (``revenue``, ``arr``, ``customers``, ``cumulative_cash``...).
    plans : list of str, optional
        Default: every plan.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
    """
    ax = _new_axes(ax)
    plans = list(plans or results.plans)
    colors = plan_colors(results.plans, results.baseline)
    x = _month_x(results)
    expected = _is_expected(results)
    # Beyond three plans the filled outer bands bury each other: draw their edges only.
    outer_fill = len(plans) <= 3
    for plan in plans:
        stats = results.series_stats(plan, series)
        label = _plan_name(results, plan) + (" — base case" if expected else " — median")
        fan(ax, x, stats, color=colors[plan], label=label, outer=not expected, inner=not expected,
            outer_fill=outer_fill)
    heading, ylabel = _TITLES.get(series, (series.replace("_", " ").capitalize(),) * 2)
    ax.set_title(title or heading + (" — base case" if expected else ""), loc="left", fontweight="bold")
    unit = _unit(results, series)
    ax.set_ylabel(f"{ylabel} ({unit})" if unit and unit != "customers" else ylabel)
    if series in _MONEY_SERIES:
        _money_axis(ax.yaxis, results)
    else:
        ax.yaxis.set_major_formatter(_count_formatter())
    if series != "cumulative_cash" and series != "net_cash_flow":
        ax.set_ylim(bottom=min(0, ax.get_ylim()[0]))
    _format_month_axis(ax, results)
    ax.grid(True, alpha=0.3)
    if legend:
        _band_legend(ax, results, outer_fill=outer_fill)
    return ax


def plot_revenue_mix(results, plan: str, *, ax=None, legend: bool = True, types: Sequence[str] | None = None):
    """Stacked areas of mean revenue by type (licences, maintenance, term, subscriptions,
    services) over time, for one plan.

    Parameters
    ----------
    types : list of str, optional
        Revenue series to stack (default: those of :data:`REVENUE_TYPES` that are not zero
        in every plan).

    Returns
    -------
    Axes
    """
    ax = _new_axes(ax)
    types = list(types) if types is not None else _revenue_types(results)
    x = _month_x(results)
    means = [np.nan_to_num(results.series_stats(plan, name)["mean"]) for name in types]
    labels = [REVENUE_TYPES.get(name, (name, None))[0] for name in types]
    colors = [REVENUE_TYPES.get(name, (None, "0.6"))[1] for name in types]
    if means:
        ax.stackplot(x, *means, labels=labels, colors=colors, alpha=0.9, linewidth=0)
    total = np.nan_to_num(results.series_stats(plan, "revenue")["mean"])
    ax.plot(x, total, color="black", linewidth=0.8, label="Total revenue")
    what = "base case" if _is_expected(results) else "mean over paths"
    ax.set_title(f"{_plan_name(results, plan)}", loc="left", fontweight="bold")
    ax.set_ylabel(f"Revenue per month, {what} ({results.currency})")
    _money_axis(ax.yaxis, results)
    # Grow a shared axis to the highest panel rather than freezing it at the first one's.
    ax.set_ylim(0, max(ax.get_ylim()[1], 1.05 * float(np.nanmax(total, initial=0))))
    _format_month_axis(ax, results)
    ax.grid(True, alpha=0.3)
    if legend:
        handles, texts = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], texts[::-1], loc="upper left", fontsize=8.5, framealpha=0.9)
    return ax


def _revenue_types(results) -> list[str]:
    keep = []
    for name in REVENUE_TYPES:
        if any(np.nanmax(np.abs(results.series_stats(plan, name)["mean"]), initial=0) > 0
               for plan in results.plans):
            keep.append(name)
    return keep


def plot_cash(results, plan: str, *, ax=None, months: int | None = None, legend: bool = True):
    """Cumulative cash of one plan as a fan chart, with the cash trough marked.

    The marker sits at the median trough month and the median lowest cash (each the median of
    its own KPI over paths, ``trough_month`` and ``min_cumulative_cash``); a line marks zero
    cash, the area below it is tinted, and the title gives the probability of running out of
    cash.

    Parameters
    ----------
    months : int, optional
        Draw only the first ``months`` months (a close-up of the trough); default: all.

    Returns
    -------
    Axes
    """
    ax = _new_axes(ax)
    colors = plan_colors(results.plans, results.baseline)
    months = results.months if months is None else max(1, min(int(months), results.months))
    x = _month_x(results)[:months]
    expected = _is_expected(results)
    stats = {k: np.asarray(v)[:months] for k, v in results.series_stats(plan, "cumulative_cash").items()}
    fan(ax, x, stats, color=colors[plan], label="base case" if expected else "median",
        outer=not expected, inner=not expected)
    ax.axhline(0, color="black", linewidth=1.0)
    _tint_below_zero(ax)
    month = results.kpi_stats(plan, "trough_month")["p50"]
    level = results.kpi_stats(plan, "min_cumulative_cash")["p50"]
    extra = []
    if not is_missing(month) and not is_missing(level) and round(float(month)) < months:
        i = int(np.clip(round(float(month)), 0, months - 1))
        which = "trough" if expected else "median trough"
        text = f"{which}: {money(level, results.currency)} in {month_label(month, results.month_labels)}"
        (marker,) = ax.plot([x[i]], [level], marker="v", markersize=9, color="black", linestyle="none",
                            zorder=5)
        extra.append((marker, text))
    negative = results.kpi_stats(plan, "cash_negative")["mean"]
    title = _plan_name(results, plan)
    if not expected and not is_missing(negative):
        title += f"\nP(cash < 0) = {percent(negative)}"
    elif expected and not is_missing(negative):
        title += "\nbase case: " + ("cash falls below zero" if negative > 0 else "cash stays above zero")
    if months < results.months:
        title = f"{_plan_name(results, plan)}: first {months} months"
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10.5)
    ax.set_ylabel(f"Cumulative cash ({results.currency})")
    _money_axis(ax.yaxis, results)
    _format_month_axis(ax, results)
    ax.grid(True, alpha=0.3)
    if legend:
        _band_legend(ax, results, extra)
    return ax


def _tint_below_zero(ax) -> None:
    """Tint the area below zero without touching the axis limits (shared axes stay free)."""
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import blended_transform_factory

    transform = blended_transform_factory(ax.transAxes, ax.transData)
    patch = Rectangle((0, -1e18), 1, 1e18, transform=transform, color="#d62728", alpha=0.05,
                      zorder=0, linewidth=0)
    ax.add_artist(patch)
    patch.set_clip_path(ax.patch)


def _trough_window(results) -> int | None:
    """Months of a close-up on the cash troughs, or None when the full horizon shows them."""
    latest = 0.0
    for plan in results.plans:
        stats = results.kpi_stats(plan, "trough_month")
        for key in ("p95", "p50"):
            if not is_missing(stats.get(key)):
                latest = max(latest, float(stats[key]))
    window = int(max(24, math.ceil((latest + 12) / 12) * 12))
    return window if window <= 0.6 * results.months else None


# ------------------------------------------------------------------------------------------
# Distributions across paths
# ------------------------------------------------------------------------------------------


def _hist(ax, values, bins, color, label, total):
    values = _finite(values)
    weights = np.full(values.shape, 100.0 / max(total, 1))
    ax.hist(values, bins=bins, weights=weights, histtype="stepfilled", color=color, alpha=0.22)
    ax.hist(values, bins=bins, weights=weights, histtype="step", color=color, linewidth=1.4, label=label)


def _bins(arrays, max_bins: int = 60) -> np.ndarray:
    pooled = np.concatenate([_finite(a) for a in arrays]) if arrays else np.array([0.0])
    if pooled.size == 0:
        pooled = np.array([0.0])
    # Limit the range to the central 99.8% so that a few extreme paths do not squash the rest.
    low, high = np.percentile(pooled, [0.1, 99.9])
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.histogram_bin_edges(pooled[(pooled >= low) & (pooled <= high)], bins="auto", range=(low, high))
    if len(edges) - 1 > max_bins:
        edges = np.linspace(low, high, max_bins + 1)
    return edges


def plot_npv_histogram(results, plans: Sequence[str] | None = None, *, ax=None, kpi: str = "npv"):
    """Histograms of NPV by plan, on one axis, with each plan's median marked.

    Bars are shares of paths (%); plans share the bins. The most extreme 0.1% of paths on each
    side fall outside the drawn range.

    Returns
    -------
    Axes
    """
    ax = _new_axes(ax)
    plans = list(plans or results.plans)
    colors = plan_colors(results.plans, results.baseline)
    values = {plan: np.asarray(results.kpis(plan)[kpi], dtype=float) for plan in plans}
    bins = _bins(list(values.values()))
    for plan in plans:
        median = np.nanmedian(values[plan]) if _finite(values[plan]).size else np.nan
        _hist(ax, values[plan], bins, colors[plan],
              f"{_plan_name(results, plan)}: median {money(median, results.currency)}", len(values[plan]))
        if not is_missing(median):
            ax.axvline(median, color=colors[plan], linestyle="--", linewidth=1.2)
    name = "NPV" if kpi == "npv" else kpi.replace("_", " ")
    ax.set_title(f"{name} by plan", loc="left", fontweight="bold")
    ax.set_xlabel(f"{name} ({results.currency})")
    ax.set_ylabel("Share of paths (%)")
    _money_axis(ax.xaxis, results)
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8.5, framealpha=0.9)
    return ax


def plot_npv_difference(results, plans: Sequence[str] | None = None, *, ax=None, kpi: str = "npv"):
    """Histograms of the paired difference plan − baseline of NPV, one per plan, with the
    probability that the plan does better in the legend and a line at zero.

    Returns
    -------
    Axes
    """
    ax = _new_axes(ax)
    plans = [p for p in (plans or results.plans) if p != results.baseline]
    colors = plan_colors(results.plans, results.baseline)
    diffs = {plan: np.asarray(results.differences(plan, kpi), dtype=float) for plan in plans}
    bins = _bins(list(diffs.values()))
    for plan in plans:
        d = _finite(diffs[plan])
        share = float(np.mean(d > 0)) if d.size else np.nan
        median = float(np.median(d)) if d.size else np.nan
        label = (f"{plan} − {results.baseline}: P(> 0) = {percent(share)}, "
                 f"median {money(median, results.currency)}")
        _hist(ax, diffs[plan], bins, colors[plan], label, len(diffs[plan]))
    ax.axvline(0, color="black", linewidth=1.2)
    name = "NPV" if kpi == "npv" else kpi.replace("_", " ")
    ax.set_title(f"{name} difference vs the baseline ({results.baseline}), paired by path", loc="left",
                 fontweight="bold")
    ax.set_xlabel(f"{name} of the plan minus {name} of {results.baseline} ({results.currency})")
    ax.set_ylabel("Share of paths (%)")
    _money_axis(ax.xaxis, results)
    ax.yaxis.set_major_formatter(_percent_formatter())
    ax.grid(True, alpha=0.3)
    if plans:
        ax.legend(loc="best", fontsize=8.5, framealpha=0.9)
    return ax


def plot_crossover(results, kind: str = "revenue", plans: Sequence[str] | None = None, *, ax=None):
    """When each plan overtakes the baseline: the share of paths that have crossed over by
    each month (a cumulative distribution of ``revenue_crossover_month`` or
    ``cash_crossover_month``).

    The curve ends at the share of paths that cross within the horizon; the rest never do,
    which the legend states. Month 0 counts the paths where the plan is never behind.

    Parameters
    ----------
    kind : ``"revenue"`` or ``"cash"``

    Returns
    -------
    Axes
    """
    ax = _new_axes(ax)
    name = f"{kind}_crossover_month"
    plans = [p for p in (plans or results.plans) if p != results.baseline]
    colors = plan_colors(results.plans, results.baseline)
    x = _month_x(results)
    T = results.months
    for plan in plans:
        months = np.asarray(results.kpis(plan)[name], dtype=float)
        n = len(months)
        defined = _finite(months)
        counts = np.bincount(np.clip(np.round(defined).astype(int), 0, T - 1), minlength=T)[:T]
        share = 100.0 * np.cumsum(counts) / max(n, 1)
        never = 1 - defined.size / max(n, 1)
        median = np.median(defined) if defined.size else np.nan
        if defined.size:
            label = (f"{plan} — median {month_label(median, results.month_labels)}; "
                     f"never crosses: {percent(never)}")
        else:
            label = f"{plan} — never crosses within the horizon"
        ax.step(x, share, where="post", color=colors[plan], linewidth=2, label=label)
    what = "Revenue (trailing 12 months)" if kind == "revenue" else "Cumulative cash"
    ax.set_title(f"{what}: crossover vs {results.baseline}", loc="left", fontweight="bold")
    ax.set_ylabel("Paths ahead of the baseline for good (%)")
    ax.set_ylim(0, 102)
    ax.yaxis.set_major_formatter(_percent_formatter())
    _format_month_axis(ax, results)
    ax.grid(True, alpha=0.3)
    if plans:
        ax.legend(loc="lower right", fontsize=8.5, framealpha=0.9)
    return ax


# ------------------------------------------------------------------------------------------
# Sensitivity
# ------------------------------------------------------------------------------------------


def spearman_sensitivity(inputs: Mapping[str, np.ndarray], outcome: np.ndarray) -> list[tuple[str, float]]:
    """Spearman rank correlation of each input with the outcome, strongest first.

    Inputs that do not vary (or outcomes that do not) are left out; paths where the outcome is
    undefined (NaN) are dropped.

    Returns
    -------
    list of (input name, rho)
    """
    from scipy.stats import spearmanr

    outcome = np.asarray(outcome, dtype=float)
    ok = np.isfinite(outcome)
    out = []
    for name, values in inputs.items():
        values = np.asarray(values, dtype=float)
        mask = ok & np.isfinite(values)
        if mask.sum() < 3 or np.ptp(values[mask]) == 0 or np.ptp(outcome[mask]) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = spearmanr(values[mask], outcome[mask]).statistic
        if np.isfinite(rho):
            out.append((name, float(rho)))
    return sorted(out, key=lambda item: -abs(item[1]))


def _relevant_inputs(results, plans: Sequence[str]) -> dict[str, np.ndarray]:
    """The plan's uncertain inputs, without those of other plans' own settings
    (``plans.<other>.*``), which cannot move this plan's numbers."""
    inputs = results.inputs(plans[0])
    keep = {}
    for name, values in inputs.items():
        parts = name.split(".")
        if parts[0] == "plans" and len(parts) > 1 and parts[1] not in plans:
            continue
        keep[name] = values
    return keep


def plot_tornado(results, plan: str, *, target: str = "npv", top: int = 10, ax=None):
    """Tornado of Spearman rank correlations between each uncertain input and an outcome.

    Parameters
    ----------
    plan : str
    target : ``"npv"`` or ``"npv_difference"``
        The plan's NPV, or its paired NPV difference against the baseline.
    top : int
        Number of inputs shown, strongest first.

    Returns
    -------
    Axes
        Bars from −1 to 1; the grey band is the range a correlation of zero would reach by
        chance in 95% of runs with this many paths (±1.96/√n).
    """
    ax = _new_axes(ax, figsize=(7, 4.8))
    if target == "npv_difference":
        outcome = results.differences(plan, "npv")
        inputs = _relevant_inputs(results, [plan, results.baseline])
        title = f"{plan} − {results.baseline}"
        what = "the NPV difference"
    else:
        outcome = results.kpis(plan)["npv"]
        inputs = _relevant_inputs(results, [plan])
        title = _plan_name(results, plan)
        what = "NPV"
    ranked = spearman_sensitivity(inputs, outcome)[:top]
    labels = [input_label(name) for name, _ in ranked][::-1]
    values = [rho for _, rho in ranked][::-1]
    y = np.arange(len(values))
    n = int(np.isfinite(np.asarray(outcome, dtype=float)).sum())
    if n > 3:
        noise = 1.96 / math.sqrt(n - 1)
        ax.axvspan(-noise, noise, color="0.85", alpha=0.7, zorder=0)
    bar_colors = [POSITIVE if v >= 0 else NEGATIVE for v in values]
    ax.barh(y, values, color=bar_colors, height=0.65, zorder=2)
    for yi, v in zip(y, values, strict=True):
        text = f"{v:+.2f}".replace("-", MINUS)
        ax.text(v + (0.03 if v >= 0 else -0.03), yi, text, va="center", ha="left" if v >= 0 else "right",
                fontsize=8.5)
    ax.set_yticks(y, labels)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlim(-1.1, 1.1)
    ax.set_xticks([-1, -0.5, 0, 0.5, 1], ["−1", "−0.5", "0", "+0.5", "+1"])
    ax.set_ylim(-0.6, max(len(values), 1) - 0.4)
    ax.set_xlabel(f"Correlation with {what}")
    ax.set_title(title, loc="left", fontweight="bold", fontsize=10.5)
    ax.grid(True, axis="x", alpha=0.3)
    if not ranked:
        ax.text(0, 0, "no uncertain input varies", ha="center", va="center", color="0.4")
    return ax


# ------------------------------------------------------------------------------------------
# The figures of a run
# ------------------------------------------------------------------------------------------


@dataclass
class ChartFigure:
    """A figure of the run, with the file name it is saved under and the report's words."""

    name: str
    title: str
    caption: str
    figure: object

    def save(self, folder) -> object:
        """Write ``folder/<name>.png`` and return its path."""
        from pathlib import Path

        path = Path(folder) / f"{self.name}.png"
        self.figure.savefig(path, dpi=DPI, format="png")
        return path


def _panels(count: int, width_per_panel: float = 6.0, height: float = 4.6, columns: int = 3,
            sharey: bool = True):
    from matplotlib.figure import Figure

    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(width_per_panel * columns, height * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey=sharey)
    flat = list(axes.ravel())
    for extra in flat[count:]:
        extra.set_visible(False)
    return figure, flat[:count]


def _cash_panels(count: int, close_up: bool):
    """Axes for the cash figure: ``(figure, full-horizon axes, close-up axes or None)``.

    Up to three plans sit side by side, close-ups in a second row; more plans get one row
    each (full horizon left, close-up right), or a two-column grid without close-ups, so that
    panels stay large enough to read. Axes of the same kind share their y scale.
    """
    from matplotlib.figure import Figure

    if count <= 3:
        rows = 2 if close_up else 1
        figure = Figure(figsize=(4.6 * count, 4.0 * rows), layout="constrained")
        grid = figure.subplots(rows, count, squeeze=False)
        full, close = list(grid[0]), (list(grid[1]) if close_up else None)
    elif close_up:
        figure = Figure(figsize=(12, 3.4 * count), layout="constrained")
        grid = figure.subplots(count, 2, squeeze=False)
        full, close = list(grid[:, 0]), list(grid[:, 1])
    else:
        rows = math.ceil(count / 2)
        figure = Figure(figsize=(12, 3.8 * rows), layout="constrained")
        flat = list(figure.subplots(rows, 2, squeeze=False).ravel())
        for extra in flat[count:]:
            extra.set_visible(False)
        full, close = flat[:count], None
    for group in (full, close or []):
        for ax in group[1:]:
            ax.sharey(group[0])
    return figure, full, close


def chart_figures(results) -> list[ChartFigure]:
    """Every chart of a run laid out on figures, in report order.

    Monte Carlo runs get all charts; the expected-value run (one path) gets the charts over
    time only, since distributions across paths do not exist there.
    """
    from matplotlib.figure import Figure

    expected = _is_expected(results)
    others = [p for p in results.plans if p != results.baseline]
    out = []

    fig = Figure(figsize=(11, 5.8), layout="constrained")
    plot_fan(results, "revenue", ax=fig.add_subplot())
    out.append(ChartFigure(
        "revenue_fan", "Revenue by plan",
        "Monthly recognised revenue of every plan on the same market assumptions. "
        + ("The base case: every uncertain input at its mean." if expected else
           "Lines are medians across paths; the dark band holds the middle 50% of paths, the light "
           "band 90%."),
        fig))

    figure, axes = _panels(len(results.plans), width_per_panel=4.6, height=4.0)
    types = _revenue_types(results)
    for i, (plan, ax) in enumerate(zip(results.plans, axes, strict=True)):
        plot_revenue_mix(results, plan, ax=ax, legend=(i == 0), types=types)
        if i:
            ax.set_ylabel("")
    out.append(ChartFigure(
        "revenue_by_type", "Revenue by type",
        "Where revenue comes from, month by month: licence fees, maintenance, term support, "
        "subscriptions and services, stacked (" + ("base case" if expected else "means over paths") + ").",
        figure))

    window = _trough_window(results)
    figure, full, close = _cash_panels(len(results.plans), close_up=window is not None)
    for i, plan in enumerate(results.plans):
        plot_cash(results, plan, ax=full[i], legend=(i == 0 or close is None))
        if close is not None:
            plot_cash(results, plan, ax=close[i], months=window)
    if len(results.plans) <= 3:
        for ax in full[1:] + (close or [])[1:]:
            ax.set_ylabel("")
    where = "lower row" if len(results.plans) <= 3 else "right-hand panels"
    out.append(ChartFigure(
        "cumulative_cash", "Cumulative cash and the trough",
        "Cash balance after each month, starting from the scenario's starting cash"
        + (f"; the {where} are a close-up of the first {window} months" if window else "") + ". "
        + ("The marker is the lowest balance of the base case."
           if expected else "The marker sits at the median trough month and the median lowest balance; "
                            "the title gives the share of paths where cash falls below zero."),
        figure))

    figure, axes = _panels(2, width_per_panel=7.5, height=4.8, sharey=False)
    plot_fan(results, "arr", ax=axes[0])
    plot_fan(results, "customers", ax=axes[1])
    out.append(ChartFigure(
        "arr_customers", "ARR and customers",
        "Annual recurring revenue (12 × CMRR: subscriptions, maintenance and term contracts in force) "
        "and customers under contract at each month end.",
        figure))

    if expected:
        return out

    fig = Figure(figsize=(11, 5.2), layout="constrained")
    plot_npv_histogram(results, ax=fig.add_subplot())
    out.append(ChartFigure(
        "npv_histogram", "NPV by plan",
        "Distribution of each plan's NPV across paths (discounted net cash flows"
        + (" plus the discounted terminal value" if _has_terminal_value(results) else "") + ").",
        fig))

    if others:
        fig = Figure(figsize=(11, 5.2), layout="constrained")
        plot_npv_difference(results, ax=fig.add_subplot())
        out.append(ChartFigure(
            "npv_difference", "NPV difference vs the baseline",
            "Each plan's NPV minus the baseline's on the same path (same market, same random "
            "numbers): the share of paths to the right of zero is the probability the plan beats "
            "the baseline.",
            fig))

        figure, axes = _panels(2, width_per_panel=7.5, height=4.8, sharey=True)
        plot_crossover(results, "revenue", ax=axes[0])
        plot_crossover(results, "cash", ax=axes[1])
        axes[1].set_ylabel("")
        out.append(ChartFigure(
            "crossover", "Crossover months",
            "Share of paths where the plan has overtaken the baseline for good by each month: "
            "trailing-12-month revenue (left) and cumulative cash (right). Where a curve levels "
            "off below 100%, the remaining paths never cross within the horizon.",
            figure))

    figure, axes = _panels(len(results.plans), width_per_panel=6.6, height=4.6, columns=2, sharey=False)
    for plan, ax in zip(results.plans, axes, strict=True):
        plot_tornado(results, plan, ax=ax)
    out.append(ChartFigure(
        "tornado_npv", "What drives NPV",
        "Spearman rank correlation between each uncertain input and the plan's NPV across paths "
        "(the ten strongest): blue bars raise NPV, orange bars lower it. Bars inside the grey band "
        "are indistinguishable from no effect with this many paths.",
        figure))

    if others:
        figure, axes = _panels(len(others), width_per_panel=6.6, height=4.6, columns=2, sharey=False)
        for plan, ax in zip(others, axes, strict=True):
            plot_tornado(results, plan, target="npv_difference", ax=ax)
        out.append(ChartFigure(
            "tornado_npv_difference", "What drives the NPV difference",
            "The same for each plan's NPV minus the baseline's: the inputs that decide whether the "
            "change of model pays off.",
            figure))
    return out


def _has_terminal_value(results) -> bool:
    scenario = getattr(results, "scenario", None)
    finance = getattr(scenario, "finance", None)
    return getattr(finance, "terminal_value", None) is not None
