"""Per-path KPIs of MODEL.md §4, as pure vectorised functions.

Every function takes series shaped ``(n, T)`` (``n`` paths, ``T`` months, as in
``simulator.engine.SERIES``) and per-path parameters shaped ``(n,)`` or scalars, and returns
``ndarray(float64, (n,))``. A KPI that is undefined on a path (an event that never happens
within the horizon, a ratio with nothing to divide by) is NaN there, never a made-up month.
Months are indices ``t = 0 .. T-1`` into the series (month 0 is the first simulated month).
``docs/kpis.md`` gives every definition, its unit and its undefined cases.

:func:`compute_kpis` evaluates every KPI of :data:`KPIS` for one plan on one chunk of paths.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

KPIS = (
    "npv",
    "npv_horizon",
    "total_revenue",
    "ending_arr",
    "min_cumulative_cash",
    "trough_month",
    "cash_negative",
    "funding_need",
    "cash_breakeven_month",
    "payback_month",
    "revenue_crossover_month",
    "cash_crossover_month",
    "arpu",
    "cac",
    "cltv",
    "cltv_textbook",
    "ltv_to_cac",
    "cac_payback_months",
    "logo_churn_annual",
    "grr",
    "nrr",
    "revenue_per_employee",
)
"""Every per-path KPI of MODEL.md §4, in report order."""

__all__ = [
    "KPIS",
    "BINARY_KPIS",
    "WINDOW",
    "FinanceParams",
    "compute_kpis",
    "monthly_rate",
    "trailing_sum",
    "first_month_from_which",
    "window",
    "margin_share",
    "churn_hazard",
    "terminal_value",
    *KPIS,
]


BINARY_KPIS = frozenset({"cash_negative"})
"""KPIs that are 0 or 1 on every path: their mean is a probability."""

WINDOW = 12
"""Months of the trailing windows (trailing-12-month sums, the last 12 months)."""


class FinanceParams(NamedTuple):
    """Per-path finance values a plan's KPIs need.

    Attributes
    ----------
    discount_rate : ndarray(float64, (n,))
        Annual discount rate.
    starting_cash : ndarray(float64, (n,))
    start_customers : ndarray(float64, (n,))
        Customers in force at the start (the installed base).
    terminal_method : str or None
        ``"arr_multiple"``, ``"perpetuity"`` or ``None`` (no terminal value).
    terminal_multiple : ndarray(float64, (n,)) or None
        ARR multiple (``arr_multiple``).
    terminal_growth : ndarray(float64, (n,)) or None
        Annual perpetual growth (``perpetuity``).
    """

    discount_rate: np.ndarray
    starting_cash: np.ndarray
    start_customers: np.ndarray
    terminal_method: str | None = None
    terminal_multiple: np.ndarray | None = None
    terminal_growth: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# helpers


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den != 0``, NaN elsewhere (and where either is NaN)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def monthly_rate(annual_rate: np.ndarray | float) -> np.ndarray:
    """Monthly rate ``(1 + r)^(1/12) - 1`` of an annual rate, same shape."""
    return np.power(1.0 + np.asarray(annual_rate, float), 1.0 / 12.0) - 1.0


def window(x: np.ndarray, months: int = WINDOW) -> np.ndarray:
    """The last ``months`` months of ``x`` (all months when the horizon is shorter), ``(n, w)``."""
    return x[:, -months:]


def trailing_sum(x: np.ndarray, months: int = WINDOW) -> np.ndarray:
    """Trailing sums over ``months`` months, ``(n, T)``.

    Month ``t`` sums months ``max(0, t - months + 1) .. t``: in the first ``months - 1`` months
    the window holds the months simulated so far (nothing before month 0 is known).
    """
    padded = np.concatenate([np.zeros((x.shape[0], months - 1)), x], axis=1)
    return np.lib.stride_tricks.sliding_window_view(padded, months, axis=1).sum(axis=2)


def first_month_from_which(condition: np.ndarray) -> np.ndarray:
    """First month from which ``condition`` holds in every month to the horizon, ``(n,)``.

    0 when it holds from month 0; NaN when it fails in the last month.

    Parameters
    ----------
    condition : ndarray(bool, (n, T))
    """
    holds_after = np.flip(np.logical_and.accumulate(np.flip(condition, axis=1), axis=1), axis=1)
    first = np.argmax(holds_after, axis=1).astype(float)
    return np.where(holds_after[:, -1], first, np.nan)


def _previous(customers: np.ndarray, start_customers: np.ndarray) -> np.ndarray:
    """Customers in force at the start of each month (end of the month before), ``(n, T)``."""
    return np.concatenate([np.asarray(start_customers, float)[:, None], customers[:, :-1]], axis=1)


def churn_hazard(
    churned_customers: np.ndarray, customers: np.ndarray, start_customers: np.ndarray
) -> np.ndarray:
    """Monthly churn hazard ``h[t] = churned[t] / customers[t-1]``, ``(n, T)``.

    ``customers[-1]`` is ``start_customers``; customers won in month ``t`` are not at risk in
    ``t``. 0 where nobody was in force; clipped to ``[0, 1]``.
    """
    at_risk = _previous(customers, start_customers)
    hazard = np.zeros_like(at_risk)
    np.divide(churned_customers, at_risk, out=hazard, where=at_risk > 0)
    return np.clip(hazard, 0.0, 1.0)


def monthly_churn(
    churned_customers: np.ndarray, customers: np.ndarray, start_customers: np.ndarray
) -> np.ndarray:
    """Average monthly churn over the last 12 months, ``(n,)``.

    ``Σ churned / Σ customers in force at the start of the month`` over the window; NaN when
    nobody was in force.
    """
    at_risk = _previous(customers, start_customers)
    return _ratio(window(churned_customers).sum(axis=1), window(at_risk).sum(axis=1))


def margin_share(gross_margin: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """Gross-margin share of revenue over the last 12 months, ``(n,)``; NaN without revenue."""
    return _ratio(window(gross_margin).sum(axis=1), window(revenue).sum(axis=1))


# --------------------------------------------------------------------------------------------
# value


def npv_horizon(net_cash_flow: np.ndarray, discount_rate: np.ndarray | float) -> np.ndarray:
    """Discounted net cash flows over the horizon, ``(n,)``.

    Month ``t`` is discounted by ``(1 + m)^-(t+1)`` with the monthly rate
    ``m = (1 + r)^(1/12) - 1`` (end-of-month flows).

    Parameters
    ----------
    net_cash_flow : ndarray(float64, (n, T))
    discount_rate : ndarray(float64, (n,)) or float
        Annual rate ``r``.
    """
    m = np.broadcast_to(monthly_rate(discount_rate), (net_cash_flow.shape[0],))
    t = np.arange(1, net_cash_flow.shape[1] + 1)
    return np.sum(net_cash_flow * (1.0 + m[:, None]) ** -t, axis=1)


def terminal_value(
    method: str | None,
    arr: np.ndarray,
    net_cash_flow: np.ndarray,
    discount_rate: np.ndarray | float,
    multiple: np.ndarray | float | None = None,
    growth: np.ndarray | float | None = None,
) -> np.ndarray:
    """Value beyond the horizon at the end of the last month (not discounted), ``(n,)``.

    - ``"arr_multiple"``: ``multiple × arr[T-1]``.
    - ``"perpetuity"``: ``F × (1 + g) / (r - g)`` with ``F`` the net cash flow of the last 12
      months (annualised, ``× 12 / T``, when the horizon is shorter) and annual rates ``r``,
      ``g``; NaN on paths where ``g >= r``.
    - ``None``: 0.

    Parameters
    ----------
    method : str or None
    arr, net_cash_flow : ndarray(float64, (n, T))
    discount_rate : ndarray(float64, (n,)) or float
        Annual rate.
    multiple, growth : ndarray(float64, (n,)) or float, optional
    """
    n = arr.shape[0]
    if method is None:
        return np.zeros(n)
    if method == "arr_multiple":
        return np.broadcast_to(np.asarray(multiple, float), (n,)) * arr[:, -1]
    if method == "perpetuity":
        last = window(net_cash_flow)
        flow = last.sum(axis=1) * WINDOW / last.shape[1]
        r = np.broadcast_to(np.asarray(discount_rate, float), (n,))
        g = np.broadcast_to(np.asarray(growth, float), (n,))
        return np.where(g < r, _ratio(flow * (1.0 + g), r - g), np.nan)
    raise ValueError(f"terminal value method must be arr_multiple or perpetuity, got {method!r}")


def npv(
    net_cash_flow: np.ndarray, discount_rate: np.ndarray | float, terminal: np.ndarray | None = None
) -> np.ndarray:
    """:func:`npv_horizon` plus the terminal value discounted from the last month, ``(n,)``.

    Parameters
    ----------
    net_cash_flow : ndarray(float64, (n, T))
    discount_rate : ndarray(float64, (n,)) or float
        Annual rate.
    terminal : ndarray(float64, (n,)), optional
        :func:`terminal_value` (at the end of month ``T-1``), discounted by ``(1 + m)^-T``.
    """
    value = npv_horizon(net_cash_flow, discount_rate)
    if terminal is None:
        return value
    m = monthly_rate(discount_rate)
    return value + terminal * (1.0 + m) ** -net_cash_flow.shape[1]


def total_revenue(revenue: np.ndarray) -> np.ndarray:
    """Recognised revenue summed over the horizon, ``(n,)``."""
    return revenue.sum(axis=1)


def ending_arr(arr: np.ndarray) -> np.ndarray:
    """ARR at the end of the last month, ``(n,)``."""
    return arr[:, -1].astype(float)


# --------------------------------------------------------------------------------------------
# cash


def min_cumulative_cash(cumulative_cash: np.ndarray) -> np.ndarray:
    """Lowest month-end cumulative cash over months ``0 .. T-1``, ``(n,)``."""
    return cumulative_cash.min(axis=1)


def trough_month(cumulative_cash: np.ndarray) -> np.ndarray:
    """Month of the lowest cumulative cash (the first such month on ties), ``(n,)``."""
    return np.argmin(cumulative_cash, axis=1).astype(float)


def cash_negative(cumulative_cash: np.ndarray) -> np.ndarray:
    """1 where cumulative cash falls below 0 in some month, else 0, ``(n,)``."""
    return (cumulative_cash.min(axis=1) < 0).astype(float)


def funding_need(cumulative_cash: np.ndarray) -> np.ndarray:
    """Cash to raise at the start to stay at or above 0: ``max(0, -min cumulative cash)``."""
    return np.maximum(0.0, -cumulative_cash.min(axis=1))


def cash_breakeven_month(net_cash_flow: np.ndarray) -> np.ndarray:
    """First month from which the trailing-12-month net cash flow stays >= 0, ``(n,)``.

    Trailing sums cover the months simulated so far in months 0..10 (:func:`trailing_sum`).
    0 when it is never negative; NaN when it is negative in the last month.
    """
    return first_month_from_which(trailing_sum(net_cash_flow) >= 0)


def payback_month(cumulative_cash: np.ndarray, starting_cash: np.ndarray | float) -> np.ndarray:
    """First month after the trough when cumulative cash is back at the starting cash, ``(n,)``.

    0 when cumulative cash never falls below the starting cash; NaN when it is not back by the
    horizon.

    Parameters
    ----------
    cumulative_cash : ndarray(float64, (n, T))
    starting_cash : ndarray(float64, (n,)) or float
    """
    n, T = cumulative_cash.shape
    start = np.broadcast_to(np.asarray(starting_cash, float), (n,))[:, None]
    trough = np.argmin(cumulative_cash, axis=1)
    after = np.arange(T)[None, :] > trough[:, None]
    back = after & (cumulative_cash >= start)
    first = np.where(back.any(axis=1), np.argmax(back, axis=1), np.nan).astype(float)
    fell = (cumulative_cash < start).any(axis=1)
    return np.where(fell, first, 0.0)


def revenue_crossover_month(revenue: np.ndarray, baseline_revenue: np.ndarray) -> np.ndarray:
    """First month from which trailing-12-month revenue stays >= the baseline's, ``(n,)``.

    Paired by path. 0 when never behind; NaN when behind in the last month. Trailing sums as in
    :func:`trailing_sum`.
    """
    return first_month_from_which(trailing_sum(revenue) >= trailing_sum(baseline_revenue))


def cash_crossover_month(
    cumulative_cash: np.ndarray, baseline_cumulative_cash: np.ndarray
) -> np.ndarray:
    """First month from which cumulative cash stays >= the baseline's, ``(n,)``.

    Paired by path. 0 when never behind; NaN when behind in the last month.
    """
    return first_month_from_which(cumulative_cash >= baseline_cumulative_cash)


# --------------------------------------------------------------------------------------------
# unit economics


def arpu(cmrr: np.ndarray, customers: np.ndarray) -> np.ndarray:
    """``cmrr / customers`` averaged over the last 12 months with customers, ``(n,)``.

    Currency per customer and month. NaN when no month of the window has customers.
    """
    per_customer = _ratio(window(cmrr), window(customers))
    defined = ~np.isnan(per_customer)
    total = np.where(defined, per_customer, 0.0).sum(axis=1)
    return _ratio(total, defined.sum(axis=1))


def cac(sm_spend: np.ndarray, new_customers: np.ndarray) -> np.ndarray:
    """All sales & marketing spend over new customers, over the horizon, ``(n,)``.

    Migrations are not in ``new_customers``. NaN without new customers.
    """
    return _ratio(sm_spend.sum(axis=1), new_customers.sum(axis=1))


def cltv(
    gross_margin: np.ndarray,
    customers: np.ndarray,
    new_customers: np.ndarray,
    churned_customers: np.ndarray,
    start_customers: np.ndarray,
    discount_rate: np.ndarray | float,
) -> np.ndarray:
    """Discounted gross margin a new customer brings over its life, as simulated, ``(n,)``.

    Every customer in force in month ``t`` earns the month's margin per customer
    ``g[t] = gross_margin[t] / customers[t]`` and survives to ``t + 1`` with probability
    ``1 - h[t+1]`` (:func:`churn_hazard`). The value, discounted to month ``t``, of a customer in
    force in ``t`` follows backwards from the horizon::

        V[t] = g[t] + (1 - h[t+1]) / (1 + m) × V[t+1]
        V[T-1] = g[T-1] + g_end (1 - h_end) / (m + h_end)

    the last term completing lives past the horizon geometrically with the margin per customer
    ``g_end`` and the monthly churn ``h_end`` of the last 12 months (:func:`monthly_churn`).
    CLTV is the average of ``V[t0]`` over the customers won in the horizon (weights
    ``new_customers[t0]``). Constant ``g``, ``h`` give ``g (1 + m) / (m + h)``.

    Parameters
    ----------
    gross_margin, customers, new_customers, churned_customers : ndarray(float64, (n, T))
    start_customers : ndarray(float64, (n,))
    discount_rate : ndarray(float64, (n,)) or float
        Annual rate; ``m`` is its monthly rate.

    Returns
    -------
    ndarray(float64, (n,))
        NaN without new customers, or where the residual life is unbounded (``m + h_end = 0``).
    """
    n, T = customers.shape
    m = np.broadcast_to(monthly_rate(discount_rate), (n,))
    margin = np.where(customers > 0, _ratio(gross_margin, customers), 0.0)
    hazard = churn_hazard(churned_customers, customers, start_customers)
    margin_end = np.nan_to_num(
        _ratio(window(gross_margin).sum(axis=1), window(customers).sum(axis=1))
    )
    churn_end = np.nan_to_num(monthly_churn(churned_customers, customers, start_customers))
    residual = np.where(margin_end == 0, 0.0, _ratio(margin_end * (1.0 - churn_end), m + churn_end))
    value = margin[:, T - 1] + residual
    weighted = new_customers[:, T - 1] * value
    for t in range(T - 2, -1, -1):
        value = margin[:, t] + (1.0 - hazard[:, t + 1]) / (1.0 + m) * value
        weighted = weighted + new_customers[:, t] * value
    return _ratio(weighted, new_customers.sum(axis=1))


def cltv_textbook(
    cmrr: np.ndarray,
    customers: np.ndarray,
    gross_margin: np.ndarray,
    revenue: np.ndarray,
    churned_customers: np.ndarray,
    start_customers: np.ndarray,
) -> np.ndarray:
    """``ARPU × gross-margin share / monthly churn``, all over the last 12 months, ``(n,)``.

    :func:`arpu`, :func:`margin_share`, :func:`monthly_churn`. Undiscounted. NaN when any part
    is undefined or the churn is 0.
    """
    churn = monthly_churn(churned_customers, customers, start_customers)
    return _ratio(arpu(cmrr, customers) * margin_share(gross_margin, revenue), churn)


def ltv_to_cac(cltv_value: np.ndarray, cac_value: np.ndarray) -> np.ndarray:
    """``cltv / cac`` from the two ``(n,)`` KPIs; NaN where CAC is not positive."""
    return np.where(cac_value > 0, _ratio(cltv_value, cac_value), np.nan)


def cac_payback_months(
    cac_value: np.ndarray, arpu_value: np.ndarray, margin: np.ndarray
) -> np.ndarray:
    """Months of gross margin to earn back CAC: ``cac / (arpu × margin share)``, ``(n,)``.

    Parameters
    ----------
    cac_value, arpu_value : ndarray(float64, (n,))
        :func:`cac`, :func:`arpu`.
    margin : ndarray(float64, (n,))
        :func:`margin_share`. NaN where ``arpu × margin <= 0``.
    """
    earned = arpu_value * margin
    return np.where(earned > 0, _ratio(cac_value, earned), np.nan)


# --------------------------------------------------------------------------------------------
# retention over the last 12 months


def _year_ago(x: np.ndarray) -> np.ndarray:
    """``x[:, T-13]`` (month end 12 months before the last), NaN when ``T <= 12``, ``(n,)``."""
    T = x.shape[1]
    return x[:, T - WINDOW - 1].astype(float) if T > WINDOW else np.full(x.shape[0], np.nan)


def logo_churn_annual(customers: np.ndarray, churned_customers: np.ndarray) -> np.ndarray:
    """Customers churned in the last 12 months over customers 12 months before the end, ``(n,)``.

    ``Σ churned[T-12 .. T-1] / customers[T-13]``. NaN when the horizon is 12 months or less, or
    nobody was in force at ``T-13``.
    """
    return _ratio(window(churned_customers).sum(axis=1), _year_ago(customers))


def _kept_and_per_customer(
    cmrr: np.ndarray, customers: np.ndarray, churned_customers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Share of the customers at ``T-13`` kept to the end, and ``a_end / a_before`` (``(n,)``)."""
    kept = np.maximum(0.0, 1.0 - logo_churn_annual(customers, churned_customers))
    before = _ratio(_year_ago(cmrr), _year_ago(customers))
    end = np.where(customers[:, -1] > 0, _ratio(cmrr[:, -1], customers[:, -1]), 0.0)
    return kept, _ratio(end, before)


