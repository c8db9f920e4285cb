"""Errors of the scenario layer, each pointing at a file, a line and a field."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class InputError(ValueError):
    """A problem with one input value; ``subpath`` points below the field (e.g. ``("mean",)``).

    ``at_key`` is ``True`` when the key at ``subpath`` is what is wrong (a misspelt key, a
    second churn form), so the problem points at the key rather than at its value.
    """

    def __init__(self, message: str, subpath: tuple = (), *, at_key: bool | None = None):
        super().__init__(message)
        self.subpath = subpath
        self.at_key = at_key


@dataclass(frozen=True)
class Problem:
    """One problem in a scenario, printed as ``FILE:LINE:COLUMN: field.path: message``."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class ScenarioError(Exception):
    """A scenario that cannot be used; carries every problem found, one line each."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` when it is close enough to be a misspelling, else ``None``."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""
