"""Rank correlation of uniform columns by the Iman–Conover method.

Iman, R. L. and Conover, W. J. (1982), "A distribution-free approach to inducing rank
correlation among input variables", *Communications in Statistics - Simulation and
Computation* 11(3), 311-334.

The method only *reorders* the values within each column: every column keeps exactly the
values it was drawn with, so exact marginals and the stratification of a Latin hypercube (or of
each Sobol' coordinate) survive; only the pairing of values across columns changes.

Steps, for the ``m`` correlated columns of ``n`` paths:

1. Scores: each column's ranks turned into van der Waerden scores
   ``norm.ppf(rank / (n + 1))``. Using the column's own ranks makes every score column a
   random permutation of the same scores without drawing new random numbers.
2. Target: the Spearman matrix ``R_s`` is converted to the Pearson correlation of normal
   scores ``R = 2 sin(pi R_s / 6)`` (exact for a bivariate normal), and factored as
   ``R = P P^T`` (Cholesky; for a singular matrix such as ``rho = 1``, an eigen-decomposition
   with negative eigenvalues set to 0, rows rescaled to a unit diagonal).
3. Correction: the scores' own sample correlation ``E = Q Q^T`` (Cholesky) is removed, so the
   rearranged scores ``T = S Q^-T P^T`` have sample correlation exactly ``R``, not ``R``
   plus the sampling noise of the scores (Iman and Conover's variance-reduction step).
4. Each column's sorted values are placed in the rank order of its column of ``T``
   (``sorted[rank - 1]``, done as a scatter to ``argsort(T)``).

No randomness is used: the result depends only on the uniforms given.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["check_correlation_matrix", "spearman_to_pearson", "impose_rank_correlation"]

_PSD_TOLERANCE = 1e-10
_ROWS_PER_BLOCK = 8192  # rows multiplied at a time when mixing scores in place


def check_correlation_matrix(matrix: np.ndarray) -> np.ndarray:
    """Check a correlation matrix: square, symmetric, unit diagonal, entries in [-1, 1], PSD.

    Parameters
    ----------
    matrix : array_like(float64, (m, m))

    Returns
    -------
    ndarray(float64, (m, m))
        The matrix as a float array.

    Raises
    ------
    ValueError
        Naming the property that fails; a matrix with a negative eigenvalue is "not positive
        semi-definite".
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a correlation matrix must be square, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or np.any(np.abs(matrix) > 1):
        raise ValueError("correlations must be finite numbers between -1 and 1")
    if not np.allclose(matrix, matrix.T, rtol=0, atol=1e-12):
        raise ValueError("a correlation matrix must be symmetric")
    if not np.allclose(np.diag(matrix), 1.0, rtol=0, atol=1e-12):
        raise ValueError("a correlation matrix must have 1 on its diagonal")
    smallest = float(np.linalg.eigvalsh(matrix).min()) if matrix.size else 0.0
    if smallest < -_PSD_TOLERANCE:
        raise ValueError(
            "the correlation matrix is not positive semi-definite "
            f"(smallest eigenvalue {smallest:.3g}); weaken some correlations"
        )
    return matrix


def spearman_to_pearson(rank: np.ndarray) -> np.ndarray:
    """Pearson correlation of normal scores giving Spearman correlation ``rank``.

    For a bivariate normal, ``rho_s = (6 / pi) arcsin(r / 2)``; hence ``r = 2 sin(pi rho_s / 6)``.

    Parameters
    ----------
    rank : array_like(float64, (m, m))
        Spearman correlations (unit diagonal).

    Returns
    -------
    ndarray(float64, (m, m))
        Pearson correlations, with the diagonal set to exactly 1.
    """
    pearson = 2.0 * np.sin(np.pi * np.asarray(rank, dtype=float) / 6.0)
    np.fill_diagonal(pearson, 1.0)
    return pearson


