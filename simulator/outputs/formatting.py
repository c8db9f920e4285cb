"""How numbers, months and input names are written in tables, charts and the report.

Money is shortened the way a finance reader scans it (``€4.1M``, ``-€850k``), shares as
percents, months by their calendar label (``2028-03``), and the dotted paths of uncertain
inputs as short readable labels (``web: contract conversion``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "MINUS", "currency_symbol", "money", "number", "percent", "month_label", "month_dates",
    "input_label", "is_missing",
]

MINUS = "\u2212"
"""The typographic minus sign, used in charts and the report (``-`` in the terminal)."""

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}


def is_missing(value) -> bool:
    """None or NaN: an undefined value (an event that never happens, a probability in
    expected-value mode)."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def currency_symbol(currency: str) -> str:
    """``€`` for EUR, ``$`` for USD...; other codes are written out (``CHF ``)."""
    code = (currency or "").strip()
    symbol = _SYMBOLS.get(code.upper())
    if symbol:
        return symbol
    return f"{code} " if code else ""


def money(value, currency: str = "", *, digits: int = 1, minus: str = MINUS, missing: str = "–") -> str:
    """A money amount, shortened: ``€4.1M``, ``-€850k``, ``€1.25B``, ``€312``.

    Parameters
    ----------
    value : float or None
    currency : str
        ISO code from the scenario (``EUR``); an unknown code is written before the number.
    digits : int
        Decimals of the M and B forms (k is always whole).
    minus : str
        Sign of negative amounts (the typographic minus by default; ``"-"`` for plain text).
    missing : str
        What an undefined value shows.
    """
    if is_missing(value):
        return missing
    value = float(value)
    symbol = currency_symbol(currency)
    sign = minus if value < 0 else ""
    size = abs(value)
    if size >= 1e9:
        text = f"{size / 1e9:.{digits + 1}f}B"
    elif size >= 1e6:
        text = f"{size / 1e6:.{digits}f}M"
        if text == f"{1000:.{digits}f}M":
            text = f"{size / 1e9:.{digits + 1}f}B"
    elif size >= 1e4:
        text = f"{size / 1e3:.0f}k"
        if text == "1000k":
            text = f"{size / 1e6:.{digits}f}M"
    elif size >= 1e3:
        text = f"{size / 1e3:.1f}k"
    else:
        text = f"{size:.0f}"
    if text.strip("0.kMB") == "":  # rounds to zero: no sign
        sign = ""
    return f"{sign}{symbol}{text}"


def number(value, *, decimals: int = 0, minus: str = MINUS, missing: str = "–") -> str:
    """A plain number with thousands separators: ``12,400``, ``3.2``."""
    if is_missing(value):
        return missing
    text = f"{abs(float(value)):,.{decimals}f}"
    sign = minus if float(value) < 0 and text.strip("0.,") else ""
    return sign + text


def percent(value, *, decimals: int = 0, missing: str = "–") -> str:
    """A share in [0, 1] as a percent: ``73%``; ``<1%`` and ``>99%`` near the ends."""
    if is_missing(value):
        return missing
    value = float(value)
    scaled = 100 * value
    text = f"{scaled:.{decimals}f}%"
    if 0 < value and float(text[:-1]) == 0:
        return f"<{10 ** -decimals:g}%"
    if value < 1 and float(text[:-1]) == 100:
        return f">{100 - 10 ** -decimals:g}%"
    return text


def month_label(index, labels: Sequence[str], *, missing: str = "never") -> str:
    """The label of month ``index`` (0-based, rounded to the nearest month): ``2028-03``."""
    if is_missing(index):
        return missing
    i = int(round(float(index)))
    if 0 <= i < len(labels):
        return labels[i]
    return f"month {i}"


def month_dates(labels: Sequence[str]):
    """Month starts as ``datetime64[D]`` when every label is ``YYYY-MM``, else ``None``."""
    import numpy as np

    try:
        return np.array([f"{label}-01" for label in labels], dtype="datetime64[D]")
    except ValueError:
        return None


# ------------------------------------------------------------------------------------------
# Input names: dotted paths of the scenario, shortened for tornado charts and tables.
# ------------------------------------------------------------------------------------------

