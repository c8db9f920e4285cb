"""From a scenario file to a validated :class:`~simulator.scenario.model.Scenario`.

``load_scenario`` reads the YAML (:mod:`.yamlfile`), applies command-line ``--set`` changes,
validates with pydantic, runs the checks that span parts (:mod:`.checks`) and builds each
plan's own scenario (its overrides applied). Every problem becomes one line
``FILE:LINE:COLUMN: field.path: message``; all problems found are reported together.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from simulator.scenario.checks import check_scenario
from simulator.scenario.errors import InputError, Problem, ScenarioError, closest, did_you_mean
from simulator.scenario.model import Scenario
from simulator.scenario.yamlfile import Document, dotted, parse_text, read_document, value_at

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
    set_paths = _apply_sets(data, sets)
    context = {"base_dir": base_dir}
    try:
        scenario = _validate(data, document, context)
        base_found = check_scenario(scenario)
        problems = [document.problem(f.path, f.message, at_key=f.at_key) for f in base_found]
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
    except ScenarioError as exc:
        raise ScenarioError(_blame_sets(exc.problems, set_paths)) from None
    scenario._plan_scenarios = plans
    scenario._source = document.file
    return scenario


def _apply_sets(data: dict, sets: list[str]) -> dict[str, int]:
    """Apply ``--set`` assignments to ``data``; return ``{dotted path: position}`` of each."""
    problems, paths = [], {}
    for index, assignment in enumerate(sets, start=1):
        try:
            keys, value = parse_assignment(assignment)
            assign(data, keys, value)
            paths[dotted(keys)] = index
        except InputError as exc:
            problems.append(
                Problem("--set", index, 1, assignment.split("=", 1)[0].strip(), str(exc))
            )
    if problems:
        raise ScenarioError(problems)
    return paths


def _blame_sets(problems: list[Problem], set_paths: dict[str, int]) -> list[Problem]:
    """Problems in a value changed by ``--set`` point at that assignment, not at the file."""
    out = []
    for problem in problems:
        field = problem.field
        hits = [i for path, i in set_paths.items() if f"{field}.".startswith(f"{path}.")]
        out.append(Problem("--set", hits[-1], 1, field, problem.message) if hits else problem)
    return out


def _validate(data: dict, document: Document, context: dict) -> Scenario:
    try:
        return Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        raise ScenarioError(_problems(exc.errors(), data, document)) from None


def _problems(errors: list[dict], data: dict, document: Document) -> list[Problem]:
    """One problem per pydantic error, in file order, without repeats.

    A required field reported missing because its key is misspelt (``price_per_seat_mnth``)
    is left out: the unknown key's "did you mean" already says it.
    """
    located = [(_data_path(tuple(error["loc"]), data), error) for error in errors]
    misspelt = {
        (*loc[:-1], closest(str(loc[-1]), model_fields_at(data, loc[:-1])))
        for loc, error in located
        if error["type"] in _UNKNOWN_KEY
    }
    problems = [
        _problem(error, loc, data, document)
        for loc, error in located
        if not (error["type"] == "missing" and loc in misspelt)
    ]
    return sorted(dict.fromkeys(problems), key=lambda p: (p.line, p.column))


def _plan_scenario(data, document, plan_name, overrides, context, base_found):
    """Validate ``data`` with a plan's overrides; problems point at the override lines.

    Problems the base scenario has already (``base_found``) are not repeated.
    """
    base = ("plans", plan_name, "overrides")
    changed = copy.deepcopy(data)
    problems = []
    for key, value in overrides.items():
        try:
            keys = tuple(_split_path(str(key)))
            if keys[0] in NOT_PER_PLAN:
                allowed = ", ".join(k for k in Scenario.model_fields if k not in NOT_PER_PLAN)
                raise InputError(
                    f"{keys[0]} cannot be changed per plan; a plan may override {allowed}"
                )
            assign(changed, keys, value)
        except InputError as exc:
            problems.append(document.problem((*base, key), str(exc), at_key=True))
    if problems:
        return None, problems
    try:
        plan_scenario = Scenario.model_validate(changed, context=context)
    except ValidationError as exc:
        inner = Document(changed, document.file)
        for error in exc.errors():
            loc = _data_path(tuple(error["loc"]), changed)
            found = _problem(error, loc, changed, inner)
            problems.append(
                _at_override(document, base, overrides, loc, found.field, found.message)
            )
        return None, list(dict.fromkeys(problems))
    base_messages = {(f.path, f.message) for f in base_found}
    problems = [
        _at_override(document, base, overrides, f.path, dotted(f.path), f.message)
        for f in check_scenario(plan_scenario)
        if (f.path, f.message) not in base_messages
    ]
    return plan_scenario, problems


def _at_override(
    document: Document, base: tuple, overrides: dict, loc: tuple, field: str, message: str
) -> Problem:
    """A plan's problem at ``loc``, reported at the override that caused it.

    The field is the override's; the message names the inner field when it lies deeper.
    """
    key = _override_for(loc, overrides)
    if field != str(key):
        message = f"{field}: {message}"
    return document.problem((*base, key), message, at_key=True)


def _override_for(loc: tuple, overrides: dict) -> str:
    """The override key whose path is the longest prefix of ``loc`` (or the first key)."""
    best, best_len = next(iter(overrides)), -1
    wanted = tuple(str(x) for x in loc)
    for key in overrides:
        keys = tuple(str(k) for k in str(key).split("."))
        if wanted[: len(keys)] == keys and len(keys) > best_len:
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
    """Set ``data[k0][k1]... = value``; a missing key is created only where the model has it."""
    node: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        here = dotted(keys[:depth]) or "the scenario"
        if isinstance(node, list):
            if not isinstance(key, int) or not 0 <= key < len(node):
                raise InputError(f"{here} is a list of {len(node)}; {key!r} is not an index in it")
        elif isinstance(node, dict):
            if key not in node:
                known = set(map(str, node)) | set(model_fields_at(data, keys[:depth]))
                if str(key) not in known:
                    raise InputError(f"{here} has no {key!r}{did_you_mean(str(key), known)}")
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
    model = _model_at(data, path)
    return list(model.model_fields) if model is not None else []


def _model_at(data: dict, path: tuple) -> type[BaseModel] | None:
    """The pydantic model of the scenario part at ``path`` (``None`` if it is not a part)."""
    annotation: Any = Scenario
    node: Any = data
    for key in path:
        model = _model_in(annotation, node)
        if model is not None:
            if key not in model.model_fields:
                return None
            annotation = model.model_fields[key].annotation
        else:
            annotation = _container_item(annotation)
        node = value_at(node, (key,))
    return _model_in(annotation, node)


def _field_info(data: dict, path: tuple) -> FieldInfo | None:
    """The pydantic field at ``path`` when its parent is a model, else ``None``."""
    if not path:
        return None
    model = _model_at(data, path[:-1])
    if model is None or not isinstance(path[-1], str):
        return None
    return model.model_fields.get(path[-1])


def _model_in(annotation: Any, node: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation stands for, choosing a union member by ``type``."""
    members = _flatten(annotation)
    candidates = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(candidates) > 1 and isinstance(node, dict):
        tag = node.get("type")
        tagged = [c for c in candidates if "type" in c.model_fields
                  and tag in typing.get_args(c.model_fields["type"].annotation)]
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
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _flatten(arg)]
    return [annotation]


