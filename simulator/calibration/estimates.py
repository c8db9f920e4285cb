"""Estimates with standard errors, numerical Hessians and the rank correlation of a normal pair.

Standard errors come from the observed information: the Hessian of the negative
log-likelihood at the maximum, in the parameters the optimiser works in (logs or logits),
inverted, then carried to the natural parameters by the delta method. Intervals are built
in the working parameters, where the likelihood is closer to quadratic, and transformed back.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "Estimate", "Z90", "hessian_from_gradient", "hessian_from_values", "covariance_from_hessian",
    "spearman_from_pearson", "beta_from_moments",
]

Z90 = float(stats.norm.ppf(0.95))  # half-width of a 90% normal interval, in standard errors


@dataclass(frozen=True)
class Estimate:
    """A fitted parameter: value, standard error and a 90% interval (``nan`` when unavailable)."""

    value: float
    se: float
    low: float
    high: float

    @classmethod
    def normal(cls, value: float, se: float) -> Estimate:
        """A parameter whose estimate is approximately normal: ``value ± 1.645 se``."""
        return cls(float(value), float(se), float(value - Z90 * se), float(value + Z90 * se))

    @classmethod
    def positive(cls, log_value: float, log_se: float) -> Estimate:
        """A positive parameter estimated on the log scale (delta-method se, log-scale interval)."""
        value = math.exp(log_value)
        return cls(value, value * log_se, math.exp(log_value - Z90 * log_se), math.exp(log_value + Z90 * log_se))

    @classmethod
    def probability(cls, logit: float, logit_se: float) -> Estimate:
        """A probability estimated on the logit scale (delta-method se, logit-scale interval)."""
        p = float(special.expit(logit))
        return cls(p, p * (1 - p) * logit_se, float(special.expit(logit - Z90 * logit_se)),
                   float(special.expit(logit + Z90 * logit_se)))

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def hessian_from_gradient(gradient: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                          step: float = 1e-5) -> np.ndarray:
    """Hessian by central differences of an (analytic) gradient, symmetrised.

    Returns
    -------
    ndarray(float64, (len(x), len(x)))
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    out = np.empty((n, n))
    for j in range(n):
        h = step * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        out[:, j] = (np.asarray(gradient(up)) - np.asarray(gradient(down))) / (2 * h)
    return (out + out.T) / 2


def hessian_from_values(fun: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Hessian by central second differences of a scalar function.

    Returns
    -------
    ndarray(float64, (len(x), len(x)))
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    h = step * np.maximum(1.0, np.abs(x))
    f0 = fun(x)
    out = np.empty((n, n))
    for i in range(n):
        ei = np.zeros(n)
        ei[i] = h[i]
        out[i, i] = (fun(x + ei) - 2 * f0 + fun(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(n)
            ej[j] = h[j]
            out[i, j] = out[j, i] = (
                fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
            ) / (4 * h[i] * h[j])
    return out


def covariance_from_hessian(hessian: np.ndarray) -> np.ndarray:
    """Inverse of the Hessian of the negative log-likelihood; ``nan`` if it is not positive definite."""
    hessian = np.atleast_2d(np.asarray(hessian, dtype=float))
    if not np.all(np.isfinite(hessian)):
        return np.full(hessian.shape, np.nan)
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return np.full(hessian.shape, np.nan)
    return np.linalg.inv(hessian)


def spearman_from_pearson(rho: float) -> float:
    """Spearman rank correlation of a bivariate normal with correlation ``rho``: (6/pi) asin(rho/2)."""
    if not math.isfinite(rho):
        return float("nan")
    return 6 / math.pi * math.asin(max(-1.0, min(1.0, rho)) / 2)


def beta_from_moments(mean: float, sd: float) -> tuple[float, float]:
    """Beta(alpha, beta) with the given mean and standard deviation (sd below sqrt(mean(1-mean)))."""
    concentration = mean * (1 - mean) / sd**2 - 1
    if not concentration > 0:
        raise ValueError(f"no beta distribution has mean {mean:g} and sd {sd:g}")
    return mean * concentration, (1 - mean) * concentration
