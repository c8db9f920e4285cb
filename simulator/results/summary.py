"""``summary.json`` (MODEL.md §5): the run's statistics as JSON-ready data."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.engine import SERIES
from simulator.results.kpis import KPIS
from simulator.scenario.loader import DEFAULT_SCENARIO
from simulator.scenario.model import Scenario

if TYPE_CHECKING:
    from simulator.results.results import Results

__all__ = ["scenario_file", "scenario_sha256", "json_ready", "summary_json"]

SERIES_KEYS = ("mean", "p5", "p50", "p95")


def scenario_file(scenario: Scenario) -> Path | None:
    """The scenario's file (the packaged one for the bundled default), or ``None``."""
    source = scenario.source
    if not source:
        return None
    path = Path(source)
    if path.is_file():
        return path
    if source == "default.yaml":
        return DEFAULT_SCENARIO
    return None


def scenario_sha256(scenario: Scenario, sets: list[str] | None = None) -> str | None:
    """SHA-256 of the scenario file's bytes, then one line ``"\\n--set " + change`` per ``--set``.

    ``None`` for a scenario that did not come from a file (``load_text``).
    """
    path = scenario_file(scenario)
    if path is None:
        return None
    digest = hashlib.sha256(path.read_bytes())
    for change in sets or []:
        digest.update(f"\n--set {change}".encode())
    return digest.hexdigest()


def json_ready(value: Any) -> Any:
    """``value`` with arrays as lists, NumPy scalars as Python numbers, NaN and inf as ``None``."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _scenario_name(scenario: Scenario) -> str:
    return scenario.name or (Path(scenario.source).stem if scenario.source else "")


def _plan(results: Results, plan: str) -> dict:
    series = {}
    for name in SERIES:
        stats = results.series_stats(plan, name)
        series[name] = {key: stats[key] for key in SERIES_KEYS}
    return {"series": series, "kpis": {name: results.kpi_stats(plan, name) for name in KPIS}}


def summary_json(results: Results, sets: list[str]) -> dict:
    """The ``summary.json`` document of ``results``.

    Keys: ``scenario`` (its name, else the file's stem), ``paths``, ``seed``, ``months``,
    ``mode``, ``version``, ``scenario_sha256`` (:func:`scenario_sha256` with ``sets``),
    ``plans`` (per plan, ``series`` mean/p5/p50/p95 lists of length ``months`` and ``kpis``
    mean/se/p5/p50/p95/p_defined) and ``comparisons`` (per plan other than the baseline,
    ``Results.comparison``). Undefined numbers are ``None``.
    """
    import simulator  # at call time: the package imports this module while it initialises

    document = {
        "scenario": _scenario_name(results.scenario),
        "paths": results.paths,
        "seed": results.seed,
        "months": results.months,
        "mode": results.mode,
        "version": simulator.__version__,
        "scenario_sha256": scenario_sha256(results.scenario, sets),
        "plans": {plan: _plan(results, plan) for plan in results.plans},
        "comparisons": {
            plan: results.comparison(plan) for plan in results.plans if plan != results.baseline
        },
    }
    return json_ready(document)
