"""The error raised for data that cannot be calibrated, pointing at a file, a line and a column."""

from __future__ import annotations

__all__ = ["CalibrationError"]


class CalibrationError(ValueError):
    """Malformed or unusable calibration data.

    Printed as ``FILE:LINE:COLUMN: column: message`` when the problem is in one cell,
    ``FILE:LINE: message`` when it is in a line, and ``FILE: message`` for the whole file.

    Attributes
    ----------
    file : str
        The file name as given (``<data>`` for data passed in memory).
    line, column : int or None
        1-based line and character column of the offending cell.
    field : str
        The name of the CSV column concerned (empty when none).
    message : str
        What is wrong, in one line.
    """

    def __init__(self, message: str, *, file: str = "<data>", line: int | None = None,
                 column: int | None = None, field: str = ""):
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
