"""The scenario reference (``docs/scenario-reference.md``), generated from the scenario model.

Every table row comes from a field of :mod:`simulator.scenario.model`: its description and
unit (``doc=``/``unit=``), its constraints and default (pydantic), and whether and when it is
drawn (``x-kind``/``x-drawn`` in :func:`~simulator.scenario.schema.json_schema`). The
distribution table comes from :data:`simulator.scenario.uncertain.DISTRIBUTIONS`. The prose
between the tables lives here, next to the code that lays the tables out.

Regenerate with::

    python -m simulator.scenario.reference > docs/scenario-reference.md

(or ``python -m simulator.scenario.reference --output docs/scenario-reference.md``). A test
compares the file with :func:`render_reference` and fails when they differ.
"""

from __future__ import annotations

import argparse
import enum
import functools
import operator
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulator.scenario import model as m
from simulator.scenario.schema import json_schema
from simulator.scenario.uncertain import DISTRIBUTIONS, Kind, Uncertain
from simulator.scenario.values import Mix

__all__ = ["render_reference", "write_reference", "DEFAULT_PATH", "COMMAND"]

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "scenario-reference.md"
COMMAND = "python -m simulator.scenario.reference > docs/scenario-reference.md"


# --------------------------------------------------------------------------------------------
# Layout: which part of the model each section documents, and where it sits in a file.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One table: the fields of ``model`` as found at ``path`` in a scenario file."""

    model: type[BaseModel]
    path: str
    title: str
    fields: tuple[str, ...] | None = None  # None: every field of the model


@dataclass(frozen=True)
class Section:
    title: str
    intro: str
    tables: tuple[Table, ...]
    after: str = ""


def _own_fields(model: type[BaseModel], base: type[BaseModel]) -> tuple[str, ...]:
    return tuple(name for name in model.model_fields if name not in base.model_fields)


