"""Survival likelihoods of the geometric and shifted-beta-geometric churn models.

A customer leaves at renewal ``T = 1, 2, ...`` with survival ``S(t) = P(T > t)``:

- geometric: ``S(t) = (1 - c)^t``, working parameter ``logit(c)``;
- sBG (Fader & Hardie 2007): ``theta ~ Beta(alpha, beta)`` per customer,
  ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``,
  ``S(t) = B(alpha, beta + t) / B(alpha, beta)``; working parameters ``(log alpha, log beta)``
  for standard errors, and ``(logit m, logit phi)`` with ``m = alpha / (alpha + beta)`` and
  ``phi = 1 / (alpha + beta + 1)`` for the optimiser, where the geometric limit is the edge
  ``phi -> 0`` rather than a ridge towards ``alpha, beta -> infinity``.

The log-likelihood of interval-censored data is ``sum n * log(S(lo) - S(hi))`` over the
intervals ``(lo, hi]`` (``S(inf) = 0`` for the right-censored), with analytic gradients
(``scipy.special.betaln`` and ``digamma``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from simulator.calibration.cohorts import ChurnData
from simulator.calibration.estimates import hessian_from_gradient

__all__ = ["Design", "interval_log_probability", "negative_loglik", "fit_model", "fit_both", "hessian",
           "SPREAD_BOUNDS", "LOGIT_LIMIT"]

LOGIT_LIMIT = 30.0  # working logits are flat beyond +-30
SPREAD_BOUNDS = (-math.log(1e6), math.log(1e4))  # logit(phi): alpha + beta between 1e-4 and 1e6


@dataclass(frozen=True)
class Design:
    """The distinct intervals ``(lo, hi]`` of the data and how each group's cells map to them."""

    lo: np.ndarray
    hi: np.ndarray  # inf for the censored
    counts: np.ndarray
    sizes: np.ndarray
    cells: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, data: ChurnData) -> Design:
        index: dict[tuple[float, float], int] = {}
        cells, counts = [], []
        for g in data.groups:
            edges = [*zip(g.periods[:-1], g.periods[1:], strict=True), (g.periods[-1], math.inf)]
            numbers = [*(g.alive[:-1] - g.alive[1:]), g.alive[-1]]
            ids = []
            for key, n in zip(edges, numbers, strict=True):
                key = (float(key[0]), float(key[1]))
                if key not in index:
                    index[key] = len(index)
                    counts.append(0)
                counts[index[key]] += int(n)
                ids.append(index[key])
            cells.append(np.array(ids, dtype=np.int64))
        keys = list(index)
        return cls(np.array([k[0] for k in keys]), np.array([k[1] for k in keys]), np.array(counts, dtype=float),
                   np.array([g.size for g in data.groups], dtype=np.int64), tuple(cells))

    def simulate(self, probabilities: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
        """Counts per interval for ``replicates`` data sets drawn with the same observation scheme.

        Each group's customers fall into its intervals with a multinomial draw (customers are
        independent; under the sBG each has its own theta, which makes the marginal P(T = t)).

        Returns
        -------
        ndarray(float64, (replicates, n_intervals))
        """
        out = np.zeros((replicates, len(self.lo)))
        for size, ids in zip(self.sizes, self.cells, strict=True):
            if size == 0:
                continue
            p = probabilities[ids]
            out[:, ids] += rng.multinomial(int(size), p / p.sum(), size=replicates)
        return out


def _geometric_log_survival(x: np.ndarray, t: np.ndarray):
    """log S(t) and its gradient in x = logit(c) (flat beyond +-30)."""
    inside = abs(x[0]) < LOGIT_LIMIT
    z = float(np.clip(x[0], -LOGIT_LIMIT, LOGIT_LIMIT))
    c = special.expit(z)
    return -t * np.logaddexp(0.0, z), (-t * c * inside)[None, :]


def _sbg_log_survival(x: np.ndarray, t: np.ndarray):
    """log S(t) = log B(a, b + t) - log B(a, b) and its gradient in x = (log a, log b)."""
    a, b = np.exp(x)
    log_s = special.betaln(a, b + t) - special.betaln(a, b)
    psi_ab = special.digamma(a + b)
    psi_abt = special.digamma(a + b + t)
    d_a = a * (psi_ab - psi_abt)
    d_b = b * (special.digamma(b + t) - psi_abt - special.digamma(b) + psi_ab)
    return log_s, np.vstack([d_a, d_b])


def _sbg_from_mean_spread(y: np.ndarray) -> np.ndarray:
    """(log alpha, log beta) from y = (logit m, logit phi), m = a/(a+b), phi = 1/(a+b+1)."""
    u = np.clip(y[0], -LOGIT_LIMIT, LOGIT_LIMIT)
    v = np.clip(y[1], *SPREAD_BOUNDS)
    return np.array([special.log_expit(u) - v, special.log_expit(-u) - v])


def _sbg_mean_spread_log_survival(y: np.ndarray, t: np.ndarray):
    """log S(t) and its gradient in y = (logit m, logit phi), flat beyond the bounds.

    The optimiser works here: the geometric limit is phi -> 0, a finite edge, instead of
    alpha, beta -> infinity along a ridge. log a = log m - logit(phi), log b = log(1-m) - logit(phi).
    """
    log_s, g = _sbg_log_survival(_sbg_from_mean_spread(y), t)
    m = special.expit(np.clip(y[0], -LOGIT_LIMIT, LOGIT_LIMIT))
    inside_u = abs(y[0]) < LOGIT_LIMIT
    inside_v = SPREAD_BOUNDS[0] < y[1] < SPREAD_BOUNDS[1]
    return log_s, np.vstack([((1 - m) * g[0] - m * g[1]) * inside_u, -(g[0] + g[1]) * inside_v])


_MODELS = {"geometric": _geometric_log_survival, "sbg": _sbg_log_survival,
           "sbg_mean_spread": _sbg_mean_spread_log_survival}


def interval_log_probability(model: str, x: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """log P(lo < T <= hi) and its gradient in the model's working parameters, per interval.

    Returns
    -------
    (ndarray(float64, (n,)), ndarray(float64, (n_params, n)))
    """
    times, i_lo, i_hi = _times(lo, hi)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s, g = _MODELS[model](np.asarray(x, dtype=float), times)
        finite = i_hi >= 0
        s_hi = np.where(finite, s[np.maximum(i_hi, 0)], -np.inf)
        g_hi = np.where(finite, g[:, np.maximum(i_hi, 0)], 0.0)
        d = np.minimum(s_hi - s[i_lo], 0.0)
        one_minus_r = -np.expm1(d)
        ratio = np.where(finite, np.exp(d) / np.where(one_minus_r > 0, one_minus_r, np.inf), 0.0)
        return s[i_lo] + np.log(one_minus_r), g[:, i_lo] + ratio * (g[:, i_lo] - g_hi)


def _times(lo: np.ndarray, hi: np.ndarray):
    """The distinct finite interval ends, and where each interval's ends are among them (-1: inf)."""
    finite = np.isfinite(hi)
    times = np.unique(np.concatenate([lo, hi[finite]]))
    i_hi = np.full(len(hi), -1)
    i_hi[finite] = np.searchsorted(times, hi[finite])
    return times, np.searchsorted(times, lo), i_hi


def negative_loglik(model: str, lo, hi, counts, scale: float = 1.0):
    """``x -> (-loglik, -gradient)``, both multiplied by ``scale``.

    The censored intervals ``(lo, inf)`` contribute ``n log S(lo)``: their weights are summed
    per distinct time once, so each evaluation computes S at the distinct times only.
    """
    times, i_lo, i_hi = _times(lo, hi)
    log_survival = _MODELS[model]
    finite = i_hi >= 0
    weights = counts * scale
    censored = np.zeros(len(times))
    np.add.at(censored, i_lo[~finite], weights[~finite])
    f_lo, f_hi, f_w = i_lo[finite], i_hi[finite], weights[finite]

    def fun(x):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            s, g = log_survival(np.asarray(x, dtype=float), times)
            d = s[f_hi] - s[f_lo]
            one_minus_r = -np.expm1(d)
            value = -(censored @ s + f_w @ (s[f_lo] + np.log(one_minus_r)))
            g_lo = g[:, f_lo]
            gradient = -(g @ censored + (g_lo + (g_lo - g[:, f_hi]) * (np.exp(d) / one_minus_r)) @ f_w)
        if not (math.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e300, np.zeros(len(x))
        return float(value), gradient

    return fun


def fit_model(model: str, lo, hi, counts, starts) -> tuple[np.ndarray, float]:
    """Maximum likelihood from each start (BFGS, analytic gradient); the best result.

    The objective is the mean negative log-likelihood per customer, so that gradients are of
    order one whatever the data size. BFGS rather than L-BFGS-B: the working parameters are
    flat beyond their bounds, and L-BFGS-B's per-iteration BLAS calls dominate the run time on
    problems this small.
    """
    keep = counts > 0
    total = float(counts.sum())
    fun = negative_loglik(model, lo[keep], hi[keep], counts[keep], scale=1.0 / total)
    best = None
    for start in starts:
        result = optimize.minimize(fun, np.asarray(start, dtype=float), jac=True, method="BFGS",
                                   options={"gtol": 1e-9, "maxiter": 500})
        if best is None or result.fun < best.fun:
            best = result
    return best.x, -float(best.fun) * total


def _geometric_start(lo, hi, counts) -> np.ndarray:
    """logit of lost / periods at risk, counting half of each interval of loss."""
    finite = np.isfinite(hi)
    lost = counts[finite].sum()
    exposure = (counts * lo).sum() + (counts[finite] * (hi[finite] - lo[finite] + 1) / 2).sum()
    c = min(max(lost / max(exposure, 1.0), 1e-6), 1 - 1e-6)
    return np.array([special.logit(c)])


def _fit_geometric(lo, hi, counts) -> tuple[np.ndarray, float]:
    """The geometric maximum: closed form ``c = lost / (lost + survived periods)`` when every
    loss is observed to the period (intervals of length one), numerical otherwise."""
    finite = np.isfinite(hi)
    if np.all(hi[finite] - lo[finite] == 1):
        lost = counts[finite].sum()
        survived = (counts * lo).sum()
        with np.errstate(divide="ignore"):
            x = np.clip(np.array([special.logit(lost / max(lost + survived, 1e-300))]), -LOGIT_LIMIT, LOGIT_LIMIT)
        keep = counts > 0
        return x, -negative_loglik("geometric", lo[keep], hi[keep], counts[keep])(x)[0]
    return fit_model("geometric", lo, hi, counts, [_geometric_start(lo, hi, counts)])


def fit_both(lo, hi, counts, spreads=(0.3, 1e-3)) -> tuple[np.ndarray, float, np.ndarray, float, bool]:
    """Both models: the geometric's logit(c) and loglik, the sBG's (log alpha, log beta) and
    loglik, and whether the sBG maximum sits at the geometric edge (alpha + beta -> infinity).

    The sBG is fitted in (logit m, logit phi) from each starting spread phi, at the geometric's
    mean. At the geometric edge (phi -> 0) the sBG's supremum is the geometric's likelihood.
    """
    x_geo, ll_geo = _fit_geometric(lo, hi, counts)
    u = float(np.clip(x_geo[0], -LOGIT_LIMIT, LOGIT_LIMIT))
    y, ll_sbg = fit_model("sbg_mean_spread", lo, hi, counts, [np.array([u, special.logit(phi)]) for phi in spreads])
    geometric_edge = bool(y[1] <= SPREAD_BOUNDS[0] + 1e-2)
    if geometric_edge:
        ll_sbg = max(ll_sbg, ll_geo)
    return x_geo, ll_geo, _sbg_from_mean_spread(y), ll_sbg, geometric_edge


def hessian(model: str, lo, hi, counts, x) -> np.ndarray:
    """Hessian of the negative log-likelihood at ``x``: central differences of its analytic gradient."""
    keep = counts > 0
    fun = negative_loglik(model, lo[keep], hi[keep], counts[keep])
    return hessian_from_gradient(lambda z: fun(z)[1], x, step=1e-5)


