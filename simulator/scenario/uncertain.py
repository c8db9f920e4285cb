"""Uncertain values: the numbers of a scenario, fixed or drawn from a distribution.

A scenario number may be written as

- a number (``0.02``) or a percent string (``"2%"``);
- a named distribution with named parameters (``{dist: pert, low: 10, mode: 12, high: 20}``);
- a 90% interval, ``"1% to 3%"`` or ``{p5: 0.01, p95: 0.03}``, fitted as a beta for rates,
  a lognormal for non-negative amounts and a normal for values that may be negative.

Every value knows its *kind* (rate, amount, signed), which fixes the interval fit and the
support its distribution must respect. Parsing returns an :class:`Uncertain`, which wraps a
frozen ``scipy.stats`` distribution: sampling is ``ppf`` of uniforms, so random, Latin-hypercube
and Sobol designs and rank correlation all act on the same uniforms.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, stats

from simulator.scenario.errors import InputError, did_you_mean as _did_you_mean

__all__ = [
    "Kind", "Uncertain", "InputError", "parse_uncertain", "parse_number", "check_positive",
    "DISTRIBUTIONS",
]


class Kind(str, Enum):
    """What a number means, which decides its allowed range and how an interval is fitted."""

    RATE = "rate"  # a probability or share in [0, 1]; interval fitted as a beta
    AMOUNT = "amount"  # a non-negative amount; interval fitted as a lognormal
    SIGNED = "signed"  # any real number; interval fitted as a normal


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_PERCENT_RE = re.compile(rf"^\s*({_NUMBER})\s*(%?)\s*$")
_RANGE_RE = re.compile(rf"^\s*({_NUMBER})\s*(%?)\s+to\s+({_NUMBER})\s*(%?)\s*$", re.IGNORECASE)
_QUANTILE_KEY = re.compile(r"^p(\d{1,2})$")


def shown(raw: Any) -> str:
    """A YAML value as quoted in a message; an empty value is named as such."""
    if raw is None:
        return "nothing (an empty value)"
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def boolean_message(raw: bool, expected: str = "a number") -> str:
    """Why a YAML boolean is not a number: ``yes``, ``on``... are booleans in YAML 1.1."""
    return (f"expected {expected}, got {str(raw).lower()} "
            "(YAML reads true/false, yes/no and on/off as booleans)")


def parse_number(raw: Any, subpath: tuple = ()) -> float:
    """Read a fixed number: an int/float or a string such as ``"2%"``, ``"1e6"`` or ``"12.5"``."""
    if isinstance(raw, bool):
        raise InputError(boolean_message(raw), subpath)
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str) and (match := _PERCENT_RE.match(raw.replace("_", ""))):
        value = float(match.group(1)) / (100.0 if match.group(2) else 1.0)
    else:
        raise InputError(
            f"expected a number or a percent string such as '2%', got {shown(raw)}", subpath
        )
    if not math.isfinite(value):
        raise InputError(f"expected a finite number, got {shown(raw)}", subpath)
    return value


# --------------------------------------------------------------------------------------------
# Named distributions: each takes one of several parameter sets (signatures), all by name.
# --------------------------------------------------------------------------------------------


def _uniform(p):
    return stats.uniform(loc=p["low"], scale=_width(p))


def _triangular(p):
    width = _width(p)
    _require(p["low"] <= p["mode"] <= p["high"], "needs low <= mode <= high", "mode")
    return stats.triang(c=(p["mode"] - p["low"]) / width, loc=p["low"], scale=width)


def _pert(p):
    width = _width(p)
    _require(p["low"] <= p["mode"] <= p["high"], "needs low <= mode <= high", "mode")
    lam = p.get("lambda", 4.0)
    _require(lam > 0, "lambda must be > 0", "lambda")
    a = 1 + lam * (p["mode"] - p["low"]) / width
    b = 1 + lam * (p["high"] - p["mode"]) / width
    return stats.beta(a, b, loc=p["low"], scale=width)


def _normal(p):
    _require(p["sd"] > 0, "sd must be > 0", "sd")
    low, high = p.get("low", -np.inf), p.get("high", np.inf)
    if low == -np.inf and high == np.inf:
        return stats.norm(loc=p["mean"], scale=p["sd"])
    _require(low < high, "needs low < high", "high")
    a, b = (low - p["mean"]) / p["sd"], (high - p["mean"]) / p["sd"]
    return stats.truncnorm(a, b, loc=p["mean"], scale=p["sd"])


def _lognormal(p):
    if "mu" in p:
        _require(p["sigma"] > 0, "sigma must be > 0", "sigma")
        return stats.lognorm(s=p["sigma"], scale=math.exp(p["mu"]))
    _require(p["mean"] > 0, "mean must be > 0", "mean")
    _require(p["sd"] > 0, "sd must be > 0", "sd")
    sigma2 = math.log1p((p["sd"] / p["mean"]) ** 2)
    return stats.lognorm(s=math.sqrt(sigma2), scale=p["mean"] * math.exp(-sigma2 / 2))


def _beta(p):
    _require(p["alpha"] > 0, "alpha must be > 0", "alpha")
    _require(p["beta"] > 0, "beta must be > 0", "beta")
    low, high = p.get("low", 0.0), p.get("high", 1.0)
    _require(low < high, "needs low < high", "high")
    return stats.beta(p["alpha"], p["beta"], loc=low, scale=high - low)


def _gamma(p):
    if "mean" in p:
        _require(p["mean"] > 0, "mean must be > 0", "mean")
        _require(p["sd"] > 0, "sd must be > 0", "sd")
        shape = (p["mean"] / p["sd"]) ** 2
        return stats.gamma(shape, scale=p["mean"] / shape)
    _require(p["shape"] > 0, "shape must be > 0", "shape")
    _require(p["scale"] > 0, "scale must be > 0", "scale")
    return stats.gamma(p["shape"], scale=p["scale"])


@dataclass(frozen=True)
class _Discrete:
    """A discrete distribution on sorted values with their probabilities.

    ``ppf`` is a binary search in the cumulative probabilities, whose last entry is set to
    exactly 1: memory stays O(len(q)) whatever the number of values (``rv_discrete.ppf``
    builds a ``(len(q), len(values))`` array), and a uniform just below 1 cannot fall past
    a cumulative sum that rounding left slightly below 1 (``rv_discrete`` then returns the
    smallest value).
    """

    values: np.ndarray
    probabilities: np.ndarray
    cumulative: np.ndarray = field(init=False)

    def __post_init__(self):
        cumulative = np.cumsum(self.probabilities)
        cumulative[-1] = 1.0
        object.__setattr__(self, "cumulative", cumulative)

    def ppf(self, q):
        """The smallest value whose cumulative probability reaches ``q`` (any shape)."""
        index = np.searchsorted(self.cumulative, q, side="left")
        return self.values[np.minimum(index, len(self.values) - 1)]

    def mean(self):
        return float(np.dot(self.values, self.probabilities))

    def std(self):
        return float(np.sqrt(np.dot((self.values - self.mean()) ** 2, self.probabilities)))

    def support(self):
        return float(self.values.min()), float(self.values.max())


def _discrete_from(values, probabilities) -> _Discrete:
    values = np.asarray(values, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(values, kind="stable")
    return _Discrete(values[order], probabilities[order] / probabilities.sum())


def _discrete(p):
    values, probs = p["values"], p["probabilities"]
    _require(len(values) == len(probs), "values and probabilities must have the same length", "probabilities")
    _require(all(x >= 0 for x in probs), "probabilities must be >= 0", "probabilities")
    _require(abs(sum(probs) - 1) < 1e-6, f"probabilities must sum to 1 (they sum to {sum(probs):.6g})", "probabilities")
    return _discrete_from(values, probs)


def _empirical(p):
    values = p["values"]
    unique, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return _discrete_from(unique, counts)


def _width(p) -> float:
    _require(p["high"] > p["low"], "needs low < high", "high")
    width = p["high"] - p["low"]
    _require(math.isfinite(width), "the range from low to high is too wide to compute", "high")
    return width


def _require(ok: bool, message: str, key: str) -> None:
    if not ok:
        raise InputError(message, (key,))


@dataclass(frozen=True)
class DistributionSpec:
    """A named distribution: its accepted parameter sets, optional parameters and builder."""

    signatures: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...]
    build: Any
    doc: str


DISTRIBUTIONS: dict[str, DistributionSpec] = {
    "uniform": DistributionSpec((("low", "high"),), (), _uniform, "flat between low and high"),
    "triangular": DistributionSpec(
        (("low", "mode", "high"),), (), _triangular, "triangle from low to high, peak at mode"
    ),
    "pert": DistributionSpec(
        (("low", "mode", "high"),), ("lambda",), _pert, "beta-PERT, smoother than triangular (lambda 4)"
    ),
    "normal": DistributionSpec(
        (("mean", "sd"),), ("low", "high"), _normal, "normal, truncated to [low, high] when given"
    ),
    "lognormal": DistributionSpec(
        (("mean", "sd"), ("mu", "sigma")), (), _lognormal,
        "lognormal by the mean and sd of the value, or mu and sigma of its logarithm",
    ),
    "beta": DistributionSpec(
        (("alpha", "beta"),), ("low", "high"), _beta, "beta on [low, high] (default [0, 1])"
    ),
    "gamma": DistributionSpec(
        (("shape", "scale"), ("mean", "sd")), (), _gamma, "gamma by shape and scale, or mean and sd"
    ),
    "discrete": DistributionSpec(
        (("values", "probabilities"),), (), _discrete, "listed values with their probabilities"
    ),
    "empirical": DistributionSpec(
        (("values",), ("csv", "column")), (), _empirical,
        "resamples observed values, listed or read from a CSV column (path relative to the scenario)",
    ),
}

_LIST_PARAMS = {"values", "probabilities"}
_TEXT_PARAMS = {"csv", "column"}


@dataclass(frozen=True)
class Uncertain:
    """A scenario number: fixed, or a distribution drawn once per path (or per customer).

    Attributes
    ----------
    spec : dict
        The canonical, YAML-ready form (``{"value": 0.02}`` or ``{"dist": "beta", ...}``).
    dist : scipy frozen distribution or None
        ``None`` for a fixed value.
    kind : Kind
        Rate, amount or signed: fixes the fit of an interval and the allowed support.
    per_customer : bool
        Drawn customer by customer (deal sizes) rather than once per path.
    """

    spec: dict
    dist: Any = None
    kind: Kind = Kind.SIGNED
    per_customer: bool = False

    @classmethod
    def fixed(cls, value: float, kind: Kind = Kind.SIGNED) -> Uncertain:
        return cls({"value": float(value)}, None, kind)

    @property
    def is_fixed(self) -> bool:
        return self.dist is None

    @property
    def mean(self) -> float:
        """The mean: what expected-value mode uses."""
        return self.spec["value"] if self.dist is None else float(self.dist.mean())

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function applied to uniforms ``u`` (any shape); fixed values broadcast."""
        u = np.asarray(u, dtype=float)
        if self.dist is None:
            return np.full(u.shape, self.spec["value"])
        return np.asarray(self.dist.ppf(u), dtype=float)

    def to_yaml(self) -> float | dict:
        """The value as it would be written in a scenario (a number or a mapping)."""
        return self.spec["value"] if self.dist is None else dict(self.spec)

    def __repr__(self) -> str:
        return f"Uncertain({self.to_yaml()!r})"