SECTIONS: tuple[Section, ...] = (
    Section(
        "Top level",
        "A scenario file is a YAML mapping of these keys. `funnel`, `segments`, `offers` and "
        "`plans` are required; every other part has defaults.",
        (Table(m.Scenario, "", "Top-level keys"),),
    ),
    Section(
        "Simulation",
        "How many months and paths to simulate and how the random numbers are drawn. These "
        "settings cannot be changed per plan; the command line's `--paths` and `--seed` take "
        "precedence over `paths` and `seed`.",
        (Table(m.Simulation, "simulation", "`simulation`"),),
    ),
    Section(
        "Funnel and sources",
        "Where new customers come from. Each source (web, events, partners, a marketplace "
        "listing...) produces leads month by month (a Poisson draw around the expected volume x "
        "growth x seasonality x the month's volatility factor), converts them stage by stage "
        "(binomial draws, stages in the order written) and turns them into wins after the sales "
        "cycle. The name of each source and of each stage is yours.",
        (
            Table(m.Funnel, "funnel", "`funnel`"),
            Table(m.Source, "funnel.sources.<source>", "`funnel.sources.<source>`"),
            Table(m.Volatility, "funnel.sources.<source>.volatility",
                  "`funnel.sources.<source>.volatility`"),
        ),
    ),
    Section(
        "Market",
        "An optional business-cycle factor shared by every source and offer: a mean-1 monthly "
        "factor (lognormal AR(1), drawn once per month like a source's volatility). Each exposure "
        "is an elasticity: with `conversion: 0.5`, a month 10% above normal raises every stage "
        "conversion by about 5%; a negative `churn` exposure lowers churn in good months.",
        (Table(m.Market, "market", "`market`"),),
    ),
    Section(
        "Segments",
        "Customer categories (SMB, mid-market, enterprise...). Each win is assigned to a segment "
        "at random by the shares; the segment sets the customer's deal size (seats, drawn for "
        "that customer) and scales its prices and churn.",
        (Table(m.Segment, "segments.<segment>", "`segments.<segment>`"),),
    ),
    Section(
        "Offers",
        "The licence models new customers can take, by name. `type` chooses the model: "
        "`subscription`, `perpetual` or `term`. Some fields are common to every type; the "
        "others belong to one type. Every offer has a `churn` (see [Churn](#churn)).",
        (
            Table(m.OfferCommon, "offers.<offer>", "Fields of every offer"),
            Table(m.Subscription, "offers.<offer>", "`type: subscription`",
                  _own_fields(m.Subscription, m.OfferCommon)),
            Table(m.Perpetual, "offers.<offer>", "`type: perpetual`",
                  _own_fields(m.Perpetual, m.OfferCommon)),
            Table(m.Term, "offers.<offer>", "`type: term`", _own_fields(m.Term, m.OfferCommon)),
        ),
        after="A subscription's `billing` must fit its `term_months`: `annual` needs whole years "
        "(12, 24, ...), `multi_year` needs 24, 36, ... months; `monthly` billing takes any term "
        "(e.g. an annual contract billed monthly).\n",
    ),
    Section(
        "Churn",
        "Give exactly one of `monthly`, `annual`, `renewal_rate` or `sbg`. Customers on monthly "
        "contracts may leave every month; customers on annual or multi-year contracts, term "
        "licences and maintenance leave only at an anniversary. A monthly rate given for a longer "
        "contract becomes a renewal probability of (1-c)^12 per year. The shifted-beta-geometric "
        "model (`sbg`) runs per renewal period of the offer: retention rises with tenure because "
        "the riskiest customers leave first. The same part describes an offer's churn "
        "(`offers.<offer>.churn`) and the installed base's maintenance lapse "
        "(`installed_base.churn`).",
        (
            Table(m.Churn, "offers.<offer>.churn",
                  "`offers.<offer>.churn`, `installed_base.churn`"),
            Table(m.SBG, "offers.<offer>.churn.sbg", "`offers.<offer>.churn.sbg`"),
        ),
    ),
    Section(
        "Installed base",
        "Customers already on perpetual licence + maintenance at month 0. They renew, lapse or "
        "(when a plan has a `migration`) move to a subscription or term offer at their "
        "maintenance anniversaries.",
        (Table(m.InstalledBase, "installed_base", "`installed_base`"),),
    ),
    Section(
        "Plans, migration and overrides",
        "The strategies to compare, by name. All plans share the market, the funnel and the "
        "random numbers; they differ by the offer mix new wins take, by an optional migration "
        "of the installed base and by `overrides`. `baseline` (top level) names the plan the "
        "others are compared with, path by path.",
        (
            Table(m.Plan, "plans.<plan>", "`plans.<plan>`"),
            Table(m.Migration, "plans.<plan>.migration", "`plans.<plan>.migration`"),
        ),
        after="""\
### Offer mix

`mix` maps offer names to shares of new wins, summing to 100%: `{perpetual: 80%, saas: 20%}`.
A mix that changes over time is a schedule of such mappings (each one summing to 100%):

```yaml
mix:
  schedule:
    0: {perpetual: 80%, saas_annual: 20%}
    24: {saas_annual: 100%}
  interpolation: linear   # or step
```

Shares are fixed numbers (not uncertain). With `linear`, month 12 above gets 40% perpetual and
60% SaaS; with `step`, each mix holds until the next point.

### Overrides

`overrides` changes scenario values for one plan only. Keys are dotted paths as written in the
file; values are written as anywhere else in the file (numbers, percents, ranges,
distributions, whole parts):

```yaml
plans:
  saas:
    mix: {saas: 100%}
    overrides:
      costs.commissions: {upfront_rate: 15%, recurring_rate: 2%}   # replaces the whole part
      offers.saas.churn.annual: 5% to 10%                          # one uncertain value
      costs.investments: {0: 800000, 12: 300000}
```

- An override replaces the value at its path (a whole part when the path names a part); the
  plan's scenario is then validated as a whole, and a problem is reported at the override's line.
- `simulation`, `plans`, `baseline`, `correlations`, `name` and `description` cannot be changed
  per plan.
- An overridden uncertain value is drawn, on each path, from the same uniform random number as
  the base value it replaces (common random numbers), so the plans stay paired.

### `--set` on the command line

`--set PATH=VALUE` changes the scenario for every plan before validation, e.g.
`--set offers.saas.price_per_seat_month=45` or `--set "funnel.sources.web.stages.trial=5% to 8%"`.
VALUE is read as YAML. Numeric path components are mapping keys or list indexes
(`--set costs.investments.3=100000`, `--set correlations.0.rank=0.5`). `--set` may change
`simulation`; a plan's `overrides` are applied after it and win where both touch the same path.
""",
    ),
    Section(
        "Costs",
        "Costs other than the marketing cost of each source. Sales commissions, channel economics, "
        "fixed costs, staff and one-off transition investments.",
        (
            Table(m.Costs, "costs", "`costs`"),
            Table(m.Commissions, "costs.commissions", "`costs.commissions`"),
            Table(m.Channels, "costs.channels", "`costs.channels`"),
            Table(m.ChannelRoute, "costs.channels.<channel>",
                  "`costs.channels.reseller`, `costs.channels.referral`, "
                  "`costs.channels.marketplace`"),
            Table(m.Headcount, "costs.headcount", "`costs.headcount`"),
        ),
        after="Channel shares may be uncertain; the sum of their 99.9% quantiles must not exceed "
        "100% (fixed shares: their sum), so that the shares exceed 100% in total on at most 0.3% "
        "of paths. A reseller's margin reduces recognised revenue, a referral "
        "commission is a sales & marketing cost, a marketplace fee is a cost of revenue.\n",
    ),
    Section(
        "Finance and terminal value",
        "Starting cash, discounting and collection. A terminal value (ARR multiple, or a growing "
        "perpetuity of the last 12 months' net cash flow) keeps a short horizon from penalising "
        "recurring models; it is discounted from the last month and included in `npv`, with "
        "`npv_horizon` reported beside it.",
        (
            Table(m.Finance, "finance", "`finance`"),
            Table(m.TerminalValue, "finance.terminal_value", "`finance.terminal_value`"),
        ),
    ),
    Section(
        "Correlations",
        "Rank (Spearman) correlations between uncertain inputs drawn once per path, named by "
        "their dotted paths: `funnel.sources.web.stages.contract`, `offers.saas.churn.annual`, a "
        "schedule point as `funnel.sources.web.leads_per_month.schedule.12`. Fixed values and "
        "per-customer seats cannot be correlated. The correlations hold in every plan, so a "
        "correlated input must be uncertain in every plan. Together they must form a positive "
        "semi-definite matrix.",
        (Table(m.Correlation, "correlations[]", "Each item of `correlations`"),),
        after="""\
```yaml
correlations:
  - between: [funnel.sources.web.stages.contract, offers.saas_annual.churn.annual]
    rank: -0.3   # better-fitting prospects convert more and churn less
```
""",
    ),
)


