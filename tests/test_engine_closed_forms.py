"""Engines against closed forms, accounting identities and Monte Carlo means.

Every engine in :data:`ENGINES` must pass every test: expected-value mode exactly (``RTOL``),
Monte Carlo mode within standard errors. Scenarios are small YAML texts; the conventions tested
are those of MODEL.md §3 and ``docs/engine.md``.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

import numpy as np
import pytest
from scipy.special import beta as beta_function

from simulator.engine import kernel_nb, reference
from simulator.engine.inputs import build_inputs, max_win_rate_factor
from simulator.engine.layout import FLOWS, SOURCE_ROW_INDEX, SOURCE_STAGE_ROW, derive_series
from simulator.sampling import expected_inputs, sample_inputs
from simulator.scenario.loader import load_text
from simulator.scenario.model import Scenario

ENGINES = [pytest.param(reference.run, id="reference"), pytest.param(kernel_nb.run, id="numba")]

RTOL = 1e-9

SCENARIO = Template("""
simulation: {horizon_months: $horizon}
funnel:
  sources:
    web: {leads_per_month: $leads, stages: {contract: $conversion} $source}
segments:
  all: {share: 100%, seats: $seats}
offers:
  main: $offer
  $other
plans:
  plan: {mix: $mix $plan}
$extra
""")
"""One source whose leads become wins after one stage (every lead by default), one segment."""

MONTHLY_SAAS = "{type: subscription, price_per_seat_month: 10, churn: {monthly: 5%}}"
ANNUAL_SAAS = "{type: subscription, price_per_seat_month: 10, billing: annual, term_months: 12, churn: $churn}"


def make(offer: str = MONTHLY_SAAS, *, leads: float | str = 100, horizon: int = 60, seats: float = 1,
         conversion: str = "100%", source: str = "", other: str = "", mix: str = "{main: 100%}", plan: str = "",
         extra: str = "") -> Scenario:
    """A small scenario from :data:`SCENARIO`; ``source`` and ``plan`` add keys (``", key: value"``)."""
    return load_text(SCENARIO.substitute(horizon=horizon, leads=leads, conversion=conversion, source=source,
                                         seats=seats, offer=offer, other=other, mix=mix, plan=plan, extra=extra))


def annual(churn: str) -> str:
    """An annual subscription billed upfront, with the given churn."""
    return Template(ANNUAL_SAAS).substitute(churn=churn)


def one_cohort(wins: float) -> str:
    """A leads schedule with ``wins`` leads in month 0 and none after."""
    return f"{{schedule: {{0: {wins}, 1: 0}}, interpolation: step}}"


def seeds_for(paths: int, seed: int) -> np.ndarray:
    """``ndarray(uint64, (paths, 2))`` engine seeds from the engine's spawn key of ``seed``."""
    state = np.random.SeedSequence(seed, spawn_key=(1,)).generate_state(2 * paths, np.uint64)
    return state.reshape(paths, 2)


def run_expected(engine, scenario: Scenario, plan: str | None = None):
    """Expected-value run of one path: ``(inputs, output, series)``."""
    plan = plan or scenario.baseline_plan
    means = {p: expected_inputs(scenario, p) for p in scenario.plans}
    inp = build_inputs(scenario, plan, means[plan], 1, max_win_rate_factor(scenario, means, 1))
    out = engine(inp, True, seeds_for(1, 0))
    return inp, out, derive_series(out, inp, True)


def run_monte_carlo(engine, scenario: Scenario, paths: int, seed: int, plan: str | None = None):
    """Monte Carlo run with per-path input draws: ``(inputs, output, series)``."""
    plan = plan or scenario.baseline_plan
    draws = sample_inputs(scenario, paths, seed)
    values = {p: draws.values(p) for p in scenario.plans}
    inp = build_inputs(scenario, plan, values[plan], paths, max_win_rate_factor(scenario, values, paths))
    out = engine(inp, False, seeds_for(paths, seed))
    return inp, out, derive_series(out, inp, False)


def flows_of(out) -> dict[str, np.ndarray]:
    """The engine's flows by name, ``(n, T)`` each."""
    return {name: out.flows[:, i] for i, name in enumerate(FLOWS)}


def constant_inflow(wins: float, churn: float, months: int) -> np.ndarray:
    """``W (1 - (1-c)^(t+1)) / c`` for ``t = 0..months-1`` (MODEL.md §3, §6)."""
    t = np.arange(months)
    return wins * (1 - (1 - churn) ** (t + 1)) / churn


