"""Reading calibration CSV files cell by cell, keeping the line and column of every cell.

The files are plain comma-separated text with a header row. Blank lines and lines whose first
character is ``#`` are skipped (comments, e.g. where the data came from). Header names are
matched case-insensitively after stripping spaces; extra columns are ignored. Every parsing
method raises :class:`~simulator.calibration.errors.CalibrationError` naming the file, the line,
the character column and the CSV column of the offending cell.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from simulator.calibration.errors import CalibrationError

__all__ = ["Table", "Row", "MAX_BYTES", "month_label", "parse_month"]

MAX_BYTES = 50 * 1024 * 1024

_MONTH_RE = re.compile(r"^(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?$")


@dataclass(frozen=True)
class Row:
    """One data row: its line in the file, its cells and the 1-based column where each starts."""

    line: int
    cells: tuple[str, ...]
    offsets: tuple[int, ...]


@dataclass(frozen=True)
class Table:
    """A CSV file's header and rows, with located parsing of cells.

    Attributes
    ----------
    file : str
        The name shown in error messages.
    header : tuple of str
        Column names, lower-cased and stripped.
    header_line : int
        The line of the header row.
    rows : tuple of Row
    """

    file: str
    header: tuple[str, ...]
    header_line: int
    rows: tuple[Row, ...]

    # ---------------------------------------------------------------- reading

    @classmethod
    def read(cls, path: str | Path) -> Table:
        """Read ``path``; an unreadable, empty or header-only file is a CalibrationError."""
        name = str(path)
        try:
            size = Path(path).stat().st_size
            if size > MAX_BYTES:
                raise CalibrationError(f"the file is larger than {MAX_BYTES // 2**20} MB", file=name)
            text = Path(path).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise CalibrationError("cannot read the file as UTF-8 text", file=name) from None
        except OSError as exc:
            raise CalibrationError(f"cannot read the file: {exc.strerror or exc}", file=name) from None
        return cls.from_text(text, name)

    @classmethod
    def from_text(cls, text: str, name: str = "<data>") -> Table:
        """Parse CSV text (the header is the first line that is neither blank nor a comment)."""
        lines = text.splitlines()
        reader = csv.reader(io.StringIO(text))
        header: tuple[str, ...] | None = None
        header_line = 0
        rows: list[Row] = []
        previous_end = 0
        try:
            for cells in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
                    continue
                physical = lines[start - 1] if start - 1 < len(lines) else ""
                offsets = _offsets(physical, len(cells))
                if header is None:
                    header = tuple(c.strip().lower() for c in cells)
                    header_line = start
                    _check_header(header, offsets, name, start)
                else:
                    rows.append(Row(start, tuple(c.strip() for c in cells), offsets))
        except csv.Error as exc:
            raise CalibrationError(f"not a readable CSV file: {exc}", file=name, line=reader.line_num) from None
        if header is None:
            raise CalibrationError("the file is empty (expected a header row and data rows)", file=name, line=1)
        if not rows:
            raise CalibrationError("no data rows after the header", file=name, line=header_line)
        return cls(name, header, header_line, tuple(rows))

    # ---------------------------------------------------------------- columns

    def has(self, *names: str) -> bool:
        return all(n in self.header for n in names)

    def require(self, *names: str, hint: str = "") -> None:
        """A CalibrationError at the header unless every column in ``names`` is present."""
        missing = [n for n in names if n not in self.header]
        if missing:
            found = ", ".join(self.header) or "nothing"
            plural = "s" if len(missing) > 1 else ""
            message = f"missing column{plural} {', '.join(repr(m) for m in missing)}; the header has {found}"
            raise CalibrationError(message + (f" ({hint})" if hint else ""), file=self.file, line=self.header_line)

    def cell(self, row: Row, name: str) -> str:
        index = self.header.index(name)
        return row.cells[index] if index < len(row.cells) else ""

    def error(self, row: Row, name: str, message: str) -> CalibrationError:
        """A CalibrationError located at ``row``'s cell in column ``name``."""
        index = self.header.index(name)
        column = row.offsets[index] if index < len(row.offsets) else None
        return CalibrationError(message, file=self.file, line=row.line, column=column, field=name)

    def line_error(self, row: Row, message: str) -> CalibrationError:
        return CalibrationError(message, file=self.file, line=row.line)

    # ---------------------------------------------------------------- cells

    def text(self, row: Row, name: str) -> str:
        value = self.cell(row, name)
        if not value:
            raise self.error(row, name, "missing value")
        return value

    def number(self, row: Row, name: str) -> float:
        """A finite number (``12``, ``3.5``, ``1e3``)."""
        raw = self.text(row, name)
        try:
            value = float(raw.replace("_", ""))
        except ValueError:
            raise self.error(row, name, f"expected a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise self.error(row, name, f"expected a finite number, got {raw!r}")
        return value

    def count(self, row: Row, name: str) -> int:
        """A whole number >= 0 (``12`` or ``12.0``)."""
        raw = self.text(row, name)
        try:
            value = float(raw.replace("_", ""))
        except ValueError:
            raise self.error(row, name, f"expected a whole number, got {raw!r}") from None
        if not math.isfinite(value) or value != int(value):
            raise self.error(row, name, f"expected a whole number, got {raw!r}")
        if value < 0:
            raise self.error(row, name, f"must be >= 0, got {raw}")
        return int(value)

    def month(self, row: Row, name: str) -> tuple[int, bool]:
        """A month: ``YYYY-MM`` (or a date ``YYYY-MM-DD``, its day ignored) or a whole number.

        Returns
        -------
        (int, bool)
            See :func:`parse_month`.
        """
        raw = self.text(row, name)
        try:
            return parse_month(raw)
        except ValueError as exc:
            raise self.error(row, name, str(exc)) from None


def parse_month(raw: str) -> tuple[int, bool]:
    """Read ``YYYY-MM`` (or ``YYYY-MM-DD``, the day ignored) or a whole number of periods.

    Returns
    -------
    (int, bool)
        The month as ``12 * year + (month - 1)`` for dates, the number itself otherwise;
        and whether the text was a date.

    Raises
    ------
    ValueError
        With a one-line message.
    """
    raw = raw.strip()
    match = _MONTH_RE.match(raw)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        day = int(match.group(3)) if match.group(3) else 1
        if not 1 <= month <= 12 or not 1 <= day <= 31:
            raise ValueError(f"not a valid date: {raw!r}")
        return 12 * year + month - 1, True
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a month YYYY-MM, a date YYYY-MM-DD or a whole number, got {raw!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"expected a whole number of periods, got {raw!r}")
    return int(value), False


def month_label(ordinal: int, is_date: bool) -> str:
    """``2024-03`` for a month ordinal from :meth:`Table.month`, the number otherwise."""
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}" if is_date else str(ordinal)


def _offsets(line: str, n: int) -> tuple[int, ...]:
    """1-based character column where each of the first ``n`` cells of a CSV line starts."""
    starts = [1]
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            starts.append(i + 2)
    # skip the spaces before a cell's text, so the column points at the value itself
    out = []
    for s in starts:
        j = s - 1
        while j < len(line) and line[j] == " ":
            j += 1
        out.append(j + 1)
    out += [len(line) + 1] * (n - len(out))
    return tuple(out[:n])


def _check_header(header: tuple[str, ...], offsets: tuple[int, ...], name: str, line: int) -> None:
    seen: dict[str, int] = {}
    for index, column in enumerate(header):
        if not column:
            raise CalibrationError(f"header cell {index + 1} is empty; every column needs a name",
                                   file=name, line=line, column=offsets[index])
        if column in seen:
            raise CalibrationError(f"column {column!r} appears twice in the header",
                                   file=name, line=line, column=offsets[index], field=column)
        seen[column] = index
