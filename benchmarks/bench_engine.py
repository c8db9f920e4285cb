"""Throughput of the numba engine, its speed-up over the NumPy reference, and a parity check.

Every plan of a scenario is simulated through :func:`simulator.engine.driver.run_chunks` (input
sampling, per-chunk input arrays, the engine, the derived series), chunk by chunk; the figures
are the best of ``--repeat`` timed runs after ``--warmup`` untimed runs that absorb numba's JIT
compilation (or the load of its on-disk cache). ``python benchmarks/bench_engine.py --help``
lists the options; ``benchmarks/README.md`` explains how to read the output. Timings belong
here, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import numba
import numpy as np

from simulator import load_scenario
from simulator.engine import kernel_nb, reference
from simulator.engine.driver import run_chunks
from simulator.scenario.model import Scenario

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "simulator" / "data" / "default.yaml"  # = scenarios/isv_transition.yaml
PARITY_TOLERANCE = 1e-9
"""Largest relative difference allowed between the engines in expected-value mode."""


@dataclass
class Timing:
    """One engine on one scenario at one path count; seconds are the best of the repeats."""

    scenario: str
    engine: str
    paths: int
    plans: int
    months: int
    threads: int
    seconds: float  # the whole run_chunks loop: sampling, inputs, engine, derived series
    engine_seconds: float  # inside the engine calls only (same run)
    customer_months: float  # sum over plans, paths and months of the `customers` series
    peak_traced_mb: float | None  # tracemalloc peak of one more, untimed run (None: not measured)

    @property
    def paths_per_second(self) -> float:
        return self.paths / self.seconds

    @property
    def customer_months_per_second(self) -> float:
        return self.customer_months / self.seconds

    @property
    def engine_ms_per_path(self) -> float:
        return 1e3 * self.engine_seconds / self.paths

    def as_dict(self) -> dict:
        return asdict(self) | {"paths_per_second": self.paths_per_second,
                               "customer_months_per_second": self.customer_months_per_second,
                               "engine_ms_per_path": self.engine_ms_per_path}


class _TimedEngine:
    """An engine callable that adds up the time spent inside it."""

    def __init__(self, engine):
        self.engine, self.seconds = engine, 0.0

    def __call__(self, inp, expected, seeds):
        start = time.perf_counter()
        out = self.engine(inp, expected, seeds)
        self.seconds += time.perf_counter() - start
        return out


def run_once(scenario: Scenario, engine, paths: int, seed: int,
             chunk_size: int) -> tuple[float, float, float]:
    """One pass over every chunk, each dropped once counted.

    Returns
    -------
    seconds, engine_seconds, customer_months : float
    """
    timed = _TimedEngine(engine)
    customer_months = 0.0
    start = time.perf_counter()
    for chunk in run_chunks(scenario, paths=paths, seed=seed, chunk_size=chunk_size, engine=timed):
        customer_months += sum(float(p.series["customers"].sum()) for p in chunk.plans.values())
        del chunk  # free it before the next chunk is built
    return time.perf_counter() - start, timed.seconds, customer_months


def peak_traced_mb(scenario: Scenario, engine, paths: int, seed: int, chunk_size: int) -> float:
    """Peak of the Python and NumPy allocations (tracemalloc) during one untimed run, in MB.

    The scratch arrays numba allocates inside the kernel (a few hundred kB per path in flight)
    are not traced.
    """
    tracemalloc.start()
    try:
        run_once(scenario, engine, paths, seed, chunk_size)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def time_engine(scenario: Scenario, name: str, engine, paths: int, args: argparse.Namespace,
                memory: bool) -> Timing:
    """Best of ``args.repeat`` runs of all plans over ``paths`` paths."""
    runs = [run_once(scenario, engine, paths, args.seed, args.chunk_size)
            for _ in range(args.repeat)]
    seconds, engine_seconds, customer_months = min(runs)
    peak = peak_traced_mb(scenario, engine, paths, args.seed, args.chunk_size) if memory else None
    return Timing(name, engine.__module__.rsplit(".", 1)[-1], paths, len(scenario.plans),
                  scenario.simulation.horizon_months, numba.get_num_threads(), seconds,
                  engine_seconds, customer_months, peak)


def warm_up(scenario: Scenario, rounds: int, seed: int) -> float:
    """Untimed Monte Carlo and expected-value runs; the first one's seconds (compile or load)."""
    first = None
    for _ in range(max(rounds, 1)):
        start = time.perf_counter()
        for expected in (False, True):
            for _chunk in run_chunks(scenario, paths=2, seed=seed, expected=expected):
                pass
        first = time.perf_counter() - start if first is None else first
    return first


def parity(scenario: Scenario) -> float:
    """Largest relative difference between the engines over every expected-value output.

    Each output row (a flow, offer or source row over the months) is compared relative to its
    largest magnitude plus 1.
    """
    fast = next(run_chunks(scenario, paths=1, seed=0, expected=True, engine=kernel_nb.run))
    slow = next(run_chunks(scenario, paths=1, seed=0, expected=True, engine=reference.run))
    worst = 0.0
    for plan in scenario.plans:
        a, b = fast.plans[plan].output, slow.plans[plan].output
        for name in a._fields:
            x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
            scale = np.abs(y).max(axis=-1, keepdims=True) + 1.0 if y.ndim > 1 else np.abs(y) + 1.0
            worst = max(worst, float(np.max(np.abs(x - y) / scale)))
    return worst