# --------------------------------------------------------------------------------------------
# Prose that does not belong to one part.
# --------------------------------------------------------------------------------------------

_HEADER = f"""\
# Scenario reference

<!-- Generated from the scenario model by `{COMMAND}`; do not edit by hand. -->

A scenario is a YAML file describing a market, the licence models on offer, the plans to
compare and the money. This page lists every field, part by part. Commented examples are in
`scenarios/`; `saas-sim validate FILE` checks a file and `saas-sim schema` prints the JSON
Schema (for editor completion). The modelling conventions behind the fields are in
[conventions.md](conventions.md).

Columns of the tables:

- **unit** — what the number counts; "fraction" and "per ..." rates are written as `0.02` or `"2%"`.
- **allowed values / range** — what validation accepts. "rate" values lie between 0 and 1,
  "amount" values are >= 0, "signed" values may be negative; the kind also decides how a range
  is fitted (see [Uncertain values](#uncertain-values)).
- **default** — the value when the key is absent; "required" when it must be given.
- **may be uncertain?** — whether a distribution or a range may be written instead of a number.
- **when drawn** — *per path*: once for each simulated path (we do not know the true value);
  *per customer*: once for each new customer (deal sizes); *fixed: not uncertain*: a plain value.

Unknown keys are errors (with a "did you mean" hint), and every problem in a file is reported at
once as `FILE:LINE:COLUMN: field.path: what is wrong`.
"""

