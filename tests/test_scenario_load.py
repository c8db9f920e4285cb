"""Loading the bundled scenario and basic round trips of the scenario layer."""

from simulator import load_scenario
from simulator.scenario import DEFAULT_SCENARIO
from simulator.scenario.inputs import uncertain_inputs


def test_default_scenario_loads_with_plans_and_baseline():
    scenario = load_scenario()
    assert DEFAULT_SCENARIO.exists()
    assert scenario.baseline_plan == "stay_perpetual"
    assert list(scenario.plans) == ["stay_perpetual", "hard_switch", "phased"]


def test_plan_overrides_apply_only_to_their_plan():
    scenario = load_scenario()
    assert scenario.costs.investments == {}
    assert sorted(scenario.for_plan("phased").costs.investments) == [3, 9]
    assert scenario.for_plan("hard_switch") is scenario


def test_uncertain_inputs_are_named_by_dotted_path():
    inputs = uncertain_inputs(load_scenario())
    assert "funnel.sources.web.stages.contract" in inputs
    assert "offers.saas_annual.churn.annual" in inputs
    # fixed values and per-customer deal sizes are not per-path inputs
    assert "offers.saas_annual.price_per_seat_month" not in inputs
    assert "segments.smb.seats" not in inputs
