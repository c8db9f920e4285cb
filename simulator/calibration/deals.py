"""Deal sizes (seats or values per customer): lognormal against a heavier-tailed log-logistic.

Both models are fitted by maximum likelihood to the positive values of one CSV column:

- lognormal: ``log x ~ Normal(mu, sigma)``; closed-form estimates, standard errors
  ``sigma / sqrt(n)`` and ``sigma / sqrt(2 n)``;
- log-logistic (``scipy.stats.fisk``): ``log x ~ Logistic(log scale, 1 / c)``; a power-law tail,
  ``P(X > x) ~ (x / scale)^-c``, heavier than any lognormal's (the mean is infinite when
  ``c <= 1``). Fitted with ``scipy.optimize.minimize`` in (log c, log scale); standard errors from
  the inverse of a finite-difference Hessian of the log-likelihood, by the delta method.

Both have two parameters, so choosing the lower AIC (``2k - 2 loglik``) is choosing the higher
likelihood. The Kolmogorov-Smirnov distance to each fit is printed for information only: with
estimated parameters its usual p-value does not apply.

The scenario has a lognormal but no log-logistic; when the log-logistic wins, the snippet
resamples its 200 quantiles at the 0.25%, 0.75%, ..., 99.75% levels (``dist: empirical``),
which keeps its shape up to the 99.75th percentile and cuts the tail beyond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from simulator.calibration.errors import CalibrationError
from simulator.calibration.estimates import Estimate, covariance_from_hessian, hessian_from_values
from simulator.calibration.plotting import new_axes
from simulator.calibration.snippet import NAME, dump_snippet, round_sig
from simulator.calibration.table import Table
from simulator.calibration.text import fmt, format_table

__all__ = ["DealsFit", "ModelFit", "fit_deals", "read_deals", "MODELS", "QUANTILES"]

MODELS = ("lognormal", "loglogistic")
QUANTILES = 200
MIN_VALUES = 5


@dataclass(frozen=True)
class ModelFit:
    """One fitted deal-size distribution.

    Attributes
    ----------
    name : str
        ``lognormal`` or ``loglogistic``.
    parameters : dict of str to Estimate
        lognormal: ``mu``, ``sigma`` (of log x); log-logistic: ``c`` (tail index), ``scale``.
    loglik, aic, ks : float
        Log-likelihood, Akaike information criterion and Kolmogorov-Smirnov distance.
    """

    name: str
    parameters: dict[str, Estimate]
    loglik: float
    aic: float
    ks: float

    @property
    def distribution(self):
        """The fitted frozen ``scipy.stats`` distribution."""
        p = {k: v.value for k, v in self.parameters.items()}
        if self.name == "lognormal":
            return stats.lognorm(s=p["sigma"], scale=math.exp(p["mu"]))
        return stats.fisk(p["c"], scale=p["scale"])


@dataclass(frozen=True)
class DealsFit:
    """Lognormal and log-logistic fits to deal sizes; the lower AIC is :attr:`chosen`."""

    values: np.ndarray
    column: str
    models: dict[str, ModelFit]
    source: str = "<data>"
    segment: str = "my_segment"

    @property
    def chosen(self) -> str:
        """The model with the lower AIC."""
        return min(self.models, key=lambda name: self.models[name].aic)

    @property
    def lognormal(self) -> ModelFit:
        return self.models["lognormal"]

    @property
    def loglogistic(self) -> ModelFit:
        return self.models["loglogistic"]

    def summary(self) -> str:
        x = self.values
        rows = []
        for name, m in self.models.items():
            for i, (key, e) in enumerate(m.parameters.items()):
                rows.append([name if i == 0 else "", key, fmt(e.value), fmt(e.se, 3), f"[{fmt(e.low)}, {fmt(e.high)}]",
                             f"{m.loglik:.2f}" if i == 0 else "", f"{m.aic:.2f}" if i == 0 else "",
                             fmt(m.ks, 3) if i == 0 else ""])
        delta = abs(self.lognormal.aic - self.loglogistic.aic)
        return "\n".join([
            f"Deal sizes: {self.source}, column {self.column!r}",
            f"  {len(x)} values, median {fmt(float(np.median(x)))}, mean {fmt(float(x.mean()))}, "
            f"90th percentile {fmt(float(np.percentile(x, 90)))}, max {fmt(float(x.max()))}",
            "",
            format_table(["model", "parameter", "estimate", "se", "90% interval", "log-lik", "AIC", "KS"], rows),
            "",
            f"  -> {self.chosen}: lower AIC by {delta:.2f} (AIC = 2k - 2 log-lik, k = 2 for both; the KS distance "
            "is shown for information, its p-value does not apply to fitted parameters)",
        ])

    def plot(self, ax=None):
        """Empirical survival P(X > x) on log-log axes against both fits; returns the Axes."""
        ax = new_axes(ax)
        x = np.sort(self.values)
        n = len(x)
        ax.step(x, 1 - np.arange(1, n + 1) / (n + 1), where="post", color="black", lw=1.2, label="data")
        grid = np.geomspace(x[0], x[-1] * 1.5, 200)
        for (name, m), style in zip(self.models.items(), ("-", "--"), strict=True):
            chosen = " (chosen)" if name == self.chosen else ""
            ax.plot(grid, m.distribution.sf(grid), style, lw=1.6, label=f"{name}{chosen}, AIC {m.aic:.1f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(max(0.3 / n, 1e-6), 1.05)
        ax.set_xlabel(self.column)
        ax.set_ylabel(f"share of deals above ({self.column} > x)")
        ax.set_title(f"Deal sizes: {Path(self.source).name}")
        ax.legend(fontsize="small")
        return ax

    def to_yaml(self, model: str | None = None) -> str:
        """A scenario snippet setting ``segments.SEGMENT.seats`` (drawn customer by customer).

        Parameters
        ----------
        model : {"lognormal", "loglogistic"}, optional
            The model to write; the one with the lower AIC when absent.
        """
        model = model or self.chosen
        if model not in self.models:
            raise ValueError(f"model must be one of {', '.join(self.models)}, got {model!r}")
        m = self.models[model]
        p = m.parameters
        comments = [
            f"Deal sizes fitted to {Path(self.source).name}, column {self.column!r}: {len(self.values)} values.",
            f"AIC lognormal {self.lognormal.aic:.2f}, log-logistic {self.loglogistic.aic:.2f}; written: {model}.",
        ]
        if self.column != "seats":
            comments.append(f"The column is {self.column!r}: seats are drawn from it as is; "
                            "rescale it if it is not seats.")
        if model == "lognormal":
            value: dict = {"dist": "lognormal", "mu": round_sig(p["mu"].value), "sigma": round_sig(p["sigma"].value)}
            comments.append(f"mu = {fmt(p['mu'].value)} (se {fmt(p['mu'].se, 3)}), sigma = {fmt(p['sigma'].value)} "
                            f"(se {fmt(p['sigma'].se, 3)}); per-customer draws take fixed parameters.")
        else:
            levels = (np.arange(QUANTILES) + 0.5) / QUANTILES
            quantiles = m.distribution.ppf(levels)
            value = {"dist": "empirical", "values": [round_sig(float(q), 4) for q in quantiles]}
            comments.append(f"log-logistic c = {fmt(p['c'].value)} (se {fmt(p['c'].se, 3)}), scale = "
                            f"{fmt(p['scale'].value)} (se {fmt(p['scale'].se, 3)}); the scenario has no log-logistic,")
            comments.append(f"so its {QUANTILES} quantiles at levels (i + 0.5)/{QUANTILES} are resampled "
                            "(the tail beyond the 99.75th percentile is cut).")
        return dump_snippet({"segments": {self.segment: {"seats": value}}}, comments)


# ------------------------------------------------------------------------------------------
# Reading and fitting
# ------------------------------------------------------------------------------------------


def read_deals(path: str | Path, column: str | None = None) -> tuple[np.ndarray, str]:
    """The positive values of one column (empty cells skipped), and the column's name.

    Without ``column``: the file's only column, else a column named ``seats``, ``value`` or
    ``amount``.
    """
    table = Table.read(path)
    if column is None:
        candidates = [c for c in ("seats", "value", "amount") if c in table.header]
        if len(table.header) == 1:
            column = table.header[0]
        elif candidates:
            column = candidates[0]
        else:
            raise CalibrationError(f"which column holds the deal sizes? give --column (the header has "
                                   f"{', '.join(table.header)})", file=table.file, line=table.header_line)
    column = column.strip().lower()
    table.require(column)
    values = []
    for row in table.rows:
        if not table.cell(row, column):
            continue
        value = table.number(row, column)
        if value <= 0:
            raise table.error(row, column, f"deal sizes must be > 0, got {table.cell(row, column)}")
        values.append(value)
    if len(values) < MIN_VALUES:
        raise CalibrationError(f"column {column!r} has {len(values)} values; at least {MIN_VALUES} are needed",
                               file=table.file, line=table.header_line)
    return np.array(values), column


def fit_deals(source: str | Path | Sequence[float] | np.ndarray, *, column: str | None = None,
              segment: str = "my_segment") -> DealsFit:
    """Fit a lognormal and a log-logistic to deal sizes and choose by AIC.

    Parameters
    ----------
    source : path or array of float
        A CSV file, or the values themselves (all > 0).
    column : str, optional
        The CSV column to read (see :func:`read_deals`).
    segment : str
        The segment named in the YAML snippet.

    Returns
    -------
    DealsFit
    """
    if not NAME.match(segment):
        raise ValueError(f"segment {segment!r}: use letters, digits, '_' or '-'")
    if isinstance(source, (str, Path)):
        values, column = read_deals(source, column)
        name = str(source)
    else:
        values = np.asarray(source, dtype=float).ravel()
        name = "<data>"
        column = column or "seats"
        if len(values) < MIN_VALUES or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise CalibrationError(f"needs at least {MIN_VALUES} finite values, all > 0", file=name)
    if np.ptp(np.log(values)) == 0:
        raise CalibrationError(f"all {len(values)} values are equal ({fmt(float(values[0]))}); no spread to fit",
                               file=name)
    models = {"lognormal": _fit_lognormal(values), "loglogistic": _fit_loglogistic(values)}
    return DealsFit(values, column, models, name, segment)


def _fit_lognormal(x: np.ndarray) -> ModelFit:
    logs = np.log(x)
    n = len(x)
    mu, sigma = float(logs.mean()), float(logs.std())
    params = {"mu": Estimate.normal(mu, sigma / math.sqrt(n)),
              "sigma": Estimate.positive(math.log(sigma), 1 / math.sqrt(2 * n))}
    dist = stats.lognorm(s=sigma, scale=math.exp(mu))
    loglik = float(dist.logpdf(x).sum())
    return ModelFit("lognormal", params, loglik, 4 - 2 * loglik, float(stats.kstest(x, dist.cdf).statistic))


def _fit_loglogistic(x: np.ndarray) -> ModelFit:
    logs = np.log(x)
    scale_of_logs = max(float(logs.std()) * math.sqrt(3) / math.pi, 1e-6)
    start = np.array([-math.log(scale_of_logs), float(np.median(logs))])

    def negative_loglik(theta):
        c, scale = math.exp(theta[0]), math.exp(theta[1])
        return -float(stats.fisk.logpdf(x, c, scale=scale).sum())

    result = optimize.minimize(negative_loglik, start, method="BFGS", options={"gtol": 1e-7})
    theta = result.x
    cov = covariance_from_hessian(hessian_from_values(negative_loglik, theta, step=1e-4))
    se = np.sqrt(np.diag(cov)) if np.all(np.isfinite(cov)) else np.full(2, np.nan)
    params = {"c": Estimate.positive(theta[0], se[0]), "scale": Estimate.positive(theta[1], se[1])}
    dist = stats.fisk(math.exp(theta[0]), scale=math.exp(theta[1]))
    loglik = -float(result.fun)
    return ModelFit("loglogistic", params, loglik, 4 - 2 * loglik, float(stats.kstest(x, dist.cdf).statistic))
