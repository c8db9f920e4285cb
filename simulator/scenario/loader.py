"""From a scenario file to a validated :class:`~simulator.scenario.model.Scenario`.

``load_scenario`` reads the YAML (:mod:`.yamlfile`), applies command-line ``--set`` changes,
validates with pydantic, runs the checks that span parts (:mod:`.checks`) and builds each
plan's own scenario (its overrides applied). Every problem becomes one line
``FILE:LINE:COLUMN: field.path: message``; all problems found are reported together.
"""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from simulator.scenario.checks import check_scenario
from simulator.scenario.errors import InputError, Problem, ScenarioError, did_you_mean
from simulator.scenario.model import Scenario
from simulator.scenario.yamlfile import Document, dotted, parse_text, read_document

__all__ = ["load_scenario", "parse_assignment", "DEFAULT_SCENARIO"]

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "data" / "default.yaml"
NOT_PER_PLAN = ("plans", "baseline", "simulation", "correlations", "name", "description")


def load_scenario(path: str | Path | None = None, *, sets: list[str] | None = None) -> Scenario:
    """Read, validate and prepare a scenario.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file; the bundled default scenario when ``None``.
    sets : list of str, optional
        ``"dotted.path=VALUE"`` changes applied before validation (the CLI's ``--set``); VALUE
        is read as YAML (``0.02``, ``"2%"``, ``"{dist: pert, low: 1, mode: 2, high: 4}"``).

    Returns
    -------
    Scenario
        With ``scenario.for_plan(name)`` giving each plan's scenario (overrides applied).

    Raises
    ------
    ScenarioError
        Listing every problem, one line each.
    """
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    document = read_document(path, str(path) if path != DEFAULT_SCENARIO else "default.yaml")
    return build_scenario(document, base_dir=path.parent, sets=sets or [])