def parse_uncertain(raw: Any, kind: Kind, *, base_dir: Path | None = None) -> Uncertain:
    """Turn a YAML value into an :class:`Uncertain` of the given kind, or raise InputError.

    Parameters
    ----------
    raw : number, str or dict
        What the scenario file holds for this field.
    kind : Kind
        What the field means; fixes the interval fit and the allowed support.
    base_dir : Path, optional
        Folder against which an empirical distribution's CSV path is resolved.
    """
    if isinstance(raw, Uncertain):
        value = raw
    elif isinstance(raw, str) and (match := _RANGE_RE.match(raw.replace("_", ""))):
        lo_raw, lo_pct, hi_raw, hi_pct = match.groups()
        # "1 to 3%" means 1% to 3%: a percent sign on the upper end only covers both ends.
        lo = float(lo_raw) / (100.0 if lo_pct or hi_pct else 1.0)
        hi = float(hi_raw) / (100.0 if hi_pct else 1.0)
        value = _computed("interval", lambda: fit_interval({5: lo, 95: hi}, kind))
    elif isinstance(raw, dict) and "dist" not in raw and raw and all(
        isinstance(k, str) and _QUANTILE_KEY.match(k) for k in raw
    ):
        quantiles = _read_quantiles(raw)
        value = _computed("interval", lambda: fit_interval(quantiles, kind))
    elif isinstance(raw, dict):
        value = _parse_named(raw, kind, base_dir)
    else:
        value = Uncertain.fixed(parse_number(raw), kind)
    if not value.is_fixed:
        _check_finite(value)
    _check_support(value, kind)
    return Uncertain(value.spec, value.dist, kind)


