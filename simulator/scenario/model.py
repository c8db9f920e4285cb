"""The scenario, as typed and validated objects (pydantic).

One class per part of a scenario file (``../docs/scenario-reference.md`` lists every field).
Field metadata carries the unit and when a value is drawn, for the JSON schema and the docs.
Unknown keys are errors (``extra="forbid"``). Checks that span parts (names of offers used by
plans, schedule months within the horizon, correlation names) live in :mod:`.checks`.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from simulator.scenario.errors import InputError
from simulator.scenario.uncertain import Kind, Uncertain
from simulator.scenario.values import (
    Amount,
    MixValue,
    Number,
    PercentFloat,
    PerCustomerAmount,
    PositiveAmount,
    Rate,
    Signed,
    TimeAmount,
    Whole,
)

__all__ = [
    "Scenario", "Simulation", "SamplingMethod", "Funnel", "Source", "Volatility", "Market", "Segment",
    "Churn", "Subscription", "Perpetual", "Term", "Offer", "InstalledBase", "Migration", "Plan",
    "Commissions", "Channels", "Headcount", "Costs", "TerminalValue", "Finance", "Correlation",
]


def _fixed(value: float, kind: Kind = Kind.AMOUNT) -> Uncertain:
    return Uncertain.fixed(value, kind)


def field(default: Any = ..., *, unit: str = "", doc: str = "", schema: dict | None = None,
          **kwargs) -> Any:
    """A model field with its unit recorded for the JSON schema and the reference docs.

    ``schema`` adds JSON Schema keywords that the type alone does not give (e.g. the pattern
    of mapping keys).
    """
    extra = {**({"x-unit": unit} if unit else {}), **(schema or {})} or None
    return Field(default, description=doc, json_schema_extra=extra, **kwargs)


def _weights(value: list[float] | None, what: str) -> list[float] | None:
    """12 factors or weights: each >= 0 (the first negative one is pointed at), positive sum."""
    if value is None:
        return None
    for index, weight in enumerate(value):
        if weight < 0:
            raise InputError(f"{what} must be >= 0, got {weight:g}", (index,))
    if sum(value) <= 0:
        raise InputError(f"{what} must have a positive sum; they are all 0")
    return value


class Part(BaseModel):
    """Base of every scenario part: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class SamplingMethod(str, Enum):
    RANDOM = "random"
    LATIN_HYPERCUBE = "latin_hypercube"
    SOBOL = "sobol"


DEFAULT_SEED = 20240607


class Simulation(Part):
    horizon_months: Whole = field(120, ge=1, le=600, unit="months", doc="Number of simulated months.")
    paths: Whole = field(10_000, ge=1, le=10_000_000, unit="paths", doc="Monte Carlo paths (the CLI's --paths overrides it).")
    seed: Whole = field(DEFAULT_SEED, ge=0, doc="Seed of all random numbers (the CLI's --seed overrides it).")
    sampling: SamplingMethod = field(
        SamplingMethod.RANDOM, doc="How per-path draws of uncertain inputs are spread: random, latin_hypercube or sobol."
    )
    start_month: str | None = field(
        None, unit="YYYY-MM", doc="Calendar month of month 0; indexes seasonality. January when absent."
    )
    currency: str = field("USD", doc="Currency label for tables and charts.")
    fiscal_year_start_month: Whole = field(1, ge=1, le=12, unit="calendar month", doc="First month of the fiscal year (yearly totals).")

    @field_validator("start_month", mode="before")
    @classmethod
    def _start_month(cls, value: Any) -> Any:
        if value is None:
            return None
        text = value.isoformat()[:7] if hasattr(value, "isoformat") else str(value)
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
            raise ValueError(f"expected a month as YYYY-MM, e.g. 2027-01, got {value!r}")
        return text

    @property
    def start_calendar_month(self) -> int:
        """Calendar month (1-12) of simulated month 0."""
        return int(self.start_month[5:7]) if self.start_month else 1


