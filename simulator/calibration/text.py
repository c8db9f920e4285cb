"""Small helpers for the printed summaries: aligned text tables and number formatting."""

from __future__ import annotations

import math

__all__ = ["format_table", "fmt"]


def fmt(x: float, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits; ``-`` for a missing value."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def format_table(header: list[str], rows: list[list[str]], indent: int = 2) -> str:
    """An aligned text table: the first column left-aligned, the others right-aligned."""
    cells = [header, *rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]

    def line(row):
        parts = [str(row[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return " " * indent + "  ".join(parts).rstrip()

    rule = " " * indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