def impose_rank_correlation(
    uniforms: np.ndarray, target: np.ndarray, columns: list[int] | None = None
) -> np.ndarray:
    """Reorder columns of ``uniforms`` in place so their Spearman correlation is ``target``.

    Parameters
    ----------
    uniforms : ndarray(float64, (paths, k))
        Independent columns; those in ``columns`` are reordered **in place**, the others are
        left untouched.
    target : array_like(float64, (m, m))
        Spearman rank correlations of the columns listed in ``columns``, in that order;
        positive semi-definite (singular allowed, e.g. ``rho = 1``).
    columns : list of int, optional
        The ``m`` columns to correlate; all ``k`` columns when ``None``.

    Returns
    -------
    ndarray(float64, (paths, k))
        ``uniforms`` itself. Each column holds the same values as before, in a new order.

    Raises
    ------
    ValueError
        If ``target`` is not a correlation matrix (e.g. not positive semi-definite), does
        not match ``columns``, or ``columns`` repeats a column.

    Notes
    -----
    Extra memory is one ``(paths, m)`` float64 array of scores plus a few ``(paths,)`` arrays.
    With fewer than 3 paths there is no correlation to speak of and nothing is reordered.
    """
    target = check_correlation_matrix(target)
    columns = list(range(uniforms.shape[1])) if columns is None else list(columns)
    if len(set(columns)) != len(columns):
        raise ValueError(f"the columns to correlate must be distinct, got {columns}")
    if target.shape != (len(columns), len(columns)):
        raise ValueError(
            f"target is {target.shape} but {len(columns)} columns are to be correlated"
        )
    if uniforms.shape[0] < 3 or len(columns) < 2:
        return uniforms
    scores = _van_der_waerden_scores(uniforms, columns)
    mix = np.linalg.solve(_score_factor(scores).T, _psd_factor(spearman_to_pearson(target)).T)
    for start in range(0, scores.shape[0], _ROWS_PER_BLOCK):
        block = scores[start : start + _ROWS_PER_BLOCK]
        block[...] = block @ mix
    for j, column in enumerate(columns):
        uniforms[np.argsort(scores[:, j]), column] = np.sort(uniforms[:, column])
    return uniforms


def _van_der_waerden_scores(uniforms: np.ndarray, columns: list[int]) -> np.ndarray:
    """``norm.ppf(rank / (n + 1))`` of each listed column, ``ndarray(float64, (n, m))``.

    The sorted scores are scattered to the positions given by ``argsort``: the same as
    indexing them by ``rankdata(method="ordinal") - 1``, at half the cost for large ``n``.
    """
    paths = uniforms.shape[0]
    table = norm.ppf(np.arange(1, paths + 1) / (paths + 1.0))
    scores = np.empty((paths, len(columns)))
    for j, column in enumerate(columns):
        scores[np.argsort(uniforms[:, column]), j] = table
    return scores


def _score_factor(scores: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor ``Q`` of the scores' sample correlation, ``(m, m)``.

    Every column is a permutation of the same scores, which sum to 0 by symmetry, so the
    sample correlation is ``S^T S`` over its diagonal; this avoids ``np.corrcoef``'s centred
    copy of the ``(n, m)`` scores. When the scores are collinear (fewer paths than
    columns) the correction is impossible and the identity is returned.
    """
    gram = scores.T @ scores
    scale = np.sqrt(np.diag(gram))
    try:
        return np.linalg.cholesky(gram / np.outer(scale, scale))
    except np.linalg.LinAlgError:
        return np.eye(scores.shape[1])


def _psd_factor(matrix: np.ndarray) -> np.ndarray:
    """``P`` with ``P P^T = matrix`` for a correlation matrix that may be singular.

    Cholesky when the matrix is positive definite; otherwise an eigen-decomposition with
    negative eigenvalues set to 0 and rows rescaled so ``P P^T`` keeps a unit diagonal. The
    negative eigenvalues are small: round-off, or the Spearman-to-Pearson conversion of a
    PSD matrix at the edge of singularity, which can leave it slightly indefinite.
    """
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        eigenvalues, eigenvectors = np.linalg.eigh(matrix)
        factor = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
        return factor / np.linalg.norm(factor, axis=1, keepdims=True)
