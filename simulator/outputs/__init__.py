"""Outputs layer: charts, tables, the HTML report and the ``run`` command.

Reads a :class:`~simulator.results.Results` (``docs/results-api.md``) and writes what a reader
takes away: ``summary.json``, CSV tables and ``tables.xlsx``, PNG charts and ``report.html``.
matplotlib is imported only when charts are drawn.
"""

from simulator.outputs.write import write_outputs

__all__ = ["write_outputs"]
