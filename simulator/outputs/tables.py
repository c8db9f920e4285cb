"""The tables of a run as DataFrames, and their CSV and Excel files.

Each table is tidy (one row per observation, one column per variable) so that it loads into a
spreadsheet pivot or a notebook as it is. The Excel workbook holds the same tables as sheets,
plus a sheet of run facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.outputs.formatting import is_missing

__all__ = ["TABLES", "run_tables", "kpi_table", "comparison_table", "yearly_table", "funnel_table",
           "series_table", "write_csv", "write_excel"]

TABLES = {
    "kpi_summary": "KPIs",
    "series_percentiles": "Series",
    "comparisons": "Comparisons",
    "yearly_totals": "Yearly",
    "funnel_by_source": "Funnel",
}
"""CSV file stem -> Excel sheet name, in workbook order."""

FORMATTED_ROWS = 5000
"""Sheets up to this many rows get thousands separators cell by cell."""

_DIFFERENCES = {
    "npv_difference": ("npv", "p_npv_higher"),
    "ending_arr_difference": ("ending_arr", "p_ending_arr_higher"),
    "min_cash_difference": ("min_cumulative_cash", "p_min_cash_higher"),
}
_MONTHS = ("revenue_crossover_month", "cash_crossover_month")


def _value(value):
    return None if is_missing(value) else float(value)


def kpi_table(results) -> pd.DataFrame:
    """One row per plan and KPI: mean, se, p5, p50, p95, p_defined (``results.summary()``)."""
    return results.summary().reset_index(drop=True)


def series_table(results) -> pd.DataFrame:
    """One row per plan, series and month with mean, se and percentiles; a ``month_label``
    column gives the calendar month (``2027-01``) beside the month index."""
    table = results.series_table().reset_index(drop=True)
    if "month" in table.columns and not {"month_label", "label"} & set(table.columns):
        labels = list(results.month_labels)
        months = table["month"]
        if pd.api.types.is_integer_dtype(months) and len(labels):
            position = list(table.columns).index("month") + 1
            table.insert(position, "month_label", [labels[int(m)] if 0 <= int(m) < len(labels) else ""
                                                   for m in months])
    return table


def comparison_table(results) -> pd.DataFrame:
    """One row per plan (other than the baseline) and compared quantity, paired by path.

    Columns: ``plan, baseline, measure, p_plan_higher, mean, se, p5, p50, p95, p_defined``.
    ``measure`` is ``npv``, ``ending_arr``, ``min_cumulative_cash`` (plan minus baseline) or a
    crossover month (when the plan overtakes the baseline for good; undefined where it never
    does, ``p_defined`` giving the share of paths where it does).
    """
    rows = []
    for plan in results.plans:
        comparison = results.comparison(plan)
        if not comparison:
            continue
        baseline = comparison.get("baseline", results.baseline)
        for key, (measure, p_key) in _DIFFERENCES.items():
            stats = comparison.get(key)
            if stats is None:
                continue
            rows.append({
                "plan": plan, "baseline": baseline, "measure": f"{measure}_difference",
                "p_plan_higher": _value(comparison.get(p_key)),
                **{k: _value(stats.get(k)) for k in ("mean", "se", "p5", "p50", "p95")},
                "p_defined": 1.0,
            })
        for key in _MONTHS:
            stats = comparison.get(key)
            if stats is None:
                continue
            rows.append({
                "plan": plan, "baseline": baseline, "measure": key, "p_plan_higher": None,
                **{k: _value(stats.get(k)) for k in ("mean", "se", "p5", "p50", "p95")},
                "p_defined": _value(stats.get("p_defined")),
            })
    columns = ["plan", "baseline", "measure", "p_plan_higher", "mean", "se", "p5", "p50", "p95", "p_defined"]
    return pd.DataFrame(rows, columns=columns)


def _by_plan(results, method: str) -> pd.DataFrame | None:
    frames = []
    for plan in results.plans:
        try:
            frame = getattr(results, method)(plan)
        except NotImplementedError:
            return None  # the engine does not report what this table needs
        if frame is None or len(frame) == 0:
            continue
        frame = frame.reset_index() if _has_named_index(frame) else frame.reset_index(drop=True)
        frame.insert(0, "plan", plan)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"plan": []})


def _has_named_index(frame: pd.DataFrame) -> bool:
    return any(name is not None for name in frame.index.names)


def yearly_table(results) -> pd.DataFrame | None:
    """Fiscal-year totals of every plan (``results.yearly(plan)`` with a ``plan`` column)."""
    return _by_plan(results, "yearly")


def funnel_table(results) -> pd.DataFrame | None:
    """Funnel by source of every plan (``results.funnel(plan)`` with a ``plan`` column);
    ``None`` when the results cannot give it."""
    return _by_plan(results, "funnel")


def run_tables(results) -> dict[str, pd.DataFrame]:
    """Every table of a run, keyed by CSV file stem (see :data:`TABLES`); a table the results
    cannot give is left out."""
    tables = {
        "kpi_summary": kpi_table(results),
        "series_percentiles": series_table(results),
        "comparisons": comparison_table(results),
        "yearly_totals": yearly_table(results),
        "funnel_by_source": funnel_table(results),
    }
    return {name: table for name, table in tables.items() if table is not None}


def write_csv(tables: Mapping[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """``folder/<name>.csv`` for every table (UTF-8, ``.`` decimals, empty cells for undefined)."""
    paths = []
    for name, table in tables.items():
        path = Path(folder) / f"{name}.csv"
        table.to_csv(path, index=False, float_format="%.10g")
        paths.append(path)
    return paths


def write_excel(tables: Mapping[str, pd.DataFrame], path: str | Path,
                facts: Mapping[str, object] | None = None) -> Path:
    """One workbook: a ``Run`` sheet of facts (when given), then one sheet per table.

    Header rows are bold and frozen, columns sized to their content and filters set, so the
    workbook is usable as it opens.
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        if facts:
            frame = pd.DataFrame({"item": list(facts), "value": [_cell(v) for v in facts.values()]})
            frame.to_excel(writer, sheet_name="Run", index=False)
        for name, table in tables.items():
            sheet = TABLES.get(name, name)[:31]
            table.to_excel(writer, sheet_name=sheet, index=False)
        for worksheet in writer.book.worksheets:
            for cell in worksheet[1]:
                cell.font = Font(bold=True)
            worksheet.freeze_panes = "A2"
            if worksheet.max_row > 1 and worksheet.title != "Run":
                worksheet.auto_filter.ref = worksheet.dimensions
            # Widths from the first rows; number formats on every row of sheets of a usual size
            # (the monthly series sheet of a long horizon keeps Excel's General format).
            for index, column in enumerate(worksheet.iter_cols(max_row=min(worksheet.max_row, 200)), start=1):
                width = max((len(_shown(cell.value)) for cell in column), default=8)
                worksheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
            if worksheet.max_row <= FORMATTED_ROWS:
                for row in worksheet.iter_rows(min_row=2):
                    for cell in row:
                        if isinstance(cell.value, float):
                            cell.number_format = "#,##0.00" if abs(cell.value) < 1000 else "#,##0"
    return path


def _cell(value):
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
