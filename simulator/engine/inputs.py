"""From a plan's scenario and its per-path draws to the flat arrays the engines read.

:func:`build_inputs` is the one place where scenario objects become numbers: every later step
(the numba kernel and the NumPy reference) sees only :class:`EngineInputs`, whose fields are
NumPy arrays and integers. Equations: ``docs/engine.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simulator.scenario.model import Churn, Perpetual, Scenario, Subscription, Term
from simulator.scenario.uncertain import Uncertain
from simulator.scenario.values import Schedule

__all__ = ["EngineInputs", "build_inputs", "OFFER_SUBSCRIPTION", "OFFER_PERPETUAL", "OFFER_TERM",
           "QUANTILE_GRID", "seat_quantile_table", "max_win_rate_factor"]

OFFER_SUBSCRIPTION, OFFER_PERPETUAL, OFFER_TERM = 0, 1, 2
BILL_MONTHLY, BILL_YEARLY, BILL_TERM = 0, 1, 2
CHANNEL_RESELLER, CHANNEL_REFERRAL, CHANNEL_MARKETPLACE = 0, 1, 2

QUANTILE_POINTS = 4097
QUANTILE_LOGIT_MAX = float(np.log((1 - 1e-7) / 1e-7))
QUANTILE_GRID = np.linspace(-QUANTILE_LOGIT_MAX, QUANTILE_LOGIT_MAX, QUANTILE_POINTS)
"""Logits of the probabilities at which seat quantile functions are tabulated."""


class EngineInputs(NamedTuple):
    """Everything one plan needs for ``n`` paths, as arrays.

    Shapes use ``n`` paths, ``T`` months, ``S`` sources, ``K`` stages (padded), ``G`` segments,
    ``O`` offers. Money is in the scenario's currency; rates are fractions.
    """

    # funnel
    leads_expected: np.ndarray  # (n, S, T) λ before volatility and market factors
    leads_warm: np.ndarray  # (n, S) month-0 volume for a warm pipeline (0 when cold)
    conversion: np.ndarray  # (n, S, K) stage conversions, 1 beyond a source's last stage
    n_stages: np.ndarray  # (S,) int64
    lag: np.ndarray  # (S,) int64 sales-cycle lag in months
    volatility: np.ndarray  # (S, 2) sd, autocorrelation of each source's factor
    market: np.ndarray  # (5,) sd, autocorrelation, exposure of leads, conversion, churn
    cost_per_lead: np.ndarray  # (n, S)
    source_fixed_cost: np.ndarray  # (n, S)
    # segments (row G of seat tables is the installed base)
    segment_share: np.ndarray  # (G,)
    price_multiplier: np.ndarray  # (n, G)
    churn_multiplier: np.ndarray  # (n, G)
    seat_table: np.ndarray  # (G+1, Q) seats quantile function on QUANTILE_GRID
    seat_mean: np.ndarray  # (G+1,)
    # offers
    offer_type: np.ndarray  # (O,) int64 OFFER_*
    billing: np.ndarray  # (O,) int64 BILL_*
    renewal_months: np.ndarray  # (O,) int64 R: months between renewal decisions
    price: np.ndarray  # (n, O) per seat-month (subscription), licence fee per seat (perpetual), fee per seat-year (term)
    maintenance_rate: np.ndarray  # (n, O) perpetual: annual maintenance share of the fee
    license_share: np.ndarray  # (n, O) term: licence part of the fee
    price_increase: np.ndarray  # (n, O) per year
    seat_growth: np.ndarray  # (n, O) expansion - contraction per year (subscriptions)
    cost_per_seat: np.ndarray  # (n, O) cost to serve / support per seat-month
    services: np.ndarray  # (n, O) one-time services per customer
    services_cost_share: np.ndarray  # (n, O)
    win_rate_factor: np.ndarray  # (n, O)
    renewal_prob: np.ndarray  # (n, O) renewal probability per renewal (ignored where sBG)
    sbg: np.ndarray  # (n, O, 2) alpha, beta; alpha = 0 when the offer's churn is not sBG
    mix: np.ndarray  # (T, O) the plan's offer shares of new wins
    win_factor_max: np.ndarray  # (n,) F: max win-rate factor over every plan's offers, >= 1
    # installed base
    base_offer: int  # -1 when there is no installed base
    base_customers: np.ndarray  # (n,)
    base_maintenance: np.ndarray  # (n,) annual maintenance per seat
    base_renewal_prob: np.ndarray  # (n,)
    base_sbg: np.ndarray  # (n, 2)
    base_tenure: int  # renewals already made (sBG count starts at tenure + 1)
    base_anniversary: np.ndarray  # (12,) weights summing to 1
    migration_offer: int  # -1 when the plan does not migrate
    migration_rate: np.ndarray  # (n,) per year
    migration_start: int
    migration_price_factor: np.ndarray  # (n,)
    migration_commission: np.ndarray  # (n,)
    # costs and finance
    commission_upfront: np.ndarray  # (n,)
    commission_recurring: np.ndarray  # (n,)
    channel_share: np.ndarray  # (n, 3) reseller, referral, marketplace
    channel_rate: np.ndarray  # (n, 3) margin, commission, fee
    fixed_sm: np.ndarray  # (n, T)
    fixed_opex: np.ndarray  # (n, T)
    headcount_fixed: np.ndarray  # (n, T)
    customers_per_head: np.ndarray  # (n,) 0 when support staff is not modelled
    cost_per_head_month: np.ndarray  # (n,)
    investments: np.ndarray  # (n, T)
    starting_cash: np.ndarray  # (n,)
    collection_lag: int


class _Values:
    """Per-path values of a plan's uncertain inputs: draws where given, else the fixed value or mean."""

    def __init__(self, draws: dict[str, np.ndarray], n: int):
        self.draws = draws
        self.n = n

    def scalar(self, path: str, value: Uncertain | None, default: float = 0.0) -> np.ndarray:
        """``ndarray(float64, (n,))`` of one input (``default`` when the field is absent)."""
        if value is None:
            return np.full(self.n, float(default))
        if value.is_fixed:
            return np.full(self.n, value.spec["value"])
        if path in self.draws:
            return np.broadcast_to(np.asarray(self.draws[path], dtype=float), (self.n,)).copy()
        return np.full(self.n, value.mean)

    def monthly(self, path: str, value: Uncertain | Schedule, horizon: int) -> np.ndarray:
        """``ndarray(float64, (n, T))`` of a value that may be a schedule over months."""
        if isinstance(value, Schedule):
            points = np.stack([self.scalar(f"{path}.schedule.{m}", v) for m, v in zip(value.months, value.values)],
                              axis=1)
            return value.evaluate(points, horizon)
        return np.repeat(self.scalar(path, value)[:, None], horizon, axis=1)