def _read_quantiles(raw: dict) -> dict[int, float]:
    if len(raw) != 2:
        raise InputError(f"an interval takes exactly two quantiles such as p5 and p95, got {sorted(raw)}")
    quantiles = {int(_QUANTILE_KEY.match(k).group(1)): parse_number(v, (k,)) for k, v in raw.items()}
    if len(quantiles) != 2:
        raise InputError(f"an interval takes two different quantiles, got {' and '.join(raw)}")
    (q_lo, lo), (q_hi, hi) = sorted(quantiles.items())
    if not (0 < q_lo < q_hi < 100):
        raise InputError("interval quantiles must lie strictly between p0 and p100")
    return quantiles


def fit_interval(quantiles: dict[int, float], kind: Kind) -> Uncertain:
    """Fit the distribution for ``kind`` whose quantiles are ``{percent: value}`` (two of them).

    Beta for rates, lognormal for amounts, normal for signed values. The fit is exact: the
    returned distribution puts ``percent``% of its mass below each given value.
    """
    (q_lo, lo), (q_hi, hi) = sorted(quantiles.items())
    if not lo < hi:
        raise InputError(f"the interval's lower end must be below its upper end, got {lo:g} to {hi:g}")
    z_lo, z_hi = stats.norm.ppf(q_lo / 100), stats.norm.ppf(q_hi / 100)
    spec_key = {f"p{q_lo}": lo, f"p{q_hi}": hi}
    if kind is Kind.SIGNED:
        sd = (hi - lo) / (z_hi - z_lo)
        mean = float(lo - z_lo * sd)
        return Uncertain({"dist": "normal", "mean": mean, "sd": float(sd), **_as_fit(spec_key)},
                         stats.norm(loc=mean, scale=sd))
    if kind is Kind.AMOUNT:
        if lo <= 0:
            raise InputError(f"an interval for an amount is fitted as a lognormal and needs a lower end > 0, got {lo:g}")
        sigma = float((math.log(hi) - math.log(lo)) / (z_hi - z_lo))
        mu = float(math.log(lo) - z_lo * sigma)
        dist = stats.lognorm(s=sigma, scale=math.exp(mu))
        return Uncertain({"dist": "lognormal", "mu": mu, "sigma": sigma, **_as_fit(spec_key)}, dist)
    if not (0 < lo and hi < 1):
        raise InputError(f"an interval for a rate is fitted as a beta and must lie strictly inside 0% to 100%, got {lo:g} to {hi:g}")
    alpha, beta = _fit_beta(q_lo / 100, lo, q_hi / 100, hi)
    return Uncertain({"dist": "beta", "alpha": alpha, "beta": beta, **_as_fit(spec_key)}, stats.beta(alpha, beta))


