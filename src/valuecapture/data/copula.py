"""The Gaussian copula's correlation matrix from normal scores of the ranks.

Each attribute's values are replaced by their van der Waerden normal scores
``Phi^-1(rank / (n + 1))`` (average ranks for ties), which do not depend on the marginal; the
copula correlation of two attributes is the Pearson correlation of their scores over the
customers that have both.  Under a Gaussian copula this normal-scores coefficient estimates
the copula's ``rho`` and is asymptotically as efficient as Pearson's r on normal data
(Klaassen & Wellner 1997, Bernoulli 3(1)), so its standard error is taken as
``(1 - rho^2) / sqrt(n)``.

Correlations estimated pair by pair (each over the customers having both values) need not
form a positive definite matrix; :func:`nearest_correlation` then gives the nearest one in
the Frobenius norm (Higham 2002, IMA J. Numerical Analysis 22(3): alternating projections
with Dykstra's correction), with its smallest eigenvalue at least ``min_eig`` so that its
Cholesky factor exists, as the engine needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Van der Waerden scores of the finite values of ``x`` (``NaN`` stays ``NaN``)."""
    x = np.asarray(x, dtype=float)
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    n = int(ok.sum())
    if n:
        out[ok] = special.ndtri(stats.rankdata(x[ok]) / (n + 1.0))
    return out


@dataclass(frozen=True)
class CopulaFit:
    """Correlation of normal scores over ``names`` (positive definite), with per-pair ``n``."""

    names: tuple[str, ...]
    matrix: np.ndarray  # the positive definite matrix the scenario gets
    raw: np.ndarray  # the pairwise estimates before any repair
    n: np.ndarray  # customers behind each pair
    repaired: bool  # True when the raw matrix was not positive definite

    @property
    def se(self) -> np.ndarray:
        """``(1 - rho^2)/sqrt(n)`` per pair (asymptotic, Gaussian copula)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n > 3, (1.0 - self.raw**2) / np.sqrt(self.n), np.nan)

    def pairs(self) -> list[tuple[str, str, float, float, int]]:
        """``(a, b, rho, se, n)`` for every pair ``a`` before ``b``."""
        out = []
        se = self.se
        k = len(self.names)
        for i in range(k):
            for j in range(i + 1, k):
                out.append((self.names[i], self.names[j], float(self.matrix[i, j]), float(se[i, j]), int(self.n[i, j])))
        return out


def score_correlation(columns: Mapping[str, np.ndarray], min_pairs: int = 10) -> CopulaFit:
    """Pairwise normal-scores correlations of ``columns`` (equal-length arrays, ``NaN`` = missing).

    Scores are computed per pair over the rows where both values are finite; pairs with fewer
    than ``min_pairs`` such rows get ``rho = 0``."""
    names = tuple(columns)
    k = len(names)
    raw = np.eye(k)
    n = np.zeros((k, k), dtype=np.int64)
    data = [np.asarray(columns[name], dtype=float) for name in names]
    for i in range(k):
        n[i, i] = int(np.isfinite(data[i]).sum())
        for j in range(i + 1, k):
            both = np.isfinite(data[i]) & np.isfinite(data[j])
            m = int(both.sum())
            n[i, j] = n[j, i] = m
            if m < min_pairs:
                continue
            a, b = normal_scores(data[i][both]), normal_scores(data[j][both])
            sa, sb = float(np.std(a)), float(np.std(b))
            if sa == 0 or sb == 0:
                continue
            r = float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))
            raw[i, j] = raw[j, i] = float(np.clip(r, -0.999, 0.999))
    matrix, repaired = nearest_correlation(raw)
    return CopulaFit(names, matrix, raw, n, repaired)


def is_positive_definite(c: np.ndarray, min_eig: float = 1e-6) -> bool:
    return bool(np.linalg.eigvalsh(c).min() >= min_eig)


def nearest_correlation(
    c: np.ndarray, min_eig: float = 1e-4, tol: float = 1e-10, max_iter: int = 1000
) -> tuple[np.ndarray, bool]:
    """The nearest correlation matrix to the symmetric ``c`` with eigenvalues >= ``min_eig``
    (Higham 2002), and whether ``c`` had to change.  A matrix already positive definite with
    that margin is returned as it is."""
    c = 0.5 * (np.asarray(c, dtype=float) + np.asarray(c, dtype=float).T)
    if is_positive_definite(c, min_eig):
        return c, False
    y = c.copy()
    correction = np.zeros_like(c)
    x = c
    for _ in range(max_iter):
        r = y - correction
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, min_eig)) @ v.T  # projection onto the PSD cone (with the floor)
        correction = x - r
        y_new = x.copy()
        np.fill_diagonal(y_new, 1.0)  # projection onto unit-diagonal matrices
        if float(np.linalg.norm(y_new - y, "fro")) <= tol * max(1.0, float(np.linalg.norm(y, "fro"))):
            y = y_new
            break
        y = y_new
    # the last step set the diagonal to one; a final eigenvalue floor and rescale keeps both
    w, v = np.linalg.eigh(0.5 * (y + y.T))
    y = (v * np.maximum(w, min_eig)) @ v.T
    d = np.sqrt(np.diag(y))
    y = y / np.outer(d, d)
    np.fill_diagonal(y, 1.0)
    return 0.5 * (y + y.T), True


def matrix_of(pairs: Sequence[tuple[str, str, float]], names: Sequence[str]) -> np.ndarray:
    """The correlation matrix over ``names`` with the given ``(a, b, rho)`` entries (others 0)."""
    idx = {name: i for i, name in enumerate(names)}
    c = np.eye(len(names))
    for a, b, rho in pairs:
        c[idx[a], idx[b]] = c[idx[b], idx[a]] = rho
    return c