def build_inputs(scenario: Scenario, plan: str, draws: dict[str, np.ndarray], n: int,
                 win_factor_max: np.ndarray) -> EngineInputs:
    """Arrays for ``n`` paths of ``plan``.

    Parameters
    ----------
    scenario : Scenario
        The base scenario (the plan's own scenario is taken with ``scenario.for_plan(plan)``).
    plan : str
    draws : dict of str to ndarray(float64, (n,))
        Per-path values of the plan's uncertain inputs (``Draws.values(plan)``, or the means in
        expected-value mode).
    n : int
        Number of paths.
    win_factor_max : ndarray(float64, (n,))
        :func:`max_win_rate_factor` over all plans.
    """
    s = scenario.for_plan(plan)
    v = _Values(draws, n)
    T = s.simulation.horizon_months
    funnel = _funnel(s, v, T)
    segments = _segments(s, v)
    offers = _offers(s, v)
    base = _installed_base(s, v, list(s.offers))
    migration = _migration(s, plan, v, list(s.offers))
    costs = _costs(s, v, T)
    mix = s.plans[plan].mix.matrix(list(s.offers), T)
    return EngineInputs(**funnel, **segments, **offers, mix=mix, win_factor_max=win_factor_max,
                        **base, **migration, **costs)


def max_win_rate_factor(scenario: Scenario, plan_draws: dict[str, dict[str, np.ndarray]], n: int) -> np.ndarray:
    """``F`` of ``docs/engine.md`` §2: per path, max(1, every plan's offers' win-rate factors)."""
    out = np.ones(n)
    for plan, draws in plan_draws.items():
        v = _Values(draws, n)
        for name, offer in scenario.for_plan(plan).offers.items():
            out = np.maximum(out, v.scalar(f"offers.{name}.win_rate_factor", offer.win_rate_factor))
    return out


