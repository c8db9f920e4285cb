"""Per-path draws of a scenario's uncertain inputs, shared by all plans.

Every uncertain input that is drawn once per path gets one column of uniforms; a plan reads
its values as ``dist.ppf`` of that column. A plan that replaces an input's distribution reads
the *same* column through its own distribution (common random numbers by quantile coupling):
path ``i`` sits at the same quantile of the input in every plan, so plans stay paired.

Randomness
----------
One seed feeds one ``numpy.random.SeedSequence`` tree. Spawn keys:

``(0,)``
    Input sampling (:data:`INPUT_SPAWN_KEY`): the uniform design, including the scrambling
    of Latin hypercube and Sobol' designs. The rank-correlation step uses no randomness.
any other key
    Free for the engine (process noise: leads, conversions, churn, deal sizes), e.g.
    ``SeedSequence(seed, spawn_key=(1, chunk))``. Changing the engine's streams never moves
    the input draws.

The same seed, path count and method give identical draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.sampling.correlation import impose_rank_correlation
from simulator.sampling.design import as_method, uniform_design
from simulator.scenario.inputs import correlation_matrix, uncertain_inputs
from simulator.scenario.model import SamplingMethod, Scenario
from simulator.scenario.uncertain import Uncertain

__all__ = [
    "INPUT_SPAWN_KEY",
    "Draws",
    "input_rng",
    "input_names",
    "sample_inputs",
    "expected_inputs",
]

INPUT_SPAWN_KEY = (0,)
"""Spawn key of the input-sampling stream in the seed's ``SeedSequence`` tree."""


@dataclass(frozen=True, eq=False)
class Draws:
    """Uniforms of every per-path uncertain input, and each plan's values from them.

    Attributes
    ----------
    names : list of str
        Dotted paths of the inputs, one per column: the base scenario's in file order, then
        those that exist only in some plan's scenario (a plan override can turn a fixed value
        into a distribution), in plan order.
    uniforms : ndarray(float64, (paths, len(names)))
        Strictly inside (0, 1), rank-correlated as the scenario says.
    plan_inputs : dict of str to dict of str to Uncertain
        For each plan, its per-path uncertain inputs (``{dotted.path: Uncertain}``).
    method : SamplingMethod
        How the uniforms were spread.
    seed : int
        The seed they were drawn from.
    """

    names: list[str]
    uniforms: np.ndarray
    plan_inputs: dict[str, dict[str, Uncertain]]
    method: SamplingMethod
    seed: int

    @property
    def paths(self) -> int:
        """Number of paths (rows of :attr:`uniforms`)."""
        return self.uniforms.shape[0]

    def column(self, name: str) -> int:
        """The column of input ``name`` in :attr:`uniforms`."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no uncertain input named {name!r}") from None

    def values(self, plan: str, rows: slice | None = None) -> dict[str, np.ndarray]:
        """The plan's per-path uncertain inputs, each ``dist.ppf`` of its input's uniforms.

        Parameters
        ----------
        plan : str
            A plan of the scenario.
        rows : slice, optional
            Only these paths (e.g. one chunk of the engine); all paths when ``None``.

        Returns
        -------
        dict of str to ndarray(float64, (paths,))
            One entry per uncertain input of ``scenario.for_plan(plan)``, in file order. Inputs
            the plan fixes are absent (the engine reads their fixed value).
        """
        if plan not in self.plan_inputs:
            raise KeyError(f"no plan named {plan!r}; plans are {', '.join(self.plan_inputs)}")
        rows = slice(None) if rows is None else rows
        return {
            name: value.ppf(self.uniforms[rows, self.column(name)])
            for name, value in self.plan_inputs[plan].items()
        }


def input_rng(seed: int) -> np.random.Generator:
    """The input-sampling generator: ``SeedSequence(seed, spawn_key=INPUT_SPAWN_KEY)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=INPUT_SPAWN_KEY))


def input_names(
    plan_inputs: dict[str, dict[str, Uncertain]], base: dict[str, Uncertain]
) -> list[str]:
    """Column names: the base scenario's inputs, then each plan's new ones, without repeats.

    Parameters
    ----------
    plan_inputs : dict of str to dict of str to Uncertain
        Each plan's per-path uncertain inputs.
    base : dict of str to Uncertain
        The base scenario's per-path uncertain inputs.

    Returns
    -------
    list of str
    """
    names = dict.fromkeys(base)
    for inputs in plan_inputs.values():
        names.update(dict.fromkeys(name for name in inputs if name not in names))
    return list(names)


def sample_inputs(
    scenario: Scenario,
    paths: int | None = None,
    seed: int | None = None,
    method: SamplingMethod | str | None = None,
) -> Draws:
    """Draw every per-path uncertain input of every plan once per path.

    Parameters
    ----------
    scenario : Scenario
        A loaded scenario (``scenario.for_plan`` gives each plan's own scenario).
    paths : int, optional
        Number of paths; ``scenario.simulation.paths`` when ``None``.
    seed : int, optional
        Seed of the ``SeedSequence`` tree; ``scenario.simulation.seed`` when ``None``.
    method : SamplingMethod or str, optional
        ``random``, ``latin_hypercube`` or ``sobol``; ``scenario.simulation.sampling`` when
        ``None``.

    Returns
    -------
    Draws
        ``uniforms`` is one ``ndarray(float64, (paths, len(names)))``.

    Raises
    ------
    ValueError
        For an unknown method, a bad path count, a correlation naming an input that is not
        drawn per path, or correlations that are not positive semi-definite.
    """
    paths = scenario.simulation.paths if paths is None else paths
    seed = scenario.simulation.seed if seed is None else seed
    method = as_method(scenario.simulation.sampling if method is None else method)
    plan_inputs = {plan: uncertain_inputs(scenario.for_plan(plan)) for plan in scenario.plans}
    names = input_names(plan_inputs, uncertain_inputs(scenario))
    uniforms = uniform_design(paths, len(names), method, input_rng(seed))
    correlated, target = _correlation_target(scenario, names)
    if correlated:
        impose_rank_correlation(uniforms, target, [names.index(name) for name in correlated])
    return Draws(names, uniforms, plan_inputs, method, seed)


def expected_inputs(scenario: Scenario, plan: str) -> dict[str, np.ndarray]:
    """Every per-path uncertain input of ``plan`` at its mean (expected-value mode).

    Returns
    -------
    dict of str to ndarray(float64, (1,))
        Same keys as ``sample_inputs(scenario).values(plan)``: one path at the means.
    """
    inputs = uncertain_inputs(scenario.for_plan(plan))
    return {name: np.array([value.mean], dtype=float) for name, value in inputs.items()}


def _correlation_target(scenario: Scenario, names: list[str]) -> tuple[list[str], np.ndarray]:
    """The correlated inputs (in column order) and their Spearman matrix, ``(m, m)``."""
    pairs = [(*c.between, c.rank) for c in scenario.correlations]
    unknown = sorted({n for a, b, _ in pairs for n in (a, b)} - set(names))
    if unknown:
        raise ValueError(f"correlations name {', '.join(unknown)}, not inputs drawn per path")
    correlated = [name for name in names if any(name in (a, b) for a, b, _ in pairs)]
    return correlated, correlation_matrix(correlated, pairs)
