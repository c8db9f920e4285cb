"""The scenario's key assumptions as compact tables of text, as the analyst wrote them.

Ranges keep their written form (``8% to 16%``, ``900 to 1,300``), named distributions their
parameters (``lognormal(mean 12, sd 10)``), schedules their points. Everything is plain text:
the report escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.scenario.uncertain import Uncertain
from simulator.scenario.values import Mix, Schedule

__all__ = ["Section", "assumption_sections", "shown"]


@dataclass
class Section:
    """A titled table: ``headers`` and ``rows`` of text (a key/value table has two headers)."""

    title: str
    headers: list[str]
    rows: list[list[str]]


# ------------------------------------------------------------------------------------------
# Values as written
# ------------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * float(value):.4g}%"


def _num(value: float) -> str:
    value = float(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _raw(value: Any, style: str) -> str:
    """A parameter as written: strings (``"2%"``) stay, numbers take the field's style."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return _pct(value) if style == "pct" else _num(value)
    if isinstance(value, (list, tuple)):
        return f"{len(value)} values"
    return str(value)


def shown(value: Any, style: str = "num") -> str:
    """An uncertain value, schedule or number as the analyst wrote it.

    Parameters
    ----------
    value : Uncertain, Schedule, number or None
    style : ``"pct"`` or ``"num"``
        How plain numbers of this field read: ``0.08`` as ``8%`` or as ``0.08``.
    """
    if value is None:
        return "–"
    if isinstance(value, Schedule):
        points = ", ".join(f"month {m}: {shown(v, style)}" for m, v in zip(value.months, value.values, strict=True))
        return f"{points} ({value.interpolation})"
    if isinstance(value, Uncertain):
        spec = value.spec
        if value.is_fixed:
            return _raw(spec["value"], style)
        fitted = spec.get("fitted_to")
        if fitted:
            (q_lo, lo), (q_hi, hi) = sorted(fitted.items(), key=lambda kv: int(kv[0][1:]))
            text = f"{_raw(lo, style)} to {_raw(hi, style)}"
            return text if (q_lo, q_hi) == ("p5", "p95") else f"{text} ({q_lo} to {q_hi})"
        name = spec.get("dist", "distribution")
        if name == "empirical" and "csv" in spec:
            return f"empirical (column {spec.get('column')} of {spec.get('csv')})"
        params = ", ".join(f"{k} {_raw(v, style)}" for k, v in spec.items() if k not in ("dist", "fitted_to"))
        return f"{name}({params})"
    if isinstance(value, (int, float)):
        return _raw(value, style)
    return str(value)


def _mix(mix: Mix) -> str:
    def point(shares: dict[str, float]) -> str:
        return ", ".join(f"{offer} {_pct(share)}" for offer, share in shares.items() if share > 0)

    if len(mix.months) == 1:
        prefix = f"from month {mix.months[0]}: " if mix.months[0] else ""
        return prefix + point(mix.shares[0])
    steps = " → ".join(f"month {m}: {point(s)}" for m, s in zip(mix.months, mix.shares, strict=True))
    return f"{steps} ({mix.interpolation})"


