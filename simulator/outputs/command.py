"""The ``saas-sim run [FILE]`` command: simulate, summarise in the terminal, write the outputs.

The output folder is written atomically (:mod:`simulator.outputs.folder`): an interrupted or
failed run leaves it as it was. Invalid scenarios and ``--set`` values raise
:class:`~simulator.scenario.ScenarioError`, which ``saas-sim`` prints one line per problem
(exit status 2); an output folder that cannot be used exits with status 2 and one line.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from simulator.arguments import non_negative_int, positive_int
from simulator.outputs.folder import OutputFolderError, atomic_folder
from simulator.scenario import DEFAULT_SCENARIO, load_scenario

__all__ = ["register", "default_out"]

EXIT_INVALID = 2
OUT_ROOT = "saas-sim-out"


def _simulate_default(name: str):
    """The default of one of ``simulate``'s options, so the help cannot drift from it."""
    import inspect

    from simulator.results import simulate

    return inspect.signature(simulate).parameters[name].default


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    keep_paths, chunk_size = _simulate_default("keep_paths"), _simulate_default("chunk_size")
    run = commands.add_parser(
        "run", help="simulate a scenario; print a summary and write summary.json, tables, charts and a report",
        description="Simulate every plan of a scenario and compare them with the baseline. Prints a summary\n"
                    "table and writes into the output folder: summary.json, CSV tables, tables.xlsx, PNG\n"
                    "charts and report.html (one self-contained page to forward). The folder is replaced\n"
                    "only when the run completes; an interrupted run leaves it as it was.",
        epilog="examples:\n  saas-sim run\n  saas-sim run scenarios/isv_transition.yaml --paths 2000 --seed 7\n"
               "  saas-sim run my.yaml --set offers.saas.churn.monthly='1% to 3%' --out results/churn-high\n"
               "  saas-sim run my.yaml --expected",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("file", nargs="?", default=None, metavar="FILE",
                     help="scenario YAML file (default: the bundled default scenario)")
    run.add_argument("--paths", type=positive_int, default=None, metavar="N",
                     help="Monte Carlo paths (default: the scenario's simulation.paths)")
    run.add_argument("--seed", type=non_negative_int, default=None, metavar="S",
                     help="seed of all random numbers (default: the scenario's simulation.seed)")
    run.add_argument("--out", default=None, metavar="DIR",
                     help=f"output folder (default: {OUT_ROOT}/<scenario file name> in the current folder, "
                          f"and {OUT_ROOT}/<scenario file name>-expected with --expected); a previous output "
                          "folder there is replaced, any other existing folder is refused")
    run.add_argument("--expected", action="store_true",
                     help="the expected-value run: every uncertain input at its mean, every count at its "
                          "expectation, one path (the base case; no probabilities)")
    run.add_argument("--set", action="append", dest="sets", default=[], metavar="PATH=VALUE",
                     help="change a scenario value before the run, e.g. --set simulation.horizon_months=60 "
                          "or --set 'offers.saas.churn.annual=8%% to 14%%' (repeatable; VALUE is read as YAML)")
    run.add_argument("--keep-paths", type=positive_int, default=keep_paths, metavar="N",
                     help="keep every path's monthly series up to N paths, else every k-th path for "
                          "monthly percentiles and charts; KPIs and means always use every path "
                          f"(default {keep_paths:,})")
    run.add_argument("--chunk-size", type=positive_int, default=chunk_size, metavar="N",
                     help="paths simulated at once; bounds memory, never changes the numbers "
                          f"(default {chunk_size:,})")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar and no summary: print only the output folder")
    run.set_defaults(handler=_run)


def default_out(file: str | None, expected: bool = False) -> Path:
    """``saas-sim-out/<scenario file stem>`` (``-expected`` appended for the expected-value run)."""
    stem = Path(file).stem if file else Path(DEFAULT_SCENARIO).stem
    return Path(OUT_ROOT) / (f"{stem}-expected" if expected else stem)


@contextmanager
def _sigterm_as_exit():
    """Turn SIGTERM into ``SystemExit(143)`` while the run goes, so that the temporary folder
    is removed on the way out (SIGKILL cannot be caught: the next run cleans up instead)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    scenario = load_scenario(args.file, sets=args.sets)
    destination = Path(args.out) if args.out else default_out(args.file, args.expected)
    err = Console(stderr=True)
    show_progress = not args.quiet and err.is_terminal
    try:
        with _sigterm_as_exit(), atomic_folder(destination) as temp:
            results, files = _simulate_and_write(scenario, args, temp, err if show_progress else None)
    except OutputFolderError as exc:
        print(f"saas-sim run: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:  # disk full, permissions changed mid-run: the destination is untouched
        where = exc.filename or destination
        print(f"saas-sim run: {where}: cannot write: {exc.strerror or exc}; {destination} is unchanged",
              file=sys.stderr)
        return 1
    shown = _shown_path(destination)
    if args.quiet:
        print(shown)
        return 0
    out = Console(width=None if Console().is_terminal else 120)
    _print_summary(out, results)
    counts = _file_counts(files)
    out.print(f"\nOutputs in [bold]{_escape(shown)}[/]{_escape('/')}  ({counts})", highlight=False)
    out.print(f"Open {_escape(str(Path(shown) / 'report.html'))} for the charts and the full report.",
              highlight=False)
    return 0


def _simulate_and_write(scenario, args, temp: Path, console):
    from simulator import simulate
    from simulator.outputs.write import write_outputs

    if console is None:
        results = simulate(scenario, paths=args.paths, seed=args.seed, expected=args.expected,
                           chunk_size=args.chunk_size, keep_paths=args.keep_paths, sets=list(args.sets))
        return results, write_outputs(results, temp)

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("paths"),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        plans = len(scenario.plans)
        what = "base case" if args.expected else f"{plans} plan{'s' if plans != 1 else ''}"
        task = progress.add_task(f"Simulating {what}", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        results = simulate(scenario, paths=args.paths, seed=args.seed, expected=args.expected,
                           chunk_size=args.chunk_size, keep_paths=args.keep_paths, progress=report,
                           sets=list(args.sets))
        progress.update(task, visible=False)
        steps = {"summary": "summary.json", "tables": "tables", "charts": "charts", "report": "report"}
        writing = progress.add_task("Writing", total=len(steps))
        done = {"n": 0}

        def step(name: str) -> None:
            progress.update(writing, description=f"Writing {steps.get(name, name)}", completed=done["n"])
            done["n"] += 1

        files = write_outputs(results, temp, step=step)
    return results, files


def _shown_path(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it."""
    try:
        return str(path.absolute().relative_to(Path.cwd().absolute()))
    except ValueError:
        return str(path.absolute())


def _file_counts(files) -> str:
    names = [Path(f).name for f in files]
    csv = sum(n.endswith(".csv") for n in names)
    png = sum(n.endswith(".png") for n in names)
    return f"report.html, summary.json, tables.xlsx, {csv} CSV tables, {png} charts"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _print_summary(console, results) -> None:
    """The compact summary table, then the key statements in plain words."""
    from rich import box
    from rich.table import Table

    from simulator.outputs.findings import is_expected, statements, summary_rows

    expected = is_expected(results)
    title = results.scenario.name or "saas-sim run"
    mode = "expected-value run (base case)" if expected else f"Monte Carlo, {results.paths:,} paths"
    table = Table(title=f"{_escape(title)}\n[dim]{mode}; seed {results.seed}; {results.months} months; "
                        f"amounts in {_escape(results.currency)}[/]",
                  box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    table.add_column("", no_wrap=True)
    sub = "base case" if expected else "P5 / P50 / P95"
    for plan in results.plans:
        name = f"{plan} (baseline)" if plan == results.baseline else plan
        table.add_column(f"{_escape(name)}\n[dim]{sub}[/]", justify="right")
    for row in summary_rows(results, minus="-"):
        cells = []
        for plan in results.plans:
            cell = row.cells.get(plan, "–")
            if isinstance(cell, tuple):
                text = f"{_escape(cell[0])} / [bold]{_escape(cell[1])}[/] / {_escape(cell[2])}"
            else:
                text = f"[bold]{_escape(cell)}[/]"
            if row.notes.get(plan):
                text += f"\n[dim]{_escape(row.notes[plan])}[/]"
            cells.append(text)
        table.add_row(_escape(row.label), *cells)
    console.print(table)
    for statement in statements(results, minus="-"):
        console.print(f"• {_escape(statement.text)}", highlight=False)
