"""What a run keeps from each chunk of paths.

For every plan and every path: the KPIs, fiscal-year totals and per-source funnel totals (small
per path). For every series: running moments over all paths (means and standard errors). For
the kept paths only (all of them, or every k-th when the run is large): the series and the
offer series, for percentiles and charts. Chunks are dropped once collected, so memory stays
proportional to what is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.engine import SERIES, Chunk, PlanChunk
from simulator.results.kpis import KPIS, FinanceParams, compute_kpis
from simulator.results.stats import RunningMoments
from simulator.scenario.model import Scenario
from simulator.scenario.uncertain import Uncertain

__all__ = [
    "YEARLY_FLOWS",
    "YEARLY_BALANCES",
    "kept_paths",
    "finance_params",
    "PlanStore",
    "Collector",
]

YEARLY_FLOWS = ("revenue", "billings", "net_cash_flow")
"""Series summed over each fiscal year."""
YEARLY_BALANCES = ("arr", "customers")
"""Series taken at the last simulated month of each fiscal year."""


def kept_paths(paths: int, keep_paths: int) -> np.ndarray:
    """Indices of the paths whose series are kept, ``ndarray(int64, (kept,))``.

    Every path when ``paths <= keep_paths``, else every k-th path from 0 with
    ``k = ceil(paths / keep_paths)``.
    """
    step = 1 if paths <= keep_paths else math.ceil(paths / keep_paths)
    return np.arange(0, paths, step, dtype=np.int64)


def _per_path(
    values: dict[str, np.ndarray], name: str, value: Uncertain | None, n: int
) -> np.ndarray | None:
    """One input of a plan on ``n`` paths: its draws, else its fixed value (or mean)."""
    if value is None:
        return None
    if name in values:
        return np.broadcast_to(np.asarray(values[name], float), (n,)).copy()
    return np.full(n, value.spec["value"] if value.is_fixed else value.mean)


def finance_params(
    scenario: Scenario, plan: str, values: dict[str, np.ndarray], part: PlanChunk
) -> FinanceParams:
    """The finance values of ``plan`` that its KPIs need, per path of one chunk.

    Parameters
    ----------
    scenario : Scenario
    plan : str
    values : dict of str to ndarray(float64, (n,))
        The plan's per-path uncertain inputs on the chunk (``Draws.values(plan, rows)``, or the
        means in expected-value mode).
    part : PlanChunk
        The plan's engine inputs and output on the chunk.
    """
    finance = scenario.for_plan(plan).finance
    n = part.inputs.starting_cash.shape[0]
    terminal = finance.terminal_value
    return FinanceParams(
        discount_rate=_per_path(values, "finance.discount_rate", finance.discount_rate, n),
        starting_cash=np.asarray(part.inputs.starting_cash, float),
        start_customers=np.asarray(part.output.start_customers, float),
        terminal_method=None if terminal is None else terminal.method,
        terminal_multiple=None
        if terminal is None
        else _per_path(values, "finance.terminal_value.multiple", terminal.multiple, n),
        terminal_growth=None
        if terminal is None
        else _per_path(values, "finance.terminal_value.growth", terminal.growth, n),
    )


@dataclass
class PlanStore:
    """Everything kept for one plan.

    Attributes
    ----------
    kpis : dict of str to ndarray(float64, (paths,))
    series : dict of str to ndarray(float64, (kept, T))
    offer_customers, offer_revenue : ndarray(float64, (kept, O, T))
    moments : dict of str to RunningMoments
        Over all paths, per series.
    yearly : dict of str to ndarray(float64, (paths, Y))
        :data:`YEARLY_FLOWS` summed per fiscal year, :data:`YEARLY_BALANCES` at its last month.
    funnel : ndarray(float64, (paths, S, R)) or None
        Per-source totals over the horizon of ``EngineOutput.source_flows``' rows; ``None``
        when the engine does not report them.
    """

    kpis: dict[str, np.ndarray]
    series: dict[str, np.ndarray]
    offer_customers: np.ndarray
    offer_revenue: np.ndarray
    moments: dict[str, RunningMoments]
    yearly: dict[str, np.ndarray]
    funnel: np.ndarray | None = None

    @classmethod
    def empty(cls, paths: int, kept: int, months: int, offers: int, years: int) -> PlanStore:
        return cls(
            kpis={name: np.full(paths, np.nan) for name in KPIS},
            series={name: np.zeros((kept, months)) for name in SERIES},
            offer_customers=np.zeros((kept, offers, months)),
            offer_revenue=np.zeros((kept, offers, months)),
            moments={name: RunningMoments(months) for name in SERIES},
            yearly={name: np.zeros((paths, years)) for name in YEARLY_FLOWS + YEARLY_BALANCES},
        )


class Collector:
    """Reduces the chunks of a run into one :class:`PlanStore` per plan.

    Parameters
    ----------
    scenario : Scenario
    paths : int
    kept : ndarray(int64, (kept,))
        Sorted indices of the paths whose series are kept (:func:`kept_paths`).
    year_index : ndarray(int64, (T,))
        Fiscal year of each month (``periods.fiscal_years``).
    plan_values : callable
        ``plan_values(plan, rows)`` → the plan's per-path uncertain inputs on ``rows``.
    """

    def __init__(
        self, scenario: Scenario, paths: int, kept: np.ndarray, year_index: np.ndarray, plan_values
    ):
        self.scenario = scenario
        self.baseline = scenario.baseline_plan
        self.kept = kept
        self.plan_values = plan_values
        months = scenario.simulation.horizon_months
        starts = np.concatenate([[0], np.flatnonzero(np.diff(year_index)) + 1])
        self.year_starts = starts
        self.year_ends = np.concatenate([starts[1:] - 1, [months - 1]])
        self.stores = {
            plan: PlanStore.empty(
                paths, kept.size, months, len(scenario.for_plan(plan).offers), starts.size
            )
            for plan in scenario.plans
        }

    def add(self, chunk: Chunk) -> None:
        """Keep what is needed of one chunk, every plan."""
        rows = chunk.rows
        lo, hi = np.searchsorted(self.kept, [rows.start, rows.stop])
        local = self.kept[lo:hi] - rows.start
        base = chunk.plans[self.baseline].series
        for plan, part in chunk.plans.items():
            store = self.stores[plan]
            finance = finance_params(self.scenario, plan, self.plan_values(plan, rows), part)
            kpis = compute_kpis(part.series, finance, None if plan == self.baseline else base)
            for name, values in kpis.items():
                store.kpis[name][rows] = values
            for name, values in part.series.items():
                store.moments[name].update(values)
                store.series[name][lo:hi] = values[local]
            store.offer_customers[lo:hi] = part.output.offer_customers[local]
            store.offer_revenue[lo:hi] = part.output.offer_revenue[local]
            self._add_yearly(store, part.series, rows)
            self._add_funnel(store, part, rows)

    def _add_yearly(self, store: PlanStore, series: dict[str, np.ndarray], rows: slice) -> None:
        for name in YEARLY_FLOWS:
            store.yearly[name][rows] = np.add.reduceat(series[name], self.year_starts, axis=1)
        for name in YEARLY_BALANCES:
            store.yearly[name][rows] = series[name][:, self.year_ends]

    def _add_funnel(self, store: PlanStore, part: PlanChunk, rows: slice) -> None:
        flows = getattr(part.output, "source_flows", None)
        if flows is None:
            return
        totals = np.asarray(flows, float).sum(axis=-1)
        if store.funnel is None:
            store.funnel = np.full((store.kpis["npv"].shape[0], *totals.shape[1:]), np.nan)
        store.funnel[rows] = totals
