"""``saas-sim run``: the default scenario end to end, its output folder, and interrupted runs.

Runs are kept short (200 paths, 36 months) and write only under ``tmp_path``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.engine import SERIES
from simulator.results.kpis import KPIS

FAST = ["--paths", "200", "--set", "simulation.horizon_months=36"]
MONTHS = 36
PNG = b"\x89PNG\r\n\x1a\n"
CSV = ["kpi_summary", "series_percentiles", "comparisons", "yearly_totals", "funnel_by_source"]
CHARTS = ["revenue_fan", "revenue_by_type", "cumulative_cash", "arr_customers", "npv_histogram", "npv_difference",
          "crossover", "tornado_npv", "tornado_npv_difference"]
SHEETS = ["Run", "KPIs", "Series", "Comparisons", "Yearly", "Funnel"]


@pytest.fixture(scope="module")
def monte_carlo(tmp_path_factory):
    """One Monte Carlo run of the default scenario into ``saas-sim-out/default`` of a fresh
    folder: ``(exit status, output folder, what it printed)``."""
    folder = tmp_path_factory.mktemp("mc")
    cwd = os.getcwd()
    printed = io.StringIO()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(printed):
            status = main(["run", *FAST, "--seed", "7"])
    finally:
        os.chdir(cwd)
    return status, folder / "saas-sim-out" / "default", printed.getvalue()


def _check_ordered(stats: dict, where: str) -> None:
    p5, p50, p95 = stats["p5"], stats["p50"], stats["p95"]
    if isinstance(p50, list):
        for i, (a, b, c) in enumerate(zip(p5, p50, p95, strict=True)):
            if None not in (a, b, c):
                assert a <= b + 1e-9 <= c + 2e-9, f"{where}[{i}]"
    elif None not in (p5, p50, p95):
        assert p5 <= p50 + 1e-9 <= p95 + 2e-9, where


def test_run_writes_summary_json_as_model_section_5(monte_carlo):
    status, out, _ = monte_carlo
    assert status == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {"scenario", "paths", "seed", "months", "mode", "version", "scenario_sha256", "plans",
            "comparisons"} <= set(summary)
    assert summary["mode"] == "monte_carlo"
    assert summary["paths"] == 200 and summary["seed"] == 7 and summary["months"] == MONTHS
    assert set(summary["plans"]) == {"stay_perpetual", "hard_switch", "phased"}
    for plan, body in summary["plans"].items():
        assert set(body["series"]) == set(SERIES)
        for name, stats in body["series"].items():
            assert {"mean", "p5", "p50", "p95"} <= set(stats)
            assert all(len(stats[k]) == MONTHS for k in ("mean", "p5", "p50", "p95")), name
            _check_ordered(stats, f"{plan}.{name}")
        assert set(body["kpis"]) == set(KPIS)
        for name, stats in body["kpis"].items():
            assert {"mean", "se", "p5", "p50", "p95", "p_defined"} <= set(stats)
            _check_ordered(stats, f"{plan}.{name}")
    assert set(summary["comparisons"]) == {"hard_switch", "phased"}
    for comparison in summary["comparisons"].values():
        assert comparison["baseline"] == "stay_perpetual"
        assert 0 <= comparison["p_npv_higher"] <= 1
        _check_ordered(comparison["npv_difference"], "npv_difference")


def test_run_writes_every_file(monte_carlo):
    import pandas as pd
    from openpyxl import load_workbook

    _, out, _ = monte_carlo
    for name in CSV:
        table = pd.read_csv(out / f"{name}.csv")
        assert len(table) > 0, name
    assert set(pd.read_csv(out / "kpi_summary.csv")["kpi"]) == set(KPIS)
    workbook = load_workbook(out / "tables.xlsx", read_only=True)
    assert workbook.sheetnames == SHEETS
    for name in CHARTS:
        data = (out / f"{name}.png").read_bytes()
        assert data[:8] == PNG, name
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 800 and height >= 400, name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html and "<link" not in html
    assert html.count("data:image/png;base64,") == len(CHARTS)
    assert "Mid-size ISV moving its installed base to SaaS" in html
    assert "the hard_switch plan's NPV beats stay_perpetual (baseline)" in html
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_run_prints_a_summary_table(monte_carlo):
    _, _, text = monte_carlo
    for label in ("NPV", "Cash trough", "Payback month", "Revenue crossover", "Ending ARR", "LTV / CAC",
                  "P(NPV > baseline)", "P(cash < 0)", "P5 / P50 / P95", "stay_perpetual (baseline)",
                  "plan's NPV beats stay_perpetual (baseline)"):
        assert label in text, label
    assert "Outputs in saas-sim-out/default/" in text


def test_expected_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--expected", "--set", "simulation.horizon_months=36", "--quiet"]) == 0
    out = tmp_path / "saas-sim-out" / "default-expected"
    assert capsys.readouterr().out.strip() == str(Path("saas-sim-out") / "default-expected")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "expected" and summary["paths"] == 1
    assert summary["comparisons"]["hard_switch"]["p_npv_higher"] is None
    series = summary["plans"]["hard_switch"]["series"]["revenue"]
    assert len(series["mean"]) == MONTHS and series["p5"] == series["p50"] == series["p95"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "the base case" in html and "% of paths" not in html
    assert html.count("data:image/png;base64,") == 4


@pytest.mark.parametrize("assignment, message", [
    ("simulation.horizon_months=abc", "--set:1:1: simulation.horizon_months: expected a whole number, got 'abc'"),
    ("nonsense", "--set:1:1: nonsense: expected PATH=VALUE"),
])
def test_bad_set_exits_2_with_one_line(tmp_path, monkeypatch, capsys, assignment, message):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--set", assignment]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_foreign_output_folder_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep")
    assert main(["run", *FAST, "--out", "notes"]) == 2
    assert "not a saas-sim output folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.txt"]


def test_failure_while_writing_leaves_the_previous_output(tmp_path, monkeypatch):
    """A run that fails after part of its files are written changes nothing; the next one succeeds."""
    import simulator.outputs.write as write

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAAS_SIM_DEBUG", "")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"previous": true}')
    real = write.chart_figures
    seen = {}

    def failing(results):
        seen["files"] = sorted(p.name for p in tmp_path.glob(".out.tmp-*/*"))
        raise RuntimeError("disk full")

    monkeypatch.setattr(write, "chart_figures", failing)
    assert main(["run", "--paths", "20", "--set", "simulation.horizon_months=36", "--out", "out", "--quiet"]) == 1
    assert "summary.json" in seen["files"] and "tables.xlsx" in seen["files"]  # it failed midway
    assert (out / "summary.json").read_text() == '{"previous": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    monkeypatch.setattr(write, "chart_figures", real)
    assert main(["run", "--paths", "20", "--set", "simulation.horizon_months=36", "--out", "out", "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["paths"] == 20


def _start(tmp_path: Path, out: str) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "-m", "simulator", "run", "--paths", "4000", "--set",
                             "simulation.horizon_months=36", "--out", out, "--quiet"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_temp(tmp_path: Path, process: subprocess.Popen, name: str) -> Path:
    deadline = time.monotonic() + 60
    temp = tmp_path / f".{name}.tmp-{process.pid}"
    while not temp.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never created its temporary folder"
        time.sleep(0.02)
    return temp


def test_killed_run_leaves_no_output_and_the_next_run_cleans_up(tmp_path, monkeypatch):
    process = _start(tmp_path, "out")
    temp = _wait_for_temp(tmp_path, process, "out")
    process.kill()  # SIGKILL: no chance to clean up
    process.communicate()
    assert not (tmp_path / "out").exists()
    assert temp.exists()  # what a killed process leaves behind
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--paths", "20", "--set", "simulation.horizon_months=36", "--out", "out", "--quiet"]) == 0
    assert (tmp_path / "out" / "report.html").exists()
    assert not temp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_terminated_run_keeps_the_previous_output(tmp_path):
    previous = tmp_path / "out"
    previous.mkdir()
    (previous / "summary.json").write_text('{"previous": true}')
    (previous / "report.html").write_text("<html>previous</html>")
    before = {p.name: p.read_bytes() for p in previous.iterdir()}
    process = _start(tmp_path, "out")
    temp = _wait_for_temp(tmp_path, process, "out")
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert not temp.exists()  # SIGTERM is caught: the run removes its own temporary folder
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