_LEAVES = {
    "leads_per_month": "leads / month",
    "growth_per_year": "lead growth / year",
    "cost_per_lead": "cost per lead",
    "fixed_cost_per_month": "programme cost / month",
    "price_per_seat_month": "price / seat / month",
    "license_fee_per_seat": "licence fee / seat",
    "fee_per_seat_year": "fee / seat / year",
    "maintenance_rate": "maintenance rate",
    "expansion_per_year": "expansion / year",
    "contraction_per_year": "contraction / year",
    "price_increase_per_year": "price increase / year",
    "cost_to_serve_per_seat_month": "cost to serve / seat / month",
    "support_cost_per_seat_month": "support cost / seat / month",
    "services_per_customer": "services / customer",
    "services_cost_share": "services cost share",
    "win_rate_factor": "win-rate factor",
    "license_share": "licence share",
    "rate_per_year": "migration rate / year",
    "first_term_price_factor": "migration price factor",
    "commission_rate": "migration commission",
    "fixed_opex_per_month": "fixed opex / month",
    "fixed_sales_marketing_per_month": "fixed S&M / month",
    "starting_cash": "starting cash",
    "discount_rate": "discount rate",
    "annual_maintenance_per_seat": "maintenance / seat / year",
    "customers_per_support_head": "customers per support head",
    "cost_per_head_year": "cost per head / year",
    "upfront_rate": "upfront commission",
    "recurring_rate": "recurring commission",
    "price_multiplier": "price multiplier",
    "churn_multiplier": "churn multiplier",
}

_CHURN = {"monthly": "monthly churn", "annual": "annual churn", "renewal_rate": "renewal rate",
          "alpha": "churn sBG alpha", "beta": "churn sBG beta"}


def input_label(path: str) -> str:
    """A short, readable name for the dotted path of an uncertain input.

    ``funnel.sources.web.stages.contract`` -> ``web: contract conversion``;
    ``offers.saas_annual.churn.annual`` -> ``saas_annual: annual churn``;
    ``finance.terminal_value.multiple`` -> ``terminal value multiple``;
    a schedule point ``...leads_per_month.schedule.12`` -> ``web: leads / month (month 12)``.
    """
    parts = path.split(".")
    suffix = ""
    if len(parts) >= 3 and parts[-2] == "schedule":
        suffix = f" (month {parts[-1]})"
        parts = parts[:-2]
    head, rest = parts[0], parts[1:]

    def leaf(name: str) -> str:
        return _LEAVES.get(name, name.replace("_", " "))

    if head == "funnel" and len(rest) >= 3 and rest[0] == "sources":
        source, tail = rest[1], rest[2:]
        if tail[0] == "stages" and len(tail) == 2:
            text = f"{source}: {tail[1]} conversion"
        elif tail[0] == "volatility":
            text = f"{source}: volatility {leaf(tail[-1])}"
        else:
            text = f"{source}: {' '.join(leaf(p) for p in tail)}"
    elif head in ("offers", "segments", "plans") and len(rest) >= 2:
        owner, tail = rest[0], rest[1:]
        if tail[0] == "churn" and len(tail) >= 2:
            text = f"{owner}: {_CHURN.get(tail[-1], 'churn ' + tail[-1])}"
        elif tail[0] == "migration" and len(tail) == 2:
            text = f"{owner}: {leaf(tail[1])}"
        else:
            text = f"{owner}: {' '.join(leaf(p) for p in tail)}"
    elif head == "installed_base" and rest:
        if rest[0] == "churn" and len(rest) >= 2:
            text = f"installed base: {_CHURN.get(rest[-1], 'churn ' + rest[-1])}"
        else:
            text = f"installed base: {' '.join(leaf(p) for p in rest)}"
    elif head == "finance" and rest[:1] == ["terminal_value"] and len(rest) == 2:
        text = f"terminal value {'ARR multiple' if rest[1] == 'multiple' else rest[1]}"
    elif head == "costs" and rest[:1] == ["channels"] and len(rest) == 3:
        text = f"{rest[1]} channel {'share' if rest[2] == 'share' else 'rate'}"
    elif head == "costs" and rest[:1] == ["investments"] and len(rest) == 2:
        text = f"investment in month {rest[1]}"
    elif head in ("costs", "finance", "market") and rest:
        text = " ".join(leaf(p) for p in rest if p not in ("commissions", "headcount"))
        if rest[:1] == ["headcount"] and rest[-1] == "fixed":
            text = "fixed headcount"
    else:
        text = " ".join(leaf(p) for p in parts)
    return text + suffix
