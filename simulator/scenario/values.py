"""Field types of the scenario model: uncertain numbers, schedules over months and offer mixes.

Each type is an ``Annotated`` pydantic type whose validator parses the YAML value into a small
immutable object (:class:`Uncertain`, :class:`Schedule`, :class:`Mix`) and whose JSON schema
tells editors what may be written there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

from simulator.scenario.errors import InputError, closest
from simulator.scenario.uncertain import (
    DISTRIBUTIONS,
    Kind,
    Uncertain,
    boolean_message,
    check_positive,
    parse_number,
    parse_uncertain,
)

__all__ = [
    "Whole", "Number", "PercentFloat", "Rate", "Amount", "PositiveAmount", "Signed",
    "PerCustomerAmount", "TimeAmount", "Schedule", "Mix", "MixValue",
]

_KIND_DOC = {
    Kind.RATE: "a rate or share between 0 and 1 (percent strings such as '2%' accepted)",
    Kind.AMOUNT: "a non-negative amount",
    Kind.SIGNED: "a number, negative allowed",
}


def _number_schema() -> dict:
    return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*[-+]?[0-9.eE+-]+\s*%?\s*$"}]}


def _no_bool(expected: str):
    """A before-validator refusing YAML booleans (``yes``, ``on``), which pydantic reads as 1/0."""

    def check(raw: Any) -> Any:
        if isinstance(raw, bool):
            raise InputError(boolean_message(raw, expected))
        return raw

    return BeforeValidator(check)


Whole = Annotated[int, _no_bool("a whole number")]
"""A fixed whole number (months, counts, seeds); a boolean is an error, not 1 or 0."""

Number = Annotated[float, _no_bool("a number")]
"""A fixed number; a boolean is an error, not 1.0 or 0.0."""


def uncertain_json_schema(kind: Kind, drawn: str, positive: bool = False) -> dict:
    """JSON schema of an uncertain value: number, percent, interval or named distribution."""
    distribution = {
        "type": "object",
        "required": ["dist"],
        "properties": {"dist": {"enum": list(DISTRIBUTIONS)}},
        "description": "; ".join(f"{k}: {v.doc}" for k, v in DISTRIBUTIONS.items()),
    }
    interval = {
        "type": "object",
        "patternProperties": {r"^p\d{1,2}$": _number_schema()},
        "additionalProperties": False,
        "minProperties": 2,
        "maxProperties": 2,
        "description": "an interval by two quantiles, e.g. {p5: 0.01, p95: 0.03}",
    }
    range_text = {"type": "string", "pattern": r"^.+\s+to\s+.+$", "description": "'1% to 3%': a 90% interval"}
    schema = {
        "anyOf": [*_number_schema()["anyOf"], range_text, interval, distribution],
        "x-kind": kind.value,
        "x-drawn": drawn,
        "description": _KIND_DOC[kind],
    }
    if positive:
        schema.update({"x-positive": True, "description": "a positive amount (> 0)"})
    return schema


def _uncertain_type(kind: Kind, drawn: str = "per path", *, positive: bool = False):
    def validate(raw: Any, info: ValidationInfo) -> Uncertain:
        base_dir = (info.context or {}).get("base_dir")
        value = parse_uncertain(raw, kind, base_dir=base_dir)
        if positive:
            check_positive(value)
        return replace(value, per_customer=True) if drawn == "per customer" else value

    return Annotated[
        Uncertain,
        PlainValidator(validate, json_schema_input_type=Any),
        PlainSerializer(lambda u: u.to_yaml()),
        WithJsonSchema(uncertain_json_schema(kind, drawn, positive)),
    ]


def _percent_float(raw: Any) -> Any:
    return parse_number(raw) if isinstance(raw, (str, bool)) else raw


PercentFloat = Annotated[
    float,
    BeforeValidator(_percent_float),
    WithJsonSchema({**_number_schema(), "description": "a fixed number; percent strings such as '10%' accepted"}),
]
"""A fixed (not uncertain) number that may be written as a percent string."""

Rate = _uncertain_type(Kind.RATE)
Amount = _uncertain_type(Kind.AMOUNT)
PositiveAmount = _uncertain_type(Kind.AMOUNT, positive=True)
Signed = _uncertain_type(Kind.SIGNED)
PerCustomerAmount = _uncertain_type(Kind.AMOUNT, drawn="per customer")

INTERPOLATIONS = ("linear", "step")


@dataclass(frozen=True)
class Schedule:
    """A value that changes over the months: points ``(month, value)``, linear or step in between.

    Before the first point the first value holds, after the last point the last value holds.
    Each point may be uncertain (drawn once per path).
    """

    months: tuple[int, ...]
    values: tuple[Uncertain, ...]
    interpolation: str = "linear"

    def evaluate(self, point_values: np.ndarray, horizon: int) -> np.ndarray:
        """Values for months ``0..horizon-1``.

        Parameters
        ----------
        point_values : ndarray(float64, (..., n_points))
            One value per schedule point (e.g. drawn per path).
        horizon : int

        Returns
        -------
        ndarray(float64, (..., horizon))
        """
        point_values = np.asarray(point_values, dtype=float)
        months = np.arange(horizon)
        if self.interpolation == "step":
            index = np.clip(np.searchsorted(self.months, months, side="right") - 1, 0, None)
            return point_values[..., index]
        flat = point_values.reshape(-1, len(self.months))
        out = np.stack([np.interp(months, self.months, row) for row in flat])
        return out.reshape(*point_values.shape[:-1], horizon)

    def to_yaml(self) -> dict:
        points = {m: v.to_yaml() for m, v in zip(self.months, self.values)}
        return {"schedule": points, "interpolation": self.interpolation}


SCHEDULE_KEYS = ("schedule", "interpolation")


def _parse_schedule(raw: dict, parse_point) -> tuple[tuple[int, ...], tuple[Any, ...], str]:
    unknown = [key for key in raw if key not in SCHEDULE_KEYS]
    if unknown:
        key = unknown[0]
        close = closest(str(key), SCHEDULE_KEYS)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise InputError(
            f"unknown key {key!r} in a schedule{hint}; it takes schedule and interpolation",
            (key,), at_key=True,
        )
    points = raw["schedule"]
    if not isinstance(points, dict) or not points:
        raise InputError("a schedule is a mapping of month: value with at least one month", ("schedule",))
    interpolation = raw.get("interpolation", "linear")
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}",
                         ("interpolation",))
    items = []
    for month, value in points.items():
        if isinstance(month, bool) or not isinstance(month, int) or month < 0:
            raise InputError(f"schedule months are whole numbers >= 0, got {month!r}", ("schedule", month))
        try:
            items.append((month, parse_point(value)))
        except InputError as exc:
            raise InputError(
                str(exc), ("schedule", month, *exc.subpath), at_key=exc.at_key
            ) from None
    items.sort(key=lambda item: item[0])
    return tuple(m for m, _ in items), tuple(v for _, v in items), interpolation


def _time_type(kind: Kind):
    def validate(raw: Any, info: ValidationInfo) -> Uncertain | Schedule:
        base_dir = (info.context or {}).get("base_dir")
        if isinstance(raw, (Uncertain, Schedule)):
            return raw
        if isinstance(raw, dict) and "schedule" in raw:
            months, values, interpolation = _parse_schedule(
                raw, lambda v: parse_uncertain(v, kind, base_dir=base_dir)
            )
            return Schedule(months, values, interpolation)
        return parse_uncertain(raw, kind, base_dir=base_dir)

    schedule_schema = _schedule_json_schema(uncertain_json_schema(kind, "per path"), "value")
    schema = uncertain_json_schema(kind, "per path")
    schema = {**schema, "anyOf": [*schema["anyOf"], schedule_schema],
              "description": schema["description"] + ", or a schedule {schedule: {month: value}, interpolation}"}
    return Annotated[
        Any,
        PlainValidator(validate, json_schema_input_type=Any),
        PlainSerializer(lambda v: v.to_yaml()),
        WithJsonSchema(schema),
    ]


def _schedule_json_schema(point: dict, what: str) -> dict:
    """``{schedule: {month: point}, interpolation}``: months are whole numbers >= 0."""
    return {
        "type": "object",
        "required": ["schedule"],
        "additionalProperties": False,
        "properties": {
            "schedule": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": r"^[0-9]+$"},
                "additionalProperties": point,
                "description": f"month: {what}, months counted from 0",
            },
            "interpolation": {"enum": list(INTERPOLATIONS), "default": "linear"},
        },
    }


TimeAmount = _time_type(Kind.AMOUNT)


@dataclass(frozen=True)
class Mix:
    """The share of new wins each offer receives, possibly changing over the months.

    Attributes
    ----------
    months : tuple of int
        Schedule months (``(0,)`` for a constant mix).
    shares : tuple of dict
        One ``{offer: share}`` per month, each summing to 1.
    interpolation : str
        ``linear`` or ``step`` between schedule months.
    """

    months: tuple[int, ...]
    shares: tuple[dict[str, float], ...]
    interpolation: str = "linear"

    @property
    def offers(self) -> list[str]:
        names: dict[str, None] = {}
        for point in self.shares:
            names.update(dict.fromkeys(point))
        return list(names)

    def matrix(self, offers: list[str], horizon: int) -> np.ndarray:
        """Shares by month, ``ndarray(float64, (horizon, len(offers)))``; rows sum to 1."""
        points = np.array([[point.get(name, 0.0) for name in offers] for point in self.shares])
        schedule = Schedule(self.months, (), self.interpolation)
        return schedule.evaluate(points.T, horizon).T

    def to_yaml(self) -> dict:
        if len(self.months) == 1 and self.months[0] == 0:
            return dict(self.shares[0])
        return {"schedule": dict(zip(self.months, map(dict, self.shares))), "interpolation": self.interpolation}


def _parse_shares(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise InputError("a mix is a mapping of offer: share, e.g. {saas_annual: 100%}")
    shares = {}
    for name, value in raw.items():
        share = parse_number(value, (name,))
        if not 0 <= share <= 1:
            raise InputError(f"a share must be between 0% and 100%, got {share:g}", (name,))
        shares[str(name)] = share
    total = sum(shares.values())
    if abs(total - 1) > 1e-6:
        raise InputError(f"the shares must sum to 100%, they sum to {100 * total:.4g}%")
    return shares


def _misspelt_schedule_key(raw: dict) -> None:
    """A key of a plain mix that is a misspelt ``schedule`` or ``interpolation``.

    Such a key would otherwise be read as an offer name. A key close to one of them whose
    value cannot be a share (a mapping of months, ``step``) is reported as an unknown key;
    an offer that happens to be named like them, with a share as its value, is left alone.
    """
    for key, value in raw.items():
        close = closest(str(key), SCHEDULE_KEYS)
        if close is None:
            continue
        try:
            parse_number(value)
        except InputError:
            raise InputError(f"unknown key {key!r} (did you mean {close!r}?)", (key,),
                             at_key=True) from None


def _validate_mix(raw: Any) -> Mix:
    if isinstance(raw, Mix):
        return raw
    if isinstance(raw, dict) and "schedule" in raw:
        months, shares, interpolation = _parse_schedule(raw, _parse_shares)
        return Mix(months, shares, interpolation)
    if isinstance(raw, dict):
        _misspelt_schedule_key(raw)
    return Mix((0,), (_parse_shares(raw),))


_SHARES_SCHEMA = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"not": {"enum": list(SCHEDULE_KEYS)}},
    "additionalProperties": _number_schema(),
    "description": "offer: share of new wins, the shares summing to 100%",
}

MixValue = Annotated[
    Mix,
    PlainValidator(_validate_mix, json_schema_input_type=Any),
    PlainSerializer(lambda m: m.to_yaml()),
    WithJsonSchema({
        "anyOf": [_SHARES_SCHEMA, _schedule_json_schema(_SHARES_SCHEMA, "{offer: share}")],
        "description": "offer: share (summing to 100%), or {schedule: {month: {offer: share}}, interpolation}",
    }),
]
