"""The scenario's numbers by dotted path: what can be drawn, overridden and correlated."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import BaseModel

from simulator.scenario.uncertain import Uncertain
from simulator.scenario.values import Schedule

__all__ = ["iter_values", "uncertain_inputs", "correlation_matrix"]


def iter_values(part: object, path: tuple = ()) -> Iterator[tuple[tuple, Uncertain]]:
    """Every :class:`Uncertain` in a scenario part, with its path (schedule points included).

    A schedule point's path ends in ``("schedule", month)``, as it is written in the file.
    """
    if isinstance(part, Uncertain):
        yield path, part
    elif isinstance(part, Schedule):
        for month, value in zip(part.months, part.values):
            yield (*path, "schedule", month), value
    elif isinstance(part, BaseModel):
        for name in type(part).model_fields:
            yield from iter_values(getattr(part, name), (*path, name))
    elif isinstance(part, dict):
        for key, value in part.items():
            yield from iter_values(value, (*path, key))
    elif isinstance(part, (list, tuple)):
        for index, value in enumerate(part):
            yield from iter_values(value, (*path, index))


def uncertain_inputs(part: object) -> dict[str, Uncertain]:
    """The inputs drawn once per path: ``{dotted.path: Uncertain}`` in file order.

    Fixed values and per-customer distributions (seats) are left out; plan overrides are
    not visited (each plan's own scenario is walked instead).
    """
    out = {}
    for path, value in iter_values(part):
        if "overrides" in path or value.is_fixed or getattr(value, "per_customer", False):
            continue
        out[".".join(map(str, path))] = value
    return out


def correlation_matrix(names: list[str], pairs: list[tuple[str, str, float]]) -> np.ndarray:
    """Rank-correlation matrix over ``names`` from ``(a, b, rho)`` pairs; identity elsewhere.

    Returns
    -------
    ndarray(float64, (len(names), len(names)))
    """
    index = {name: i for i, name in enumerate(names)}
    matrix = np.eye(len(names))
    for a, b, rho in pairs:
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
    return matrix