def grr(cmrr: np.ndarray, customers: np.ndarray, churned_customers: np.ndarray) -> np.ndarray:
    """Gross revenue retention over the last 12 months, ``(n,)``.

    ``(1 - logo churn) × min(1, a_end / a_before)`` with ``a = cmrr / customers`` at ``T-1``
    and ``T-13``: the customers in force 12 months before the end, those kept valued at the
    average CMRR per customer; a fall of that average counts as contraction, a rise does not.
    NaN as :func:`logo_churn_annual`, or without CMRR at ``T-13``.
    """
    kept, change = _kept_and_per_customer(cmrr, customers, churned_customers)
    return kept * np.minimum(1.0, change)


def nrr(cmrr: np.ndarray, customers: np.ndarray, churned_customers: np.ndarray) -> np.ndarray:
    """Net revenue retention over the last 12 months: ``(1 - logo churn) × a_end / a_before``.

    As :func:`grr`, with expansion (a rise of the CMRR per customer: price increases, seat
    growth, moves to a dearer offer) counted. NaN as :func:`grr`.
    """
    kept, change = _kept_and_per_customer(cmrr, customers, churned_customers)
    return kept * change


def revenue_per_employee(revenue: np.ndarray, headcount: np.ndarray) -> np.ndarray:
    """Revenue of the last 12 months (annualised if shorter) over headcount at the end, ``(n,)``.

    NaN where the final headcount is 0.
    """
    last = window(revenue)
    return _ratio(last.sum(axis=1) * WINDOW / last.shape[1], headcount[:, -1])