class Volatility(Part):
    """Month-to-month noise of a volume: a mean-1 lognormal AR(1) factor."""

    sd: PercentFloat = field(0.0, ge=0, le=2, unit="fraction", doc="Standard deviation of the monthly factor (0.1 = 10%).")
    autocorrelation: PercentFloat = field(0.0, ge=0, lt=1, doc="Month-to-month correlation of the factor (AR(1)).")


class Market(Volatility):
    """One shared monthly market factor; each exposure is the elasticity of a quantity to it."""

    leads: Number = field(1.0, unit="elasticity", doc="Exposure of every source's lead volume.")
    conversion: Number = field(0.0, unit="elasticity", doc="Exposure of every stage conversion.")
    churn: Number = field(0.0, unit="elasticity", doc="Exposure of every churn rate (negative: good markets lower churn).")


class Source(Part):
    """A marketing source or programme, its funnel stages and its costs."""

    leads_per_month: TimeAmount = field(..., unit="leads/month", doc="Expected leads at month 0 (or a schedule).")
    growth_per_year: Signed = field(_fixed(0, Kind.SIGNED), unit="per year", doc="Growth of lead volume, compounded monthly.")
    seasonality: list[Number] | None = field(
        None, min_length=12, max_length=12, doc="12 calendar-month factors from January; normalised to mean 1."
    )
    volatility: Volatility = field(Volatility(), doc="The source's own month-to-month lead-volume noise.")
    stages: dict[str, Rate] = field(..., min_length=1, doc="Conversion of each stage in order, e.g. {trial: 10%, contract: 25%}.")
    sales_cycle_months: Whole = field(0, ge=0, le=36, unit="months", doc="Lag from lead to win.")
    pipeline: Literal["warm", "cold"] = field(
        "warm", doc="warm: months before the lag are filled at the month-0 volume; cold: first wins at month = lag."
    )
    cost_per_lead: Amount = field(_fixed(0), unit="currency/lead", doc="Marketing cost per lead.")
    fixed_cost_per_month: Amount = field(_fixed(0), unit="currency/month", doc="Fixed programme cost.")

    @field_validator("seasonality")
    @classmethod
    def _seasonality(cls, value: list[float] | None) -> list[float] | None:
        return _weights(value, "seasonality factors")


class Funnel(Part):
    sources: dict[str, Source] = field(..., min_length=1, doc="Marketing sources by name.")


class Segment(Part):
    """A customer category."""

    share: PercentFloat = field(..., ge=0, le=1, unit="fraction", doc="Share of new wins (fixed; shares sum to 100%).")
    seats: PerCustomerAmount = field(_fixed(1), unit="seats", doc="Seats per customer: a distribution drawn customer by customer.")
    price_multiplier: Amount = field(_fixed(1), unit="factor", doc="Multiplies every price for this segment.")
    churn_multiplier: Amount = field(_fixed(1), unit="factor", doc="Multiplies churn (monthly hazard) for this segment.")


class SBG(Part):
    alpha: PositiveAmount = field(..., doc="sBG shape alpha (> 0); the first period's churn averages alpha / (alpha + beta).")
    beta: PositiveAmount = field(..., doc="sBG shape beta (> 0); the larger alpha + beta, the more alike the customers.")


