"""``simulate``: run every plan of a scenario and collect the :class:`Results`.

``docs/results-api.md`` is the contract of this module; ``docs/kpis.md`` defines every KPI.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from simulator.engine import SERIES, run_chunks
from simulator.results import summary, tables
from simulator.results.collect import Collector, PlanStore, kept_paths
from simulator.results.kpis import BINARY_KPIS, KPIS
from simulator.results.periods import fiscal_years, month_labels
from simulator.results.stats import RunningMoments, kpi_stats, paired_comparison, series_percentiles
from simulator.sampling import Draws, expected_inputs, sample_inputs
from simulator.scenario.model import Scenario

__all__ = ["Results", "simulate"]

OFFER_KINDS = ("customers", "revenue")


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def simulate(
    scenario: Scenario,
    paths: int | None = None,
    seed: int | None = None,
    *,
    expected: bool = False,
    chunk_size: int = 2000,
    keep_paths: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
    sets: list[str] | None = None,
) -> Results:
    """Simulate every plan of ``scenario`` and collect KPIs, statistics and kept series.

    Parameters
    ----------
    scenario : Scenario
        A loaded scenario (``load_scenario``).
    paths : int, optional
        Monte Carlo paths; ``scenario.simulation.paths`` when ``None``. Expected-value mode
        runs one path whatever is given.
    seed : int, optional
        ``scenario.simulation.seed`` when ``None``.
    expected : bool
        The expected-value run (``mode == "expected"``): inputs at their means, counts at their
        expectations, one path.
    chunk_size : int
        Paths simulated at once; bounds memory, not the results.
    keep_paths : int
        Series of every path are kept when ``paths <= keep_paths``, else of every k-th path
        (``k = ceil(paths / keep_paths)``). KPIs are kept for every path, and series means and
        standard errors use every path, whatever this is.
    progress : callable, optional
        ``progress(done_paths, total_paths)``, called after each chunk.
    sets : list of str, optional
        The ``--set`` changes the scenario was loaded with; they enter ``scenario_sha256``.

    Returns
    -------
    Results
    """
    seed = scenario.simulation.seed if seed is None else int(seed)
    paths = (
        1 if expected else _positive("paths", scenario.simulation.paths if paths is None else paths)
    )
    chunk_size = _positive("chunk_size", chunk_size)
    keep_paths = _positive("keep_paths", keep_paths)
    draws = None if expected else sample_inputs(scenario, paths=paths, seed=seed)
    kept = kept_paths(paths, keep_paths)
    T = scenario.simulation.horizon_months
    _, year_index = fiscal_years(
        scenario.simulation.start_month, scenario.simulation.fiscal_year_start_month, T
    )

    def plan_values(plan: str, rows: slice) -> dict[str, np.ndarray]:
        return expected_inputs(scenario, plan) if draws is None else draws.values(plan, rows)

    collector = Collector(scenario, paths, kept, year_index, plan_values)
    for chunk in run_chunks(
        scenario, paths=paths, seed=seed, expected=expected, chunk_size=chunk_size, draws=draws
    ):
        collector.add(chunk)
        if progress is not None:
            progress(chunk.rows.stop, paths)
    return Results(
        scenario,
        paths=paths,
        seed=seed,
        expected=expected,
        kept=kept,
        stores=collector.stores,
        draws=draws,
        sets=sets,
    )


class Results:
    """The outcome of :func:`simulate`: per plan, series, KPIs, their statistics and tables.

    Attributes
    ----------
    scenario : Scenario
    paths : int
    seed : int
    mode : str
        ``"monte_carlo"`` or ``"expected"``.
    months : int
        ``T``.
    month_labels : list of str
        ``"YYYY-MM"`` from the start month, else ``"M1" .. "MT"``.
    plans : list of str
    baseline : str
    currency : str
    offers : list of str
    sources : list of str
    kept : ndarray(int64, (kept,))
        Indices of the paths whose series are kept.
    fiscal_years : list of str
        Labels of the rows of :meth:`yearly`.
    sets : list of str
        ``--set`` changes the scenario was loaded with (they enter ``scenario_sha256``).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        paths: int,
        seed: int,
        expected: bool,
        kept: np.ndarray,
        stores: dict[str, PlanStore],
        draws: Draws | None,
        sets: list[str] | None = None,
    ):
        sim = scenario.simulation
        self.scenario = scenario
        self.paths = paths
        self.seed = seed
        self.mode = "expected" if expected else "monte_carlo"
        self.months = sim.horizon_months
        self.month_labels = month_labels(sim.start_month, self.months)
        self.plans = list(scenario.plans)
        self.baseline = scenario.baseline_plan
        self.currency = sim.currency
        self.offers = list(scenario.offers)
        self.sources = list(scenario.funnel.sources)
        self.kept = _read_only(kept)
        self.fiscal_years, year_index = fiscal_years(
            sim.start_month, sim.fiscal_year_start_month, self.months
        )
        self._fiscal_months = np.bincount(year_index)
        self.sets = list(sets or [])
        self._stores = stores
        self._draws = draws
        self._series_stats: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    def __repr__(self) -> str:
        return (
            f"<Results {self.mode} paths={self.paths} months={self.months} "
            f"plans={self.plans} baseline={self.baseline!r}>"
        )

    @property
    def expected(self) -> bool:
        """Whether this is the expected-value run."""
        return self.mode == "expected"

    # -- lookups -----------------------------------------------------------------------------

    def _store(self, plan: str) -> PlanStore:
        if plan not in self._stores:
            raise KeyError(f"no plan named {plan!r}; plans are {', '.join(self.plans)}")
        return self._stores[plan]

    def _moments(self, plan: str, name: str) -> RunningMoments:
        store = self._store(plan)
        if name not in store.moments:
            raise KeyError(f"no series named {name!r}; series are {', '.join(SERIES)}")
        return store.moments[name]

    # -- series ------------------------------------------------------------------------------

    def series(self, plan: str, name: str) -> np.ndarray:
        """One series of the kept paths, ``ndarray(float64, (kept, T))`` (read-only)."""
        self._moments(plan, name)
        return _read_only(self._store(plan).series[name])

    def series_stats(self, plan: str, name: str) -> dict[str, np.ndarray]:
        """``mean, se`` over all paths and ``p5, p25, p50, p75, p95`` over the kept paths.

        Returns
        -------
        dict of str to ndarray(float64, (T,))
            ``se`` is NaN in expected-value mode.
        """
        key = (plan, name)
        if key not in self._series_stats:
            moments = self._moments(plan, name)
            stats = {"mean": moments.mean.copy(), "se": moments.se}
            stats.update(series_percentiles(self._store(plan).series[name]))
            self._series_stats[key] = {k: _read_only(v) for k, v in stats.items()}
        return dict(self._series_stats[key])

    def offer_series(self, plan: str, kind: str) -> np.ndarray:
        """Customers or revenue by offer of the kept paths, ``ndarray(float64, (kept, O, T))``.

        Offers in the order of :attr:`offers`; ``kind`` is ``"customers"`` or ``"revenue"``.
        """
        if kind not in OFFER_KINDS:
            raise ValueError(f"kind must be customers or revenue, got {kind!r}")
        store = self._store(plan)
        return _read_only(store.offer_customers if kind == "customers" else store.offer_revenue)

    # -- KPIs --------------------------------------------------------------------------------

    def kpis(self, plan: str) -> dict[str, np.ndarray]:
        """Every KPI (``docs/kpis.md``): name → ``ndarray(float64, (paths,))``, NaN: undefined."""
        return {name: _read_only(values) for name, values in self._store(plan).kpis.items()}

    def kpi_stats(self, plan: str, name: str) -> dict[str, float | None]:
        """``mean, se, p5, p50, p95, p_defined`` of one KPI (``None`` where undefined)."""
        store = self._store(plan)
        if name not in store.kpis:
            raise KeyError(f"no KPI named {name!r}; KPIs are {', '.join(KPIS)}")
        return kpi_stats(store.kpis[name], binary=name in BINARY_KPIS, expected=self.expected)

    def comparison(self, plan: str) -> dict | None:
        """``plan`` against the baseline, paired by path (``None`` for the baseline itself).

        See :func:`simulator.results.stats.paired_comparison` for the keys.
        """
        store = self._store(plan)
        if plan == self.baseline:
            return None
        return paired_comparison(
            store.kpis, self._store(self.baseline).kpis, self.baseline, expected=self.expected
        )

    def differences(self, plan: str, kpi: str) -> np.ndarray:
        """``kpi`` of ``plan`` minus the baseline's, paired: ``ndarray(float64, (paths,))``."""
        store = self._store(plan)
        if kpi not in store.kpis:
            raise KeyError(f"no KPI named {kpi!r}; KPIs are {', '.join(KPIS)}")
        return store.kpis[kpi] - self._store(self.baseline).kpis[kpi]

    def inputs(self, plan: str) -> dict[str, np.ndarray]:
        """The plan's uncertain inputs per path: dotted name → ``ndarray(float64, (paths,))``.

        In expected-value mode, their means (one path).
        """
        self._store(plan)
        if self._draws is None:
            return expected_inputs(self.scenario, plan)
        return self._draws.values(plan)

    # -- tables ------------------------------------------------------------------------------

    def funnel(self, plan: str) -> pd.DataFrame:
        """By source: leads, marketing cost, cost per lead, conversion by stage, customers won,
        CAC and ROI of the programme, means over paths (``docs/kpis.md``)."""
        store = self._store(plan)
        if store.funnel is None:
            raise NotImplementedError(
                "funnel() needs the engine's per-source flows (EngineOutput.source_flows), "
                "which this engine does not report"
            )
        stages = [list(src.stages) for src in self.scenario.for_plan(plan).funnel.sources.values()]
        return tables.funnel_table(store.funnel, self.sources, stages, store.kpis["cltv"])

    def yearly(self, plan: str) -> pd.DataFrame:
        """By fiscal year: mean, p5, p50, p95 of revenue, billings, net cash flow, ending ARR
        and ending customers."""
        return tables.yearly_table(self._store(plan).yearly, self.fiscal_years, self._fiscal_months)

    def summary(self) -> pd.DataFrame:
        """Tidy KPI table: ``plan, kpi, mean, se, p5, p50, p95, p_defined``; NaN: undefined."""
        rows = [
            {"plan": plan, "kpi": name, **self.kpi_stats(plan, name)}
            for plan in self.plans
            for name in KPIS
        ]
        return tables.frame(rows, ["plan", "kpi", "mean", "se", "p5", "p50", "p95", "p_defined"])

    def series_table(self) -> pd.DataFrame:
        """Tidy series table: ``plan, series, month, label, mean, se, p5, p25, p50, p75, p95``.

        ``month`` is the month index ``0 .. T-1``, ``label`` its entry of :attr:`month_labels`.
        """
        blocks = [
            tables.series_block(plan, name, self.series_stats(plan, name), self.month_labels)
            for plan in self.plans
            for name in SERIES
        ]
        return pd.concat(blocks, ignore_index=True)

    def to_summary_json(self, sets: list[str] | None = None) -> dict:
        """The content of ``summary.json`` (MODEL.md §5), JSON-ready (undefined → ``None``).

        Parameters
        ----------
        sets : list of str, optional
            ``--set`` changes to hash with the scenario file; :attr:`sets` when ``None``.
        """
        return summary.summary_json(self, self.sets if sets is None else list(sets))
