"""The example scenarios and the generated scenario reference stay in step with the model."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from simulator.scenario import load_scenario
from simulator.scenario.model import Scenario
from simulator.scenario.reference import COMMAND, main, render_reference
from simulator.scenario.schema import json_schema

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
EXAMPLES = sorted(SCENARIOS.glob("*.yaml"))
REFERENCE = ROOT / "docs" / "scenario-reference.md"


def test_examples_are_found():
    names = {path.name for path in EXAMPLES}
    expected = {"isv_transition.yaml", "saas_startup.yaml", "perpetual_vs_saas.yaml",
                "hybrid_licences.yaml"}
    assert expected <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads(path):
    scenario = load_scenario(path)
    assert scenario.plans
    assert scenario.baseline_plan in scenario.plans
    for plan in scenario.plans:
        scenario.for_plan(plan)


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(json_schema())


def test_json_schema_is_valid_draft_2020_12():
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _with_defaults(node, where=""):
    """Every subschema of ``node`` that carries a default, with its JSON pointer."""
    if isinstance(node, dict):
        if "default" in node:
            yield where, node
        for key, child in node.items():
            if key not in ("default", "enum", "const"):
                yield from _with_defaults(child, f"{where}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _with_defaults(child, f"{where}/{index}")


def test_every_default_in_the_schema_is_valid_against_its_own_schema():
    schema = json_schema()
    found = list(_with_defaults(schema))
    assert len(found) > 50
    wrong = []
    for where, node in found:
        own = {key: value for key, value in node.items() if key != "default"}
        own["$defs"] = schema["$defs"]  # for defaults of parts ($ref)
        errors = list(Draft202012Validator(own).iter_errors(node["default"]))
        wrong += [f"{where}: default {node['default']!r}: {e.message}" for e in errors]
    assert not wrong, "\n".join(wrong)


def test_uncertain_defaults_are_written_as_in_a_file():
    finance = json_schema()["$defs"]["Finance"]["properties"]
    assert finance["discount_rate"]["default"] == 0.1
    assert finance["starting_cash"]["default"] == 0.0


@pytest.mark.parametrize(
    "mix, valid",
    [
        ({"saas": 1}, True),
        ({"saas": "60%", "perp": "40%"}, True),
        ({"schedule": {"0": {"perp": 1}, "12": {"saas": 1}}, "interpolation": "step"}, True),
        ({"schedule": {"0": {"perp": 1}}, "interpolaton": "step"}, False),
        ({"schedule": {"first": {"perp": 1}}}, False),
        ({"saas": {"0": 1}}, False),
        ({}, False),
    ],
)
def test_json_schema_of_a_mix_has_both_forms(mix, valid):
    schema = json_schema()
    plan = {**schema["$defs"]["Plan"]["properties"]["mix"], "$defs": schema["$defs"]}
    assert Draft202012Validator(plan).is_valid(mix) is valid


def test_json_schema_investment_months_are_whole_numbers():
    schema = json_schema()
    investments = {**schema["$defs"]["Costs"]["properties"]["investments"],
                   "$defs": schema["$defs"]}
    validator = Draft202012Validator(investments)
    assert validator.is_valid({"0": 1000, "12": "2e6"})
    assert not validator.is_valid({"three": 1000})
    assert not validator.is_valid({"1.5": 1000})


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_matches_json_schema(path, validator):
    # An editor sees the file as JSON: every mapping key is a string (schedule months too).
    data = json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_reference_is_up_to_date():
    expected = render_reference()
    actual = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert actual == expected, (
        f"docs/scenario-reference.md is out of date; regenerate it with: {COMMAND}"
    )


def test_reference_command_writes_the_page(tmp_path):
    out = tmp_path / "reference.md"
    assert main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_reference()


def _parts(model: type[BaseModel], seen: dict) -> dict:
    """Every scenario part reachable from ``model``, walking field annotations."""
    if model in seen:
        return seen
    seen[model] = None
    stack = [field.annotation for field in model.model_fields.values()]
    while stack:
        annotation = stack.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _parts(annotation, seen)
        stack.extend(typing.get_args(annotation))
    return seen


def test_every_field_of_the_model_is_in_the_reference():
    text = REFERENCE.read_text(encoding="utf-8")
    parts = _parts(Scenario, {})
    assert len(parts) > 15
    missing = [f"{part.__name__}.{name}" for part in parts for name in part.model_fields
               if f"| `{name}` |" not in text]
    assert not missing, (
        f"fields missing from docs/scenario-reference.md: {missing}; regenerate it with: {COMMAND}"
    )


def test_reference_lists_every_distribution():
    from simulator.scenario.uncertain import DISTRIBUTIONS

    text = REFERENCE.read_text(encoding="utf-8")
    assert all(f"| `{name}` |" in text for name in DISTRIBUTIONS)


def test_conventions_page_has_an_engine_section():
    text = (ROOT / "docs" / "conventions.md").read_text(encoding="utf-8")
    assert "## Engine conventions" in text
