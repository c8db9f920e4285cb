"""Running every plan of a scenario over its paths, chunk by chunk.

A chunk is a range of paths; for each chunk every plan runs on the same rows of the input
draws and the same per-path seeds, so plans are paired path by path. Seeds depend only on the
scenario seed and the path's index, so the numbers do not depend on the chunk size or on the
number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from simulator.engine import kernel_nb
from simulator.engine.inputs import EngineInputs, build_inputs, max_win_rate_factor
from simulator.engine.layout import EngineOutput, derive_series
from simulator.sampling import Draws, expected_inputs, sample_inputs
from simulator.scenario.model import Scenario

__all__ = ["Chunk", "PlanChunk", "path_seeds", "run_chunks", "FUNNEL_SPAWN_KEY", "CUSTOMER_SPAWN_KEY"]

FUNNEL_SPAWN_KEY = (1,)
"""Spawn key of the per-path seeds of funnel, volatility and market draws."""
CUSTOMER_SPAWN_KEY = (2,)
"""Spawn key of the per-path keys of customer draws."""

Engine = Callable[[EngineInputs, bool, np.ndarray], EngineOutput]


@dataclass(frozen=True)
class PlanChunk:
    """One plan's results on one chunk of paths.

    Attributes
    ----------
    inputs : EngineInputs
    output : EngineOutput
    series : dict of str to ndarray(float64, (n, T))
        Every series of MODEL.md §4 (``layout.SERIES``).
    """

    inputs: EngineInputs
    output: EngineOutput
    series: dict[str, np.ndarray]


@dataclass(frozen=True)
class Chunk:
    """All plans on paths ``rows`` (a slice of the run's paths)."""

    rows: slice
    plans: dict[str, PlanChunk]


def path_seeds(seed: int, paths: int) -> np.ndarray:
    """Per-path seeds, ``ndarray(uint64, (paths, 2))``: funnel seed (< 2**32), customer key.

    The first k rows are the same whatever ``paths`` is (``SeedSequence.generate_state`` is
    prefix-stable), so a path's numbers depend only on the seed and its index.
    """
    funnel = np.random.SeedSequence(seed, spawn_key=FUNNEL_SPAWN_KEY).generate_state(paths, np.uint32)
    customers = np.random.SeedSequence(seed, spawn_key=CUSTOMER_SPAWN_KEY).generate_state(paths, np.uint64)
    return np.stack([funnel.astype(np.uint64), customers], axis=1)


def run_chunks(scenario: Scenario, *, paths: int, seed: int, expected: bool = False, chunk_size: int = 2000,
               engine: Engine = kernel_nb.run, draws: Draws | None = None) -> Iterator[Chunk]:
    """Simulate all plans, yielding one :class:`Chunk` per range of paths.

    Parameters
    ----------
    scenario : Scenario
    paths : int
        Number of paths (1 in expected-value mode, whatever is asked).
    seed : int
    expected : bool
        Expected-value mode: inputs at their means, counts at their expectations, one path.
    chunk_size : int
        Paths per chunk; bounds memory, not the results.
    engine : callable
        ``kernel_nb.run`` (default) or ``reference.run``.
    draws : Draws, optional
        Per-path input draws (``sample_inputs``); drawn here when not given.
    """
    plans = list(scenario.plans)
    if expected:
        values = {plan: expected_inputs(scenario, plan) for plan in plans}
        factor = max_win_rate_factor(scenario, values, 1)
        yield _chunk(scenario, slice(0, 1), values, factor, np.zeros((1, 2), np.uint64), True, engine)
        return
    draws = draws if draws is not None else sample_inputs(scenario, paths=paths, seed=seed)
    seeds = path_seeds(seed, paths)
    for start in range(0, paths, chunk_size):
        rows = slice(start, min(paths, start + chunk_size))
        values = {plan: draws.values(plan, rows) for plan in plans}
        factor = max_win_rate_factor(scenario, values, rows.stop - rows.start)
        yield _chunk(scenario, rows, values, factor, seeds[rows], False, engine)


def _chunk(scenario: Scenario, rows: slice, values: dict, factor: np.ndarray, seeds: np.ndarray,
           expected: bool, engine: Engine) -> Chunk:
    n = rows.stop - rows.start
    out = {}
    for plan, plan_values in values.items():
        inputs = build_inputs(scenario, plan, plan_values, n, factor)
        output = engine(inputs, expected, seeds)
        out[plan] = PlanChunk(inputs, output, derive_series(output, inputs, expected))
    return Chunk(rows, out)
