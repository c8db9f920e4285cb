"""Results layer: per-path KPIs, statistics over paths, tidy tables and ``summary.json``.

``simulate(scenario)`` runs every plan chunk by chunk (``simulator.engine.run_chunks``) and
returns :class:`Results`. ``kpis`` holds the KPI definitions as pure functions of series;
``docs/kpis.md`` documents them and ``docs/results-api.md`` the interface.
"""

from simulator.results.kpis import KPIS, compute_kpis
from simulator.results.results import Results, simulate
from simulator.results.stats import kpi_stats, paired_comparison

__all__ = ["KPIS", "Results", "compute_kpis", "kpi_stats", "paired_comparison", "simulate"]
