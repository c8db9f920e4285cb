"""Churn from a company's own retention history: geometric and shifted-beta-geometric fits.

The data are read by :mod:`.cohorts`; the likelihoods live in :mod:`.survival`.

- geometric: one churn probability ``c`` per period for everyone, ``S(t) = (1 - c)^t``;
- sBG (Fader & Hardie 2007): each customer has its own ``theta ~ Beta(alpha, beta)``,
  ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)`` and
  ``S(t) = B(alpha, beta + t) / B(alpha, beta)``.

The log-likelihood is ``sum n * log(S(lo) - S(hi))`` over the intervals ``(lo, hi]``
(``S(inf) = 0`` for the censored), maximised with ``scipy.optimize.minimize`` in logit(c) and
(log alpha, log beta) with analytic gradients (digamma). Standard errors come from the inverse
Hessian in those working parameters (central differences of the analytic gradient), carried to
c, alpha and beta by the delta method.

The geometric model is the sBG's limit ``alpha, beta -> inf`` at fixed ``alpha / (alpha + beta)``:
it sits on the boundary of the sBG, so the likelihood-ratio statistic does not follow chi2(1).
Its p-value is taken from a parametric bootstrap under the fitted geometric (199 replicates by
default); the asymptotic 50:50 mixture of chi2(0) and chi2(1) is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import special, stats

from simulator.calibration.cohorts import PERIODS, ChurnData, Group, read_churn
from simulator.calibration.errors import CalibrationError
from simulator.calibration.estimates import (
    Estimate,
    beta_from_moments,
    covariance_from_hessian,
    spearman_from_pearson,
)
from simulator.calibration.plotting import new_axes
from simulator.calibration.snippet import NAME, dump_snippet, round_sig
from simulator.calibration.survival import Design, fit_both, hessian, interval_log_probability
from simulator.calibration.text import fmt, format_table

__all__ = [
    "ChurnData", "Group", "GeometricFit", "SBGFit", "LikelihoodRatioTest", "Projection", "ChurnFit",
    "fit_churn", "read_churn", "PERIODS", "DEFAULT_SEED", "DEFAULT_BOOTSTRAP",
]

DEFAULT_SEED = 20070101
DEFAULT_BOOTSTRAP = 199
PROJECTION_DRAWS = 4000
LEVEL = 0.05


# ------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeometricFit:
    """Constant churn per period.

    Attributes
    ----------
    churn : Estimate
        Churn probability per period, its standard error and 90% interval.
    loglik : float
    x : ndarray(float64, (1,))
        logit(churn), the working parameter.
    cov : ndarray(float64, (1, 1))
        Its variance (inverse Hessian).
    """

    churn: Estimate
    loglik: float
    x: np.ndarray
    cov: np.ndarray

    def survival(self, t) -> np.ndarray:
        """S(t) = (1 - c)^t, the share still active after t periods."""
        return (1 - self.churn.value) ** np.asarray(t, dtype=float)

    def survival_draws(self, t, draws: np.ndarray) -> np.ndarray:
        """S(t) for draws of logit(c), ``ndarray(float64, (n_draws, len(t)))``."""
        return np.exp(-np.asarray(t, dtype=float)[None, :] * np.logaddexp(0.0, draws[:, :1]))


@dataclass(frozen=True)
class SBGFit:
    """Shifted-beta-geometric churn: theta ~ Beta(alpha, beta) per customer.

    Attributes
    ----------
    alpha, beta : Estimate
    loglik : float
    x : ndarray(float64, (2,))
        (log alpha, log beta), the working parameters.
    cov : ndarray(float64, (2, 2))
        Their covariance (inverse Hessian, or the bootstrap's when asked); ``nan`` at the
        geometric edge or when the Hessian is not positive definite.
    at_boundary : bool
        The likelihood keeps rising towards alpha + beta -> infinity (the geometric limit):
        the data show no heterogeneity; alpha and beta are then only the values where the
        optimiser stopped (alpha + beta = 1e6).
    """

    alpha: Estimate
    beta: Estimate
    loglik: float
    x: np.ndarray
    cov: np.ndarray
    at_boundary: bool = False

    @property
    def log_correlation(self) -> float:
        """Correlation of the estimates of log alpha and log beta."""
        return float(self.cov[0, 1] / math.sqrt(self.cov[0, 0] * self.cov[1, 1]))

    @property
    def rank_correlation(self) -> float:
        """Spearman correlation of alpha and beta implied by the normal in log-space."""
        return spearman_from_pearson(self.log_correlation)

    @property
    def mean_churn(self) -> float:
        """Churn at the first renewal, alpha / (alpha + beta)."""
        return self.alpha.value / (self.alpha.value + self.beta.value)

    def survival(self, t) -> np.ndarray:
        """S(t) = B(alpha, beta + t) / B(alpha, beta), the share still active after t periods."""
        a, b = self.alpha.value, self.beta.value
        return np.exp(special.betaln(a, b + np.asarray(t, dtype=float)) - special.betaln(a, b))

    def retention(self, t) -> np.ndarray:
        """Probability of renewing at renewal t >= 1 having renewed before: (b+t-1)/(a+b+t-1)."""
        a, b = self.alpha.value, self.beta.value
        t = np.asarray(t, dtype=float)
        return (b + t - 1) / (a + b + t - 1)

    def survival_draws(self, t, draws: np.ndarray) -> np.ndarray:
        """S(t) for draws of (log alpha, log beta), ``ndarray(float64, (n_draws, len(t)))``."""
        a, b = np.exp(draws[:, :1]), np.exp(draws[:, 1:2])
        return np.exp(special.betaln(a, b + np.asarray(t, dtype=float)[None, :]) - special.betaln(a, b))


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """Geometric (null) against sBG: ``LR = 2 (loglik_sbg - loglik_geometric)``.

    Attributes
    ----------
    statistic : float
    p_bootstrap : float
        ``(1 + #{LR* >= LR}) / (B + 1)`` over ``replicates`` data sets simulated from the
        fitted geometric with the same cohorts and censoring; ``nan`` when ``replicates`` is 0.
    p_mixture : float
        From the 50:50 mixture of chi2(0) and chi2(1), the asymptotic law on the boundary.
    replicates : int
    """

    statistic: float
    p_bootstrap: float
    p_mixture: float
    replicates: int
    level: float = LEVEL

    @property
    def p_value(self) -> float:
        """The bootstrap p-value, or the mixture's when no bootstrap was run."""
        return self.p_bootstrap if self.replicates > 0 else self.p_mixture

    @property
    def reference(self) -> str:
        """Where :attr:`p_value` comes from, in words."""
        if self.replicates > 0:
            return f"parametric bootstrap, {self.replicates} replicates under the fitted geometric"
        return "50:50 mixture of chi2(0) and chi2(1)"

    @property
    def rejects_geometric(self) -> bool:
        """``p <= level``: with B replicates and (B + 1) * level whole (19, 99, 199 at 5%) the
        bootstrap test has exactly the stated level (a Monte Carlo test)."""
        return self.p_value <= self.level


@dataclass(frozen=True)
class Projection:
    """Survival by period, in and beyond the data, with a 90% band from parameter uncertainty.

    Attributes
    ----------
    periods : ndarray(int64, (k,))
    point : ndarray(float64, (k,))
        At the maximum-likelihood parameters.
    p5, p50, p95 : ndarray(float64, (k,))
        Percentiles over parameters drawn from the asymptotic normal in the working parameters.
    """

    periods: np.ndarray
    point: np.ndarray
    p5: np.ndarray
    p50: np.ndarray
    p95: np.ndarray


@dataclass(frozen=True)
class ChurnFit:
    """Both churn models fitted to one data set, their comparison and projections.

    Use :meth:`summary` for a readable report, :meth:`plot` for data against fits and
    :meth:`to_yaml` for a scenario snippet.
    """

    data: ChurnData
    geometric: GeometricFit
    sbg: SBGFit
    test: LikelihoodRatioTest
    projections: dict[str, Projection]
    offer: str = "my_offer"
    period: str = "month"
    bootstrap_se: np.ndarray | None = field(default=None, repr=False)
    hessian_se: np.ndarray | None = field(default=None, repr=False)
    seed: int = DEFAULT_SEED

    @property
    def preferred(self) -> str:
        """``"sbg"`` when the likelihood-ratio test rejects the geometric at 5%, else ``"geometric"``."""
        return "sbg" if self.test.rejects_geometric and not self.sbg.at_boundary else "geometric"

    # ---------------------------------------------------------------- report

    def summary(self) -> str:
        g, s, test = self.geometric, self.sbg, self.test
        rows = [
            ["geometric", "churn/period", fmt(g.churn.value), fmt(g.churn.se, 3),
             f"[{fmt(g.churn.low)}, {fmt(g.churn.high)}]", f"{g.loglik:.2f}"],
            ["sBG", "alpha", fmt(s.alpha.value), fmt(s.alpha.se, 3),
             f"[{fmt(s.alpha.low)}, {fmt(s.alpha.high)}]", f"{s.loglik:.2f}"],
            ["", "beta", fmt(s.beta.value), fmt(s.beta.se, 3), f"[{fmt(s.beta.low)}, {fmt(s.beta.high)}]", ""],
        ]
        lines = [
            f"Churn calibration: {self.data.source}",
            f"  {self.data.describe()}",
            "",
            format_table(["model", "parameter", "estimate", "se", "90% interval", "log-lik"], rows),
        ]
        if s.at_boundary:
            lines.append("  sBG: the likelihood rises towards alpha, beta -> infinity: the data look geometric "
                         "(no standard errors)")
        else:
            lines.append(f"  sBG: churn at the first renewal alpha/(alpha+beta) = {fmt(s.mean_churn)}; "
                         f"corr(log alpha, log beta) = {fmt(s.log_correlation, 3)} (rank {fmt(s.rank_correlation, 3)})")
        if self.bootstrap_se is not None:
            se, hessian = self.bootstrap_se, self.hessian_se
            lines.append(f"  sBG se of log alpha, log beta: {fmt(se[0], 3)}, {fmt(se[1], 3)} (parametric bootstrap, "
                         f"{test.replicates} replicates, used above); inverse Hessian: {fmt(hessian[0], 3)}, "
                         f"{fmt(hessian[1], 3)}")
        p_values = f"p = {fmt(test.p_mixture, 3)} (50:50 chi2(0):chi2(1) mixture)"
        if test.replicates:
            p_values = (f"p = {fmt(test.p_bootstrap, 3)} (parametric bootstrap, {test.replicates} replicates "
                        f"under the fitted geometric), " + p_values)
        lines += [
            "",
            f"Geometric vs sBG: LR = {test.statistic:.3f}; {p_values}",
            f"  -> {'sBG' if self.preferred == 'sbg' else 'geometric'}: the geometric is "
            f"{'rejected' if test.rejects_geometric else 'not rejected'} at {test.level:.0%}",
            "",
            self._projection_table(),
        ]
        return "\n".join(lines)

    def _projection_table(self) -> str:
        observed = dict(zip(*(a.tolist() for a in self.data.empirical_survival()), strict=True))
        geo, sbg = self.projections["geometric"], self.projections["sbg"]
        last = self.data.last_period
        horizon = int(geo.periods[-1])
        shown = sorted(set(range(0, min(last, 12) + 1)) | set(np.linspace(0, horizon, 9).round().astype(int).tolist())
                       | {last} | {t for t in observed if t <= horizon and last > 12 and t % 6 == 0})
        rows = []
        for t in shown:
            seen = fmt(observed[t], 3) if t in observed else ""
            band = (f"[{fmt(sbg.p5[t], 3)}, {fmt(sbg.p95[t], 3)}]" if np.isfinite(sbg.p5[t]) else "-")
            geo_band = (f"[{fmt(geo.p5[t], 3)}, {fmt(geo.p95[t], 3)}]" if np.isfinite(geo.p5[t]) else "-")
            rows.append([f"{t}{'*' if t > last else ''}", seen, fmt(geo.point[t], 3), geo_band,
                         fmt(sbg.point[t], 3), band])
        table = format_table(["period", "observed", "geometric", "90% band", "sBG", "90% band"], rows)
        return ("Share still active (observed: pooled Kaplan-Meier; * = projected beyond the data)\n" + table)

    # ---------------------------------------------------------------- plot

    def plot(self, ax=None):
        """Data against both fits, with 90% bands into the projection; returns the Axes."""
        ax = new_axes(ax)
        if self.data.kind == "cohorts" and 1 < len(self.data.groups) <= 40:
            for i, g in enumerate(self.data.groups):
                if g.size > 0:
                    ax.plot(g.periods, g.alive / g.size, color="0.7", lw=0.8, marker=".", ms=3,
                            label="cohorts" if i == 0 else None)
        km_t, km = self.data.empirical_survival()
        ax.plot(km_t, km, "o", color="black", ms=4, label="observed (pooled)")
        styles = {"geometric": ("tab:orange", "--", "geometric"), "sbg": ("tab:blue", "-", "sBG")}
        for name, (color, style, label) in styles.items():
            p = self.projections[name]
            ax.plot(p.periods, p.point, style, color=color, lw=1.8, label=label)
            if np.all(np.isfinite(p.p5)):
                ax.fill_between(p.periods, p.p5, p.p95, color=color, alpha=0.18, lw=0, label=f"{label} 90% band")
        ax.axvline(self.data.last_period, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("periods since start")
        ax.set_ylabel("share still active")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"Churn: {Path(self.data.source).name} (LR p = {fmt(self.test.p_value, 2)})")
        ax.legend(loc="upper right", fontsize="small")
        return ax

    # ---------------------------------------------------------------- snippet

    def to_yaml(self, model: str | None = None) -> str:
        """A scenario snippet setting ``offers.OFFER.churn``.

        Parameters
        ----------
        model : {"sbg", "geometric"}, optional
            The model to write; the preferred one (:attr:`preferred`) when absent.
        """
        model = model or self.preferred
        if model not in ("sbg", "geometric"):
            raise ValueError(f"model must be 'sbg' or 'geometric', got {model!r}")
        head = [
            f"Churn fitted by maximum likelihood to {Path(self.data.source).name}: {self.data.describe()}.",
            f"Geometric vs sBG: LR = {self.test.statistic:.3f}, p = {fmt(self.test.p_value, 3)} "
            f"({self.test.reference}).",
        ]
        if model == "sbg":
            return self._sbg_yaml(head)
        return self._geometric_yaml(head)

    def _sbg_yaml(self, head: list[str]) -> str:
        s = self.sbg
        offer = self.offer
        paths = [f"offers.{offer}.churn.sbg.alpha", f"offers.{offer}.churn.sbg.beta"]
        cov = s.cov
        if s.at_boundary or not np.all(np.isfinite(cov)):
            churn = {"sbg": {"alpha": round_sig(s.alpha.value), "beta": round_sig(s.beta.value)}}
            why = ("the sBG estimate is at its geometric edge (alpha + beta -> infinity); prefer the geometric model"
                   if s.at_boundary else "the log-likelihood's Hessian is not positive definite")
            comments = [*head, f"No standard errors: {why}.", "alpha and beta are written as fixed values."]
            return dump_snippet({"offers": {offer: {"churn": churn}}}, comments)
        source = "parametric bootstrap" if self.bootstrap_se is not None else "inverse Hessian"
        comments = [
            *head,
            f"sBG alpha = {fmt(s.alpha.value)} (se {fmt(s.alpha.se, 3)}), "
            f"beta = {fmt(s.beta.value)} (se {fmt(s.beta.se, 3)}).",
            "Each is lognormal: mu = log of the estimate (so the median is the estimate),",
            f"sigma = standard error of the log ({source}).",
            f"corr(log alpha, log beta) = {fmt(s.log_correlation, 3)} -> rank correlation (6/pi) asin(rho/2).",
            f"One period of the data must be one renewal period of offer {offer!r}.",
        ]
        churn = {"sbg": {
            "alpha": {"dist": "lognormal", "mu": round_sig(s.x[0]), "sigma": round_sig(math.sqrt(cov[0, 0]))},
            "beta": {"dist": "lognormal", "mu": round_sig(s.x[1]), "sigma": round_sig(math.sqrt(cov[1, 1]))},
        }}
        data = {
            "offers": {offer: {"churn": churn}},
            "correlations": [{"between": paths, "rank": round(s.rank_correlation, 4)}],
        }
        return dump_snippet(data, comments)

    def _geometric_yaml(self, head: list[str]) -> str:
        g = self.geometric
        c, se = g.churn.value, g.churn.se
        key = {"month": "monthly", "year": "annual"}.get(self.period, "renewal_rate")
        try:
            a, b = beta_from_moments(c, se)
            value: float | dict = {"dist": "beta", "alpha": round_sig(a), "beta": round_sig(b)}
            if key == "renewal_rate":
                value = {"dist": "beta", "alpha": round_sig(b), "beta": round_sig(a)}
            how = "a beta with the estimate's mean and standard error"
        except ValueError:
            value = round_sig(1 - c if key == "renewal_rate" else c)
            how = "fixed (no usable standard error)"
        comments = [
            *head,
            f"Geometric churn per {self.period} = {fmt(c)} (se {fmt(se, 3)}), written as {how}.",
        ]
        if key == "renewal_rate":
            comments.append(f"renewal_rate = 1 - churn per {self.period}: the offer must renew every {self.period}.")
        return dump_snippet({"offers": {self.offer: {"churn": {key: value}}}}, comments)


# ------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------


def fit_churn(source: str | Path | ChurnData | Mapping[str, Sequence[int]], *, offer: str = "my_offer",
              period: str = "month", as_of: str | None = None, horizon: int | None = None,
              bootstrap: int = DEFAULT_BOOTSTRAP, bootstrap_se: bool = False, seed: int = DEFAULT_SEED) -> ChurnFit:
    """Fit the geometric and sBG churn models to retention data.

    Parameters
    ----------
    source : path, ChurnData or mapping
        A CSV file (``cohort,period,customers`` or ``customer,start,end``), data already read,
        or ``{cohort: [alive at period 0, 1, ...]}``.
    offer : str
        The offer named in the YAML snippet's paths.
    period : {"month", "quarter", "year"}
        The length of one period of the data: reads dates in per-customer files, and names the
        geometric churn in the snippet (``monthly``, ``annual``, else ``renewal_rate``).
    as_of : str, optional
        End of the data for per-customer files (default: the latest date in the file).
    horizon : int, optional
        Last projected period (default: twice the last observed period, at least 6 more).
    bootstrap : int
        Replicates of the parametric bootstrap of the likelihood-ratio statistic under the
        fitted geometric; 0 uses only the chi2 mixture reference.
    bootstrap_se : bool
        Also bootstrap (same number of replicates, under the fitted sBG) the covariance of
        (log alpha, log beta); the snippet then uses it instead of the inverse Hessian.
    seed : int
        Seed of the bootstrap and projection draws.

    Returns
    -------
    ChurnFit

    Raises
    ------
    CalibrationError
        Malformed data, or data that cannot identify the models.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if not NAME.match(offer):
        raise ValueError(f"offer {offer!r}: use letters, digits, '_' or '-' (it becomes part of a dotted path)")
    if isinstance(source, ChurnData):
        data = source
    elif isinstance(source, Mapping):
        data = ChurnData.from_cohorts(source)
    else:
        data = read_churn(source, period=period, as_of=as_of)
    _check_identifiable(data)
    design = Design.of(data)
    lo, hi, counts = design.lo, design.hi, design.counts
    x_geo, ll_geo, x_sbg, ll_sbg, at_boundary = fit_both(lo, hi, counts)

    cov_geo = covariance_from_hessian(hessian("geometric", lo, hi, counts, x_geo))
    cov_sbg = (np.full((2, 2), np.nan) if at_boundary
               else covariance_from_hessian(hessian("sbg", lo, hi, counts, x_sbg)))
    rng = np.random.default_rng(seed)

    statistic = max(0.0, 2 * (ll_sbg - ll_geo))
    if statistic < 1e-6:
        statistic = 0.0
    p_mixture = 0.5 * float(stats.chi2.sf(statistic, 1)) if statistic > 0 else 1.0
    p_bootstrap = math.nan
    if bootstrap > 0:
        replicate_lr = _bootstrap_lr(design, x_geo, bootstrap, rng)
        p_bootstrap = (1 + int(np.sum(replicate_lr >= statistic - 1e-6))) / (bootstrap + 1)
    test = LikelihoodRatioTest(statistic, p_bootstrap, p_mixture, int(bootstrap))

    boot_se = None
    hessian_se = np.sqrt(np.diag(cov_sbg))
    if bootstrap_se and bootstrap > 1 and not at_boundary:
        cov_sbg = _bootstrap_covariance(design, x_sbg, bootstrap, rng)
        boot_se = np.sqrt(np.diag(cov_sbg))

    se_geo = math.sqrt(cov_geo[0, 0]) if np.isfinite(cov_geo[0, 0]) else math.nan
    se_sbg = np.sqrt(np.diag(cov_sbg)) if np.all(np.isfinite(cov_sbg)) else np.full(2, np.nan)
    geometric = GeometricFit(Estimate.probability(x_geo[0], se_geo), ll_geo, x_geo, cov_geo)
    sbg = SBGFit(Estimate.positive(x_sbg[0], se_sbg[0]), Estimate.positive(x_sbg[1], se_sbg[1]),
                 ll_sbg, x_sbg, cov_sbg, at_boundary)

    last = data.last_period
    horizon = max(int(horizon), 1) if horizon is not None else max(2 * last, last + 6)
    periods = np.arange(max(horizon, last) + 1)
    projections = {name: _project(fit, periods, rng) for name, fit in (("geometric", geometric), ("sbg", sbg))}
    return ChurnFit(data, geometric, sbg, test, projections, offer, period, boot_se, hessian_se, seed)


def _check_identifiable(data: ChurnData) -> None:
    where = {"file": data.source}
    if data.customers == 0:
        raise CalibrationError("no customers in the data", **where)
    if data.churned == 0:
        raise CalibrationError("no customer left during the observed periods; churn cannot be estimated", **where)
    informative = sum(int(g.alive[1]) for g in data.groups if len(g.periods) >= 3)
    if informative == 0:
        raise CalibrationError(
            "needs customers still active after one period and observed again later (alive counts at periods "
            "0, 1 and 2 at least) to tell a constant churn from a heterogeneous one", **where)


def _bootstrap_lr(design: Design, x_geo: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """LR statistics of data sets simulated from the fitted geometric, ``ndarray(float64, (B,))``."""
    log_p, _ = interval_log_probability("geometric", x_geo, design.lo, design.hi)
    simulated = design.simulate(np.exp(log_p), replicates, rng)
    out = np.empty(replicates)
    for i, counts in enumerate(simulated):
        _, ll_geo, _, ll_sbg, _ = fit_both(design.lo, design.hi, counts, spreads=(0.05,))
        out[i] = max(0.0, 2 * (ll_sbg - ll_geo))
    return out


def _bootstrap_covariance(design: Design, x_sbg: np.ndarray, replicates: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Covariance of (log alpha, log beta) over refits to data simulated from the fitted sBG."""
    log_p, _ = interval_log_probability("sbg", x_sbg, design.lo, design.hi)
    simulated = design.simulate(np.exp(log_p), replicates, rng)
    estimates = np.array([fit_both(design.lo, design.hi, counts, spreads=(0.05,))[2] for counts in simulated])
    return np.cov(estimates.T)


def _project(fit: GeometricFit | SBGFit, periods: np.ndarray, rng: np.random.Generator) -> Projection:
    point = fit.survival(periods)
    if not np.all(np.isfinite(fit.cov)):
        nan = np.full(len(periods), np.nan)
        return Projection(periods, point, nan, nan.copy(), nan.copy())
    draws = rng.multivariate_normal(fit.x, fit.cov, size=PROJECTION_DRAWS, method="cholesky")
    curves = fit.survival_draws(periods, draws)
    p5, p50, p95 = np.percentile(curves, [5, 50, 95], axis=0)
    return Projection(periods, point, p5, p50, p95)
