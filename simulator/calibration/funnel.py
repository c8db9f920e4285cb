"""Funnel inputs from monthly counts: lead volume, growth, seasonality and stage conversions.

Data
----
``month,source,stage,count``, one row per month, source and stage. A source's stages are taken
in the order they first appear in the file; the first is its leads, each next stage a subset of
the one before (``leads -> trial -> contract``). Months are ``YYYY-MM`` (dates ``YYYY-MM-DD``
are read as their month) or whole numbers, 1, 13, 25, ... being Januaries. A month without a
row for a stage is missing, not zero.

Conversions
-----------
Stage k converts ``x`` of the ``n`` counted at stage k-1 (totals over the months where both
are present). With the Jeffreys prior Beta(1/2, 1/2) (or the uniform Beta(1, 1)), the posterior
is Beta(x + 1/2, n - x + 1/2): that beta is written into the snippet as the stage's uncertain
conversion.

Lead volume
-----------
A Poisson log-linear regression of the monthly leads,
``log E[leads_t] = a + b * years_t + s[calendar month of t]`` with ``s[January] = 0``, fitted by
maximum likelihood (``scipy.optimize.minimize``, analytic gradient and Hessian). The seasonal
terms enter only with at least 24 months of data covering all 12 calendar months and, by
default, only when a quasi-likelihood F test finds them significant at 5%; the trend only with
at least 3 months. Standard errors are quasi-Poisson: the inverse Fisher information
times the dispersion (Pearson chi2 / (n - p)) when the counts vary more than Poisson counts do.
The snippet's level is the expected volume in the month after the data, without its seasonal
factor (lognormal: mu = its log, sigma = the standard error of the log); growth per year is
``exp(b) - 1`` (normal: its delta-method standard error); the seasonal factors (normalised to
mean 1, January first) are fixed values, as the scenario takes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from simulator.calibration.errors import CalibrationError
from simulator.calibration.estimates import Z90, Estimate, covariance_from_hessian, spearman_from_pearson
from simulator.calibration.plotting import new_axes
from simulator.calibration.snippet import dump_snippet, round_sig
from simulator.calibration.table import Table, month_label
from simulator.calibration.text import fmt, format_table

__all__ = [
    "PRIORS", "SEASONALITY_MODES", "FunnelData", "FunnelRecord", "Conversion", "LeadVolume", "SourceFit",
    "FunnelFit", "fit_funnel", "read_funnel",
]

PRIORS = {"jeffreys": (0.5, 0.5), "uniform": (1.0, 1.0)}
"""Beta priors of the stage conversions."""

MIN_MONTHS_TREND = 3
MIN_MONTHS_SEASONALITY = 24
SEASONALITY_LEVEL = 0.05
GROWTH_FLOOR = -0.9  # lower truncation of an uncertain growth per year
SEASONALITY_MODES = ("auto", "always", "never")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRecord:
    """One count: month (ordinal), source, stage, count, and the file line it came from."""

    month: int
    source: str
    stage: str
    count: int
    line: int = 0


@dataclass(frozen=True)
class FunnelData:
    """Counts by source, stage (in order) and month.

    Attributes
    ----------
    counts : dict
        ``{source: {stage: {month: count}}}``, stages in funnel order.
    months_are_dates : bool
        Months are calendar months ``12 * year + month - 1``, else month numbers.
    first_lines : dict
        ``{(source, stage): line}`` of each stage's first row (for error messages).
    source : str
        The file name.
    """

    counts: dict[str, dict[str, dict[int, int]]]
    months_are_dates: bool
    first_lines: dict[tuple[str, str], int]
    source: str = "<data>"

    @classmethod
    def from_records(cls, records: Iterable[FunnelRecord | tuple], months_are_dates: bool = False,
                     source: str = "<data>") -> FunnelData:
        """Counts from ``(month, source, stage, count)`` records; stage order as they appear."""
        counts: dict[str, dict[str, dict[int, int]]] = {}
        lines: dict[tuple[str, str], int] = {}
        for record in records:
            r = record if isinstance(record, FunnelRecord) else FunnelRecord(*record)
            stages = counts.setdefault(r.source, {})
            months = stages.setdefault(r.stage, {})
            lines.setdefault((r.source, r.stage), r.line)
            if r.month in months:
                raise CalibrationError(f"source {r.source!r}, stage {r.stage!r} has month "
                                       f"{month_label(r.month, months_are_dates)} twice", file=source,
                                       line=r.line or None)
            if r.count < 0:
                raise CalibrationError(f"negative count {r.count}", file=source, line=r.line or None)
            months[r.month] = int(r.count)
        return cls(counts, months_are_dates, lines, source)

    @property
    def first_month(self) -> int:
        return min(m for stages in self.counts.values() for months in stages.values() for m in months)

    @property
    def last_month(self) -> int:
        return max(m for stages in self.counts.values() for months in stages.values() for m in months)

    def calendar_index(self, months: np.ndarray) -> np.ndarray:
        """0 = January ... 11 = December."""
        months = np.asarray(months)
        return months % 12 if self.months_are_dates else (months - 1) % 12

    def label(self, month: int) -> str:
        return month_label(month, self.months_are_dates)


def read_funnel(path: str | Path) -> FunnelData:
    """Read a ``month,source,stage,count`` CSV file, with located errors."""
    table = Table.read(path)
    table.require("month", "source", "stage", "count",
                  hint="one row per month, source and stage: month,source,stage,count")
    records = []
    kind: bool | None = None
    seen: dict[tuple, int] = {}
    for row in table.rows:
        month, is_date = table.month(row, "month")
        if kind is None:
            kind = is_date
        elif kind != is_date:
            raise table.error(row, "month", "mixes dates and month numbers; use one kind in the whole file")
        source = table.text(row, "source")
        stage = table.text(row, "stage")
        count = table.count(row, "count")
        key = (month, source, stage)
        if key in seen:
            raise table.error(row, "stage", f"source {source!r}, stage {stage!r} already has a count for month "
                              f"{month_label(month, is_date)} (line {seen[key]})")
        seen[key] = row.line
        records.append(FunnelRecord(month, source, stage, count, row.line))
    return FunnelData.from_records(records, bool(kind), table.file)


# ------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """A stage's conversion from the stage before: its beta posterior.

    Attributes
    ----------
    stage, previous : str
    successes, trials : int
        Counted at this stage and at the previous one (same months).
    alpha, beta : float
        Posterior Beta(prior_a + successes, prior_b + trials - successes).
    """

    stage: str
    previous: str
    successes: int
    trials: int
    alpha: float
    beta: float

    @property
    def rate(self) -> float:
        """The observed ratio successes / trials (``nan`` without trials)."""
        return self.successes / self.trials if self.trials else math.nan

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def sd(self) -> float:
        return float(stats.beta(self.alpha, self.beta).std())

    @property
    def interval(self) -> tuple[float, float]:
        """90% posterior interval."""
        low, high = stats.beta(self.alpha, self.beta).ppf([0.05, 0.95])
        return float(low), float(high)


@dataclass(frozen=True)
class LeadVolume:
    """The fitted lead volume of one source.

    Attributes
    ----------
    months : ndarray(int64, (n,))
        The months with a lead count (ordinals, see :class:`FunnelData`).
    counts, fitted : ndarray(float64, (n,))
        Observed leads and the fitted expectation.
    next_month : int
        The month after the data, where ``level`` is taken.
    level : Estimate
        Expected leads in ``next_month`` without its seasonal factor.
    log_level_se : float
        Standard error of log(level): the snippet's lognormal sigma.
    growth : Estimate or None
        Growth per year, ``exp(b) - 1``; None with fewer than 3 months.
    seasonality : ndarray(float64, (12,)) or None
        Factors January..December, mean 1; None when not estimated.
    seasonality_se : ndarray(float64, (12,)) or None
        Standard errors of their logs.
    seasonality_p : float
        p-value of the seasonal terms (quasi-likelihood F test); ``nan`` when not estimated.
    level_growth_correlation : float
        Correlation of the estimates of log(level) and b.
    dispersion : float
        Pearson chi2 / (n - p); standard errors are scaled by sqrt(max(1, dispersion)).
    note : str
        Why growth or seasonality were left out, if they were.
    """

    months: np.ndarray
    counts: np.ndarray
    fitted: np.ndarray
    next_month: int
    level: Estimate
    log_level_se: float
    growth: Estimate | None
    seasonality: np.ndarray | None
    seasonality_se: np.ndarray | None
    seasonality_p: float
    level_growth_correlation: float
    dispersion: float
    note: str = ""


@dataclass(frozen=True)
class SourceFit:
    name: str
    stages: tuple[str, ...]
    leads: LeadVolume
    conversions: tuple[Conversion, ...]


@dataclass(frozen=True)
class FunnelFit:
    """Lead volume and conversions of every source; :meth:`to_yaml` gives ``funnel.sources``."""

    sources: dict[str, SourceFit]
    data: FunnelData
    prior: str = "jeffreys"

    def summary(self) -> str:
        d = self.data
        lines = [
            f"Funnel calibration: {d.source}",
            f"  {len(self.sources)} source{'s' * (len(self.sources) != 1)}, months {d.label(d.first_month)} to "
            f"{d.label(d.last_month)}; conversions: beta posteriors with the {self.prior} prior "
            f"Beta({fmt(PRIORS[self.prior][0])}, {fmt(PRIORS[self.prior][1])})",
        ]
        for name, s in self.sources.items():
            v = s.leads
            rows = [["leads/month", fmt(v.level.value), fmt(v.level.se, 3),
                     f"[{fmt(v.level.low)}, {fmt(v.level.high)}]", f"at {d.label(v.next_month)}, without season"]]
            if v.growth is not None:
                rows.append(["growth/year", fmt(v.growth.value, 3), fmt(v.growth.se, 3),
                             f"[{fmt(v.growth.low, 3)}, {fmt(v.growth.high, 3)}]",
                             f"corr(log level, trend) {fmt(v.level_growth_correlation, 2)}"])
            for c in s.conversions:
                low, high = c.interval
                rows.append([f"{c.previous} -> {c.stage}", fmt(c.mean, 4), fmt(c.sd, 3),
                             f"[{fmt(low, 4)}, {fmt(high, 4)}]", f"{c.successes} of {c.trials}"])
            lines += ["", f"source {name!r}: {len(v.months)} months of leads, dispersion {fmt(v.dispersion, 3)}",
                      format_table(["", "estimate", "se", "90% interval", "note"], rows)]
            if v.seasonality is not None:
                factors = "  ".join(f"{m} {f:.2f}" for m, f in zip(_MONTH_NAMES, v.seasonality, strict=True))
                lines.append(f"  seasonality (mean 1): {factors}")
                lines.append(f"  seasonal factors' se (log) {fmt(float(np.median(v.seasonality_se)), 2)} (median); "
                             f"F test of seasonality p = {fmt(v.seasonality_p, 3)}")
            if v.note:
                lines.append(f"  {v.note}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- plots

    def plot(self, ax=None):
        """Monthly leads of each source against the fitted expectation; returns the Axes."""
        ax = new_axes(ax)
        d = self.data
        for i, (name, s) in enumerate(self.sources.items()):
            color = f"C{i % 10}"
            t = s.leads.months - d.first_month
            ax.plot(t, s.leads.counts, "o", ms=3.5, color=color, label=f"{name} (data)")
            ax.plot(t, s.leads.fitted, "-", lw=1.5, color=color, label=f"{name} (fit)")
        ax.set_xlabel(f"months since {d.label(d.first_month)}")
        ax.set_ylabel("leads per month")
        ax.set_title(f"Funnel: {Path(d.source).name}")
        ax.legend(fontsize="small")
        return ax

    def plot_conversions(self, ax=None):
        """Each stage's conversion: observed ratio and 90% posterior interval; returns the Axes."""
        ax = new_axes(ax)
        labels, y = [], 0
        for i, (name, s) in enumerate(self.sources.items()):
            for c in s.conversions:
                low, high = c.interval
                ax.errorbar(c.mean, y, xerr=[[c.mean - low], [high - c.mean]], fmt="o", color=f"C{i % 10}", capsize=3)
                if c.trials:
                    ax.plot(c.rate, y, "x", color="black", ms=5)
                labels.append(f"{name}: {c.previous}->{c.stage}")
                y += 1
        ax.set_yticks(range(len(labels)), labels, fontsize="small")
        ax.invert_yaxis()
        ax.set_xlabel("conversion (posterior mean, 90% interval; x = observed)")
        ax.set_title("Stage conversions")
        return ax

    # ---------------------------------------------------------------- snippet

    def to_yaml(self) -> str:
        """A scenario snippet: ``funnel.sources`` with levels, growth, seasonality and stages."""
        d = self.data
        sources: dict = {}
        correlations = []
        comments = [
            f"Funnel fitted to {Path(d.source).name}, months {d.label(d.first_month)} to {d.label(d.last_month)}.",
            "leads_per_month: expected leads in the month after the data, without its seasonal factor",
            "(lognormal: mu = log of the estimate, sigma = its standard error, quasi-Poisson);",
            f"set simulation.start_month: {d.label(d.last_month + 1)} so that the level applies to month 0."
            if d.months_are_dates else "the level applies to the month after the data: make it the scenario's month 0.",
            "growth_per_year: normal with the delta-method standard error of exp(b) - 1.",
            f"stages: beta posteriors of the conversions with the {self.prior} prior "
            f"Beta({fmt(PRIORS[self.prior][0])}, {fmt(PRIORS[self.prior][1])}).",
        ]
        for name, s in self.sources.items():
            v = s.leads
            entry: dict = {"leads_per_month": _lognormal(math.log(v.level.value), v.log_level_se)}
            if v.growth is not None:
                growth: float | dict = round_sig(v.growth.value)
                if math.isfinite(v.growth.se) and v.growth.se > 0:
                    growth = {"dist": "normal", "mean": round_sig(v.growth.value), "sd": round_sig(v.growth.se)}
                    if v.growth.value - 4 * v.growth.se < GROWTH_FLOOR:
                        growth["low"] = GROWTH_FLOOR  # a volume cannot shrink by 100% or more a year
                        comments.append(f"growth_per_year of {name!r} is truncated at {GROWTH_FLOOR:.0%}: "
                                        "its standard error is large.")
                entry["growth_per_year"] = growth
            if v.seasonality is not None:
                entry["seasonality"] = [round(float(f), 4) for f in v.seasonality]
            entry["stages"] = {c.stage: {"dist": "beta", "alpha": round_sig(c.alpha), "beta": round_sig(c.beta)}
                               for c in s.conversions}
            sources[name] = entry
            both_uncertain = (isinstance(entry["leads_per_month"], dict)
                              and isinstance(entry.get("growth_per_year"), dict))
            if both_uncertain and "." not in name and math.isfinite(v.level_growth_correlation):
                rank = round(spearman_from_pearson(v.level_growth_correlation), 4)
                if rank != 0:
                    correlations.append({"between": [f"funnel.sources.{name}.leads_per_month",
                                                     f"funnel.sources.{name}.growth_per_year"], "rank": rank})
        data: dict = {"funnel": {"sources": sources}}
        if correlations:
            comments.append("correlations: the level and the trend are estimated together (rank (6/pi) asin(rho/2)).")
            data["correlations"] = correlations
        return dump_snippet(data, comments)