# --------------------------------------------------------------------------------------------
# all KPIs of a plan


def compute_kpis(
    series: dict[str, np.ndarray],
    finance: FinanceParams,
    baseline: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Every KPI of :data:`KPIS` for one plan on ``n`` paths.

    Parameters
    ----------
    series : dict of str to ndarray(float64, (n, T))
        The plan's series (``simulator.engine.SERIES``).
    finance : FinanceParams
        Per-path discount rate, starting cash, start customers and terminal value.
    baseline : dict of str to ndarray(float64, (n, T)), optional
        The baseline plan's series on the same paths; ``None`` for the baseline itself, whose
        crossover months are then NaN (a plan is not compared with itself).

    Returns
    -------
    dict of str to ndarray(float64, (n,))
        In the order of :data:`KPIS`.
    """
    s = series
    n = s["revenue"].shape[0]
    rate = np.broadcast_to(np.asarray(finance.discount_rate, float), (n,))
    terminal = terminal_value(
        finance.terminal_method,
        s["arr"],
        s["net_cash_flow"],
        rate,
        finance.terminal_multiple,
        finance.terminal_growth,
    )
    out = {
        "npv": npv(s["net_cash_flow"], rate, terminal),
        "npv_horizon": npv_horizon(s["net_cash_flow"], rate),
        "total_revenue": total_revenue(s["revenue"]),
        "ending_arr": ending_arr(s["arr"]),
        "min_cumulative_cash": min_cumulative_cash(s["cumulative_cash"]),
        "trough_month": trough_month(s["cumulative_cash"]),
        "cash_negative": cash_negative(s["cumulative_cash"]),
        "funding_need": funding_need(s["cumulative_cash"]),
        "cash_breakeven_month": cash_breakeven_month(s["net_cash_flow"]),
        "payback_month": payback_month(s["cumulative_cash"], finance.starting_cash),
    }
    if baseline is None:
        out["revenue_crossover_month"] = out["cash_crossover_month"] = np.full(n, np.nan)
    else:
        out["revenue_crossover_month"] = revenue_crossover_month(s["revenue"], baseline["revenue"])
        out["cash_crossover_month"] = cash_crossover_month(
            s["cumulative_cash"], baseline["cumulative_cash"]
        )
    out["arpu"] = arpu(s["cmrr"], s["customers"])
    out["cac"] = cac(s["sm_spend"], s["new_customers"])
    out["cltv"] = cltv(
        s["gross_margin"],
        s["customers"],
        s["new_customers"],
        s["churned_customers"],
        finance.start_customers,
        rate,
    )
    out["cltv_textbook"] = cltv_textbook(
        s["cmrr"],
        s["customers"],
        s["gross_margin"],
        s["revenue"],
        s["churned_customers"],
        finance.start_customers,
    )
    out["ltv_to_cac"] = ltv_to_cac(out["cltv"], out["cac"])
    out["cac_payback_months"] = cac_payback_months(
        out["cac"], out["arpu"], margin_share(s["gross_margin"], s["revenue"])
    )
    out["logo_churn_annual"] = logo_churn_annual(s["customers"], s["churned_customers"])
    out["grr"] = grr(s["cmrr"], s["customers"], s["churned_customers"])
    out["nrr"] = nrr(s["cmrr"], s["customers"], s["churned_customers"])
    out["revenue_per_employee"] = revenue_per_employee(s["revenue"], s["headcount"])
    return {name: np.asarray(out[name], dtype=float) for name in KPIS}
