"""Standard errors from the likelihood's curvature: the observed information.

The covariance of a maximum-likelihood estimate is estimated by the inverse of the observed
information, the Hessian of the negative log-likelihood at the optimum (e.g. Pawitan 2001,
*In All Likelihood*, ch. 2-3), here by central finite differences.  Where the Hessian is
not positive definite (an optimum on the boundary, a flat likelihood) the covariance is
``NaN``: a standard error that cannot be computed is reported as such, never as a number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x`` (steps ``rel_step x max(|x_i|, 1e-3)``)."""
    x = np.asarray(x, dtype=float)
    k = x.size
    h = rel_step * np.maximum(np.abs(x), 1e-3)
    out = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        out[i, i] = (f(x + ei) - 2.0 * f0 + f(x - ei)) / (h[i] * h[i])
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            value = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4.0 * h[i] * h[j])
            out[i, j] = out[j, i] = value
    return out


def covariance(negloglik: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Inverse observed information at the optimum ``x`` of ``negloglik``; ``NaN`` where it is not
    positive definite."""
    h = hessian(negloglik, x)
    if not np.all(np.isfinite(h)):
        return np.full_like(h, np.nan)
    h = 0.5 * (h + h.T)
    try:
        np.linalg.cholesky(h)
    except np.linalg.LinAlgError:
        return np.full_like(h, np.nan)
    return np.asarray(np.linalg.inv(h))


def standard_errors(cov: np.ndarray) -> np.ndarray:
    """Square roots of the covariance's diagonal (``NaN`` where it is not positive)."""
    d = np.diag(cov).astype(float)
    with np.errstate(invalid="ignore"):
        return np.where(d > 0, np.sqrt(np.where(d > 0, d, 0.0)), np.nan)
