"""Monte Carlo cash-flow simulator for software businesses (SaaS, perpetual, term, hybrid).

Flow: scenario (YAML -> typed objects) -> sampling (per-path draws) -> engine (kernels)
-> results (KPIs, tables) -> outputs (charts, report) -> cli.
"""

from simulator.results import simulate
from simulator.scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"
__all__ = ["Scenario", "ScenarioError", "load_scenario", "simulate", "__version__"]
