"""Calendar labels of simulated months and their fiscal years."""

from __future__ import annotations

import numpy as np

__all__ = ["month_labels", "fiscal_years"]


def month_labels(start_month: str | None, months: int) -> list[str]:
    """Labels of months ``0 .. T-1``: ``"YYYY-MM"`` from ``start_month``, else ``"M1" .. "MT"``."""
    if start_month is None:
        return [f"M{t + 1}" for t in range(months)]
    year, month = int(start_month[:4]), int(start_month[5:7]) - 1
    return [f"{year + (month + t) // 12:04d}-{(month + t) % 12 + 1:02d}" for t in range(months)]


def fiscal_years(
    start_month: str | None, fiscal_start_month: int, months: int
) -> tuple[list[str], np.ndarray]:
    """Fiscal year of every simulated month.

    A fiscal year starts in calendar month ``fiscal_start_month`` and is named after the
    calendar year in which it ends (a year from July 2026 to June 2027 is ``"FY2027"``). Without
    a start month, month 0 is a January of an unnamed year and the years are numbered from the
    first one: ``"FY1"``, ``"FY2"``, ... The first and last years may be partial.

    Parameters
    ----------
    start_month : str or None
        ``"YYYY-MM"`` of month 0.
    fiscal_start_month : int
        1 to 12.
    months : int
        Horizon ``T``.

    Returns
    -------
    labels : list of str
        One per fiscal year touched by the horizon, in order.
    index : ndarray(int64, (T,))
        Position in ``labels`` of each month's fiscal year.
    """
    year0, month0 = (int(start_month[:4]), int(start_month[5:7]) - 1) if start_month else (0, 0)
    absolute = month0 + np.arange(months)
    calendar_year, calendar_month = year0 + absolute // 12, absolute % 12 + 1
    ends_in = calendar_year + (calendar_month >= fiscal_start_month) * (fiscal_start_month > 1)
    index = ends_in - ends_in[0]
    first = int(ends_in[0])
    count = int(index[-1]) + 1
    labels = [f"FY{first + k}" if start_month else f"FY{k + 1}" for k in range(count)]
    return labels, index.astype(np.int64)
