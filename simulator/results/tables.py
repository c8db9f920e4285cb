"""Tidy tables (pandas DataFrames) built from what a run kept."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.results.collect import YEARLY_BALANCES, YEARLY_FLOWS
from simulator.results.stats import PERCENTILES

__all__ = ["frame", "series_block", "yearly_table", "funnel_table"]


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with ``columns``; ``None`` becomes NaN in numeric columns."""
    df = pd.DataFrame(rows, columns=columns)
    for column in columns:
        if df[column].dtype == object and all(
            v is None or isinstance(v, (int, float)) for v in df[column]
        ):
            df[column] = df[column].astype(float)
    return df


def series_block(
    plan: str, name: str, stats: dict[str, np.ndarray], labels: list[str]
) -> pd.DataFrame:
    """Rows ``plan, series, month, label, mean, se, p5 .. p95`` of one series, one per month."""
    months = len(labels)
    return pd.DataFrame(
        {
            "plan": [plan] * months,
            "series": [name] * months,
            "month": np.arange(months),
            "label": labels,
            **{key: np.asarray(value, float) for key, value in stats.items()},
        }
    )


def _mean_defined(values: np.ndarray) -> float:
    """Mean over the non-NaN entries; NaN when there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def yearly_table(
    yearly: dict[str, np.ndarray], labels: list[str], months: np.ndarray
) -> pd.DataFrame:
    """One row per fiscal year: ``fiscal_year, months``, then mean, p5, p50, p95 over paths of
    ``revenue, billings, net_cash_flow`` (year totals), ``ending_arr, ending_customers``.

    Parameters
    ----------
    yearly : dict of str to ndarray(float64, (paths, Y))
    labels : list of str
        ``Y`` fiscal-year labels.
    months : ndarray(int64, (Y,))
        Simulated months in each fiscal year (partial years at the ends).
    """
    columns: dict[str, object] = {"fiscal_year": labels, "months": np.asarray(months, np.int64)}
    names = {
        **{name: name for name in YEARLY_FLOWS},
        **{name: f"ending_{name}" for name in YEARLY_BALANCES},
    }
    for name, label in names.items():
        values = yearly[name]
        columns[f"{label}_mean"] = values.mean(axis=0)
        points = np.percentile(values, PERCENTILES, axis=0)
        for q, point in zip(PERCENTILES, points, strict=True):
            columns[f"{label}_p{q}"] = point
    return pd.DataFrame(columns)


def funnel_table(
    totals: np.ndarray, sources: list[str], stages: list[list[str]], cltv: np.ndarray
) -> pd.DataFrame:
    """One row per source: means over paths of its horizon totals and ratios.

    Parameters
    ----------
    totals : ndarray(float64, (paths, S, R))
        Per path and source, horizon totals of ``EngineOutput.source_flows``' rows: 0 leads,
        1 marketing cost, 2 customers won, ``3 + k`` count after stage ``k + 1``.
    sources : list of str
    stages : list of list of str
        Stage names of each source.
    cltv : ndarray(float64, (paths,))
        The plan's CLTV per path (value of a customer won, for the ROI).

    Returns
    -------
    DataFrame
        ``source, stages, leads, marketing_cost, cost_per_lead, conversion_1 .. conversion_K,
        customers_won, cac, roi``; ratios are per path, then averaged over the paths where they
        are defined; ``conversion_j`` is NaN beyond a source's stages.
    """
    depth = max(len(names) for names in stages)
    rows = []
    for s, source in enumerate(sources):
        t = totals[:, s, :]
        leads, cost, won = t[:, 0], t[:, 1], t[:, 2]
        row = {
            "source": source,
            "stages": " > ".join(stages[s]),
            "leads": leads.mean(),
            "marketing_cost": cost.mean(),
            "cost_per_lead": _mean_defined(_ratio(cost, leads)),
        }
        before = leads
        for j in range(1, depth + 1):
            if j > len(stages[s]):
                row[f"conversion_{j}"] = float("nan")
                continue
            after = t[:, 3 + j - 1] if j < len(stages[s]) else won
            row[f"conversion_{j}"] = _mean_defined(_ratio(after, before))
            before = after
        row.update(
            customers_won=won.mean(),
            cac=_mean_defined(_ratio(cost, won)),
            roi=_mean_defined(_ratio(won * cltv - cost, cost)),
        )
        rows.append(row)
    return pd.DataFrame(rows)