def sbg_survival(alpha: float, beta: float, years: np.ndarray) -> np.ndarray:
    """``S(t) = B(alpha, beta + t) / B(alpha, beta)`` (Fader & Hardie 2007)."""
    return beta_function(alpha, beta + years) / beta_function(alpha, beta)


# --------------------------------------------------------------------------------------------
# churn and renewals


@pytest.mark.parametrize("engine", ENGINES)
def test_constant_wins_and_monthly_churn_follow_the_closed_form(engine):
    _, _, series = run_expected(engine, make())
    customers = series["customers"][0]
    np.testing.assert_allclose(customers, constant_inflow(100, 0.05, 60), rtol=RTOL)
    assert customers[11] == pytest.approx(919.2798, abs=1e-4)  # MODEL.md §6: C_12
    assert customers[59] == pytest.approx(1907.8604, abs=1e-4)  # C_60
    np.testing.assert_allclose(series["new_customers"][0], 100, rtol=RTOL)
    np.testing.assert_allclose(series["churned_customers"][0, 1:], 0.05 * customers[:-1], rtol=RTOL)
    assert series["churned_customers"][0, 0] == 0  # wins of month t never churn in t


@pytest.mark.parametrize("engine", ENGINES)
def test_annual_contracts_churn_only_at_anniversaries(engine):
    t = np.arange(60)
    _, _, single = run_expected(engine, make(annual("{annual: 10%}"), leads=one_cohort(1000)))
    np.testing.assert_allclose(single["customers"][0], 1000 * 0.9 ** (t // 12), rtol=RTOL)
    churned = single["churned_customers"][0]
    anniversary = (t > 0) & (t % 12 == 0)
    assert np.all(churned[~anniversary] == 0)
    np.testing.assert_allclose(churned[anniversary], 100 * 0.9 ** (t[anniversary] // 12 - 1), rtol=RTOL)

    _, _, steady = run_expected(engine, make(annual("{annual: 10%}"), leads=100))
    steps = np.array([sum(100 * 0.9 ** ((m - start) // 12) for start in range(m + 1)) for m in t])
    np.testing.assert_allclose(steady["customers"][0], steps, rtol=RTOL)
    assert np.all(steady["churned_customers"][0, :12] == 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_monthly_rate_on_annual_contracts_renews_at_the_yearly_compound(engine):
    _, _, series = run_expected(engine, make(annual("{monthly: 2%}"), leads=one_cohort(1000), horizon=36))
    np.testing.assert_allclose(series["customers"][0], 1000 * 0.98 ** (12 * (np.arange(36) // 12)), rtol=RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_sbg_cohort_follows_the_beta_survival_and_heterogeneity_retains_more(engine):
    def cohort(alpha: float, beta: float) -> np.ndarray:
        churn = f"{{sbg: {{alpha: {alpha}, beta: {beta}}}}}"
        _, _, series = run_expected(engine, make(annual(churn), leads=one_cohort(1000), horizon=96))
        return series["customers"][0]

    years = np.arange(96) // 12
    mixed, alike = cohort(0.2, 0.8), cohort(2.0, 8.0)  # both lose 20% in the first year
    np.testing.assert_allclose(mixed, 1000 * sbg_survival(0.2, 0.8, years), rtol=RTOL)
    np.testing.assert_allclose(alike, 1000 * sbg_survival(2.0, 8.0, years), rtol=RTOL)
    mixed_years, alike_years = mixed[::12], alike[::12]
    assert mixed_years[1] == pytest.approx(alike_years[1], rel=RTOL)
    assert np.all(mixed_years[2:] > alike_years[2:])
    assert np.all(np.diff(mixed_years[1:] / mixed_years[:-1]) > 0)  # retention rises: the riskiest leave first


# --------------------------------------------------------------------------------------------
# funnel by source

TWO_SOURCES = """
simulation: {horizon_months: 24}
funnel:
  sources:
    web: {leads_per_month: 200, stages: {trial: 50%, contract: 20%}, cost_per_lead: 10,
          fixed_cost_per_month: 500}
    partners: {leads_per_month: 40, stages: {contract: 25%}, sales_cycle_months: 3, pipeline: cold,
               cost_per_lead: 50}
segments:
  smb: {share: 60%, seats: 2}
  ent: {share: 40%, seats: 10}
offers:
  main: {type: subscription, price_per_seat_month: 10, churn: {monthly: 5%}}
  cheap: {type: subscription, price_per_seat_month: 5, churn: {monthly: 5%}, win_rate_factor: 1.5}
plans:
  plan: {mix: {main: 50%, cheap: 50%}}
"""
"""Two sources (warm with two stages; cold with a 3-month cycle), two offers, two segments."""


@pytest.mark.parametrize("engine", ENGINES)
def test_funnel_by_source_follows_the_closed_form(engine):
    inp, out, series = run_expected(engine, load_text(TWO_SOURCES))
    web, partners = out.source_flows[0]
    t = np.arange(24)
    rows = SOURCE_ROW_INDEX
    leads, marketing, won = rows["leads"], rows["marketing"], rows["new_customers"]
    assert out.source_flows.shape == (1, 2, 3 + 2 - 1, 24)
    np.testing.assert_allclose(web[leads], 200, rtol=RTOL)
    np.testing.assert_allclose(partners[leads], 40, rtol=RTOL)
    np.testing.assert_allclose(web[marketing], 200 * 10 + 500, rtol=RTOL)
    np.testing.assert_allclose(partners[marketing], 40 * 50, rtol=RTOL)
    np.testing.assert_allclose(web[SOURCE_STAGE_ROW], 200 * 0.5, rtol=RTOL)  # after the trial stage
    np.testing.assert_allclose(partners[SOURCE_STAGE_ROW], 0, atol=1e-12)  # one stage: none between
    # potential wins at q* = p_K F (F = 1.5), accepted with p_K f_o / q*:
    # E[wins] = opportunities x p_K x the mix's mean win-rate factor
    mean_factor = 0.5 * 1.0 + 0.5 * 1.5
    np.testing.assert_allclose(web[won], 200 * 0.5 * 0.2 * mean_factor, rtol=RTOL)
    cold = np.where(t >= 3, 40 * 0.25 * mean_factor, 0.0)
    np.testing.assert_allclose(partners[won], cold, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(series["new_customers"][0], web[won] + partners[won], rtol=RTOL)


# --------------------------------------------------------------------------------------------
# revenue, billings, cash


@pytest.mark.parametrize("engine", ENGINES)
def test_perpetual_sale_books_the_licence_then_maintenance_from_the_first_anniversary(engine):
    offer = "{type: perpetual, license_fee_per_seat: 1000, maintenance_rate: 20%, churn: {renewal_rate: 90%}}"
    _, _, series = run_expected(engine, make(offer, leads=one_cohort(10), seats=5, horizon=36))
    t = np.arange(36)
    licence = np.where(t == 0, 10 * 5 * 1000, 0.0)
    in_force = 10 * 0.9 ** (t // 12)
    maintenance = np.where(t >= 12, in_force * 5 * 1000 * 0.2 / 12, 0.0)
    np.testing.assert_allclose(series["license_revenue"][0], licence, rtol=RTOL)
    np.testing.assert_allclose(series["maintenance_revenue"][0], maintenance, rtol=RTOL)
    np.testing.assert_allclose(series["cmrr"][0], maintenance, rtol=RTOL)
    billed = licence + np.where((t > 0) & (t % 12 == 0), in_force * 5 * 1000 * 0.2, 0.0)
    np.testing.assert_allclose(series["billings"][0], billed, rtol=RTOL)
    np.testing.assert_allclose(series["customers"][0], in_force, rtol=RTOL)  # the first year is included


@pytest.mark.parametrize("engine", ENGINES)
def test_annual_upfront_billing_moves_cash_ahead_of_revenue_by_the_deferred_amount(engine):
    offer = annual("{annual: 10%}").replace("price_per_seat_month: 10", "price_per_seat_month: 50")
    _, _, series = run_expected(engine, make(offer, leads=10, seats=2, horizon=48))
    unearned = np.array([sum(10 * 0.9 ** ((m - start) // 12) * 2 * 50 * (11 - (m - start) % 12)
                             for start in range(m + 1)) for m in range(48)])
    deferred = series["deferred_revenue"][0]
    revenue_to_date = np.cumsum(series["revenue"][0])
    np.testing.assert_allclose(deferred, unearned, rtol=RTOL)
    np.testing.assert_allclose(np.cumsum(series["billings"][0]) - revenue_to_date, deferred, rtol=RTOL)
    np.testing.assert_allclose(np.cumsum(series["cash_in"][0]) - revenue_to_date, deferred, rtol=RTOL)

    _, _, monthly = run_expected(engine, make(offer.replace("billing: annual", "billing: monthly"), leads=10,
                                              seats=2, horizon=48))
    np.testing.assert_allclose(monthly["deferred_revenue"][0], 0, atol=1e-6)
    np.testing.assert_allclose(monthly["revenue"][0], series["revenue"][0], rtol=RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_collection_lag_shifts_cash_in_by_whole_months(engine):
    cash = {}
    for lag in (0, 3):
        scenario = make(annual("{annual: 10%}"), leads=10, extra=f"finance: {{collection_lag_months: {lag}}}")
        cash[lag] = run_expected(engine, scenario)[2]["cash_in"][0]
    np.testing.assert_allclose(cash[3][3:], cash[0][:-3], rtol=RTOL)
    assert np.all(cash[3][:3] == 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_warm_pipeline_fills_the_lag_and_a_cold_one_waits(engine):
    _, _, warm = run_expected(engine, make(horizon=24, source=", sales_cycle_months: 3"))
    _, _, cold = run_expected(engine, make(horizon=24, source=", sales_cycle_months: 3, pipeline: cold"))
    np.testing.assert_allclose(warm["new_customers"][0], 100, rtol=RTOL)
    np.testing.assert_allclose(cold["new_customers"][0], np.where(np.arange(24) >= 3, 100.0, 0.0), rtol=RTOL)
    np.testing.assert_allclose(warm["leads"][0], cold["leads"][0], rtol=RTOL)  # the warm pipeline is not leads


@pytest.mark.parametrize("engine", ENGINES)
def test_win_rate_factor_scales_the_wins_an_offer_receives(engine):
    cheap = "cheap: {type: subscription, price_per_seat_month: 5, churn: {monthly: 5%}, win_rate_factor: 1.5}"
    scenario = make(horizon=12, conversion="40%", other=cheap, mix="{main: 50%, cheap: 50%}")
    _, out, _ = run_expected(engine, scenario)
    np.testing.assert_allclose(out.offer_customers[0, :, 0], [100 * 0.4 * 0.5, 100 * 0.4 * 1.5 * 0.5], rtol=RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_term_licence_books_its_licence_part_at_each_term_start(engine):
    offer = ("{type: term, fee_per_seat_year: 120, term_years: 2, license_share: 40%, billing: upfront, "
             "churn: {renewal_rate: 80%}}")
    _, _, series = run_expected(engine, make(offer, leads=one_cohort(10), seats=2, horizon=60))
    t = np.arange(60)
    in_force = 10 * 0.8 ** (t // 24)
    term_start = t % 24 == 0
    fee = in_force * 2 * 120  # one year's fee of the customers in force
    np.testing.assert_allclose(series["license_revenue"][0], np.where(term_start, 0.4 * 2 * fee, 0.0), rtol=RTOL)
    np.testing.assert_allclose(series["term_revenue"][0], 0.6 * fee / 12, rtol=RTOL)
    np.testing.assert_allclose(series["cmrr"][0], fee / 12, rtol=RTOL)
    np.testing.assert_allclose(series["billings"][0], np.where(term_start, 2 * fee, 0.0), rtol=RTOL)
    np.testing.assert_allclose(series["customers"][0], in_force, rtol=RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_renewing_customers_are_repriced_and_expand_every_year(engine):
    offer = ("{type: subscription, price_per_seat_month: 10, churn: {monthly: 0%}, price_increase_per_year: 10%, "
             "expansion_per_year: 8%, contraction_per_year: 3%}")
    _, _, series = run_expected(engine, make(offer, leads=one_cohort(10), seats=4, horizon=36))
    years = np.arange(36) // 12
    np.testing.assert_allclose(series["seats"][0], 10 * 4 * 1.05 ** years, rtol=RTOL)
    np.testing.assert_allclose(series["revenue"][0], 10 * 4 * 10 * (1.05 * 1.1) ** years, rtol=RTOL)
    # month 12: 11 cohorts at the old list price, one repriced and one new at the new list price
    _, _, steady = run_expected(engine, make(offer, leads=10, seats=4, horizon=13))
    assert steady["revenue"][0, 12] == pytest.approx(10 * 4 * 10 * (11 + 1.05 * 1.1 + 1.1), rel=RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_channel_economics_and_upfront_commission(engine):
    channels = """
costs:
  commissions: {upfront_rate: 10%}
  channels:
    reseller: {share: 20%, rate: 25%}
    referral: {share: 10%, rate: 10%}
    marketplace: {share: 15%, rate: 4%}
"""
    scenario = make(annual("{renewal_rate: 100%}"), leads=one_cohort(100), seats=2, horizon=24, extra=channels)
    _, out, series = run_expected(engine, scenario)
    gross, kept = 100 * 2 * 10, 1 - 0.2 * 0.25  # monthly amount; share kept after the reseller's margin
    flows = flows_of(out)
    np.testing.assert_allclose(series["revenue"][0], gross * kept, rtol=RTOL)
    np.testing.assert_allclose(flows["referral_commissions"][0], 0.1 * 0.1 * gross, rtol=RTOL)
    np.testing.assert_allclose(flows["marketplace_fees"][0], 0.15 * 0.04 * gross, rtol=RTOL)
    commission = np.where(np.arange(24) == 0, 0.1 * 12 * gross * kept, 0.0)  # on the first year's revenue
    np.testing.assert_allclose(flows["upfront_commissions"][0], commission, rtol=RTOL)


# --------------------------------------------------------------------------------------------
# installed base and migration

BASE = """
installed_base:
  offer: main
  customers: 1200
  seats: 3
  annual_maintenance_per_seat: 170
  churn: {renewal_rate: 90%}
  anniversary_weights: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
finance: {collection_lag_months: 2}
"""
BASE_GROUPS = 1200 * np.arange(1, 13) / 78
"""``B w_φ``: customers of each anniversary month."""


def base_scenario(migration: str = "") -> Scenario:
    """1,200 perpetual customers under maintenance, no new wins; optionally migrating to ``saas``."""
    perpetual = "{type: perpetual, license_fee_per_seat: 900, churn: {renewal_rate: 80%}}"
    saas = "saas: " + annual("{renewal_rate: 100%}")
    plan = f", migration: {migration}" if migration else ""
    return make(perpetual, leads=0, horizon=36, other=saas, plan=plan, extra=BASE)


def anniversaries_passed(months: int) -> np.ndarray:
    """``(T, 12)``: anniversaries ``φ, φ + 12, ...`` of group ``φ`` at or before month ``t``."""
    t, phi = np.arange(months)[:, None], np.arange(12)[None, :]
    return np.where(t >= phi, (t - phi) // 12 + 1, 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_installed_base_decays_by_anniversary_group(engine):
    inp, out, series = run_expected(engine, base_scenario())
    in_force = (BASE_GROUPS * 0.9 ** anniversaries_passed(36)).sum(axis=1)
    np.testing.assert_allclose(series["customers"][0], in_force, rtol=RTOL)
    np.testing.assert_allclose(out.offer_customers[0, inp.base_offer], in_force, rtol=RTOL)
    np.testing.assert_allclose(series["maintenance_revenue"][0], in_force * 3 * 170 / 12, rtol=RTOL)
    assert series["new_customers"][0].sum() == 0
    assert out.start_customers[0] == pytest.approx(1200, rel=RTOL)
    assert out.opening_deferred[0] == pytest.approx((BASE_GROUPS * 3 * 170 * np.arange(12) / 12).sum(), rel=RTOL)
    # maintenance billed at φ - 12 for φ = 10, 11 is collected in months 0, 1 (lag 2)
    np.testing.assert_allclose(series["cash_in"][0, :2], BASE_GROUPS[10:] * 3 * 170, rtol=RTOL)


@pytest.mark.parametrize("engine", ENGINES)
def test_migration_moves_base_customers_without_churning_or_winning_them(engine):
    scenario = base_scenario("{to: saas, rate_per_year: 30%, start_month: 6}")
    inp, out, series = run_expected(engine, scenario)
    t, phi = np.arange(36)[:, None], np.arange(12)[None, :]
    passed = anniversaries_passed(36)
    before_start = ((phi < 6) & (t >= phi)).astype(int)  # the first anniversary of φ < 6 precedes month 6
    remaining = BASE_GROUPS * 0.9 ** passed * 0.7 ** (passed - before_start)
    # at an anniversary from month 6 on: 30% of the customers there before it move
    there = BASE_GROUPS * 0.9 ** (passed - 1) * 0.7 ** np.maximum(passed - 1 - before_start, 0)
    moved = np.where((t >= 6) & (t >= phi) & ((t - phi) % 12 == 0), 0.3 * there, 0.0).sum(axis=1)
    saas = list(scenario.offers).index("saas")
    np.testing.assert_allclose(out.offer_customers[0, inp.base_offer], remaining.sum(axis=1), rtol=RTOL)
    np.testing.assert_allclose(series["migrated_customers"][0], moved, rtol=RTOL)
    np.testing.assert_allclose(out.offer_customers[0, saas], np.cumsum(moved), rtol=RTOL)
    np.testing.assert_allclose(series["customers"][0], out.offer_customers[0].sum(axis=0), rtol=RTOL)
    assert series["new_customers"][0].sum() == 0
    previous = np.concatenate([out.start_customers, series["customers"][0, :-1]])
    np.testing.assert_allclose(previous - series["churned_customers"][0], series["customers"][0], rtol=RTOL)


# --------------------------------------------------------------------------------------------
# identities on every path, both modes

ALL_OFFERS = Template("""
simulation: {horizon_months: 40, seed: 7}
funnel:
  sources:
    web:
      leads_per_month: $leads
      growth_per_year: 10%
      seasonality: [1.2, 1, 1, 1, 1, 0.8, 0.6, 0.7, 1, 1.1, 1.2, 1.4]
      volatility: {sd: 15%, autocorrelation: 0.5}
      stages: {trial: $trial, contract: 30%}
      sales_cycle_months: 2
      cost_per_lead: 40
    partners:
      leads_per_month: {schedule: {0: 20, 24: 60}}
      stages: {meeting: 50%, qualified: 60%, contract: 40%}
      sales_cycle_months: 4
      pipeline: cold
      fixed_cost_per_month: 5000
$market
segments:
  smb: {share: 70%, seats: {dist: lognormal, mean: 8, sd: 6}, churn_multiplier: 1.4}
  ent: {share: 30%, seats: {dist: lognormal, mean: 60, sd: 40}, price_multiplier: 0.85, churn_multiplier: 0.5}
offers:
  perpetual: {type: perpetual, license_fee_per_seat: 800, churn: {renewal_rate: $renewal},
              support_cost_per_seat_month: 2, services_per_customer: 2000, services_cost_share: 60%,
              price_increase_per_year: 3%}
  monthly: {type: subscription, price_per_seat_month: 25, churn: {monthly: $churn}, expansion_per_year: 8%,
            cost_to_serve_per_seat_month: 4, win_rate_factor: 1.3}
  multi: {type: subscription, price_per_seat_month: 22, billing: multi_year, term_months: 24,
          churn: {sbg: {alpha: 1.5, beta: 6}}, price_increase_per_year: 4%, contraction_per_year: 3%}
  term: {type: term, fee_per_seat_year: 200, term_years: 2, license_share: 40%, billing: yearly,
         churn: {annual: 10%}, support_cost_per_seat_month: 1}
installed_base:
  offer: perpetual
  customers: 500
  seats: {dist: lognormal, mean: 20, sd: 15}
  churn: {sbg: {alpha: 2, beta: 12}}
  tenure_years: 3
plans:
  keep: {mix: {perpetual: 100%}}
  hybrid:
    mix: {schedule: {0: {perpetual: 50%, monthly: 50%}, 30: {monthly: 40%, multi: 30%, term: 30%}}}
    migration: {to: multi, rate_per_year: $migration, first_term_price_factor: 80%, start_month: 3,
                commission_rate: 5%}
costs:
  commissions: {upfront_rate: 10%, recurring_rate: 2%}
  channels:
    reseller: {share: 20%, rate: 25%}
    referral: {share: 10%, rate: 10%}
    marketplace: {share: 15%, rate: 3%}
  fixed_opex_per_month: 100000
  headcount: {fixed: 10, customers_per_support_head: 150, cost_per_head_year: 90000}
  investments: {5: 200000}
finance: {starting_cash: 2000000, collection_lag_months: 1}
""")
"""Every offer type, billing, churn form, channel, an installed base and a migration."""

UNCERTAIN = dict(leads="300 to 500", trial="10% to 20%", renewal="85% to 95%", churn="1% to 3%",
                 migration="20% to 40%",
                 market="market: {sd: 10%, autocorrelation: 0.8, leads: 1, conversion: 0.5, churn: -0.5}")
FIXED = dict(leads="400", trial="15%", renewal="90%", churn="2%", migration="30%", market="")


def isv_transition(horizon: int = 36) -> Scenario:
    """The bundled example, shortened."""
    text = (Path(__file__).resolve().parent.parent / "scenarios" / "isv_transition.yaml").read_text()
    return load_text(text.replace("horizon_months: 120", f"horizon_months: {horizon}"))


def assert_identities(inp, out, series: dict[str, np.ndarray]) -> None:
    """Accounting identities that hold on every path and month."""
    for name, value in series.items():
        assert np.isfinite(value).all(), name
    assert np.isfinite(out.flows).all()
    customers = series["customers"]
    previous = np.concatenate([out.start_customers[:, None], customers[:, :-1]], axis=1)
    balance = previous + series["new_customers"] - series["churned_customers"] - customers
    np.testing.assert_allclose(balance / (1 + customers), 0, atol=1e-9)
    np.testing.assert_allclose(series["cumulative_cash"],
                               inp.starting_cash[:, None] + np.cumsum(series["net_cash_flow"], axis=1), rtol=1e-9)
    np.testing.assert_allclose(out.offer_customers.sum(axis=1), customers, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out.offer_revenue.sum(axis=1), series["revenue"], rtol=1e-9, atol=1e-6)
    for name in ("revenue", "customers", "seats", "new_customers", "churned_customers", "billings", "cogs"):
        assert (series[name] >= -1e-9).all(), name
    flows = flows_of(out)
    for name, row in SOURCE_ROW_INDEX.items():  # leads, marketing, new customers: sum over sources
        np.testing.assert_allclose(out.source_flows[:, :, row].sum(axis=1), flows[name], rtol=1e-9,
                                   atol=1e-9, err_msg=name)
    assert (out.source_flows >= -1e-9).all()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name, plan", [("all_offers", "keep"), ("all_offers", "hybrid"), ("isv", "stay_perpetual"),
                                        ("isv", "hard_switch"), ("isv", "phased")])
def test_identities_hold_on_every_path_in_both_modes(engine, name, plan):
    scenario = load_text(ALL_OFFERS.substitute(UNCERTAIN)) if name == "all_offers" else isv_transition()
    assert_identities(*run_expected(engine, scenario, plan))
    assert_identities(*run_monte_carlo(engine, scenario, 200, 11, plan))


# --------------------------------------------------------------------------------------------
# Monte Carlo against closed forms and the expected-value run


@pytest.mark.parametrize("engine", ENGINES)
def test_monte_carlo_mean_matches_the_constant_inflow_closed_form(engine):
    paths = 20_000
    _, _, series = run_monte_carlo(engine, make(), paths, seed=4433)
    customers = series["customers"]
    assert np.all(customers == np.round(customers))
    closed_form = constant_inflow(100, 0.05, 60)
    for t in (11, 59):
        mean, se = customers[:, t].mean(), customers[:, t].std(ddof=1) / np.sqrt(paths)
        assert abs(mean - closed_form[t]) < 4 * se, (t, mean, closed_form[t], se)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("plan", ["keep", "hybrid"])
def test_monte_carlo_means_match_the_expected_run_when_inputs_are_fixed(engine, plan):
    """With every input fixed and no market factor the model is linear in the counts.

    Source volatility multiplies the Poisson mean by a mean-1 factor, so it keeps the mean; the
    support headcount is rounded up in Monte Carlo, so cash is left out.
    """
    scenario = load_text(ALL_OFFERS.substitute(FIXED))
    _, _, expected = run_expected(engine, scenario, plan)
    paths = 2000
    _, _, mc = run_monte_carlo(engine, scenario, paths, 99, plan)
    for name in ("customers", "seats", "cmrr", "revenue", "license_revenue", "billings", "cash_in", "cogs",
                 "migrated_customers"):
        mean, se = mc[name].mean(axis=0), mc[name].std(axis=0, ddof=1) / np.sqrt(paths)
        z = np.abs(mean - expected[name][0]) / np.maximum(se, 1e-9 * (1 + np.abs(mean)))
        assert z.max() < 5, (name, int(z.argmax()), z.max())