def _as_fit(quantiles: dict[str, float]) -> dict:
    return {"fitted_to": quantiles}


def _fit_beta(p_lo: float, lo: float, p_hi: float, hi: float) -> tuple[float, float]:
    """Beta(alpha, beta) with the given two quantiles, solved in log-parameters."""
    mean = (lo + hi) / 2
    sd = (hi - lo) / (stats.norm.ppf(p_hi) - stats.norm.ppf(p_lo))
    concentration = max(mean * (1 - mean) / sd**2 - 1, 0.5)
    start = np.log([mean * concentration, (1 - mean) * concentration])

    def residuals(log_ab):
        a, b = np.exp(log_ab)
        return [stats.beta.ppf(p_lo, a, b) - lo, stats.beta.ppf(p_hi, a, b) - hi]

    fit = optimize.least_squares(residuals, start, xtol=1e-14, ftol=1e-14, gtol=1e-14)
    alpha, beta = np.exp(fit.x)
    if np.max(np.abs(fit.fun)) > 1e-7 * max(hi - lo, 1e-12):
        raise InputError(f"no beta distribution has these quantiles ({lo:g}, {hi:g}); widen or move the interval")
    return float(alpha), float(beta)


def _parse_named(raw: dict, kind: Kind, base_dir: Path | None) -> Uncertain:
    name = raw.get("dist")
    keys = ", ".join(DISTRIBUTIONS)
    if "dist" not in raw:
        raise InputError(
            f"a distribution needs 'dist: NAME' ({keys}) or an interval such as p5/p95"
        )
    if not isinstance(name, str):
        raise InputError(
            f"expected the name of a distribution ({keys}), got {shown(name)}", ("dist",)
        )
    if name not in DISTRIBUTIONS:
        hint = _did_you_mean(name, DISTRIBUTIONS)
        raise InputError(f"unknown distribution {name!r}{hint}; choose one of {keys}", ("dist",))
    spec = DISTRIBUTIONS[name]
    given = {k: v for k, v in raw.items() if k not in ("dist", "fitted_to")}
    allowed = {p for sig in spec.signatures for p in sig} | set(spec.optional)
    for key in given:
        if key not in allowed:
            raise InputError(
                f"{name} has no parameter {key!r}{_did_you_mean(str(key), allowed)}; "
                f"it takes {_signatures_text(spec)}", (key,),
            )
    signature = next((sig for sig in spec.signatures if set(sig) <= set(given)), None)
    if signature is None or any(set(given) & set(other) - set(signature) for other in spec.signatures):
        raise InputError(f"{name} takes {_signatures_text(spec)}; got {', '.join(given) or 'nothing'}")
    params = {key: _param(key, value, base_dir) for key, value in given.items()}
    if signature == ("csv", "column"):
        params = {"values": _read_csv_column(params["csv"], params["column"], base_dir)}
    dist = _build(name, spec, params)
    canonical = {"dist": name, **{k: v for k, v in given.items()}}
    return Uncertain(canonical, dist)