class Churn(Part):
    """Exactly one of: ``monthly``, ``annual``, ``renewal_rate`` or ``sbg``."""

    monthly: Rate | None = field(None, unit="per month", doc="Monthly churn; for longer contracts (1-c)^12 renews per year.")
    annual: Rate | None = field(None, unit="per year", doc="Annual churn; a contract of R months renews with probability (1-a)^(R/12).")
    renewal_rate: Rate | None = field(None, unit="per renewal", doc="Probability of renewing at each contract end.")
    sbg: SBG | None = field(None, doc="Heterogeneous churn per renewal period: shifted-beta-geometric(alpha, beta).")

    @model_validator(mode="wrap")
    @classmethod
    def _exactly_one(cls, data: Any, handler) -> Churn:
        churn = handler(data)
        forms = ("monthly", "annual", "renewal_rate", "sbg")
        # In the order written, so that the problem points at the second form given.
        order = list(data) if isinstance(data, dict) else list(forms)
        given = sorted((k for k in forms if getattr(churn, k) is not None),
                       key=lambda k: order.index(k) if k in order else len(order))
        if len(given) != 1:
            message = ("give exactly one of monthly, annual, renewal_rate, sbg "
                       f"(got {', '.join(given) or 'none'})")
            if not given:
                raise InputError(message)
            raise InputError(message, (given[1],), at_key=True)
        return churn

    @property
    def form(self) -> str:
        return next(k for k in ("monthly", "annual", "renewal_rate", "sbg") if getattr(self, k) is not None)


class OfferCommon(Part):
    win_rate_factor: Amount = field(_fixed(1), unit="factor", doc="Scales the wins this offer receives (a cheaper entry offer can convert better).")
    services_per_customer: Amount = field(_fixed(0), unit="currency", doc="One-time services (onboarding) billed and recognised at the win.")
    services_cost_share: Rate = field(_fixed(0, Kind.RATE), unit="fraction", doc="Cost of delivering services, share of their revenue.")
    price_increase_per_year: Rate = field(_fixed(0, Kind.RATE), unit="per year", doc="List-price increase every 12 months; existing customers at their anniversary.")
    churn: Churn = field(..., doc="Churn or non-renewal of this offer's customers.")


class Subscription(OfferCommon):
    type: Literal["subscription"]
    price_per_seat_month: Amount = field(..., unit="currency/seat/month", doc="List price.")
    billing: Literal["monthly", "annual", "multi_year"] = field("monthly", doc="monthly, annual upfront or multi-year upfront.")
    term_months: Whole = field(1, ge=1, le=120, unit="months", doc="Contract term; customers leave only at its end (1 for month-to-month).")
    expansion_per_year: Rate = field(_fixed(0, Kind.RATE), unit="per year", doc="Seat growth of retained customers.")
    contraction_per_year: Rate = field(_fixed(0, Kind.RATE), unit="per year", doc="Seat shrinkage of retained customers.")
    cost_to_serve_per_seat_month: Amount = field(_fixed(0), unit="currency/seat/month", doc="Hosting (IaaS/PaaS) and support.")

    @model_validator(mode="after")
    def _billing_fits_term(self) -> Subscription:
        if self.billing == "annual" and self.term_months % 12:
            need = "annual billing needs term_months in whole years (12, 24, ...)"
        elif self.billing == "multi_year" and (self.term_months < 24 or self.term_months % 12):
            need = "multi_year billing needs term_months of 24, 36, ..."
        else:
            return self
        # Point at term_months when it is written, else at billing (term_months is 1 by default).
        if "term_months" in self.model_fields_set:
            raise InputError(f"{need}, got {self.term_months}", ("term_months",))
        raise InputError(f"{need}; term_months is {self.term_months} by default, give it",
                         ("billing",))


class Perpetual(OfferCommon):
    type: Literal["perpetual"]
    license_fee_per_seat: Amount = field(..., unit="currency/seat", doc="One-time licence fee, recognised at sale.")
    maintenance_rate: Rate = field(_fixed(0.2, Kind.RATE), unit="per year", doc="Annual maintenance as a share of the licence fee; first year included in the sale.")
    support_cost_per_seat_month: Amount = field(_fixed(0), unit="currency/seat/month", doc="Cost of supporting a seat under maintenance.")


class Term(OfferCommon):
    type: Literal["term"]
    fee_per_seat_year: Amount = field(..., unit="currency/seat/year", doc="Term licence fee per seat and year.")
    term_years: Whole = field(1, ge=1, le=10, unit="years", doc="Length of a term.")
    license_share: Rate = field(_fixed(0.5, Kind.RATE), unit="fraction", doc="Part of the fee that is licence (recognised at term start); the rest is support, ratable.")
    billing: Literal["upfront", "yearly"] = field("upfront", doc="Whole term upfront, or year by year.")
    support_cost_per_seat_month: Amount = field(_fixed(0), unit="currency/seat/month", doc="Cost of supporting a seat.")


