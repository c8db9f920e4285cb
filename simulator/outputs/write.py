"""Every output file of a run, written into one folder.

``summary.json`` (MODEL.md §5), the CSV tables, ``tables.xlsx`` with the same tables as
sheets, one PNG per chart and ``report.html``. :func:`write_outputs` writes into the folder it
is given; the ``run`` command gives it the temporary folder of
:func:`simulator.outputs.folder.atomic_folder`, so the destination only ever holds a complete
set.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from pathlib import Path

from simulator.outputs.charts import chart_figures
from simulator.outputs.report import EmbeddedChart, render_report
from simulator.outputs.tables import run_tables, write_csv, write_excel
from simulator.results.summary import json_ready

__all__ = ["write_outputs"]


def _facts(results, summary: dict, generated: _dt.datetime) -> dict[str, object]:
    labels = results.month_labels
    return {
        "scenario": results.scenario.name or summary.get("scenario", ""),
        "scenario file": results.scenario.source,
        "mode": results.mode,
        "paths": results.paths,
        "seed": results.seed,
        "months": results.months,
        "first month": labels[0] if labels else "",
        "last month": labels[-1] if labels else "",
        "currency": results.currency,
        "plans": ", ".join(results.plans),
        "baseline": results.baseline,
        "changes (--set)": "; ".join(getattr(results, "sets", []) or []),
        "saas-sim version": summary.get("version", ""),
        "scenario sha256": summary.get("scenario_sha256") or "",
        "generated": generated.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_outputs(results, folder: str | Path, *, generated: _dt.datetime | None = None,
                  step: Callable[[str], None] | None = None) -> list[Path]:
    """Write every output of ``results`` into ``folder`` (which must exist).

    Parameters
    ----------
    results : Results
    folder : path
    generated : datetime, optional
        Time stamp of the report and workbook (now by default).
    step : callable, optional
        ``step(what)`` is called before each stage (``"tables"``, ``"charts"``, ``"report"``),
        e.g. to show progress.

    Returns
    -------
    list of Path
        The files written, in order.
    """
    folder = Path(folder)
    generated = generated or _dt.datetime.now()
    step = step or (lambda what: None)
    written = []

    step("summary")
    summary = json_ready(results.to_summary_json())
    path = folder / "summary.json"
    path.write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    written.append(path)

    step("tables")
    tables = run_tables(results)
    written += write_csv(tables, folder)
    written.append(write_excel(tables, folder / "tables.xlsx", facts=_facts(results, summary, generated)))

    step("charts")
    embedded = []
    for chart in chart_figures(results):
        path = chart.save(folder)
        written.append(path)
        embedded.append(EmbeddedChart(chart.title, chart.caption, path.read_bytes()))
        chart.figure.clear()

    step("report")
    names = [p.name for p in written]
    html = render_report(results, embedded, summary=summary, generated=generated, files=names)
    path = folder / "report.html"
    path.write_text(html, encoding="utf-8")
    written.append(path)
    return written