def _flow(value: Any) -> str:
    """A plan override as compact YAML flow text."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _churn(churn) -> str:
    if churn is None:
        return "–"
    form = churn.form
    if form == "sbg":
        return f"sBG alpha {shown(churn.sbg.alpha)}, beta {shown(churn.sbg.beta)}"
    label = {"monthly": "monthly", "annual": "annual", "renewal_rate": "renewal"}[form]
    return f"{label} {shown(getattr(churn, form), 'pct')}"


def _months(count: int) -> str:
    return f"{count} month" if count == 1 else f"{count} months"


def _is_default(value: Any, default: float) -> bool:
    return isinstance(value, Uncertain) and value.is_fixed and float(value.spec["value"]) == default


# ------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------


def assumption_sections(scenario) -> list[Section]:
    """The key assumptions of a scenario: funnel sources, segments, offers, installed base,
    plans and the money (cash, discounting, costs)."""
    currency = scenario.simulation.currency
    out = [_sources(scenario, currency), _segments(scenario), _offers(scenario, currency)]
    if scenario.installed_base is not None:
        out.append(_installed_base(scenario, currency))
    out.append(_plans(scenario))
    out.append(_money(scenario, currency))
    return out


def _sources(scenario, currency: str) -> Section:
    rows = []
    for name, source in scenario.funnel.sources.items():
        stages = " → ".join(f"{stage} {shown(rate, 'pct')}" for stage, rate in source.stages.items())
        cycle = _months(source.sales_cycle_months)
        if source.pipeline == "cold":
            cycle += " (cold start)"
        fixed = "" if _is_default(source.fixed_cost_per_month, 0) else shown(source.fixed_cost_per_month)
        rows.append([name, shown(source.leads_per_month), shown(source.growth_per_year, "pct"), stages, cycle,
                     shown(source.cost_per_lead), fixed or "–"])
    return Section("Marketing sources and conversions",
                   ["Source", "Leads / month", "Lead growth / year", "Conversions (stage by stage)",
                    "Sales cycle", f"Cost per lead ({currency})", f"Programme cost / month ({currency})"],
                   rows)


def _segments(scenario) -> Section:
    rows = [[name, _pct(segment.share), shown(segment.seats), shown(segment.price_multiplier),
             shown(segment.churn_multiplier)]
            for name, segment in scenario.segments.items()]
    return Section("Customer segments",
                   ["Segment", "Share of new wins", "Seats per customer", "Price multiplier", "Churn multiplier"],
                   rows)


def _offers(scenario, currency: str) -> Section:
    rows = []
    for name, offer in scenario.offers.items():
        if offer.type == "subscription":
            term = "month-to-month" if offer.term_months == 1 else f"{offer.term_months}-month term"
            price = (f"{shown(offer.price_per_seat_month)} / seat / month, billed {offer.billing.replace('_', '-')}, "
                     f"{term}")
            growth = [f"expansion {shown(offer.expansion_per_year, 'pct')} / year"] if not _is_default(
                offer.expansion_per_year, 0) else []
            if not _is_default(offer.contraction_per_year, 0):
                growth.append(f"contraction {shown(offer.contraction_per_year, 'pct')} / year")
            cost = shown(offer.cost_to_serve_per_seat_month)
        elif offer.type == "perpetual":
            price = (f"{shown(offer.license_fee_per_seat)} / seat licence; maintenance "
                     f"{shown(offer.maintenance_rate, 'pct')} of the fee / year")
            growth = []
            cost = shown(offer.support_cost_per_seat_month)
        else:
            price = (f"{shown(offer.fee_per_seat_year)} / seat / year, {offer.term_years}-year term billed "
                     f"{offer.billing}; licence share {shown(offer.license_share, 'pct')}")
            growth = []
            cost = shown(offer.support_cost_per_seat_month)
        if not _is_default(offer.price_increase_per_year, 0):
            price += f"; price +{shown(offer.price_increase_per_year, 'pct')} / year"
        extras = list(growth)
        if not _is_default(offer.win_rate_factor, 1):
            extras.append(f"win-rate factor {shown(offer.win_rate_factor)}")
        services = "–"
        if not _is_default(offer.services_per_customer, 0):
            services = shown(offer.services_per_customer)
            if not _is_default(offer.services_cost_share, 0):
                services += f" (cost {shown(offer.services_cost_share, 'pct')})"
        rows.append([name, offer.type, price, _churn(offer.churn), "; ".join(extras) or "–", cost, services])
    return Section("Offers (licence models)",
                   ["Offer", "Type", f"Price ({currency})", "Churn", "Seats and win rate",
                    f"Cost to serve / seat / month ({currency})", f"Services per customer ({currency})"],
                   rows)


def _installed_base(scenario, currency: str) -> Section:
    base = scenario.installed_base
    maintenance = shown(base.annual_maintenance_per_seat) if base.annual_maintenance_per_seat is not None \
        else "the offer's fee × maintenance rate"
    churn = _churn(base.churn) if base.churn is not None else f"as the {base.offer} offer"
    return Section("Installed base at the start",
                   ["Offer", "Customers", "Seats per customer", f"Maintenance / seat / year ({currency})", "Churn"],
                   [[base.offer, shown(base.customers), shown(base.seats), maintenance, churn]])


def _plans(scenario) -> Section:
    rows = []
    for name, plan in scenario.plans.items():
        title = f"{name} (baseline)" if name == scenario.baseline_plan else name
        migration = "–"
        if plan.migration is not None:
            m = plan.migration
            migration = f"to {m.to} at {shown(m.rate_per_year, 'pct')} of the base / year"
            if m.start_month:
                migration += f" from month {m.start_month}"
            if not _is_default(m.first_term_price_factor, 1):
                migration += f"; first term at {shown(m.first_term_price_factor, 'pct')} of the price"
            if not _is_default(m.commission_rate, 0):
                migration += f"; commission {shown(m.commission_rate, 'pct')}"
        overrides = "; ".join(f"{path}: {_flow(value)}" for path, value in plan.overrides.items()) or "–"
        rows.append([title, plan.description or "–", _mix(plan.mix), migration, overrides])
    return Section("Plans compared", ["Plan", "Description", "Mix of new wins", "Installed-base migration",
                                      "Plan-specific changes"], rows)


def _money(scenario, currency: str) -> Section:
    finance, costs = scenario.finance, scenario.costs
    rows = [
        ["Starting cash", f"{shown(finance.starting_cash)} {currency}"],
        ["Discount rate (NPV)", f"{shown(finance.discount_rate, 'pct')} / year"],
        ["Collection lag", _months(finance.collection_lag_months)],
    ]
    tv = finance.terminal_value
    if tv is None:
        rows.append(["Terminal value", "none (NPV over the horizon only)"])
    elif tv.method == "arr_multiple":
        rows.append(["Terminal value", f"{shown(tv.multiple)} × ending ARR"])
    else:
        rows.append(["Terminal value", f"growing perpetuity at {shown(tv.growth, 'pct')} / year"])
    rows.append(["Fixed opex / month", f"{shown(costs.fixed_opex_per_month)} {currency}"])
    rows.append(["Fixed sales & marketing / month", f"{shown(costs.fixed_sales_marketing_per_month)} {currency}"])
    rows.append(["Commissions", f"{shown(costs.commissions.upfront_rate, 'pct')} upfront on first-year value, "
                                f"{shown(costs.commissions.recurring_rate, 'pct')} of recurring revenue collected"])
    channels = [f"{name} {shown(route.share, 'pct')} of deals at {shown(route.rate, 'pct')}"
                for name, route in (("reseller", costs.channels.reseller), ("referral", costs.channels.referral),
                                    ("marketplace", costs.channels.marketplace))
                if not _is_default(route.share, 0)]
    rows.append(["Channels", "; ".join(channels) or "direct sales only"])
    head = costs.headcount
    staff = f"{shown(head.fixed)} fixed"
    if head.customers_per_support_head is not None:
        staff += f" + 1 support head per {shown(head.customers_per_support_head)} customers"
    staff += f", {shown(head.cost_per_head_year)} {currency} / head / year"
    rows.append(["Headcount", staff])
    if costs.investments:
        rows.append(["One-off investments", ", ".join(f"month {m}: {shown(v)}" for m, v in costs.investments.items())
                     + f" {currency}"])
    if scenario.correlations:
        rows.append(["Correlations", "; ".join(f"{a} ~ {b}: {c.rank:+g}" for c in scenario.correlations
                                              for a, b in [c.between])])
    return Section("Cash, discounting and costs", ["Item", "Value"], rows)