_WHEN_DRAWN_ROWS = [
    ("every uncertain scalar (prices, rates, costs, schedule points...)", "once per path"),
    ("seats of a customer (`segments.<segment>.seats`, `installed_base.seats`)",
     "once per customer (each new customer, each installed-base customer)"),
    ("volatility factors (each source's `volatility`, the `market` factor)",
     "once per month, mean 1, autocorrelated"),
    ("counts: leads, stage conversions, wins, churn and renewals", "month by month"),
    ("whole-month quantities: lags, terms, contract lengths, collection lag, schedule months, "
     "start months", "never: they are whole numbers and cannot be uncertain"),
]


def _when_drawn() -> str:
    return f"""\
## When values are drawn

Two layers of randomness run together. *Parameter uncertainty*: an uncertain input says "we do
not know the churn rate"; it is drawn once per path and holds for the whole path. *Process
noise*: even with the churn rate known, this month's churned customers are random; counts
(leads, conversions, wins, churned customers) are drawn month by month (Poisson, binomial,
multinomial).

{_markdown_table(("what", "drawn"), _WHEN_DRAWN_ROWS)}
In expected-value mode (`saas-sim run --expected`) every uncertain input is at its mean,
volatility factors are 1 and counts are at their expectations.
"""


_FORMS = [
    ("a number", "`0.02`, `1500`, `1e6`, `1_000_000`", "fixed"),
    ("a percent string", '`2%`, `"12.5%"`',
     "fixed, divided by 100 (accepted wherever a number is)"),
    ("a range", "`1% to 3%`, `900 to 1300`",
     "a 90% interval: 5% chance below the first number, 5% above the second; `1 to 3%` reads "
     "as `1% to 3%`"),
    ("two quantiles", "`{p5: 0.01, p95: 0.03}`, `{p10: 40, p90: 60}`",
     "an interval by any two percentiles"),
    ("a named distribution", "`{dist: pert, low: 10, mode: 12, high: 20}`",
     "parameters by name, see below"),
]

_KIND_FIT = {
    Kind.RATE: ("beta", "both ends strictly between 0% and 100%"),
    Kind.AMOUNT: ("lognormal", "lower end above 0"),
    Kind.SIGNED: ("normal", "any ends; negative values allowed"),
}

_DIST_EXAMPLES = {
    "uniform": "{dist: uniform, low: 20, high: 30}",
    "triangular": "{dist: triangular, low: 1%, mode: 2%, high: 4%}",
    "pert": "{dist: pert, low: 10, mode: 12, high: 20}",
    "normal": "{dist: normal, mean: 5%, sd: 2%, low: 0, high: 1}",
    "lognormal": "{dist: lognormal, mean: 12, sd: 10}",
    "beta": "{dist: beta, alpha: 2, beta: 50}",
    "gamma": "{dist: gamma, mean: 40, sd: 15}",
    "discrete": "{dist: discrete, values: [1, 5, 20], probabilities: [0.6, 0.3, 0.1]}",
    "empirical": "{dist: empirical, csv: data/deals.csv, column: seats}",
}


def _uncertain_values() -> str:
    distributions = []
    for name, spec in DISTRIBUTIONS.items():
        signatures = " or ".join("`" + ", ".join(sig) + "`" for sig in spec.signatures)
        optional = ", ".join(f"`{p}`" for p in spec.optional) or "—"
        example = f"`{_DIST_EXAMPLES[name]}`" if name in _DIST_EXAMPLES else "—"
        distributions.append((f"`{name}`", signatures, optional, spec.doc, example))
    fits = [(kind.value, *_KIND_FIT[kind]) for kind in Kind]
    return f"""\
## Uncertain values

Wherever a table says an input may be uncertain, it can be written in any of these forms:

{_markdown_table(("form", "example", "meaning"), _FORMS)}
Distributions take their parameters by name; some accept alternative parameter sets (give
exactly one set, plus any optional parameters). Parameters may be percent strings.

{_markdown_table(("`dist`", "parameters", "optional", "what it is", "example"), distributions)}
A range or a pair of quantiles is fitted exactly (the fitted distribution has those two
percentiles), by the kind of the field:

{_markdown_table(("kind", "fitted as", "the interval needs"), fits)}
A distribution must stay inside the field's range: a normal for a rate must be truncated
(`low: 0, high: 1`), a lognormal or gamma suits an amount. The mean of the distribution is the
value used in expected-value mode. An `empirical` distribution's CSV path is relative to the
scenario file.
"""