def _funnel(s: Scenario, v: _Values, T: int) -> dict:
    sources = list(s.funnel.sources.items())
    K = max(len(src.stages) for _, src in sources)
    months = np.arange(T)
    calendar = (s.simulation.start_calendar_month - 1 + months) % 12
    leads, warm, conversion, cost_lead, fixed = [], [], [], [], []
    for name, src in sources:
        path = f"funnel.sources.{name}"
        base = v.monthly(f"{path}.leads_per_month", src.leads_per_month, T)
        growth = (1 + v.scalar(f"{path}.growth_per_year", src.growth_per_year))[:, None] ** (months / 12)
        season = np.asarray(src.seasonality if src.seasonality is not None else np.ones(12), dtype=float)
        season = season / season.mean()
        expected = base * growth * season[calendar]
        leads.append(expected)
        warm.append(expected[:, 0] if src.pipeline == "warm" else np.zeros(v.n))
        stages = [v.scalar(f"{path}.stages.{stage}", p) for stage, p in src.stages.items()]
        conversion.append(np.stack(stages + [np.ones(v.n)] * (K - len(stages)), axis=1))
        cost_lead.append(v.scalar(f"{path}.cost_per_lead", src.cost_per_lead))
        fixed.append(v.scalar(f"{path}.fixed_cost_per_month", src.fixed_cost_per_month))
    market = s.market
    return dict(
        leads_expected=np.stack(leads, axis=1),
        leads_warm=np.stack(warm, axis=1),
        conversion=np.stack(conversion, axis=1),
        n_stages=np.array([len(src.stages) for _, src in sources], dtype=np.int64),
        lag=np.array([src.sales_cycle_months for _, src in sources], dtype=np.int64),
        volatility=np.array([[src.volatility.sd, src.volatility.autocorrelation] for _, src in sources]),
        market=np.zeros(5) if market is None else np.array(
            [market.sd, market.autocorrelation, market.leads, market.conversion, market.churn]),
        cost_per_lead=np.stack(cost_lead, axis=1),
        source_fixed_cost=np.stack(fixed, axis=1),
    )


def seat_quantile_table(value: Uncertain) -> np.ndarray:
    """Seats quantile function on :data:`QUANTILE_GRID`, ``ndarray(float64, (Q,))``."""
    if value.is_fixed:
        return np.full(QUANTILE_POINTS, value.spec["value"])
    u = 1.0 / (1.0 + np.exp(-QUANTILE_GRID))
    return value.ppf(u)


def _segments(s: Scenario, v: _Values) -> dict:
    names = list(s.segments)
    seat_values = [seg.seats for seg in s.segments.values()]
    seat_values.append(s.installed_base.seats if s.installed_base is not None else Uncertain.fixed(1.0))
    return dict(
        segment_share=np.array([seg.share for seg in s.segments.values()]),
        price_multiplier=np.stack([v.scalar(f"segments.{g}.price_multiplier", s.segments[g].price_multiplier)
                                   for g in names], axis=1),
        churn_multiplier=np.stack([v.scalar(f"segments.{g}.churn_multiplier", s.segments[g].churn_multiplier)
                                   for g in names], axis=1),
        seat_table=np.stack([seat_quantile_table(x) for x in seat_values]),
        seat_mean=np.array([x.mean for x in seat_values]),
    )