_NUMERIC_FAILURES = {
    OverflowError: "a result is too large",
    ZeroDivisionError: "a division by zero",
    ValueError: "a result is not a number",
}


def _computed(name: str, compute):
    """``compute()``, with floating-point failures turned into an :class:`InputError`.

    Parameters too large or too small for floating point (``sd: 1e308``) overflow or divide
    by zero inside a distribution's formulas; the message names the distribution instead.
    """
    try:
        with np.errstate(all="ignore"):
            return compute()
    except InputError:
        raise
    except (OverflowError, ZeroDivisionError, ValueError) as exc:
        reason = next(text for kind, text in _NUMERIC_FAILURES.items() if isinstance(exc, kind))
        raise InputError(
            f"this {name} distribution cannot be computed ({reason}); "
            "check the size and units of its parameters"
        ) from None


def _build(name: str, spec: DistributionSpec, params: dict):
    return _computed(name, lambda: spec.build(params))


def _check_finite(value: Uncertain) -> None:
    """A distribution must have a finite mean (expected-value mode uses it) and a real range."""
    name = value.spec["dist"]
    mean, low, high = _computed(
        name, lambda: (float(value.dist.mean()), *(float(b) for b in value.dist.support()))
    )
    if not math.isfinite(mean) or math.isnan(low) or math.isnan(high):
        raise InputError(
            f"this {name} distribution has no finite mean with these parameters; "
            "check the size and units of its parameters"
        )


