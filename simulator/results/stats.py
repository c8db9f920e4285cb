"""Statistics over paths: KPI summaries, running moments of series, paired comparisons.

Conventions (``docs/kpis.md``): means, standard errors and percentiles of a KPI are taken over
the paths where it is defined (not NaN), with ``p_defined`` the share of those paths. The
standard error is ``sd / sqrt(n)`` (``sd`` with ``ddof=1``); for a 0/1 KPI it is the binomial
``sqrt(p (1 - p) / n)``. In expected-value mode (one path) standard errors and probabilities
are not defined (``None``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "PERCENTILES",
    "SERIES_PERCENTILES",
    "kpi_stats",
    "difference_stats",
    "paired_comparison",
    "RunningMoments",
    "series_percentiles",
    "to_float",
]

PERCENTILES = (5, 50, 95)
"""Percentiles of KPI and difference summaries."""
SERIES_PERCENTILES = (5, 25, 50, 75, 95)
"""Percentiles of series summaries (fan charts)."""


def to_float(value: float | np.floating | None) -> float | None:
    """A Python float, or ``None`` for NaN, infinities and ``None``."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _percentiles(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return {f"p{q}": None for q in PERCENTILES}
    points = np.percentile(values, PERCENTILES)
    return {f"p{q}": to_float(x) for q, x in zip(PERCENTILES, points, strict=True)}


def kpi_stats(
    values: np.ndarray, *, binary: bool = False, expected: bool = False
) -> dict[str, float | None]:
    """Summary of one KPI over paths.

    Parameters
    ----------
    values : ndarray(float64, (paths,))
        NaN where the KPI is undefined.
    binary : bool
        A 0/1 KPI: the mean is a probability, ``se = sqrt(p (1 - p) / n)``.
    expected : bool
        Expected-value run: ``se`` and ``p_defined`` are ``None``.

    Returns
    -------
    dict
        ``mean, se, p5, p50, p95, p_defined``: floats, ``None`` where undefined (no defined
        path; ``se`` with fewer than 2 defined paths).
    """
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    n = defined.size
    out: dict[str, float | None] = {"mean": to_float(defined.mean()) if n else None, "se": None}
    if n >= 2 and not expected:
        if binary:
            p = float(defined.mean())
            out["se"] = math.sqrt(p * (1.0 - p) / n)
        else:
            out["se"] = to_float(defined.std(ddof=1) / math.sqrt(n))
    out.update(_percentiles(defined))
    out["p_defined"] = None if expected or values.size == 0 else n / values.size
    return out


def difference_stats(difference: np.ndarray, *, expected: bool = False) -> dict[str, float | None]:
    """``mean, se, p5, p50, p95`` of a paired difference over the paths where it is defined."""
    stats = kpi_stats(difference, expected=expected)
    return {key: stats[key] for key in ("mean", "se", *(f"p{q}" for q in PERCENTILES))}


def _p_higher(
    plan: np.ndarray, base: np.ndarray, expected: bool
) -> tuple[float | None, float | None]:
    """``P(plan > base)`` over paths where both are defined, and its binomial standard error."""
    both = ~(np.isnan(plan) | np.isnan(base))
    n = int(both.sum())
    if expected or n == 0:
        return None, None
    p = float(np.mean(plan[both] > base[both]))
    return p, math.sqrt(p * (1.0 - p) / n)


COMPARED = (("npv", "npv"), ("ending_arr", "ending_arr"), ("min_cash", "min_cumulative_cash"))
"""``(label, KPI)`` pairs compared path by path: ``p_<label>_higher``, ``<label>_difference``."""


def paired_comparison(
    plan: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    baseline: str,
    *,
    expected: bool = False,
) -> dict:
    """A plan against the baseline, paired by path.

    Parameters
    ----------
    plan, base : mapping of str to ndarray(float64, (paths,))
        KPIs of the plan and of the baseline on the same paths.
    baseline : str
        The baseline's name (echoed in the result).
    expected : bool
        Expected-value run: probabilities and standard errors are ``None``.

    Returns
    -------
    dict
        ``baseline``; for npv, ending_arr and min_cash (minimum cumulative cash):
        ``p_<x>_higher`` (strictly higher, over paths where both are defined),
        ``p_<x>_higher_se`` and ``<x>_difference {mean, se, p5, p50, p95}`` (plan minus
        baseline); ``revenue_crossover_month`` and ``cash_crossover_month``
        ``{mean, p5, p50, p95, p_defined}`` (the plan's crossover KPIs).
    """
    out: dict = {"baseline": baseline}
    for label, kpi in COMPARED:
        p, se = _p_higher(plan[kpi], base[kpi], expected)
        out[f"p_{label}_higher"] = p
        out[f"p_{label}_higher_se"] = se
        out[f"{label}_difference"] = difference_stats(plan[kpi] - base[kpi], expected=expected)
    for kpi in ("revenue_crossover_month", "cash_crossover_month"):
        stats = kpi_stats(plan[kpi], expected=expected)
        out[kpi] = {
            key: stats[key] for key in ("mean", *(f"p{q}" for q in PERCENTILES), "p_defined")
        }
    return out


class RunningMoments:
    """Count, mean and sum of squared deviations of ``(n, T)`` blocks, merged chunk by chunk.

    Chan, Golub and LeVeque's pairwise update: numerically stable, and the mean of all paths
    is the same whatever blocks they arrive in (up to rounding).
    """

    def __init__(self, months: int):
        self.count = 0
        self.mean = np.zeros(months)
        self.m2 = np.zeros(months)

    def update(self, block: np.ndarray) -> None:
        """Add the paths of ``block``, ``ndarray(float64, (n, T))``."""
        n = block.shape[0]
        if n == 0:
            return
        mean = block.mean(axis=0)
        m2 = ((block - mean) ** 2).sum(axis=0)
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    @property
    def se(self) -> np.ndarray:
        """Standard error of the mean, ``(T,)``; NaN with fewer than 2 paths."""
        if self.count < 2:
            return np.full(self.mean.shape, np.nan)
        return np.sqrt(self.m2 / (self.count - 1) / self.count)


def series_percentiles(kept: np.ndarray) -> dict[str, np.ndarray]:
    """``p5, p25, p50, p75, p95`` of a series over the kept paths, each ``(T,)``.

    Parameters
    ----------
    kept : ndarray(float64, (kept, T))
    """
    points = np.percentile(kept, SERIES_PERCENTILES, axis=0)
    return {f"p{q}": points[i] for i, q in enumerate(SERIES_PERCENTILES)}