def _table(rows: list[Timing]) -> str:
    lines = [f"{'paths':>8} {'best s':>8} {'paths/s':>9} {'cust-months/s':>13} {'engine s':>9} "
             f"{'engine':>6} {'ms/path':>8} {'peak MB':>8}"]
    for r in rows:
        peak = f"{r.peak_traced_mb:8.1f}" if r.peak_traced_mb is not None else f"{'-':>8}"
        lines.append(f"{r.paths:8d} {r.seconds:8.2f} {r.paths_per_second:9,.0f} "
                     f"{r.customer_months_per_second:13.3e} {r.engine_seconds:9.2f} "
                     f"{r.engine_seconds / r.seconds:6.0%} {r.engine_ms_per_path:8.3f} {peak}")
    return "\n".join(lines)


def _speed_up(ref: Timing, rows: list[Timing]) -> tuple[str, dict]:
    """The reference against the numba run with the closest path count, per path."""
    fast = min(rows, key=lambda r: abs(r.paths - ref.paths))
    engine = ref.engine_ms_per_path / fast.engine_ms_per_path
    whole = fast.paths_per_second / ref.paths_per_second
    text = (f"NumPy reference, timed on {ref.paths} paths and scaled per path: "
            f"{ref.paths_per_second:,.0f} paths/s, engine {ref.engine_ms_per_path:.2f} ms/path.\n"
            f"numba at {fast.paths} paths: engine {fast.engine_ms_per_path:.3f} ms/path -> "
            f"speed-up {engine:.1f}x on the engine calls, {whole:.1f}x end to end")
    return text, ref.as_dict() | {"compared_with_paths": fast.paths,
                                  "engine_speedup_per_path": engine, "end_to_end_speedup": whole}


def bench_scenario(name: str, path: Path, args: argparse.Namespace) -> tuple[dict, bool]:
    """Warm-up, numba timings, the reference timing and the parity check of one scenario."""
    scenario = load_scenario(path)
    T, plans = scenario.simulation.horizon_months, len(scenario.plans)
    print(f"\n== {name}: {plans} plans x {T} months")
    first = warm_up(scenario, args.warmup, args.seed)
    print(f"warm-up: first run {first:.1f} s (numba compilation, or loading its cache)")
    rows = [time_engine(scenario, name, kernel_nb.run, n, args, not args.no_memory)
            for n in args.paths]
    print(_table(rows))
    entry = {"scenario": name, "plans": plans, "months": T, "warmup_first_seconds": first,
             "numba": [r.as_dict() for r in rows]}
    if args.reference_paths > 0:
        ref = time_engine(scenario, name, reference.run, args.reference_paths, args, False)
        text, entry["reference"] = _speed_up(ref, rows)
        print(text)
    difference = parity(scenario)
    passed = difference <= PARITY_TOLERANCE
    print(f"parity (expected-value mode, every output): max relative difference {difference:.1e} "
          f"-> {'ok' if passed else 'FAILED'} (tolerance {PARITY_TOLERANCE:g})")
    entry["parity_max_relative_difference"] = difference
    return entry, passed


def _scenarios(names: list[str] | None) -> list[tuple[str, Path]]:
    if not names:
        return [("isv_transition (default)", DEFAULT_SCENARIO)]
    if names == ["all"]:
        return [(path.stem, path) for path in sorted((ROOT / "scenarios").glob("*.yaml"))]
    return [(Path(name).stem, Path(name)) for name in names]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, nargs="+", default=[1000, 10000],
                        help="path counts to time (default: 1000 10000)")
    parser.add_argument("--scenario", nargs="+", default=None,
                        help="scenario files, or 'all' (every bundled scenario); default: the "
                             "bundled default scenario")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed runs first (JIT compilation or cache load)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help=f"numba threads (default: all {numba.config.NUMBA_NUM_THREADS})")
    parser.add_argument("--chunk-size", type=int, default=2000, help="paths per chunk")
    parser.add_argument("--reference-paths", type=int, default=500,
                        help="paths of the NumPy reference timing (0: skip)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the extra tracemalloc run per path count")
    parser.add_argument("--json", metavar="FILE",
                        help="also write every figure as JSON ('-': standard output)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.threads:
        numba.set_num_threads(args.threads)
    report = {"python": platform.python_version(), "numpy": np.__version__,
              "numba": numba.__version__, "machine": platform.machine(),
              "threads": numba.get_num_threads(), "seed": args.seed, "repeat": args.repeat,
              "chunk_size": args.chunk_size, "scenarios": []}
    print(f"numba {numba.__version__}, numpy {np.__version__}, python {platform.python_version()}"
          f", {report['threads']} thread(s), seed {args.seed}, best of {args.repeat}, chunks of "
          f"{args.chunk_size} paths")
    ok = True
    for name, path in _scenarios(args.scenario):
        entry, passed = bench_scenario(name, path, args)
        report["scenarios"].append(entry)
        ok &= passed
    report["process_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak resident memory (getrusage maxrss, whole run, all path counts): "
          f"{report['process_maxrss_mb']:.0f} MB")
    if args.json == "-":
        print(json.dumps(report, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