def renewal_months(offer: Subscription | Perpetual | Term) -> int:
    """R of ``docs/engine.md`` §4: months between renewal decisions."""
    if isinstance(offer, Subscription):
        return offer.term_months
    if isinstance(offer, Term):
        return 12 * offer.term_years
    return 12


def _renewal(churn: Churn, path: str, R: int, v: _Values) -> tuple[np.ndarray, np.ndarray]:
    """Renewal probability per renewal of R months, and (alpha, beta) where the churn is sBG."""
    sbg = np.zeros((v.n, 2))
    if churn.form == "sbg":
        sbg[:, 0] = v.scalar(f"{path}.sbg.alpha", churn.sbg.alpha)
        sbg[:, 1] = v.scalar(f"{path}.sbg.beta", churn.sbg.beta)
        return np.ones(v.n), sbg
    rate = v.scalar(f"{path}.{churn.form}", getattr(churn, churn.form))
    if churn.form == "monthly":
        return (1 - rate) ** R, sbg
    if churn.form == "annual":
        return (1 - rate) ** (R / 12), sbg
    return rate, sbg


def _offers(s: Scenario, v: _Values) -> dict:
    cols: dict[str, list] = {k: [] for k in (
        "price", "maintenance_rate", "license_share", "price_increase", "seat_growth", "cost_per_seat",
        "services", "services_cost_share", "win_rate_factor", "renewal_prob", "sbg")}
    types, billing, renewal = [], [], []
    zero = np.zeros(v.n)
    for name, offer in s.offers.items():
        p = f"offers.{name}"
        R = renewal_months(offer)
        renewal.append(R)
        if isinstance(offer, Subscription):
            types.append(OFFER_SUBSCRIPTION)
            billing.append({"monthly": BILL_MONTHLY, "annual": BILL_YEARLY, "multi_year": BILL_TERM}[offer.billing])
            price = v.scalar(f"{p}.price_per_seat_month", offer.price_per_seat_month)
            growth = (v.scalar(f"{p}.expansion_per_year", offer.expansion_per_year)
                      - v.scalar(f"{p}.contraction_per_year", offer.contraction_per_year))
            cost = v.scalar(f"{p}.cost_to_serve_per_seat_month", offer.cost_to_serve_per_seat_month)
            maintenance, license_share = zero, zero
        elif isinstance(offer, Perpetual):
            types.append(OFFER_PERPETUAL)
            billing.append(BILL_YEARLY)
            price = v.scalar(f"{p}.license_fee_per_seat", offer.license_fee_per_seat)
            maintenance = v.scalar(f"{p}.maintenance_rate", offer.maintenance_rate)
            cost = v.scalar(f"{p}.support_cost_per_seat_month", offer.support_cost_per_seat_month)
            growth, license_share = zero, zero
        else:
            types.append(OFFER_TERM)
            billing.append(BILL_TERM if offer.billing == "upfront" else BILL_YEARLY)
            price = v.scalar(f"{p}.fee_per_seat_year", offer.fee_per_seat_year)
            license_share = v.scalar(f"{p}.license_share", offer.license_share)
            cost = v.scalar(f"{p}.support_cost_per_seat_month", offer.support_cost_per_seat_month)
            growth, maintenance = zero, zero
        renewal_prob, sbg = _renewal(offer.churn, f"{p}.churn", R, v)
        for key, value in (("price", price), ("maintenance_rate", maintenance), ("license_share", license_share),
                           ("seat_growth", growth), ("cost_per_seat", cost), ("renewal_prob", renewal_prob),
                           ("sbg", sbg)):
            cols[key].append(value)
        cols["price_increase"].append(v.scalar(f"{p}.price_increase_per_year", offer.price_increase_per_year))
        cols["services"].append(v.scalar(f"{p}.services_per_customer", offer.services_per_customer))
        cols["services_cost_share"].append(v.scalar(f"{p}.services_cost_share", offer.services_cost_share))
        cols["win_rate_factor"].append(v.scalar(f"{p}.win_rate_factor", offer.win_rate_factor))
    out = {key: np.stack(values, axis=1) for key, values in cols.items()}
    out.update(offer_type=np.array(types, dtype=np.int64), billing=np.array(billing, dtype=np.int64),
               renewal_months=np.array(renewal, dtype=np.int64))
    return out


