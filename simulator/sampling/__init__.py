"""Sampling layer: per-path draws of uncertain inputs, spread and rank-correlated.

``sample_inputs(scenario)`` draws one column of uniforms per uncertain input (random, Latin
hypercube or Sobol'), rank-correlates the columns the scenario correlates (Iman–Conover) and
returns :class:`Draws`, from which each plan reads its values through its own distributions.
``expected_inputs(scenario, plan)`` gives the same inputs at their means.
"""

from simulator.sampling.correlation import impose_rank_correlation, spearman_to_pearson
from simulator.sampling.design import uniform_design
from simulator.sampling.draws import (
    INPUT_SPAWN_KEY,
    Draws,
    expected_inputs,
    input_rng,
    sample_inputs,
)

__all__ = [
    "INPUT_SPAWN_KEY",
    "Draws",
    "expected_inputs",
    "impose_rank_correlation",
    "input_rng",
    "sample_inputs",
    "spearman_to_pearson",
    "uniform_design",
]
