"""Checks that span several parts of a scenario (names, horizons, sums, correlations).

Each check returns ``(path, message)`` pairs; the loader turns them into located problems.
"""

from __future__ import annotations

import numpy as np

from simulator.scenario.errors import did_you_mean
from simulator.scenario.inputs import correlation_matrix, iter_values, uncertain_inputs
from simulator.scenario.model import Perpetual, Scenario
from simulator.scenario.values import Schedule

__all__ = ["check_scenario"]

Found = list[tuple[tuple, str]]


def check_scenario(s: Scenario) -> Found:
    """All cross-part problems of a validated scenario (empty when it is usable)."""
    return [
        *_check_names(s),
        *_check_shares(s),
        *_check_months(s),
        *_check_finance(s),
        *_check_correlations(s),
    ]


def _unknown(kind: str, name: str, known) -> str:
    return f"no {kind} named {name!r}{did_you_mean(name, known)}; {kind}s are: {', '.join(known)}"


def _check_names(s: Scenario) -> Found:
    found: Found = []
    if s.baseline is not None and s.baseline not in s.plans:
        found.append((("baseline",), _unknown("plan", s.baseline, s.plans)))
    for name, plan in s.plans.items():
        found += [(("plans", name, "mix", offer), _unknown("offer", offer, s.offers))
                  for offer in plan.mix.offers if offer not in s.offers]
        if plan.migration is not None:
            if plan.migration.to not in s.offers:
                found.append((("plans", name, "migration", "to"), _unknown("offer", plan.migration.to, s.offers)))
            if s.installed_base is None:
                found.append((("plans", name, "migration"), "a migration needs an installed_base to migrate"))
    base = s.installed_base
    if base is not None:
        if base.offer not in s.offers:
            found.append((("installed_base", "offer"), _unknown("offer", base.offer, s.offers)))
        elif not isinstance(s.offers[base.offer], Perpetual):
            found.append((("installed_base", "offer"), f"{base.offer!r} is a {s.offers[base.offer].type} offer; "
                          "the installed base is on a perpetual offer"))
    return found


def _check_shares(s: Scenario) -> Found:
    found: Found = []
    total = sum(seg.share for seg in s.segments.values())
    if abs(total - 1) > 1e-6:
        found.append((("segments",), f"segment shares must sum to 100%, they sum to {total:.6g}"))
    channels = s.costs.channels
    channel_total = sum(route.share.mean for route in (channels.reseller, channels.referral, channels.marketplace))
    if channel_total > 1 + 1e-9:
        found.append((("costs", "channels"), f"channel shares must sum to at most 100%, they sum to {channel_total:.6g}"))
    return found


def _check_months(s: Scenario) -> Found:
    horizon = s.simulation.horizon_months
    found: Found = []

    def check(path: tuple, months) -> None:
        late = [m for m in months if m >= horizon]
        if late:
            found.append((path, f"month {late[0]} is beyond the horizon (months 0 to {horizon - 1})"))

    for path, value in _schedules(s):
        if isinstance(value, Schedule) or len(getattr(value, "months", ())) > 1:
            check((*path, "schedule", max(value.months)), value.months)
    for month in s.costs.investments:
        check(("costs", "investments", month), [month])
    for name, plan in s.plans.items():
        if plan.migration is not None:
            check(("plans", name, "migration", "start_month"), [plan.migration.start_month])
    return found


def _schedules(s: Scenario):
    for name, source in s.funnel.sources.items():
        yield ("funnel", "sources", name, "leads_per_month"), source.leads_per_month
    for key in ("fixed_sales_marketing_per_month", "fixed_opex_per_month"):
        yield ("costs", key), getattr(s.costs, key)
    yield ("costs", "headcount", "fixed"), s.costs.headcount.fixed
    for name, plan in s.plans.items():
        yield ("plans", name, "mix"), plan.mix


def _check_finance(s: Scenario) -> Found:
    terminal = s.finance.terminal_value
    if terminal is not None and terminal.method == "perpetuity":
        if terminal.growth.mean >= s.finance.discount_rate.mean:
            return [(("finance", "terminal_value", "growth"),
                     "perpetuity growth must be below the discount rate")]
    return []


def _check_correlations(s: Scenario) -> Found:
    inputs = uncertain_inputs(s)
    found: Found = []
    pairs, seen = [], set()
    for i, corr in enumerate(s.correlations):
        for j, name in enumerate(corr.between):
            if name not in inputs:
                fixed = name in {".".join(map(str, p)) for p, _ in iter_values(s)}
                reason = ("is a fixed value; only uncertain inputs can be correlated" if fixed
                          else f"is not an uncertain input{did_you_mean(name, inputs)}")
                found.append((("correlations", i, "between", j), f"{name!r} {reason}"))
        a, b = corr.between
        if a == b:
            found.append((("correlations", i, "between"), "an input cannot be correlated with itself"))
        elif frozenset(corr.between) in seen:
            found.append((("correlations", i, "between"), f"{a} and {b} are correlated twice"))
        elif a in inputs and b in inputs:
            pairs.append((a, b, corr.rank))
        seen.add(frozenset(corr.between))
    if pairs and not found:
        names = sorted({n for a, b, _ in pairs for n in (a, b)})
        smallest = float(np.linalg.eigvalsh(correlation_matrix(names, pairs)).min())
        if smallest < -1e-10:
            found.append((("correlations",), "the correlations are inconsistent: their matrix is not positive "
                          f"semi-definite (smallest eigenvalue {smallest:.3g}); weaken some of them"))
    return found