def _installed_base(s: Scenario, v: _Values, offers: list[str]) -> dict:
    base = s.installed_base
    if base is None:
        return dict(base_offer=-1, base_customers=np.zeros(v.n), base_maintenance=np.zeros(v.n),
                    base_renewal_prob=np.ones(v.n), base_sbg=np.zeros((v.n, 2)), base_tenure=0,
                    base_anniversary=np.full(12, 1 / 12))
    offer = s.offers[base.offer]
    p = f"offers.{base.offer}"
    if base.annual_maintenance_per_seat is not None:
        maintenance = v.scalar("installed_base.annual_maintenance_per_seat", base.annual_maintenance_per_seat)
    else:
        maintenance = (v.scalar(f"{p}.license_fee_per_seat", offer.license_fee_per_seat)
                       * v.scalar(f"{p}.maintenance_rate", offer.maintenance_rate))
    churn, churn_path = (base.churn, "installed_base.churn") if base.churn is not None else (offer.churn, f"{p}.churn")
    renewal_prob, sbg = _renewal(churn, churn_path, 12, v)
    weights = np.asarray(base.anniversary_weights if base.anniversary_weights is not None else np.ones(12), float)
    return dict(
        base_offer=offers.index(base.offer),
        base_customers=v.scalar("installed_base.customers", base.customers),
        base_maintenance=maintenance,
        base_renewal_prob=renewal_prob,
        base_sbg=sbg,
        base_tenure=base.tenure_years,
        base_anniversary=weights / weights.sum(),
    )


def _migration(s: Scenario, plan: str, v: _Values, offers: list[str]) -> dict:
    migration = s.plans[plan].migration
    if migration is None:
        return dict(migration_offer=-1, migration_rate=np.zeros(v.n), migration_start=0,
                    migration_price_factor=np.ones(v.n), migration_commission=np.zeros(v.n))
    p = f"plans.{plan}.migration"
    return dict(
        migration_offer=offers.index(migration.to),
        migration_rate=v.scalar(f"{p}.rate_per_year", migration.rate_per_year),
        migration_start=migration.start_month,
        migration_price_factor=v.scalar(f"{p}.first_term_price_factor", migration.first_term_price_factor),
        migration_commission=v.scalar(f"{p}.commission_rate", migration.commission_rate),
    )


def _costs(s: Scenario, v: _Values, T: int) -> dict:
    c = s.costs
    ch = c.channels
    routes = (("reseller", ch.reseller), ("referral", ch.referral), ("marketplace", ch.marketplace))
    investments = np.zeros((v.n, T))
    for month, amount in c.investments.items():
        investments[:, month] += v.scalar(f"costs.investments.{month}", amount)
    head = c.headcount
    return dict(
        commission_upfront=v.scalar("costs.commissions.upfront_rate", c.commissions.upfront_rate),
        commission_recurring=v.scalar("costs.commissions.recurring_rate", c.commissions.recurring_rate),
        channel_share=np.stack([v.scalar(f"costs.channels.{k}.share", r.share) for k, r in routes], axis=1),
        channel_rate=np.stack([v.scalar(f"costs.channels.{k}.rate", r.rate) for k, r in routes], axis=1),
        fixed_sm=v.monthly("costs.fixed_sales_marketing_per_month", c.fixed_sales_marketing_per_month, T),
        fixed_opex=v.monthly("costs.fixed_opex_per_month", c.fixed_opex_per_month, T),
        headcount_fixed=v.monthly("costs.headcount.fixed", head.fixed, T),
        customers_per_head=v.scalar("costs.headcount.customers_per_support_head", head.customers_per_support_head),
        cost_per_head_month=v.scalar("costs.headcount.cost_per_head_year", head.cost_per_head_year) / 12,
        investments=investments,
        starting_cash=v.scalar("finance.starting_cash", s.finance.starting_cash),
        collection_lag=s.finance.collection_lag_months,
    )
