"""Uniform designs: the ``(paths, inputs)`` uniforms behind every per-path draw.

Three methods, chosen by the scenario's ``simulation.sampling``:

``random``
    Independent uniforms from ``numpy.random.Generator.random``.
``latin_hypercube``
    ``scipy.stats.qmc.LatinHypercube``: each column has exactly one point in each of the
    ``paths`` equal bins of (0, 1), placed at random within its bin.
``sobol``
    Scrambled Sobol' points, ``scipy.stats.qmc.Sobol(scramble=True)``. Their balance (each
    column stratified into ``paths`` equal bins, low discrepancy of the whole design) holds
    only when ``paths`` is a power of two; for other path counts the first ``paths`` points
    are used, balance is lost (the estimate is still unbiased, its error just shrinks less
    quickly) and scipy's warning about it is silenced.

Every uniform is kept strictly inside (0, 1), clipped to ``[2**-53, 1 - 2**-53]``, so that a
quantile function never returns an infinite value.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

from simulator.scenario.model import SamplingMethod

__all__ = ["EPSILON", "as_method", "uniform_design"]

EPSILON = 2.0**-53
"""Smallest distance kept between a uniform and 0 or 1 (``1 - EPSILON`` is the float below 1)."""


def as_method(method: SamplingMethod | str) -> SamplingMethod:
    """The sampling method as the enum, from the enum or its name.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    try:
        return SamplingMethod(method)
    except ValueError:
        known = ", ".join(m.value for m in SamplingMethod)
        raise ValueError(f"unknown sampling method {method!r}; choose one of {known}") from None


def uniform_design(
    paths: int, dims: int, method: SamplingMethod | str, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``paths`` points of a ``dims``-dimensional uniform design.

    Parameters
    ----------
    paths : int
        Number of points (rows), >= 1.
    dims : int
        Number of inputs (columns), >= 0.
    method : SamplingMethod or str
        ``random``, ``latin_hypercube`` or ``sobol``.
    rng : numpy.random.Generator
        The only source of randomness (also scrambles Latin hypercube and Sobol' designs).

    Returns
    -------
    ndarray(float64, (paths, dims))
        Uniforms strictly inside (0, 1).
    """
    if isinstance(paths, bool) or not isinstance(paths, (int, np.integer)) or paths < 1:
        raise ValueError(f"paths must be a whole number >= 1, got {paths!r}")
    method = as_method(method)
    if dims == 0:
        return np.empty((paths, 0))
    if method is SamplingMethod.RANDOM:
        points = rng.random((paths, dims))
    elif method is SamplingMethod.LATIN_HYPERCUBE:
        points = qmc.LatinHypercube(dims, rng=rng).random(paths)
    else:
        points = _sobol(paths, dims, rng)
    return np.clip(points, EPSILON, 1.0 - EPSILON, out=points)


def _sobol(paths: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """Scrambled Sobol' points; balance is lost when ``paths`` is not a power of two."""
    engine = qmc.Sobol(dims, scramble=True, rng=rng)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The balance properties of Sobol", category=UserWarning
        )
        return engine.random(paths)
