"""Every KPI of docs/kpis.md on small hand-made paths, with hand-computed values.

Each test builds a few paths as ``(n, T)`` arrays, writes down the expected value of the KPI on
each path (NaN where it is undefined), and checks the function and, where it matters, the
``p_defined`` of the summary statistics.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.results import kpis as k
from simulator.results.stats import RunningMoments, kpi_stats, paired_comparison

NAN = np.nan


def rows(*paths) -> np.ndarray:
    return np.array(paths, dtype=float)


def annual(monthly: float) -> float:
    """The annual rate whose monthly rate is ``monthly``."""
    return (1 + monthly) ** 12 - 1


def check(actual, expected, rel=1e-9):
    np.testing.assert_allclose(
        actual, np.array(expected, dtype=float), rtol=rel, atol=1e-12, equal_nan=True
    )


# -- value ----------------------------------------------------------------------------------


def test_npv_horizon_discounts_month_t_by_t_plus_one_months():
    net = rows([100, 100, 100], [100, 100, 100], [-50, 0, 0])
    rate = np.array([annual(0.01), 0.0, annual(0.01)])
    # 100/1.01 + 100/1.01^2 + 100/1.01^3; undiscounted 300; -50/1.01
    check(k.npv_horizon(net, rate), [294.0985207, 300.0, -49.5049505], rel=1e-8)
    assert k.monthly_rate(annual(0.01)) == pytest.approx(0.01, rel=1e-12)


def test_terminal_value_arr_multiple_is_discounted_from_the_last_month():
    net = rows([100, 100, 100])
    arr = rows([0, 0, 1200])
    rate = np.array([annual(0.01)])
    tv = k.terminal_value("arr_multiple", arr, net, rate, multiple=np.array([5.0]))
    check(tv, [6000.0])
    # 294.0985207 + 6000 / 1.01^3 = 294.0985207 + 5823.5408874
    check(k.npv(net, rate, tv), [6117.6394081], rel=1e-9)
    check(k.terminal_value(None, arr, net, rate), [0.0])


def test_terminal_value_perpetuity_last_twelve_months_undefined_when_growth_reaches_rate():
    net12 = np.full((3, 12), 100.0)
    net12[:, 0] = -1000.0  # outside no window: the last 12 months are all 12 here
    rate = np.array([0.10, 0.10, 0.05])
    growth = np.array([0.02, 0.10, 0.02])
    # F = 1100 - 1000 = 100 ... months: -1000 + 11 x 100 = 100
    check(
        k.terminal_value("perpetuity", net12, net12, rate, growth=growth),
        [100 * 1.02 / 0.08, NAN, 100 * 1.02 / 0.03],
    )
    # a 24-month horizon only counts the last 12 months; a 3-month horizon is annualised (x 4)
    net24 = np.concatenate([np.full((1, 12), -999.0), np.full((1, 12), 10.0)], axis=1)
    check(k.terminal_value("perpetuity", net24, net24, 0.10, growth=0.0), [120 / 0.10])
    net3 = np.full((1, 3), 10.0)
    check(k.terminal_value("perpetuity", net3, net3, 0.10, growth=0.0), [120 / 0.10])


def test_total_revenue_and_ending_arr():
    revenue = rows([1, 2, 3], [0, 0, 0])
    arr = rows([12, 24, 36], [0, 0, 0])
    check(k.total_revenue(revenue), [6, 0])
    check(k.ending_arr(arr), [36, 0])


# -- cash -----------------------------------------------------------------------------------

CUMULATIVE = rows(
    [5, 3, -2, 1, 6],  # dips below 0 at month 2, back at the start (5) in month 4
    [5, 6, 7, 8, 9],  # never below the starting cash
    [5, 4, 3, 2, 1],  # trough in the last month: never back
    [4, 2, 4, 2, 5],  # trough at month 1 (first of the two lows), back at 5 in month 4
)
START = np.array([5.0, 5.0, 5.0, 5.0])


def test_cash_trough_negative_and_funding_need():
    check(k.min_cumulative_cash(CUMULATIVE), [-2, 5, 1, 2])
    check(k.trough_month(CUMULATIVE), [2, 0, 4, 1])
    check(k.cash_negative(CUMULATIVE), [1, 0, 0, 0])
    check(k.funding_need(CUMULATIVE), [2, 0, 0, 0])


def test_payback_month_zero_if_never_below_nan_if_never_back():
    values = k.payback_month(CUMULATIVE, START)
    check(values, [4, 0, NAN, 4])
    stats = kpi_stats(values)
    assert stats["p_defined"] == pytest.approx(0.75)
    assert stats["mean"] == pytest.approx(8 / 3)


def test_cash_breakeven_month_uses_trailing_twelve_months():
    net = np.zeros((4, 14))
    net[0] = [-10, 5, 5, 1] + [0] * 10  # trailing sums -10, -5, 0, 1, 1, ... -> from month 2
    net[1] = 1.0  # never negative -> 0
    net[2] = -1.0  # negative in the last month -> undefined
    net[3] = [-12] + [0] * 12 + [1]  # -12 in the window until month 12, when it drops out
    values = k.cash_breakeven_month(net)
    check(values, [2, 0, NAN, 12])
    assert kpi_stats(values)["p_defined"] == pytest.approx(0.75)
    check(k.trailing_sum(net[3:4])[0, [0, 11, 12, 13]], [-12, -12, 0, 1])


def test_crossover_months_against_the_baseline():
    base = np.full((4, 4), 2.0)
    plan = rows(
        [1, 1, 3, 3],  # TTM 1,2,5,8 vs 2,4,6,8: ahead (>=) only from month 3
        [3, 3, 3, 3],  # never behind -> 0
        [3, 3, 3, 1],  # TTM 3,6,9,10 vs 2,4,6,8: never behind -> 0
        [1, 1, 1, 1],  # behind at the end -> undefined
    )
    values = k.revenue_crossover_month(plan, base)
    check(values, [3, 0, 0, NAN])
    assert kpi_stats(values)["p_defined"] == pytest.approx(0.75)
    cash = rows([3, 1, 3, 3], [2, 2, 2, 2], [1, 1, 1, 1], [3, 3, 3, 1])
    # ahead, behind, ahead to the end -> 2; equal is not behind -> 0; never; behind at the end
    check(k.cash_crossover_month(cash, base), [2, 0, NAN, NAN])


def test_first_month_from_which():
    condition = np.array(
        [[True, False, True, True], [True] * 4, [False] * 4, [False, False, False, True]]
    )
    check(k.first_month_from_which(condition), [2, 0, NAN, 3])


# -- unit economics -------------------------------------------------------------------------


def test_arpu_averages_cmrr_per_customer_over_the_last_twelve_months():
    cmrr = np.full((3, 13), 100.0)
    customers = np.full((3, 13), 10.0)
    customers[0, 0] = 1.0  # outside the window
    customers[0, 12] = 20.0  # 11 months at 10, one at 5 -> 115 / 12
    customers[1, 1:7] = 0.0  # months without customers are left out -> 10
    customers[2] = 0.0  # no customers -> undefined
    check(k.arpu(cmrr, customers), [115 / 12, 10, NAN])


def test_cac_is_all_sales_and_marketing_over_new_customers():
    sm = rows([10, 10, 10], [10, 10, 10])
    new = rows([1, 0, 1], [0, 0, 0])
    check(k.cac(sm, new), [15, NAN])


def steady(margin: float, hazard: float, T: int, customers: float = 100.0):
    """Constant customers, each earning ``margin`` a month, churning at ``hazard``."""
    count = np.full((1, T), customers)
    return dict(
        gross_margin=count * margin,
        customers=count,
        new_customers=count * hazard,
        churned_customers=count * hazard,
        start_customers=np.array([customers]),
    )


def test_cltv_steady_state_is_the_textbook_value_first_payment_at_the_start():
    # MODEL.md §6: margin 100, retention 0.8, discount 0.1 per period -> 100 x 1.1 / 0.3 = 366.67
    for T in (1, 5, 30):
        check(
            k.cltv(**steady(100.0, 0.2, T), discount_rate=annual(0.1)), [366.6666666667], rel=1e-9
        )


def test_cltv_small_cohort_by_hand():
    # 10 customers won in month 0, 5 of them churn in month 1; margin 10 per customer-month.
    # h = [0, 0.5]; last-12-month churn 5/10, margin 150/15 = 10.
    # No discounting: residual 10 x 0.5 / 0.5 = 10, V1 = 20, V0 = 10 + 0.5 x 20 = 20.
    # Monthly 10%: residual 10 x 0.5 / 0.6, V1 = 18.333, V0 = 10 + 0.5/1.1 x V1 = 18.333.
    series = dict(
        gross_margin=rows([100, 50], [100, 150]),
        customers=rows([10, 5], [10, 15]),
        new_customers=rows([10, 0], [10, 10]),
        churned_customers=rows([0, 5], [0, 5]),
        start_customers=np.zeros(2),
    )
    check(k.cltv(**series, discount_rate=0.0), [20, 20])
    check(k.cltv(**series, discount_rate=annual(0.1)), [10 * 1.1 / 0.6] * 2)


def test_cltv_undefined_without_new_customers_or_with_an_unbounded_life():
    none_won = steady(100.0, 0.0, 3)
    none_won["new_customers"] = np.zeros((1, 3))
    check(k.cltv(**none_won, discount_rate=0.1), [NAN])
    no_churn = steady(100.0, 0.0, 3)
    no_churn["new_customers"] = np.ones((1, 3))
    check(k.cltv(**no_churn, discount_rate=0.0), [NAN])
    check(k.cltv(**no_churn, discount_rate=annual(0.1)), [100 * 1.1 / 0.1])


def test_cltv_textbook_ltv_to_cac_and_cac_payback():
    T = 12
    cmrr = np.full((2, T), 100.0)
    customers = np.full((2, T), 10.0)
    gross_margin = np.full((2, T), 60.0)
    revenue = np.full((2, T), 100.0)
    churned = np.full((2, T), 0.2)
    churned[1] = 0.0
    start = np.array([10.0, 10.0])
    # ARPU 10, GM 60%, churn 0.2 / 10 = 2% a month -> 10 x 0.6 / 0.02 = 300; no churn -> undefined
    textbook = k.cltv_textbook(cmrr, customers, gross_margin, revenue, churned, start)
    check(textbook, [300, NAN])
    check(k.margin_share(gross_margin, revenue), [0.6, 0.6])
    check(k.ltv_to_cac(np.array([300.0, 300.0, 300.0]), np.array([100.0, 0.0, NAN])), [3, NAN, NAN])
    check(
        k.cac_payback_months(
            np.array([120.0, 120.0, 120.0]), np.array([10.0, 10.0, 0.0]), np.array([0.6, -0.1, 0.6])
        ),
        [20, NAN, NAN],
    )


# -- retention ------------------------------------------------------------------------------


def retention_paths():
    T = 13
    customers = np.full((4, T), 100.0)
    cmrr = np.full((4, T), 1000.0)
    churned = np.zeros((4, T))
    churned[:, 1:] = 1.0  # 12 churned in the last 12 months, out of 100 at month T-13 = 0
    customers[:, -1], cmrr[0, -1] = 110.0, 1210.0  # average CMRR per customer 10 -> 11
    cmrr[1, -1] = 990.0  # 10 -> 9: contraction
    customers[2, 0] = 0.0  # nobody 12 months before the end
    cmrr[3, 0] = 0.0  # no CMRR 12 months before the end
    return cmrr, customers, churned


def test_logo_churn_grr_and_nrr_over_the_last_twelve_months():
    cmrr, customers, churned = retention_paths()
    check(k.logo_churn_annual(customers, churned), [0.12, 0.12, NAN, 0.12])
    check(k.nrr(cmrr, customers, churned), [0.88 * 1.1, 0.88 * 0.9, NAN, NAN])
    check(k.grr(cmrr, customers, churned), [0.88, 0.88 * 0.9, NAN, NAN])
    assert kpi_stats(k.grr(cmrr, customers, churned))["p_defined"] == pytest.approx(0.5)


def test_retention_undefined_for_horizons_of_twelve_months_or_less():
    cmrr, customers, churned = (x[:, 1:] for x in retention_paths())
    for value in (
        k.logo_churn_annual(customers, churned),
        k.grr(cmrr, customers, churned),
        k.nrr(cmrr, customers, churned),
    ):
        assert np.isnan(value).all()


def test_revenue_per_employee():
    revenue = np.full((3, 24), 10.0)
    headcount = np.full((3, 24), 4.0)
    headcount[2, -1] = 0.0
    check(k.revenue_per_employee(revenue, headcount), [30, 30, NAN])
    check(k.revenue_per_employee(revenue[:, :6], headcount[:, :6]), [30, 30, 30])  # 60 x 12/6 / 4


# -- all KPIs at once -----------------------------------------------------------------------


def constant_series(n: int = 2, T: int = 24) -> dict[str, np.ndarray]:
    ones = np.ones((n, T))
    customers = 100 * ones
    return dict(
        leads=50 * ones,
        new_customers=2 * ones,
        churned_customers=2 * ones,
        migrated_customers=0 * ones,
        customers=customers,
        seats=customers,
        cmrr=1000 * ones,
        arr=12000 * ones,
        revenue=1000 * ones,
        recurring_revenue=1000 * ones,
        subscription_revenue=1000 * ones,
        maintenance_revenue=0 * ones,
        term_revenue=0 * ones,
        license_revenue=0 * ones,
        services_revenue=0 * ones,
        billings=1000 * ones,
        deferred_revenue=0 * ones,
        cash_in=1000 * ones,
        cash_out=900 * ones,
        sm_spend=200 * ones,
        cogs=300 * ones,
        gross_margin=700 * ones,
        opex=600 * ones,
        operating_income=100 * ones,
        net_cash_flow=100 * ones,
        cumulative_cash=100 * np.cumsum(ones, axis=1),
        headcount=10 * ones,
    )


def test_compute_kpis_gives_every_kpi_and_crossovers_only_against_a_baseline():
    series = constant_series()
    finance = k.FinanceParams(
        discount_rate=np.full(2, annual(0.01)),
        starting_cash=np.zeros(2),
        start_customers=np.full(2, 100.0),
        terminal_method="arr_multiple",
        terminal_multiple=np.array([0.0, 1.0]),
    )
    out = k.compute_kpis(series, finance)
    assert tuple(out) == k.KPIS
    assert all(v.shape == (2,) and v.dtype == float for v in out.values())
    assert (
        np.isnan(out["revenue_crossover_month"]).all()
        and np.isnan(out["cash_crossover_month"]).all()
    )
    paired = k.compute_kpis(series, finance, baseline=series)
    check(paired["revenue_crossover_month"], [0, 0])  # equal to itself: never behind
    check(out["npv"] - out["npv_horizon"], [0, 12000 * 1.01**-24])
    check(out["arpu"], [10, 10])
    check(out["cac"], [100, 100])
    check(out["cltv"], [7 * 1.01 / (0.01 + 0.02)] * 2)  # margin 7 per customer, churn 2%
    check(out["ltv_to_cac"], out["cltv"] / 100)
    check(out["cac_payback_months"], [100 / 7] * 2)
    check(out["logo_churn_annual"], [0.24, 0.24])
    check(out["nrr"], [0.76, 0.76])
    check(out["revenue_per_employee"], [1200, 1200])
    check(out["cash_breakeven_month"], [0, 0])
    check(out["payback_month"], [0, 0])


# -- statistics -----------------------------------------------------------------------------


def test_kpi_stats_over_defined_paths():
    stats = kpi_stats(np.array([1.0, NAN, 3.0, NAN]))
    assert stats["mean"] == pytest.approx(2.0)
    assert stats["se"] == pytest.approx(1.0)  # sd([1, 3]) = sqrt(2), / sqrt(2)
    assert (stats["p5"], stats["p50"], stats["p95"]) == pytest.approx((1.1, 2.0, 2.9))
    assert stats["p_defined"] == pytest.approx(0.5)
    never = kpi_stats(np.full(3, NAN))
    assert never == {
        "mean": None,
        "se": None,
        "p5": None,
        "p50": None,
        "p95": None,
        "p_defined": 0.0,
    }


def test_kpi_stats_binary_and_expected_mode():
    stats = kpi_stats(np.array([1.0, 0.0, 0.0, 1.0]), binary=True)
    assert stats["mean"] == pytest.approx(0.5)
    assert stats["se"] == pytest.approx(math.sqrt(0.25 / 4))
    one = kpi_stats(np.array([7.0]), expected=True)
    assert one == {"mean": 7.0, "se": None, "p5": 7.0, "p50": 7.0, "p95": 7.0, "p_defined": None}


def comparison_kpis(npv):
    n = len(npv)
    return {
        "npv": np.array(npv, float),
        "ending_arr": np.arange(n, dtype=float),
        "min_cumulative_cash": np.zeros(n),
        "revenue_crossover_month": np.array([3.0] + [NAN] * (n - 1)),
        "cash_crossover_month": np.full(n, NAN),
    }


def test_paired_comparison_of_hand_made_plans():
    plan = comparison_kpis([1.0, 2.0, 3.0, 4.0, 10.0])
    base = comparison_kpis([0.0, 3.0, 2.0, 5.0, 10.0])
    out = paired_comparison(plan, base, "base")
    assert out["baseline"] == "base"
    # higher on paths 0 and 2, lower on 1 and 3, tied on 4 (a tie is not higher): 2 / 5
    assert out["p_npv_higher"] == pytest.approx(0.4)
    assert out["p_npv_higher_se"] == pytest.approx(math.sqrt(0.4 * 0.6 / 5))
    assert out["npv_difference"]["mean"] == pytest.approx(0.0)
    assert out["npv_difference"]["p50"] == pytest.approx(0.0)
    assert out["p_ending_arr_higher"] == 0.0 and out["p_min_cash_higher"] == 0.0
    assert out["revenue_crossover_month"] == {
        "mean": 3.0,
        "p5": 3.0,
        "p50": 3.0,
        "p95": 3.0,
        "p_defined": 0.2,
    }
    assert (
        out["cash_crossover_month"]["p_defined"] == 0.0
        and out["cash_crossover_month"]["mean"] is None
    )


def test_paired_comparison_skips_paths_where_either_npv_is_undefined():
    plan = comparison_kpis([1.0, NAN, 3.0, 4.0])
    base = comparison_kpis([0.0, 1.0, NAN, 5.0])
    out = paired_comparison(plan, base, "base")
    assert out["p_npv_higher"] == pytest.approx(0.5)  # paths 0 (higher) and 3 (lower)
    assert out["npv_difference"]["mean"] == pytest.approx(0.0)
    expected = paired_comparison(
        comparison_kpis([2.0]), comparison_kpis([1.0]), "base", expected=True
    )
    assert expected["p_npv_higher"] is None and expected["npv_difference"]["se"] is None
    assert expected["npv_difference"]["mean"] == 1.0


def test_running_moments_merge_chunks_exactly():
    rng = np.random.default_rng(5)
    x = rng.normal(1e6, 10.0, size=(101, 7))
    moments = RunningMoments(7)
    for block in (x[:40], x[40:41], x[41:]):
        moments.update(block)
    np.testing.assert_allclose(moments.mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(moments.se, x.std(axis=0, ddof=1) / np.sqrt(101), rtol=1e-9)