def load_text(text: str, name: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario given as YAML text (tests, notebooks)."""
    return build_scenario(parse_text(text, name), base_dir=base_dir or Path.cwd(), sets=[])


def build_scenario(document: Document, *, base_dir: Path, sets: list[str]) -> Scenario:
    """Validate a parsed document, apply ``--set`` changes and prepare each plan's scenario."""
    data = copy.deepcopy(document.data)
    problems = []
    for index, assignment in enumerate(sets, start=1):
        try:
            keys, value = parse_assignment(assignment)
            assign(data, keys, value)
        except InputError as exc:
            problems.append(Problem("--set", index, 1, assignment.split("=", 1)[0].strip(), str(exc)))
    if problems:
        raise ScenarioError(problems)
    context = {"base_dir": base_dir}
    scenario = _validate(data, document, context)
    base_found = check_scenario(scenario)
    problems = [document.problem(p, message) for p, message in base_found]
    plans = {}
    for plan_name, plan in scenario.plans.items():
        if not plan.overrides:
            plans[plan_name] = scenario
            continue
        plans[plan_name], plan_problems = _plan_scenario(
            data, document, plan_name, plan.overrides, context, base_found
        )
        problems += plan_problems
    if problems:
        raise ScenarioError(problems)
    scenario._plan_scenarios = plans
    scenario._source = document.file
    return scenario


def _validate(data: dict, document: Document, context: dict) -> Scenario:
    try:
        return Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        raise ScenarioError(_problems(exc.errors(), data, document)) from None


def _problems(errors: list[dict], data: dict, document: Document) -> list[Problem]:
    """One problem per pydantic error; a missing field explained by a misspelt key is dropped."""
    problems = [_problem(error, data, document) for error in errors]
    misspelt = {p.field.rsplit(".", 1)[0] + "." + p.message.split("did you mean '")[1].split("'")[0]
                for p in problems if "did you mean '" in p.message and p.message.startswith("unknown key")}
    return [p for p in problems if not (p.message == "is required" and p.field in misspelt)]


def _plan_scenario(data, document, plan_name, overrides, context, base_found):
    """Validate ``data`` with a plan's overrides; problems point at the override lines.

    Problems the base scenario has already (``base_found``) are not repeated.
    """
    base = ("plans", plan_name, "overrides")
    changed = copy.deepcopy(data)
    problems = []
    for key, value in overrides.items():
        keys = tuple(_split_path(str(key)))
        try:
            if keys[0] in NOT_PER_PLAN:
                raise InputError(f"{keys[0]} cannot be changed per plan")
            assign(changed, keys, value)
        except InputError as exc:
            problems.append(document.problem((*base, key), str(exc), at_key=True))
    if problems:
        return None, problems
    try:
        plan_scenario = Scenario.model_validate(changed, context=context)
    except ValidationError as exc:
        for error in exc.errors():
            inner = _problem(error, changed, Document(changed, document.file))
            where = _override_for(tuple(error["loc"]), overrides)
            problems.append(document.problem((*base, where), f"{inner.field}: {inner.message}", at_key=True))
        return None, problems
    problems = [document.problem((*base, _override_for(p, overrides)), f"{dotted(p)}: {m}", at_key=True)
                for p, m in check_scenario(plan_scenario) if (p, m) not in base_found]
    return plan_scenario, problems


def _override_for(loc: tuple, overrides: dict) -> str:
    """The override key whose path is the longest prefix of ``loc`` (or the first key)."""
    best = next(iter(overrides))
    best_len = -1
    for key in overrides:
        keys = tuple(_split_path(str(key)))
        if tuple(str(x) for x in loc[: len(keys)]) == tuple(str(k) for k in keys) and len(keys) > best_len:
            best, best_len = key, len(keys)
    return best


def parse_assignment(text: str) -> tuple[tuple, Any]:
    """``"offers.saas.price_per_seat_month=45"`` -> (keys, value), the value read as YAML."""
    if "=" not in text:
        raise InputError("expected PATH=VALUE, e.g. offers.saas.price_per_seat_month=45")
    path, value_text = (part.strip() for part in text.split("=", 1))
    try:
        value = yaml.safe_load(value_text) if value_text else None
    except yaml.YAMLError:
        raise InputError(f"cannot read the value {value_text!r}") from None
    return tuple(_split_path(path)), value


def _split_path(path: str) -> list:
    parts = [p for p in path.split(".")]
    if not path or any(not p for p in parts):
        raise InputError(f"{path!r} is not a dotted path such as offers.saas.price_per_seat_month")
    return [int(p) if p.isdigit() else p for p in parts]


def assign(data: dict, keys: tuple, value: Any) -> None:
    """Set ``data[k0][k1]... = value``; a missing key is created only where the model has that field."""
    node: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        here = dotted(keys[:depth]) or "the scenario"
        if isinstance(node, list):
            if not isinstance(key, int) or not 0 <= key < len(node):
                raise InputError(f"{here} is a list of {len(node)}; {key!r} is not an index in it")
        elif isinstance(node, dict):
            if key not in node:
                known = set(node) | set(model_fields_at(data, keys[:depth]))
                if key not in known:
                    raise InputError(f"no field {key!r} in {here}{did_you_mean(str(key), known)}")
                if not last:
                    node[key] = {}
        else:
            raise InputError(f"{here} holds a single value, not {key!r}")
        if last:
            node[key] = value
        else:
            node = node[key]


def model_fields_at(data: dict, path: tuple) -> list[str]:
    """Field names of the scenario part found at ``path`` in ``data`` (empty if not a part)."""
    annotation: Any = Scenario
    node: Any = data
    for key in path:
        model = _model_in(annotation, node)
        if model is not None:
            if key not in model.model_fields:
                return []
            annotation = model.model_fields[key].annotation
        else:
            annotation = _container_item(annotation)
        node = node.get(key) if isinstance(node, dict) else None
    model = _model_in(annotation, node)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation stands for, choosing a union member by ``type``."""
    candidates = [a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(candidates) > 1 and isinstance(node, dict):
        tagged = [c for c in candidates if node.get("type") in typing.get_args(c.model_fields.get("type").annotation)
                  ] if all("type" in c.model_fields for c in candidates) else []
        return tagged[0] if tagged else None
    return candidates[0] if len(candidates) == 1 else None


def _container_item(annotation: Any) -> Any:
    for member in _flatten(annotation):
        origin = typing.get_origin(member)
        if origin is dict:
            return typing.get_args(member)[1]
        if origin is list:
            return typing.get_args(member)[0]
    return None


def _flatten(annotation: Any) -> list:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [m for arg in typing.get_args(annotation) for m in _flatten(arg)]
    return [annotation]


# --------------------------------------------------------------------------------------------
# pydantic errors -> one-line problems
# --------------------------------------------------------------------------------------------


def _problem(error: dict, data: dict, document: Document) -> Problem:
    loc = _data_path(tuple(error["loc"]), data)
    kind = error["type"]
    if kind == "value_error" and isinstance(error.get("ctx", {}).get("error"), InputError):
        loc = (*loc, *error["ctx"]["error"].subpath)
    if kind == "extra_forbidden":
        allowed = model_fields_at(data, loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        choices = f"; expected one of: {', '.join(allowed)}" if allowed and not hint else ""
        return document.problem(loc, f"unknown key {loc[-1]!r}{hint}{choices}", at_key=True)
    if kind.startswith("union_tag"):
        loc = (*loc, "type") if kind == "union_tag_invalid" else loc
    if kind == "missing":
        return document.problem(loc, "is required", at_key=True)
    return document.problem(loc, _message(error), at_key=isinstance(_get(data, loc), (dict, list)))


def _message(error: dict) -> str:
    kind, message = error["type"], error["msg"]
    ctx = error.get("ctx", {})
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "")
        return f"unknown type {ctx.get('tag')!r}{did_you_mean(str(ctx.get('tag')), tags.replace(chr(39), '').split(', '))}; expected {tags}"
    if kind == "union_tag_not_found":
        return "needs 'type': subscription, perpetual or term"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys, got {_shown(error.get('input'))}"
    return f"{message[0].lower()}{message[1:]}, got {_shown(error.get('input'))}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _data_path(loc: tuple, data: dict) -> tuple:
    """Drop the parts of a pydantic location that are not in the file (union tags, etc.)."""
    path: list = []
    node: Any = data
    for key in loc:
        if isinstance(node, dict) and key not in node and node.get("type") == key:
            continue
        if isinstance(node, dict) and key == "[key]":
            continue
        if isinstance(key, str) and key.startswith("function-"):
            continue
        path.append(key)
        node = node.get(key) if isinstance(node, dict) else (
            node[key] if isinstance(node, list) and isinstance(key, int) and key < len(node) else None)
    return tuple(path)


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(data, dict):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return None
    return data
