import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def default_scenario_text() -> str:
    return (SCENARIOS / "isv_transition.yaml").read_text()
