"""Retention data: customers still active by cohort and period, or one row per customer.

Both formats become *groups* of customers observed together: a group is followed at periods
``0 = p0 < p1 < ... < pm`` and ``alive[i]`` of its customers are still active at ``p[i]``.
Customers lost between two observations left at some renewal ``T`` in ``(p[i], p[i+1]]``;
those still active at ``pm`` are right-censored, ``T > pm``.

- ``cohort,period,customers``: a cohort's rows give its customers still active ``period``
  renewal periods after it started; period 0 is its size. Gaps between periods are allowed
  (the losses in a gap are interval-censored).
- ``customer,start,end``: start and end are period numbers, or months ``YYYY-MM`` (dates
  ``YYYY-MM-DD`` are read as their month) counted in periods of ``--period`` months. An empty
  end means still active at the end of the data (``--as-of``, by default the latest date in
  the file). A customer who ends during its t-th period left at renewal ``t`` (at least 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.calibration.errors import CalibrationError
from simulator.calibration.table import Table, month_label, parse_month

__all__ = ["PERIODS", "Group", "ChurnData", "read_churn"]

PERIODS = {"month": 1, "quarter": 3, "year": 12}
"""Length in months of one period of the data (for ``customer,start,end`` files with dates)."""


@dataclass(frozen=True)
class Group:
    """Customers that started together and were observed at the same periods.

    Attributes
    ----------
    name : str
        The cohort's label, or the observation window for per-customer data.
    periods : ndarray(int64, (k,))
        Observation periods, increasing, starting at 0.
    alive : ndarray(int64, (k,))
        Customers still active at each period, non-increasing; ``alive[0]`` is the group's size.
    """

    name: str
    periods: np.ndarray
    alive: np.ndarray

    @property
    def size(self) -> int:
        return int(self.alive[0])


@dataclass(frozen=True)
class ChurnData:
    """Survival observations, as groups of customers observed together.

    Attributes
    ----------
    groups : tuple of Group
    kind : str
        ``"cohorts"`` (alive counts by cohort) or ``"customers"`` (one row per customer).
    source : str
        The file the data came from (``<data>`` for data built in memory).
    note : str
        A line describing the data (e.g. the as-of date of per-customer data).
    """

    groups: tuple[Group, ...]
    kind: str = "cohorts"
    source: str = "<data>"
    note: str = ""

    @classmethod
    def from_cohorts(cls, cohorts: Mapping[str, Sequence[int]], source: str = "<data>") -> ChurnData:
        """Alive counts of each cohort at periods ``0, 1, 2, ...`` (the first count is its size)."""
        groups = []
        for name, counts in cohorts.items():
            alive = np.asarray(counts, dtype=np.int64)
            if alive.ndim != 1 or len(alive) == 0:
                raise CalibrationError(f"cohort {name!r} has no counts", file=source)
            if np.any(alive < 0):
                raise CalibrationError(f"cohort {name!r} has a negative count", file=source)
            if np.any(np.diff(alive) > 0):
                raise CalibrationError(f"the alive counts of cohort {name!r} increase; they cannot", file=source)
            groups.append(Group(str(name), np.arange(len(alive), dtype=np.int64), alive))
        return cls(tuple(groups), "cohorts", source)

    @classmethod
    def from_customers(cls, lifetimes: Sequence[int], churned: Sequence[bool], windows: Sequence[int] | None = None,
                       source: str = "<data>", note: str = "") -> ChurnData:
        """One entry per customer.

        Parameters
        ----------
        lifetimes : array of int
            For a customer who left, the renewal ``T >= 1`` at which it left; for an active
            customer, the periods it has been observed (it is censored there).
        churned : array of bool
            Whether the customer left.
        windows : array of int, optional
            Periods each customer who left could have been observed (from its start to the
            end of the data); defaults to its lifetime. Only the bootstrap uses it; an active
            customer's window is its lifetime.
        """
        lifetimes = np.asarray(lifetimes, dtype=np.int64)
        churned = np.asarray(churned, dtype=bool)
        windows = lifetimes.copy() if windows is None else np.maximum(np.asarray(windows, dtype=np.int64), lifetimes)
        windows[~churned] = lifetimes[~churned]  # an active customer is observed up to its censoring
        if np.any(lifetimes[churned] < 1) or np.any(lifetimes < 0):
            raise CalibrationError("lifetimes must be >= 1 for customers who left and >= 0 otherwise", file=source)
        groups = []
        for w in np.unique(windows):
            here = windows == w
            t, gone = lifetimes[here], churned[here]
            periods = np.arange(w + 1, dtype=np.int64)
            alive = np.array([np.sum(~gone) + np.sum(t[gone] > p) for p in periods], dtype=np.int64)
            groups.append(Group(f"observed {w} periods", periods, alive))
        return cls(tuple(groups), "customers", source, note)

    @property
    def customers(self) -> int:
        return int(sum(g.size for g in self.groups))

    @property
    def churned(self) -> int:
        return int(sum(g.alive[0] - g.alive[-1] for g in self.groups))

    @property
    def censored(self) -> int:
        return int(sum(g.alive[-1] for g in self.groups))

    @property
    def last_period(self) -> int:
        return int(max(g.periods[-1] for g in self.groups))

    def describe(self) -> str:
        what = (f"{len(self.groups)} cohort{'s' * (len(self.groups) != 1)}" if self.kind == "cohorts"
                else "one row per customer")
        text = (f"{self.customers} customers ({what}), periods 0 to {self.last_period}; "
                f"{self.churned} left, {self.censored} still active (censored)")
        return text + (f"; {self.note}" if self.note else "")

    def empirical_survival(self) -> tuple[np.ndarray, np.ndarray]:
        """Pooled Kaplan-Meier estimate of S(t) at the periods the observations chain to.

        Customers observed over the same interval ``(lo, hi]`` are pooled; ``S(hi) = S(lo) *
        (1 - lost / at risk)``. With every cohort observed period by period this is the usual
        Kaplan-Meier estimate at ``0, 1, 2, ...``.

        Returns
        -------
        (ndarray(int64, (k,)), ndarray(float64, (k,)))
            Periods and the estimated share still active.
        """
        pooled: dict[tuple[int, int], list[int]] = {}
        for g in self.groups:
            for i in range(len(g.periods) - 1):
                entry = pooled.setdefault((int(g.periods[i]), int(g.periods[i + 1])), [0, 0])
                entry[0] += int(g.alive[i])
                entry[1] += int(g.alive[i] - g.alive[i + 1])
        known = {0: 1.0}
        for (lo, hi), (at_risk, lost) in sorted(pooled.items(), key=lambda item: (item[0][0], item[0][1])):
            if lo in known and hi not in known and at_risk > 0:
                known[hi] = known[lo] * (1 - lost / at_risk)
        periods = np.array(sorted(known), dtype=np.int64)
        return periods, np.array([known[int(t)] for t in periods])


def read_churn(path: str | Path, *, period: str = "month", as_of: str | None = None) -> ChurnData:
    """Read a churn CSV file, choosing its format from the header.

    Parameters
    ----------
    path : str or Path
        ``cohort,period,customers`` (alive counts) or ``customer,start,end`` (one row per customer).
    period : {"month", "quarter", "year"}
        For per-customer files with dates: the length of one renewal period.
    as_of : str, optional
        For per-customer files: the date (or period number) the data runs to; the latest
        start or end in the file when absent.
    """
    table = Table.read(path)
    if table.has("cohort", "period", "customers"):
        return _read_cohorts(table)
    if table.has("customer", "start", "end"):
        return _read_customers(table, PERIODS[period], as_of)
    found = ", ".join(table.header)
    raise CalibrationError(
        "expected the columns cohort,period,customers (customers alive by cohort and period) or "
        f"customer,start,end (one row per customer, empty end = still active); the header has {found}",
        file=table.file, line=table.header_line,
    )


def _read_cohorts(table: Table) -> ChurnData:
    rows_by_cohort: dict[str, list] = {}
    for row in table.rows:
        name = table.text(row, "cohort")
        rows_by_cohort.setdefault(name, []).append((table.count(row, "period"), table.count(row, "customers"), row))
    groups = []
    for name, entries in rows_by_cohort.items():
        entries.sort(key=lambda e: (e[0], e[2].line))
        for (p0, _, r0), (p1, _, r1) in zip(entries, entries[1:], strict=False):
            if p0 == p1:
                raise table.error(r1, "period", f"cohort {name!r} has period {p1} twice (also on line {r0.line})")
        first_period, _, first_row = entries[0]
        if first_period != 0:
            raise table.error(first_row, "period", f"cohort {name!r} starts at period {first_period}; its first "
                              "row must be period 0, the cohort's size")
        for (p0, n0, _), (p1, n1, r1) in zip(entries, entries[1:], strict=False):
            if n1 > n0:
                raise table.error(r1, "customers", f"{n1} customers alive at period {p1} of cohort {name!r}, more than "
                                  f"the {n0} at period {p0}; alive counts cannot increase within a cohort")
        periods = np.array([e[0] for e in entries], dtype=np.int64)
        alive = np.array([e[1] for e in entries], dtype=np.int64)
        groups.append(Group(name, periods, alive))
    return ChurnData(tuple(groups), "cohorts", table.file)


def _read_customers(table: Table, months_per_period: int, as_of_text: str | None) -> ChurnData:
    starts, ends, rows = [], [], []
    date_kind: bool | None = None
    for row in table.rows:
        table.text(row, "customer")
        start, is_date = table.month(row, "start")
        if date_kind is None:
            date_kind = is_date
        elif is_date != date_kind:
            raise table.error(row, "start", "mixes dates and period numbers; use one kind in the whole file")
        end = None
        if table.cell(row, "end"):
            end, end_is_date = table.month(row, "end")
            if end_is_date != date_kind:
                raise table.error(row, "end", "mixes dates and period numbers; use one kind in the whole file")
            if end < start:
                raise table.error(row, "end", f"the customer ends ({table.cell(row, 'end')}) before it starts "
                                  f"({table.cell(row, 'start')})")
        starts.append(start)
        ends.append(end)
        rows.append(row)
    if as_of_text is None:
        as_of = max(max(starts), max((e for e in ends if e is not None), default=max(starts)))
    else:
        as_of = _parse_as_of(as_of_text, date_kind, table.file)
    k = months_per_period if date_kind else 1
    lifetimes, churned, windows = [], [], []
    for start, end, row in zip(starts, ends, rows, strict=True):
        if start > as_of:
            raise table.error(row, "start", f"starts after the end of the data ({month_label(as_of, date_kind)})")
        window = (as_of - start) // k
        if end is not None and end <= as_of:
            lifetimes.append(max(1, -((start - end) // k)))  # renewal at which it left: ceil, at least 1
            churned.append(True)
        else:
            lifetimes.append(window)
            churned.append(False)
        windows.append(window)
    note = f"data as of {month_label(as_of, date_kind)}"
    if date_kind:
        note += f", one period = {k} month{'s' * (k > 1)}"
    return ChurnData.from_customers(lifetimes, churned, windows, source=table.file, note=note)


def _parse_as_of(text: str, date_kind: bool, file: str) -> int:
    try:
        value, is_date = parse_month(str(text))
    except ValueError as exc:
        raise CalibrationError(f"--as-of: {exc}", file=file) from None
    if is_date != date_kind:
        kind = "a date YYYY-MM" if date_kind else "a period number"
        raise CalibrationError(f"--as-of must be {kind}, like the start and end columns", file=file)
    return value


