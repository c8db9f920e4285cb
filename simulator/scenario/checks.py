"""Checks that span several parts of a scenario (names, horizons, sums, correlations).

Each check returns :class:`Finding` tuples; the loader turns them into located problems.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simulator.scenario.errors import did_you_mean
from simulator.scenario.inputs import correlation_matrix, iter_values, uncertain_inputs
from simulator.scenario.model import Perpetual, Scenario
from simulator.scenario.values import Mix, Schedule

__all__ = ["check_scenario", "Finding"]


class Finding(NamedTuple):
    """One cross-part problem.

    Attributes
    ----------
    path : tuple
        Keys and list indexes from the root of the scenario.
    message : str
        What is wrong.
    at_key : bool or None
        ``True`` when the key itself is wrong (a name or a month used as a key); ``None`` lets
        the loader choose (the key for a mapping or a list, else the value).
    """

    path: tuple
    message: str
    at_key: bool | None = None


Found = list[Finding]


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
    hint = did_you_mean(name, known)
    return f"no {kind} named {name!r}{hint}; {kind}s are: {', '.join(known)}"


def _check_names(s: Scenario) -> Found:
    found: Found = []
    if s.baseline is not None and s.baseline not in s.plans:
        found.append(Finding(("baseline",), _unknown("plan", s.baseline, s.plans)))
    for name, plan in s.plans.items():
        for offer in plan.mix.offers:
            if offer not in s.offers:
                path = (*_mix_path(name, plan.mix, offer), offer)
                found.append(Finding(path, _unknown("offer", offer, s.offers), at_key=True))
        found += _check_migration(s, name)
    base = s.installed_base
    if base is not None and base.offer not in s.offers:
        found.append(Finding(("installed_base", "offer"), _unknown("offer", base.offer, s.offers)))
    elif base is not None and not isinstance(s.offers[base.offer], Perpetual):
        kind = s.offers[base.offer].type
        message = (f"{base.offer!r} is a {kind} offer; the installed base is on a perpetual offer "
                   "(licence + maintenance)")
        found.append(Finding(("installed_base", "offer"), message))
    return found


def _check_migration(s: Scenario, plan: str) -> Found:
    migration = s.plans[plan].migration
    path = ("plans", plan, "migration")
    found: Found = []
    if migration is not None and migration.to not in s.offers:
        found.append(Finding((*path, "to"), _unknown("offer", migration.to, s.offers)))
    elif migration is not None and isinstance(s.offers[migration.to], Perpetual):
        message = (f"{migration.to!r} is a perpetual offer; a migration moves the installed base "
                   "off perpetual licences, to a subscription or a term licence")
        found.append(Finding((*path, "to"), message))
    if migration is not None and s.installed_base is None:
        message = "a migration moves the installed base, but the scenario has no installed_base"
        found.append(Finding(path, message))
    return found


def _mix_path(plan: str, mix: Mix, offer: str) -> tuple:
    """Where ``offer`` is first named in a plan's mix: the mix itself or a schedule month.

    A one-point schedule at month 0 cannot be told from a plain mix; its problems then point
    at the ``mix`` key, the nearest part of the path present in the file.
    """
    if mix.months == (0,):
        return ("plans", plan, "mix")
    points = zip(mix.months, mix.shares, strict=True)
    month = next(m for m, shares in points if offer in shares)
    return ("plans", plan, "mix", "schedule", month)


def _check_shares(s: Scenario) -> Found:
    found: Found = []
    total = sum(seg.share for seg in s.segments.values())
    if abs(total - 1) > 1e-6:
        message = f"segment shares must sum to 100%, they sum to {_percent(total)}"
        found.append(Finding(("segments",), message))
    found += _check_channel_shares(s)
    return found


CHANNEL_QUANTILE = 0.999
"""Channel shares may be uncertain: the sum of their 99.9% quantiles must not exceed 100%.

