"""Calibration: a company's own history turned into scenario inputs with honest uncertainty.

Three fits, each returning a small result object with ``summary()``, ``plot(ax=None)`` and
``to_yaml()`` (a snippet that pastes into a scenario):

- :func:`fit_churn` -- cohort survival data: constant churn (geometric) against the
  shifted-beta-geometric, a likelihood-ratio test valid on the boundary, projected survival;
- :func:`fit_funnel` -- monthly funnel counts: lead level, growth, seasonality and stage
  conversions as beta posteriors;
- :func:`fit_deals` -- deal sizes: lognormal against a heavier-tailed log-logistic, by AIC.

Malformed data raises :class:`CalibrationError`, whose text is ``FILE:LINE:COLUMN: column: message``.
This package reads CSV files and writes YAML text; it does not import the scenario layer.
"""

from simulator.calibration.churn import ChurnData, ChurnFit, fit_churn
from simulator.calibration.deals import DealsFit, fit_deals
from simulator.calibration.errors import CalibrationError
from simulator.calibration.estimates import Estimate
from simulator.calibration.funnel import FunnelFit, fit_funnel

__all__ = [
    "fit_churn", "fit_funnel", "fit_deals", "ChurnData", "ChurnFit", "FunnelFit", "DealsFit",
    "Estimate", "CalibrationError",
]
