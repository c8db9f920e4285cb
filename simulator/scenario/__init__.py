"""Scenario layer: YAML file -> validated, typed :class:`Scenario`."""

from simulator.scenario.errors import Problem, ScenarioError
from simulator.scenario.loader import DEFAULT_SCENARIO, load_scenario, load_text
from simulator.scenario.model import Scenario
from simulator.scenario.uncertain import Kind, Uncertain

__all__ = ["DEFAULT_SCENARIO", "Kind", "Problem", "Scenario", "ScenarioError", "Uncertain", "load_scenario", "load_text"]