Then a path whose shares sum above 100% needs at least one share above its own 99.9%
quantile, which happens on at most 0.3% of paths (three channels) whatever the correlations.
Fixed shares are their own quantiles, so fixed shares must simply sum to at most 100%.
"""


def _check_channel_shares(s: Scenario) -> Found:
    channels = s.costs.channels
    names = type(channels).model_fields
    high = {name: float(getattr(channels, name).share.ppf(np.array(CHANNEL_QUANTILE)))
            for name in names}
    total = sum(high.values())
    if total <= 1 + 1e-9:
        return []
    uncertain = any(not getattr(channels, name).share.is_fixed for name in names)
    parts = ", ".join(f"{name} {_percent(x)}" for name, x in high.items() if x > 0)
    if uncertain:
        message = ("channel shares must sum to at most 100%, but their 99.9% quantiles sum to "
                   f"{_percent(total)} ({parts}); narrow or lower the shares")
    else:
        message = (f"channel shares must sum to at most 100%, they sum to {_percent(total)} "
                   f"({parts})")
    return [Finding(("costs", "channels"), message)]


def _percent(share: float) -> str:
    return f"{100 * share:.4g}%"


def _check_months(s: Scenario) -> Found:
    horizon = s.simulation.horizon_months
    found: Found = []

    def check(path: tuple, months, *, at_key: bool | None = None) -> None:
        for month in months:
            if not 0 <= month < horizon:
                where = (*path, month) if at_key else path
                found.append(Finding(where, _outside(month, horizon), at_key))

    for path, value in _schedules(s):
        if isinstance(value, Schedule) or (isinstance(value, Mix) and value.months != (0,)):
            check((*path, "schedule"), value.months, at_key=True)
    check(("costs", "investments"), s.costs.investments, at_key=True)
    for name, plan in s.plans.items():
        if plan.migration is not None:
            check(("plans", name, "migration", "start_month"), [plan.migration.start_month])
    return found


def _outside(month: int, horizon: int) -> str:
    where = "before month 0" if month < 0 else "beyond the horizon"
    return f"month {month} is {where}; the simulation runs months 0 to {horizon - 1}"


def _schedules(s: Scenario):
    """Every value that may be a schedule over months, with its path."""
    for name, source in s.funnel.sources.items():
        yield ("funnel", "sources", name, "leads_per_month"), source.leads_per_month
    for key in ("fixed_sales_marketing_per_month", "fixed_opex_per_month"):
        yield ("costs", key), getattr(s.costs, key)
    yield ("costs", "headcount", "fixed"), s.costs.headcount.fixed
    for name, plan in s.plans.items():
        yield ("plans", name, "mix"), plan.mix


def _check_finance(s: Scenario) -> Found:
    terminal = s.finance.terminal_value
    if terminal is None or terminal.method != "perpetuity":
        return []
    growth, rate = terminal.growth.mean, s.finance.discount_rate.mean
    if growth < rate:
        return []
    message = (f"perpetuity growth ({_percent(growth)} a year on average) must be below the "
               f"discount rate ({_percent(rate)})")
    return [Finding(("finance", "terminal_value", "growth"), message)]


def _check_correlations(s: Scenario) -> Found:
    inputs = uncertain_inputs(s)
    values = {".".join(map(str, p)): v for p, v in iter_values(s)}
    found: Found = []
    pairs, first = [], {}
    for i, corr in enumerate(s.correlations):
        path = ("correlations", i, "between")
        for j, name in enumerate(corr.between):
            if name not in inputs:
                found.append(Finding((*path, j), _not_input(name, values, inputs)))
        a, b = corr.between
        pair = frozenset(corr.between)
        if a == b:
            found.append(Finding(path, "an input cannot be correlated with itself"))
        elif pair in first:
            message = f"{a} and {b} are already correlated in correlations.{first[pair]}"
            found.append(Finding(path, message))
        elif a in inputs and b in inputs:
            pairs.append((a, b, corr.rank))
        first.setdefault(pair, i)
    if pairs and not found:
        found += _check_consistent(pairs)
    return found


def _check_consistent(pairs: list[tuple[str, str, float]]) -> Found:
    """The correlation matrix of the pairs must be positive semi-definite."""
    names = sorted({n for a, b, _ in pairs for n in (a, b)})
    smallest = float(np.linalg.eigvalsh(correlation_matrix(names, pairs)).min())
    if smallest >= -1e-10:
        return []
    message = ("the correlations are inconsistent: their matrix is not positive semi-definite "
               f"(smallest eigenvalue {smallest:.3g}); weaken some of them")
    return [Finding(("correlations",), message)]


def _not_input(name: str, values: dict, inputs: dict) -> str:
    """Why ``name`` cannot be correlated: fixed, drawn per customer, or no such input."""
    value = values.get(name)
    if value is not None and value.is_fixed:
        return f"{name!r} is a fixed value; only uncertain inputs can be correlated"
    if value is not None:
        return (f"{name!r} is drawn customer by customer; only inputs drawn once per path "
                "can be correlated")
    return f"{name!r} is not an uncertain input of the scenario{did_you_mean(name, inputs)}"