Offer = Annotated[Subscription | Perpetual | Term, Field(discriminator="type")]


class InstalledBase(Part):
    """Customers already on perpetual licence + maintenance at month 0."""

    offer: str = field(..., doc="The perpetual offer whose maintenance terms they are on.")
    customers: Amount = field(..., unit="customers", doc="Customers under maintenance at month 0.")
    seats: PerCustomerAmount = field(_fixed(1), unit="seats", doc="Seats per customer: drawn customer by customer.")
    annual_maintenance_per_seat: Amount | None = field(
        None, unit="currency/seat/year", doc="Maintenance paid; default: the offer's fee x maintenance rate."
    )
    churn: Churn | None = field(None, doc="Maintenance lapse of the base; default: the offer's churn.")
    anniversary_weights: list[Number] | None = field(
        None, min_length=12, max_length=12, doc="Relative weights of months 0..11 for the base's maintenance anniversaries; uniform when absent."
    )
    tenure_years: Whole = field(
        5, ge=0, le=50, unit="years", doc="Years the base has already renewed maintenance (where an sBG churn model counts renewals)."
    )

    @field_validator("anniversary_weights")
    @classmethod
    def _anniversary_weights(cls, value: list[float] | None) -> list[float] | None:
        return _weights(value, "anniversary weights")


class Migration(Part):
    """Moving the installed base to another offer, at anniversaries."""

    to: str = field(..., doc="The offer migrated customers take: a subscription or term offer.")
    rate_per_year: Rate = field(..., unit="per year", doc="Share of the remaining base that moves over a year.")
    first_term_price_factor: Amount = field(_fixed(1), unit="factor", doc="Price factor of the migrated customers' first term (0.8 = 20% off).")
    start_month: Whole = field(0, ge=0, unit="month", doc="First month of the programme.")
    commission_rate: Rate = field(_fixed(0, Kind.RATE), unit="fraction", doc="Sales commission on a migration's first-year value.")


class Plan(Part):
    description: str = field("", doc="One line shown in reports.")
    mix: MixValue = field(..., doc="Offer shares of new wins: {offer: share} or a schedule of them.")
    migration: Migration | None = field(None, doc="Installed-base migration programme.")
    overrides: dict[str, Any] = field({}, doc="Scenario values changed for this plan only, by dotted path.")


class Commissions(Part):
    upfront_rate: Rate = field(_fixed(0, Kind.RATE), unit="fraction", doc="Paid at the win on first-year contract value (licence fee for perpetual).")
    recurring_rate: Rate = field(_fixed(0, Kind.RATE), unit="fraction", doc="Paid on collected recurring revenue.")


class ChannelRoute(Part):
    share: Rate = field(_fixed(0, Kind.RATE), unit="fraction", doc="Share of new deals through this channel.")
    rate: Rate = field(_fixed(0, Kind.RATE), unit="fraction", doc="Margin, commission or fee as a share of the deal's revenue.")


class Channels(Part):
    reseller: ChannelRoute = field(ChannelRoute(), doc="Reseller margin: reduces recognised revenue.")
    referral: ChannelRoute = field(ChannelRoute(), doc="Referral commission: sales & marketing cost.")
    marketplace: ChannelRoute = field(ChannelRoute(), doc="Marketplace fee: cost of revenue.")


class Headcount(Part):
    fixed: TimeAmount = field(_fixed(0), unit="heads", doc="Staff independent of customers (or a schedule).")
    customers_per_support_head: PositiveAmount | None = field(None, unit="customers/head", doc="One support head per this many customers (> 0); none: no support staff.")
    cost_per_head_year: Amount = field(_fixed(0), unit="currency/year", doc="Loaded cost of one head.")