def _signatures_text(spec: DistributionSpec) -> str:
    text = " or ".join("(" + ", ".join(sig) + ")" for sig in spec.signatures)
    return text + (f", optionally {', '.join(spec.optional)}" if spec.optional else "")


def _param(key: str, value: Any, base_dir: Path | None):
    if key in _TEXT_PARAMS:
        if not isinstance(value, str) or not value:
            raise InputError(f"expected a text value, got {shown(value)}", (key,))
        return value
    if key in _LIST_PARAMS:
        if not isinstance(value, list) or not value:
            raise InputError(f"expected a non-empty list of numbers, got {shown(value)}", (key,))
        return [parse_number(v, (key, i)) for i, v in enumerate(value)]
    return parse_number(value, (key,))


def _read_csv_column(path_text: str, column: str, base_dir: Path | None) -> list[float]:
    path = (base_dir or Path.cwd()) / path_text
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if column not in (reader.fieldnames or []):
                hint = _did_you_mean(column, reader.fieldnames or [])
                raise InputError(f"{path_text} has no column {column!r}{hint}", ("column",))
            cells = [(line, (row[column] or "").strip()) for line, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise InputError(f"cannot read {path_text}: {exc.strerror}", ("csv",)) from None
    values = []
    for line, cell in cells:
        if cell:
            try:
                values.append(parse_number(cell))
            except InputError as exc:
                raise InputError(f"{path_text} line {line}: {exc}", ("csv",)) from None
    if not values:
        raise InputError(f"{path_text} column {column!r} has no values", ("column",))
    return values


_SUPPORT = {Kind.RATE: (0.0, 1.0), Kind.AMOUNT: (0.0, math.inf), Kind.SIGNED: (-math.inf, math.inf)}
_KIND_TEXT = {Kind.RATE: "between 0% and 100%", Kind.AMOUNT: ">= 0", Kind.SIGNED: "finite"}


def _check_support(value: Uncertain, kind: Kind) -> None:
    low_ok, high_ok = _SUPPORT[kind]
    if value.is_fixed:
        x = value.spec["value"]
        if not low_ok <= x <= high_ok:
            raise InputError(f"must be {_KIND_TEXT[kind]}, got {x:g}")
        return
    low, high = (float(b) for b in value.dist.support())
    if low < low_ok - 1e-12 or high > high_ok + 1e-12:
        raise InputError(
            f"this {value.spec['dist']} distribution ranges over [{low:g}, {high:g}] but the value must be "
            f"{_KIND_TEXT[kind]}; truncate it (normal: low/high) or choose a bounded distribution"
        )




def check_positive(value: Uncertain) -> None:
    """Refuse a value that is 0 with positive probability: a fixed 0, a discrete value 0.

    A continuous distribution whose range starts at 0 (a lognormal, a uniform from 0) is
    accepted: it takes the value 0 with probability 0, and draws are quantiles of uniforms
    kept strictly inside (0, 1). Negative values are already refused by the value's kind.
    """
    if value.is_fixed:
        if value.spec["value"] <= 0:
            raise InputError(f"must be > 0, got {value.spec['value']:g}")
    elif isinstance(value.dist, _Discrete) and value.dist.values[0] <= 0:
        raise InputError(
            f"must be > 0, but this {value.spec['dist']} distribution takes the value "
            f"{value.dist.values[0]:g}"
        )