# --------------------------------------------------------------------------------------------
# pydantic errors -> one-line problems in plain words
# --------------------------------------------------------------------------------------------

_UNKNOWN_KEY = ("extra_forbidden", "invalid_key")
_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}
_BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
_BOUND_WORDS = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}


def _problem(error: dict, loc: tuple, data: dict, document: Document) -> Problem:
    """One pydantic error as a located problem; ``loc`` is its path in ``data``."""
    kind = error["type"]
    cause = (error.get("ctx") or {}).get("error")
    if kind == "value_error" and isinstance(cause, InputError):
        loc = (*loc, *cause.subpath)
        if cause.at_key is not None:
            return document.problem(loc, _message(error, loc, data), at_key=cause.at_key)
    if kind in _UNKNOWN_KEY:
        return document.problem(loc, _unknown_key(loc, data), at_key=True)
    if kind == "missing" and loc and isinstance(loc[-1], int):
        return document.problem(loc[:-1], _length_message(error, loc[:-1], data))
    if kind == "missing":
        return document.problem(loc, _required(loc, data), at_key=True)
    if kind == "union_tag_invalid":
        return document.problem((*loc, "type"), _message(error, loc, data))
    message = _message(error, loc, data)
    if "[key]" in error["loc"]:
        return document.problem(loc, f"invalid key: {message}", at_key=True)
    return document.problem(loc, message)