class Costs(Part):
    commissions: Commissions = field(Commissions(), doc="Sales commissions.")
    channels: Channels = field(Channels(), doc="Channel economics.")
    fixed_sales_marketing_per_month: TimeAmount = field(_fixed(0), unit="currency/month", doc="Sales & marketing not tied to a source.")
    fixed_opex_per_month: TimeAmount = field(_fixed(0), unit="currency/month", doc="R&D, G&A and other fixed operating costs.")
    headcount: Headcount = field(Headcount(), doc="Staff and its cost.")
    investments: dict[Whole, Amount] = field(
        {}, unit="currency", doc="One-off transition investments by month, {month: amount}.",
        schema={"propertyNames": {"pattern": r"^[0-9]+$"}},
    )


class TerminalValue(Part):
    method: Literal["arr_multiple", "perpetuity"] = field(..., doc="ARR multiple, or growing perpetuity of the last 12 months' net cash flow.")
    multiple: Amount | None = field(None, unit="x ARR", doc="ARR multiple (arr_multiple).")
    growth: Signed | None = field(None, unit="per year", doc="Perpetual growth rate (perpetuity), below the discount rate.")

    @model_validator(mode="after")
    def _parameters(self) -> TerminalValue:
        needed = "multiple" if self.method == "arr_multiple" else "growth"
        if getattr(self, needed) is None:
            raise ValueError(f"method {self.method} needs {needed}")
        return self


class Finance(Part):
    starting_cash: Signed = field(_fixed(0, Kind.SIGNED), unit="currency", doc="Cash at the start of month 0.")
    discount_rate: Rate = field(_fixed(0.1, Kind.RATE), unit="per year", doc="Annual rate for NPV.")
    collection_lag_months: Whole = field(0, ge=0, le=12, unit="months", doc="Months between billing and cash (DSO).")
    terminal_value: TerminalValue | None = field(None, doc="Value beyond the horizon, added to npv.")


class Correlation(Part):
    between: tuple[str, str] = field(..., doc="Two uncertain inputs by dotted path.")
    rank: Number = field(..., ge=-1, le=1, doc="Spearman rank correlation.")


class Scenario(Part):
    """A whole scenario: the market, the offers, the plans to compare and the money."""

    name: str = field("", doc="Title shown in reports.")
    description: str = field("", doc="A few lines on what the scenario studies.")
    simulation: Simulation = field(Simulation(), doc="Horizon, paths, seed, sampling.")
    funnel: Funnel = field(..., doc="Where new customers come from.")
    market: Market | None = field(None, doc="An optional shared monthly market factor.")
    segments: dict[str, Segment] = field(..., min_length=1, doc="Customer categories by name.")
    offers: dict[str, Offer] = field(..., min_length=1, doc="Licence models by name.")
    installed_base: InstalledBase | None = field(None, doc="Perpetual customers already under maintenance.")
    plans: dict[str, Plan] = field(..., min_length=1, doc="Strategies to compare, by name.")
    baseline: str | None = field(None, doc="The plan others are compared with; the first plan when absent.")
    costs: Costs = field(Costs(), doc="Costs other than marketing by source.")
    finance: Finance = field(Finance(), doc="Cash, discounting, collection.")
    correlations: list[Correlation] = field([], doc="Rank correlations between uncertain inputs.")

    _plan_scenarios: dict[str, Scenario] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr("")

    @property
    def baseline_plan(self) -> str:
        """The name of the baseline plan."""
        return self.baseline or next(iter(self.plans))

    @property
    def source(self) -> str:
        """The file the scenario was read from (empty when built in code)."""
        return self._source

    def for_plan(self, name: str) -> Scenario:
        """This scenario as seen by plan ``name``: its overrides applied and validated."""
        if name not in self.plans:
            raise KeyError(f"no plan named {name!r}; plans are {', '.join(self.plans)}")
        return self._plan_scenarios.get(name, self)