def _lognormal(mu: float, sigma: float) -> float | dict:
    if not (math.isfinite(sigma) and sigma > 0):
        return round_sig(math.exp(mu))
    return {"dist": "lognormal", "mu": round_sig(mu), "sigma": round_sig(sigma)}


# ------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------


def fit_funnel(source: str | Path | FunnelData | Iterable, *, prior: str = "jeffreys",
               seasonality: str = "auto") -> FunnelFit:
    """Fit lead volume, growth, seasonality and stage conversions of every source.

    Parameters
    ----------
    source : path, FunnelData or iterable of records
        A ``month,source,stage,count`` CSV file, data already read, or
        ``(month, source, stage, count)`` tuples (months as whole numbers).
    prior : {"jeffreys", "uniform"}
        Beta prior of the conversions: Beta(1/2, 1/2) or Beta(1, 1).
    seasonality : {"auto", "always", "never"}
        With at least 24 months covering all calendar months: ``auto`` keeps the seasonal
        terms when their F test rejects "no seasonality" at 5%, ``always`` keeps them.

    Returns
    -------
    FunnelFit

    Raises
    ------
    CalibrationError
        Malformed data: missing columns, negative counts, a stage counting more than the one
        before it, a source without leads or without any conversion stage.
    """
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
    if seasonality not in SEASONALITY_MODES:
        raise ValueError(f"seasonality must be one of {', '.join(SEASONALITY_MODES)}, got {seasonality!r}")
    if isinstance(source, FunnelData):
        data = source
    elif isinstance(source, (str, Path)):
        data = read_funnel(source)
    elif isinstance(source, Mapping):
        raise TypeError("give a file, FunnelData or (month, source, stage, count) records")
    else:
        data = FunnelData.from_records(source)
    next_month = data.last_month + 1
    fits = {}
    for name, stages in data.counts.items():
        order = list(stages)
        where = {"file": data.source, "line": data.first_lines.get((name, order[0])) or None}
        if len(order) < 2:
            raise CalibrationError(f"source {name!r} has only the stage {order[0]!r}; a funnel needs its leads "
                                   "and at least one conversion stage after them", **where)
        conversions = tuple(_conversion(data, name, order[k - 1], order[k], prior) for k in range(1, len(order)))
        months = np.array(sorted(stages[order[0]]), dtype=np.int64)
        counts = np.array([stages[order[0]][m] for m in months], dtype=float)
        if counts.sum() == 0:
            raise CalibrationError(f"source {name!r} has no leads in any month", **where)
        leads = _fit_leads(data, months, counts, next_month, seasonality)
        fits[name] = SourceFit(name, tuple(order), leads, conversions)
    return FunnelFit(fits, data, prior)


