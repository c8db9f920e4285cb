"""The numba engine against the NumPy reference, and reproducibility across threads and chunks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import load_scenario
from simulator.engine import inputs as engine_inputs
from simulator.engine import kernel_nb, reference
from simulator.engine.driver import run_chunks
from simulator.engine.layout import (
    FLOW_INDEX,
    FLOWS,
    SOURCE_ROW_INDEX,
    SOURCE_STAGE_ROW,
    source_row_count,
)

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


def test_kernel_literals_match_the_layout_and_codes():
    for name, index in FLOW_INDEX.items():
        assert getattr(kernel_nb, {"leads": "LEADS", "new_customers": "NEW", "churned_customers": "CHURNED",
                                   "migrated_customers": "MIGRATED", "customers": "CUSTOMERS", "seats": "SEATS",
                                   "cmrr": "CMRR", "subscription_revenue": "SUB_REV",
                                   "maintenance_revenue": "MAINT_REV", "term_revenue": "TERM_REV",
                                   "license_revenue": "LICENSE_REV", "services_revenue": "SERVICES_REV",
                                   "billings": "BILLINGS", "recurring_billings": "RECURRING_BILLINGS",
                                   "opening_collections": "OPENING_COLLECTIONS", "marketing": "MARKETING",
                                   "upfront_commissions": "UPFRONT_COMMISSIONS", "referral_commissions": "REFERRAL",
                                   "cost_to_serve": "COST_TO_SERVE", "services_cost": "SERVICES_COST",
                                   "marketplace_fees": "MARKETPLACE"}[name]) == index
    assert kernel_nb.N_FLOWS == len(FLOWS)
    assert (kernel_nb.SUB, kernel_nb.PERP, kernel_nb.TERM) == (
        engine_inputs.OFFER_SUBSCRIPTION, engine_inputs.OFFER_PERPETUAL, engine_inputs.OFFER_TERM)
    assert (kernel_nb.BILL_MONTHLY, kernel_nb.BILL_YEARLY, kernel_nb.BILL_TERM) == (
        engine_inputs.BILL_MONTHLY, engine_inputs.BILL_YEARLY, engine_inputs.BILL_TERM)
    rows = SOURCE_ROW_INDEX
    k = kernel_nb
    assert (k.SRC_LEADS, k.SRC_MARKETING, k.SRC_WINS, k.SRC_STAGE) == (
        rows["leads"], rows["marketing"], rows["new_customers"], SOURCE_STAGE_ROW)
    assert source_row_count(4) == 3 + 4 - 1


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_expected_value_mode_agrees_exactly(path):
    """Every flow of every plan and month, and the funnel by source: numba == reference (1e-9)."""
    scenario = load_scenario(path)
    fast = next(run_chunks(scenario, paths=1, seed=0, expected=True, engine=kernel_nb.run))
    slow = next(run_chunks(scenario, paths=1, seed=0, expected=True, engine=reference.run))
    for plan in scenario.plans:
        a, b = fast.plans[plan].output, slow.plans[plan].output
        scale = np.abs(b.flows).max(axis=2, keepdims=True) + 1.0
        for k, name in enumerate(FLOWS):
            np.testing.assert_allclose(a.flows[:, k] / scale[:, k], b.flows[:, k] / scale[:, k], rtol=0,
                                       atol=1e-9, err_msg=f"{path.stem} {plan} {name}")
        np.testing.assert_allclose(a.offer_customers, b.offer_customers, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(a.offer_revenue, b.offer_revenue, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(a.opening_deferred, b.opening_deferred, rtol=1e-9)
        np.testing.assert_allclose(a.start_customers, b.start_customers, rtol=1e-9)
        assert a.source_flows.shape == b.source_flows.shape
        rows = np.abs(b.source_flows).max(axis=3, keepdims=True) + 1.0
        np.testing.assert_allclose(a.source_flows / rows, b.source_flows / rows, rtol=0, atol=1e-9,
                                   err_msg=f"{path.stem} {plan} source_flows")


@pytest.mark.slow
def test_monte_carlo_means_agree_within_standard_errors():
    """Different random numbers, same model: means within 4.5 combined standard errors.

    2,000 paths each; 6 series x 3 months x 3 plans = 54 comparisons, so the bound is wide
    enough that a correct pair fails with probability ~4e-4 overall, yet a 2% bias in a
    quantity with a 5% path-to-path spread is caught.
    """
    scenario = load_scenario(sets=["simulation.horizon_months=36"])
    fast = next(run_chunks(scenario, paths=2000, seed=11, chunk_size=2000, engine=kernel_nb.run))
    slow = next(run_chunks(scenario, paths=2000, seed=12, chunk_size=2000, engine=reference.run))
    for plan in scenario.plans:
        for name in ("customers", "seats", "revenue", "billings", "cogs",
                     "cumulative_cash"):
            a, b = fast.plans[plan].series[name], slow.plans[plan].series[name]
            for t in (5, 17, 35):
                se = np.hypot(a[:, t].std(ddof=1), b[:, t].std(ddof=1)) / np.sqrt(len(a))
                assert abs(a[:, t].mean() - b[:, t].mean()) <= 4.5 * se + 1e-9, (plan, name, t)


def _fingerprint(chunk_size: int, paths: int = 300) -> str:
    scenario = load_scenario(sets=["simulation.horizon_months=48"])
    chunks = list(run_chunks(scenario, paths=paths, seed=5, chunk_size=chunk_size))
    digest = hashlib.sha256()
    for plan in scenario.plans:
        flows = np.concatenate([chunk.plans[plan].output.flows for chunk in chunks])
        digest.update(np.ascontiguousarray(flows).tobytes())
    return digest.hexdigest()


def test_chunk_size_does_not_change_the_numbers():
    assert _fingerprint(300) == _fingerprint(70)


def test_thread_count_does_not_change_the_numbers():
    code = ("from tests.test_engine_agreement import _fingerprint; print(_fingerprint(300))")
    root = Path(__file__).resolve().parent.parent
    prints = []
    for threads in ("1", "2"):
        env = {**os.environ, "NUMBA_NUM_THREADS": threads}
        done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                              check=True)
        prints.append(done.stdout.strip())
    assert prints[0] == prints[1]
    assert prints[0] == _fingerprint(300)