_SCHEDULES = """\
## Schedules

Fields marked "or a schedule" (a source's `leads_per_month`, fixed sales & marketing and opex
per month, fixed headcount) may change over the months:

```yaml
leads_per_month:
  schedule:
    0: 80 to 150      # each point may be uncertain, drawn once per path
    12: 350 to 700
    36: 900 to 1800
  interpolation: linear   # linear (default) or step
```

Months count from 0, the first simulated month, and must lie within the horizon. With
`linear` the value moves in a straight line between points; with `step` each value holds until
the next point. Before the first point the first value holds, after the last point the last
value holds. A plan's `mix` may be a schedule in the same way (see [Plans, migration and
overrides](#plans-migration-and-overrides)).

## Growth and seasonality

A source's `growth_per_year` compounds monthly: month `t` is scaled by `(1+g)^(t/12)`.
`seasonality` lists 12 factors for January to December, in calendar order whatever the start
month; they are normalised to a mean of 1, so `[2, 2, 2, ...]` is the same as no seasonality.
They are indexed by the calendar month of each simulated month, from `simulation.start_month`
(January when absent). Seasonality factors are fixed numbers. Growth and seasonality apply on
top of a `leads_per_month` schedule.
"""


# --------------------------------------------------------------------------------------------
# Field rows
# --------------------------------------------------------------------------------------------

_KIND_RANGE = {
    Kind.RATE: "rate: 0 to 1",
    Kind.AMOUNT: "amount: >= 0",
    Kind.SIGNED: "signed: any number",
}
_NAMES = {
    (m.Scenario, "baseline"): "the name of a plan",
    (m.InstalledBase, "offer"): "the name of a perpetual offer",
    (m.Migration, "to"): "the name of a subscription or term offer",
}


@dataclass(frozen=True)
class Row:
    """One documented field."""

    name: str
    meaning: str
    unit: str
    allowed: str
    default: str
    uncertain: str
    drawn: str


def _schema_defs() -> tuple[dict, dict]:
    schema = json_schema()
    return schema, schema.get("$defs", {})


def _model_schema(model: type[BaseModel], schema: dict, defs: dict) -> dict:
    return schema if model is m.Scenario else defs.get(model.__name__) or model.model_json_schema()


def _find(node: Any, key: str) -> Any:
    """The first ``key`` in a JSON-schema node, looking through anyOf and mapping values."""
    if not isinstance(node, dict):
        return None
    if key in node:
        return node[key]
    for child in (*node.get("anyOf", ()), node.get("additionalProperties")):
        found = _find(child, key)
        if found is not None:
            return found
    return None