def _conversion(data: FunnelData, source: str, previous: str, stage: str, prior: str) -> Conversion:
    before, after = data.counts[source][previous], data.counts[source][stage]
    common = sorted(set(before) & set(after))
    trials = sum(before[m] for m in common)
    successes = sum(after[m] for m in common)
    if successes > trials:
        raise CalibrationError(
            f"source {source!r}: {successes} at stage {stage!r} but only {trials} at {previous!r} over the same "
            f"months; each stage counts a subset of the one before", file=data.source,
            line=data.first_lines.get((source, stage)) or None)
    a0, b0 = PRIORS[prior]
    return Conversion(stage, previous, int(successes), int(trials), a0 + successes, b0 + trials - successes)


def _poisson_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Poisson log-linear maximum likelihood: coefficients, inverse information, deviance."""
    scale = 1.0 / max(y.sum(), 1.0)

    def fun(beta):
        eta = X @ beta
        mu = np.exp(np.minimum(eta, 700))
        return scale * float(np.sum(mu - y * eta)), scale * (X.T @ (mu - y))

    def hess(beta):
        mu = np.exp(np.minimum(X @ beta, 700))
        return scale * (X.T * mu) @ X

    start = np.zeros(X.shape[1])
    start[0] = math.log(max(y.mean(), 0.5))
    result = optimize.minimize(fun, start, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-10})
    beta = result.x
    mu = np.exp(X @ beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        deviance = 2 * float(np.sum(np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
    return beta, covariance_from_hessian(hess(beta) / scale), deviance


def _seasonality_p(years: np.ndarray | None, calendar: np.ndarray, counts: np.ndarray) -> float:
    """p-value of the 11 seasonal terms: quasi-likelihood F test of the deviance drop."""
    n = len(counts)
    base = [np.ones(n)] + ([years] if years is not None else [])
    X_small = np.column_stack(base)
    X_full = np.column_stack(base + [(calendar == m).astype(float) for m in range(1, 12)])
    _, _, deviance_small = _poisson_fit(X_small, counts)
    beta, _, deviance_full = _poisson_fit(X_full, counts)
    p = X_full.shape[1]
    if n <= p:
        return math.nan
    mu = np.exp(X_full @ beta)
    dispersion = max(float(np.sum((counts - mu) ** 2 / mu) / (n - p)), 1.0)
    return float(stats.f.sf((deviance_small - deviance_full) / 11 / dispersion, 11, n - p))


def _fit_leads(data: FunnelData, months: np.ndarray, counts: np.ndarray, next_month: int,
               seasonality: str = "auto") -> LeadVolume:
    n = len(months)
    center = months.mean()
    years = (months - center) / 12
    calendar = data.calendar_index(months)
    notes = []
    use_trend = n >= MIN_MONTHS_TREND
    if not use_trend:
        notes.append(f"no trend: fewer than {MIN_MONTHS_TREND} months")
    use_season = seasonality != "never" and n >= MIN_MONTHS_SEASONALITY and len(set(calendar.tolist())) == 12
    if seasonality != "never" and not use_season:
        notes.append(f"no seasonality: it needs at least {MIN_MONTHS_SEASONALITY} months "
                     "covering all 12 calendar months")
    season_p = math.nan
    if use_season and seasonality == "auto":
        season_p = _seasonality_p(years if use_trend else None, calendar, counts)
        if not season_p < SEASONALITY_LEVEL:
            use_season = False
            notes.append(f"no seasonality: the seasonal terms are not significant (F test p = {fmt(season_p, 3)})")
    columns = [np.ones(n)]
    if use_trend:
        columns.append(years)
    if use_season:
        columns += [(calendar == m).astype(float) for m in range(1, 12)]
    X = np.column_stack(columns)
    beta, information_inverse, deviance = _poisson_fit(X, counts)
    mu = np.exp(X @ beta)
    p = X.shape[1]
    dispersion = float(np.sum((counts - mu) ** 2 / mu) / (n - p)) if n > p else 1.0
    cov = information_inverse * max(dispersion, 1.0)

    seasonal = np.zeros(12)
    if use_season:
        seasonal[1:] = beta[-11:]
    weights = np.exp(seasonal) / np.exp(seasonal).sum()
    t_next = (next_month - center) / 12
    log_level = beta[0] + (beta[1] * t_next if use_trend else 0.0) + math.log(np.exp(seasonal).mean())
    gradient = np.zeros(p)
    gradient[0] = 1.0
    if use_trend:
        gradient[1] = t_next
    if use_season:
        gradient[-11:] = weights[1:]
    log_level_se = float(math.sqrt(gradient @ cov @ gradient)) if np.all(np.isfinite(cov)) else math.nan
    level = Estimate.positive(log_level, log_level_se)

    growth = None
    correlation = math.nan
    if use_trend:
        b, se_b = beta[1], math.sqrt(cov[1, 1]) if np.isfinite(cov[1, 1]) else math.nan
        growth = Estimate(math.expm1(b), math.exp(b) * se_b, math.expm1(b - Z90 * se_b), math.expm1(b + Z90 * se_b))
        if math.isfinite(log_level_se) and log_level_se > 0 and se_b > 0:
            correlation = float((gradient @ cov[:, 1]) / (log_level_se * se_b))

    factors = factors_se = None
    if use_season:
        factors = np.exp(seasonal) / np.exp(seasonal).mean()
        factors_se = np.empty(12)
        for m in range(12):
            g = np.zeros(p)
            g[-11:] = -weights[1:]
            if m > 0:
                g[p - 12 + m] += 1.0
            factors_se[m] = math.sqrt(max(g @ cov @ g, 0.0)) if np.all(np.isfinite(cov)) else math.nan
        if math.isnan(season_p):
            season_p = _seasonality_p(years if use_trend else None, calendar, counts)
    return LeadVolume(months, counts, mu, next_month, level, log_level_se, growth, factors, factors_se,
                      season_p, correlation, dispersion, "; ".join(notes))
