"""Writing scenario snippets: YAML that reads like a hand-written scenario.

Nested parts are written as block mappings; a distribution (a mapping of numbers) is written
on one line in flow style, ``{dist: lognormal, mu: -0.4, sigma: 0.12}``. Numbers keep six
significant digits and are always valid YAML floats. Each snippet starts with ``#`` comments
saying where the numbers came from.
"""

from __future__ import annotations

import json
import math
import re

import yaml

__all__ = ["dump_snippet", "number", "round_sig", "NAME"]

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
NAME = re.compile(r"^[A-Za-z0-9_-]+$")
"""Offer and segment names the snippets accept: they become parts of dotted paths."""


def round_sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits."""
    return float(f"{x:.{digits}g}") if math.isfinite(x) else x


def number(x: float, digits: int = 6) -> str:
    """A YAML float or int literal with ``digits`` significant digits (``1.0e-05``, not ``1e-05``)."""
    if isinstance(x, (int, bool)) and not isinstance(x, bool):
        return str(x)
    x = round_sig(float(x), digits)
    if not math.isfinite(x):
        raise ValueError(f"cannot write {x} into a scenario")
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        sign = exponent[0] if exponent[0] in "+-" else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-')}"
    return text


def _scalar(value) -> str:
    if isinstance(value, str):
        if _PLAIN.match(value) and yaml.safe_load(value) == value:
            return value
        return json.dumps(value)
    if value is None:
        return "null"
    return number(value)


def _is_leaf(value) -> bool:
    return isinstance(value, dict) and all(not isinstance(v, dict) for v in value.values()) and all(
        not isinstance(v, list) or all(not isinstance(i, (dict, list)) for i in v) for v in value.values()
    )


def _flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _block(data: dict, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in data.items():
        if isinstance(value, dict) and not _is_leaf(value):
            lines.append(f"{pad}{_scalar(key)}:")
            lines += _block(value, indent + 2)
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"{pad}{_scalar(key)}:")
            for item in value:
                entries = [f"{_scalar(k)}: {_flow(v)}" for k, v in item.items()]
                lines.append(f"{pad}  - {entries[0]}")
                lines += [f"{pad}    {entry}" for entry in entries[1:]]
        else:
            lines.append(f"{pad}{_scalar(key)}: {_flow(value)}")
    return lines


def dump_snippet(data: dict, comments: list[str] = ()) -> str:
    """YAML text for ``data`` with ``comments`` as leading ``#`` lines; ends with a newline."""
    lines = [f"# {c}" if c else "#" for c in comments]
    lines += _block(data, 0)
    return "\n".join(lines) + "\n"