def _has_schedule(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    if "schedule" in node.get("properties", {}):
        return True
    return any(_has_schedule(child) for child in node.get("anyOf", ()))


def _strip(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``Annotated`` and ``None``, and whether ``None`` was allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return functools.reduce(operator.or_, args), optional
            annotation = args[0]
        else:
            return annotation, optional


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every scenario part (pydantic model) an annotation refers to, through containers."""
    annotation, _ = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _bounds(info: FieldInfo) -> str:
    """A field's numeric bounds (pydantic's ``ge``, ``gt``, ``le``, ``lt``) in words."""
    low = high = None
    for item in info.metadata:
        if getattr(item, "ge", None) is not None:
            low = (item.ge, "")
        elif getattr(item, "gt", None) is not None:
            low = (item.gt, " (excluded)")
        elif getattr(item, "le", None) is not None:
            high = (item.le, "")
        elif getattr(item, "lt", None) is not None:
            high = (item.lt, " (excluded)")
    if low and high:
        return f"{_num(low[0])}{low[1]} to {_num(high[0])}{high[1]}"
    if low:
        return f">= {_num(low[0])}" if not low[1] else f"> {_num(low[0])}"
    if high:
        return f"<= {_num(high[0])}" if not high[1] else f"< {_num(high[0])}"
    return ""


def _length(info: FieldInfo) -> tuple[int | None, int | None]:
    low = high = None
    for item in info.metadata:
        low = getattr(item, "min_length", None) if hasattr(item, "min_length") else low
        high = getattr(item, "max_length", None) if hasattr(item, "max_length") else high
    return low, high


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _percent(value: float) -> str:
    return f"{value * 100:.10g}%"


def _link(model: type[BaseModel]) -> str:
    """A link to the table of ``model`` (or to the section of its base class's table)."""
    for section in SECTIONS:
        for table in section.tables:
            if table.model is model:
                return f"[`{table.path}`](#{_anchor(table.title)})"
    return _section_link(model)


def _section_link(model: type[BaseModel]) -> str:
    """A link to the section documenting ``model`` or a base class of it."""
    for section in SECTIONS:
        if any(issubclass(model, table.model) for table in section.tables):
            return f"[{section.title}](#{_anchor(section.title)})"
    return model.__name__


def _anchor(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _allowed(model: type[BaseModel], name: str, info: FieldInfo, prop: dict,
             kind: str | None) -> str:
    """The "allowed values / range" cell of a field."""
    annotation, _ = _strip(info.annotation)
    parts = _models_in(info.annotation)
    origin = typing.get_origin(annotation)
    if (model, name) in _NAMES:
        return _NAMES[(model, name)]
    if annotation is Mix:
        return "`{offer: share}` summing to 100%, or a schedule of them"
    if kind is not None:
        text = "amount: > 0" if _find(prop, "x-positive") else _KIND_RANGE[Kind(kind)]
        if origin is dict:
            key = "month" if _strip(typing.get_args(annotation)[0])[0] is int else "name"
            low, _ = _length(info)
            text = f"`{{{key}: value}}`, values: {text}" + (f"; at least {low}" if low else "")
        if _has_schedule(prop):
            text += "; or a schedule"
        return text
    if parts:
        target = " or ".join(dict.fromkeys(_link(p) for p in parts))
        if origin is dict:
            if len(parts) > 1:
                tags = ", ".join(f"`{typing.get_args(p.model_fields['type'].annotation)[0]}`"
                                 for p in parts)
                see = _section_link(parts[0])
                return f"`{{name: offer}}`, `type` one of {tags}, see {see}" + _at_least(info)
            return f"`{{name: part}}`, see {target}" + _at_least(info)
        if origin is list:
            return f"a list, see {target}"
        return f"a part, see {target}"
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        if len(values) == 1:
            return f"`{values[0]}`"
        return "one of " + ", ".join(f"`{v}`" for v in values)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{v.value}`" for v in annotation)
    if annotation is bool:
        return "`true` or `false`"
    if annotation is int:
        bounds = _bounds(info)
        return "whole number" + (f", {bounds}" if bounds else "")
    if annotation is float:
        bounds = _bounds(info)
        # A fixed number that may be a percent string (PercentFloat) has a string form too.
        percent = "; percent string accepted" if _find(prop, "anyOf") else ""
        if not bounds and not percent:
            return "any number"
        return "number" + (f", {bounds}" if bounds else "") + percent
    if origin is list:
        low, high = _length(info)
        count = f"{low} " if low is not None and low == high else ""
        return f"a list of {count}numbers"
    if origin is tuple:
        return f"a list of {len(typing.get_args(annotation))} dotted paths"
    if origin is dict:
        return "`{dotted.path: value}`, each value as at its path"
    if annotation is str:
        if name == "start_month":
            return "`YYYY-MM`, e.g. `2027-01`"
        return "text"
    return "see description"


def _at_least(info: FieldInfo) -> str:
    low, _ = _length(info)
    return f"; at least {low}" if low else ""


def _default(info: FieldInfo, kind: str | None) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, Uncertain):
        if not value.is_fixed:
            return f"`{value.to_yaml()}`"
        number = value.spec["value"]
        return _percent(number) if kind == Kind.RATE.value and number else _num(number)
    if isinstance(value, BaseModel):
        return "all defaults"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, (dict, list, tuple)):
        return "none" if not value else f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    return _num(value)


def _rows(table: Table, schema: dict, defs: dict) -> list[Row]:
    model_schema = _model_schema(table.model, schema, defs)
    names = table.fields if table.fields is not None else tuple(table.model.model_fields)
    rows = []
    for name in names:
        info = table.model.model_fields[name]
        prop = model_schema.get("properties", {}).get(name, {})
        kind, drawn = _find(prop, "x-kind"), _find(prop, "x-drawn")
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        unit = extra.get("x-unit", "")
        is_part = bool(_models_in(info.annotation)) and kind is None
        annotation = _strip(info.annotation)[0]
        origin = typing.get_origin(annotation)
        if origin is dict and typing.get_args(annotation)[1] is Any:
            # overrides: each value is read as the field it replaces
            uncertain, when = "as at its path", "as at its path"
        elif kind is not None:
            uncertain = ("yes, each point" if _has_schedule(prop)
                         else "yes, each value" if origin is dict else "yes")
            when = drawn
        else:
            uncertain = "—" if is_part else "no"
            when = "—" if is_part else "fixed: not uncertain"
        meaning = info.description or ""
        if name == "type" and typing.get_origin(_strip(info.annotation)[0]) is typing.Literal:
            meaning = meaning or "Chooses this licence model."
        rows.append(Row(
            name=name, meaning=meaning, unit=unit or "—",
            allowed=_allowed(table.model, name, info, prop, kind), default=_default(info, kind),
            uncertain=uncertain, drawn=when,
        ))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(table: Table, schema: dict, defs: dict) -> str:
    header = ("field", "meaning", "unit", "allowed values / range", "default", "may be uncertain?",
              "when drawn")
    rows = [(f"`{row.name}`", row.meaning, row.unit, row.allowed, row.default, row.uncertain,
             row.drawn) for row in _rows(table, schema, defs)]
    return f"### {table.title}\n\n" + _markdown_table(header, rows)


def _markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Coverage: every field of every part reachable from Scenario has a row.
# --------------------------------------------------------------------------------------------


def _reachable(root: type[BaseModel] = m.Scenario) -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    stack = [root]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen[model] = None
        for info in model.model_fields.values():
            stack.extend(_models_in(info.annotation))
    return list(seen)


def _documented() -> set[tuple[type[BaseModel], str]]:
    done = set()
    for section in SECTIONS:
        for table in section.tables:
            names = table.fields if table.fields is not None else tuple(table.model.model_fields)
            for model in _reachable():
                if issubclass(model, table.model):
                    done.update((model, name) for name in names)
    return done


def _check_coverage() -> None:
    done = _documented()
    missing = [f"{model.__name__}.{name}" for model in _reachable() for name in model.model_fields
               if (model, name) not in done]
    if missing:
        raise RuntimeError(
            "the scenario reference has no row for " + ", ".join(missing)
            + "; add a Table to SECTIONS in simulator/scenario/reference.py"
        )


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


def render_reference() -> str:
    """The whole reference page as Markdown text."""
    _check_coverage()
    schema, defs = _schema_defs()
    contents = ["## Contents", ""]
    general = ["When values are drawn", "Uncertain values", "Schedules", "Growth and seasonality"]
    for title in (*general[:2], *general[2:], *(s.title for s in SECTIONS)):
        contents.append(f"- [{title}](#{_anchor(title)})")
    blocks = [_HEADER, "\n".join(contents) + "\n", _when_drawn(), _uncertain_values(), _SCHEDULES]
    for section in SECTIONS:
        text = [f"## {section.title}", "", section.intro, ""]
        for table in section.tables:
            text.append(_table(table, schema, defs))
        if section.after:
            text.append(section.after)
        blocks.append("\n".join(text).rstrip("\n") + "\n")
    return "\n".join(blocks)


def write_reference(path: str | Path = DEFAULT_PATH) -> Path:
    """Write the reference page to ``path`` (``docs/scenario-reference.md`` by default)."""
    path = Path(path)
    path.write_text(render_reference(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator.scenario.reference",
        description="Print the scenario reference (Markdown) generated from the scenario model.",
    )
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="write to PATH instead of standard output")
    args = parser.parse_args(argv)
    if args.output:
        write_reference(args.output)
    else:
        sys.stdout.write(render_reference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
