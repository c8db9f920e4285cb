"""What the engines return, and the series derived from it.

Both engines (numba and NumPy reference) fill the same *flow* arrays: the quantities that need
the simulation (counts, revenue by type, billings, costs tied to customers). The series of
MODEL.md §4 that follow from those by accounting identities are computed here, once, by
:func:`derive_series`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simulator.engine.inputs import EngineInputs

FLOWS = (
    "leads",                # leads generated in the month (real leads, not the warm pipeline)
    "new_customers",        # wins (migrations excluded)
    "churned_customers",    # non-renewals and lapses (migrations excluded)
    "migrated_customers",   # installed-base customers moving to another offer
    "customers",            # in force at month end
    "seats",                # seats in force at month end
    "cmrr",                 # committed monthly recurring revenue at month end
    "subscription_revenue",
    "maintenance_revenue",
    "term_revenue",         # support part of term licences, ratable
    "license_revenue",      # perpetual fees and the licence part of term deals
    "services_revenue",
    "billings",
    "recurring_billings",   # billings of subscriptions, maintenance and term contracts
    "opening_collections",  # collections of billings made before month 0
    "marketing",            # leads x cost per lead + programme fixed costs
    "upfront_commissions",  # at wins and migrations
    "referral_commissions",
    "cost_to_serve",        # hosting and support per seat
    "services_cost",
    "marketplace_fees",
)
"""Flows an engine fills, ``flows[path, FLOW_INDEX[name], month]``."""

FLOW_INDEX = {name: i for i, name in enumerate(FLOWS)}

SOURCE_ROWS = (
    "leads",          # real leads of the month (not the warm pipeline), at the lead month
    "marketing",      # leads x cost per lead + the source's fixed programme cost
    "new_customers",  # accepted wins from the source, at the win month (after the sales-cycle lag)
)
"""Fixed rows of ``source_flows[path, source, row, month]``.

Rows ``SOURCE_STAGE_ROW + k`` for ``k = 0..K-2`` follow: the count after stage ``k + 1`` of the
source's funnel (the opportunities after its intermediate stages), at the lead month, warm
pipeline excluded. A source with ``K_s < K`` stages fills rows ``k < K_s - 1`` and leaves the
rest at 0.
"""

SOURCE_ROW_INDEX = {name: i for i, name in enumerate(SOURCE_ROWS)}
SOURCE_STAGE_ROW = len(SOURCE_ROWS)
"""Row of the count after the first stage; stage ``k + 1`` is in row ``SOURCE_STAGE_ROW + k``."""


def source_row_count(stages: int) -> int:
    """Rows of ``source_flows`` for ``stages`` = K, the most stages of any source: ``3 + K - 1``."""
    return SOURCE_STAGE_ROW + stages - 1

SERIES = (
    "leads", "new_customers", "churned_customers", "migrated_customers", "customers", "seats", "cmrr",
    "arr", "revenue", "recurring_revenue", "subscription_revenue", "maintenance_revenue", "term_revenue",
    "license_revenue", "services_revenue", "billings", "deferred_revenue", "cash_in", "cash_out", "sm_spend",
    "cogs", "gross_margin", "opex", "operating_income", "net_cash_flow", "cumulative_cash", "headcount",
)
"""The series of MODEL.md §4, in report order."""


class EngineOutput(NamedTuple):
    """What an engine returns for one plan and ``n`` paths.

    Attributes
    ----------
    flows : ndarray(float64, (n, len(FLOWS), T))
    offer_customers : ndarray(float64, (n, O, T))
        Customers in force at month end, by offer.
    offer_revenue : ndarray(float64, (n, O, T))
        Recognised revenue by offer.
    opening_deferred : ndarray(float64, (n,))
        Deferred revenue at the start (maintenance of the installed base billed before month 0).
    start_customers : ndarray(float64, (n,))
        Customers in force at the start (the installed base).
    source_flows : ndarray(float64, (n, S, 3 + K - 1, T))
        The funnel by source (``K = inputs.conversion.shape[2]``): rows :data:`SOURCE_ROWS`
        (leads, marketing cost, accepted new customers), then the count after each intermediate
        stage (:data:`SOURCE_STAGE_ROW`). Summed over sources, rows 0-2 give the ``leads``,
        ``marketing`` and ``new_customers`` flows. Expected-value mode: expectations (wins by
        source are the expected potential wins x acceptance, split by the plan's mix and the
        segment shares: the numbers that go into the cohorts).
    """

    flows: np.ndarray
    offer_customers: np.ndarray
    offer_revenue: np.ndarray
    opening_deferred: np.ndarray
    start_customers: np.ndarray
    source_flows: np.ndarray


def shift(x: np.ndarray, months: int) -> np.ndarray:
    """``x`` delayed by ``months`` along the last axis, zeros shifted in."""
    if months == 0:
        return x
    out = np.zeros_like(x)
    out[..., months:] = x[..., :-months]
    return out


def derive_series(out: EngineOutput, inp: EngineInputs, expected: bool) -> dict[str, np.ndarray]:
    """All series of MODEL.md §4 from an engine's flows.

    Parameters
    ----------
    out : EngineOutput
    inp : EngineInputs
        The inputs the engine ran on (costs, lag, starting cash).
    expected : bool
        Expected-value mode: support headcount stays fractional (Monte Carlo: rounded up).

    Returns
    -------
    dict of str to ndarray(float64, (n, T))
    """
    f = {name: out.flows[:, i, :] for i, name in enumerate(FLOWS)}
    lag = inp.collection_lag
    recurring = f["subscription_revenue"] + f["maintenance_revenue"] + f["term_revenue"]
    revenue = recurring + f["license_revenue"] + f["services_revenue"]
    cash_in = shift(f["billings"], lag) + f["opening_collections"]
    recurring_cash = shift(f["recurring_billings"], lag) + f["opening_collections"]
    support = np.where(inp.customers_per_head[:, None] > 0,
                       f["customers"] / np.where(inp.customers_per_head > 0, inp.customers_per_head, 1.0)[:, None],
                       0.0)
    if not expected:
        support = np.ceil(support - 1e-9)
    headcount = inp.headcount_fixed + support
    sm_spend = (f["marketing"] + f["upfront_commissions"] + inp.commission_recurring[:, None] * recurring_cash
                + f["referral_commissions"] + inp.fixed_sm)
    cogs = f["cost_to_serve"] + f["services_cost"] + f["marketplace_fees"]
    opex = sm_spend + inp.fixed_opex + headcount * inp.cost_per_head_month[:, None] + inp.investments
    net = cash_in - cogs - opex
    series = {name: f[name] for name in ("leads", "new_customers", "churned_customers", "migrated_customers",
                                         "customers", "seats", "cmrr", "subscription_revenue",
                                         "maintenance_revenue", "term_revenue", "license_revenue",
                                         "services_revenue", "billings")}
    series.update(
        arr=12 * f["cmrr"],
        revenue=revenue,
        recurring_revenue=recurring,
        deferred_revenue=out.opening_deferred[:, None] + np.cumsum(f["billings"] - revenue, axis=1),
        cash_in=cash_in,
        cash_out=cogs + opex,
        sm_spend=sm_spend,
        cogs=cogs,
        gross_margin=revenue - cogs,
        opex=opex,
        operating_income=revenue - cogs - opex,
        net_cash_flow=net,
        cumulative_cash=inp.starting_cash[:, None] + np.cumsum(net, axis=1),
        headcount=headcount,
    )
    return {name: series[name] for name in SERIES}