def _unknown_key(loc: tuple, data: dict) -> str:
    allowed = model_fields_at(data, loc[:-1])
    hint = did_you_mean(str(loc[-1]), allowed)
    choices = f"; expected one of: {', '.join(allowed)}" if allowed and not hint else ""
    return f"unknown key {loc[-1]!r}{hint}{choices}"


def _required(loc: tuple, data: dict) -> str:
    """``is required (what the field is, in its unit)`` from the field's documentation."""
    info = _field_info(data, loc)
    if info is None or not info.description:
        return "is required"
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    unit = f", in {extra['x-unit']}" if extra.get("x-unit") else ""
    return f"is required ({info.description.rstrip('.')}{unit})"


def _message(error: dict, loc: tuple, data: dict) -> str:
    """What is wrong, in plain words, from a pydantic error."""
    kind, raw = error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    got = _shown(raw)
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind in ("literal_error", "enum"):
        return _choice_message(ctx.get("expected", ""), raw)
    if kind in _BOUND_ERRORS:
        return f"must be {_bounds_text(_field_info(data, loc), ctx)}, got {got}"
    if kind in ("too_short", "too_long"):
        return _length_message(error, loc, data)
    if kind == "union_tag_invalid":
        return _choice_message(ctx.get("expected_tags", ""), ctx.get("tag"), what="type")
    if kind == "union_tag_not_found":
        return "needs a 'type': subscription, perpetual or term"
    message = str(error["msg"]).replace("Input should be", "must be")
    return f"{message[0].lower()}{message[1:]}, got {got}"


def _choice_message(expected: str, raw: Any, what: str = "value") -> str:
    """``unknown value 'x' (did you mean 'y'?); choose one of a, b, c``."""
    choices = ", ".join(re.findall(r"'([^']*)'", expected))
    if raw is None:
        return f"is empty; choose one of {choices}"
    hint = did_you_mean(str(raw), choices.split(", "))
    return f"unknown {what} {_shown(raw)}{hint}; choose one of {choices}"


def _bounds_text(info: FieldInfo | None, ctx: dict) -> str:
    """``between 0 and 1``, ``at least 1``, ``at least 0 and below 1``: the field's bounds."""
    bounds = {name: ctx[name] for name in _BOUND_WORDS if name in ctx}
    for item in info.metadata if info is not None else ():
        for name in _BOUND_WORDS:
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    if "ge" in bounds and "le" in bounds:
        return f"between {_number(bounds['ge'])} and {_number(bounds['le'])}"
    return " and ".join(f"{_BOUND_WORDS[name]} {_number(value)}" for name, value in bounds.items())


def _length_message(error: dict, loc: tuple, data: dict) -> str:
    """``needs exactly 12 values, got 2``, from the field's length bounds."""
    value = value_at(data, loc)
    low, high = _length_bounds(_field_info(data, loc), error.get("ctx") or {})
    if low is not None and low == high:
        need = f"exactly {low}"
    elif error["type"] == "too_long":
        need = f"at most {high}"
    else:
        need = f"at least {low}"
    one, many = ("entry", "entries") if isinstance(value, dict) else ("value", "values")
    sized = isinstance(value, (dict, list))
    count = len(value) if sized else (error.get("ctx") or {}).get("actual_length")
    return f"needs {need} {one if need.endswith(' 1') else many}, got {count}"


def _length_bounds(info: FieldInfo | None, ctx: dict) -> tuple[int | None, int | None]:
    low, high = ctx.get("min_length"), ctx.get("max_length")
    if info is None:
        return low, high
    args = typing.get_args(info.annotation)
    if typing.get_origin(info.annotation) is tuple and args and Ellipsis not in args:
        return len(args), len(args)
    for item in info.metadata:
        low = getattr(item, "min_length", None) or low
        high = getattr(item, "max_length", None) or high
    return low, high


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _shown(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _data_path(loc: tuple, data: dict) -> tuple:
    """The path in the file of a pydantic location (union tags, validators, ``[key]`` dropped)."""
    path: list = []
    node: Any = data
    for key in loc:
        if key == "[key]" or (isinstance(key, str) and key.startswith("function-")):
            continue
        if isinstance(node, dict) and key not in node and node.get("type") == key:
            continue
        if isinstance(node, dict) and key in node:
            key = next(k for k in node if k == key)  # as written: pydantic shows a key `yes` as 1
        path.append(key)
        node = value_at(node, (key,))
    return tuple(path)
