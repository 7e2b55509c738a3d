"""Marginal distributions of customer attributes by maximum likelihood, the family chosen by AIC.

Each candidate family (a ``scipy.stats`` distribution from the scenario's allow-list,
:data:`valuecapture.scenario.distributions.ALLOWED`) is fitted by maximum likelihood
(``scipy.stats.<family>.fit``; ``loc`` fixed at 0 for the families on (0, inf), ``loc`` = 0 and
``scale`` = 1 for ``beta`` on fractions), and the family with the smallest AIC
(``2k - 2 log L``, Akaike 1974) is chosen.  Each fit carries

* standard errors and the covariance of its free parameters from the observed information
  (numerical Hessian of the negative log-likelihood, :mod:`valuecapture.data.likelihood`);
* the Kolmogorov-Smirnov statistic ``D`` against the fitted distribution with its p-value
  computed as if the parameters were known.  With parameters estimated from the same data
  that p-value is conservative (too large: Lilliefors 1967), so a small one is a real misfit;
  on tens of thousands of customers even a small, harmless misfit gives p near 0, so read
  ``D`` (the largest gap between the empirical and the fitted CDF) first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from valuecapture.data.likelihood import covariance, standard_errors
from valuecapture.scenario import distributions as dists

#: Parameters held fixed in each candidate family's fit (the rest are estimated).
FIXED: dict[str, dict[str, float]] = {
    "lognorm": {"loc": 0.0},
    "gamma": {"loc": 0.0},
    "weibull_min": {"loc": 0.0},
    "expon": {"loc": 0.0},
    "beta": {"loc": 0.0, "scale": 1.0},
    "norm": {},
}

#: Families on (0, inf) (data must be > 0), on (0, 1), and on the real line.
POSITIVE = ("lognorm", "gamma", "weibull_min", "expon")
UNIT = ("beta",)
REAL = ("norm",)

SIGNIFICANT = 6


def rounded(x: float, digits: int = SIGNIFICANT) -> float:
    """``x`` to ``digits`` significant digits (what the scenario file shows)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


@dataclass(frozen=True)
class MarginalFit:
    """One family fitted by maximum likelihood to ``n`` values."""

    family: str
    params: dict[str, float]  # every parameter, fixed ones included, as scipy.stats takes them
    free: tuple[str, ...]  # the estimated ones, in the order of ``cov``
    cov: np.ndarray  # covariance of the free parameters (inverse observed information)
    loglik: float
    n: int
    ks_statistic: float
    ks_pvalue: float

    @property
    def k(self) -> int:
        return len(self.free)

    @property
    def aic(self) -> float:
        return 2.0 * self.k - 2.0 * self.loglik

    @property
    def se(self) -> dict[str, float]:
        return dict(zip(self.free, (float(s) for s in standard_errors(self.cov)), strict=True))

    def table(self) -> dict[str, Any]:
        """The scenario's distribution table (``{"dist": ..., parameters}``), rounded, without
        parameters that equal scipy's defaults (``loc = 0``, ``scale = 1``)."""
        out: dict[str, Any] = {"dist": self.family}
        for key, value in self.params.items():
            if key not in self.free and ((key == "loc" and value == 0.0) or (key == "scale" and value == 1.0)):
                continue
            out[key] = rounded(value)
        return out

    def frozen(self) -> Any:
        return getattr(stats, self.family)(**self.params)

    def describe(self) -> dict[str, Any]:
        """Machine-readable summary (the sidecar JSON's entry)."""
        return {
            "family": self.family,
            "params": {k: float(v) for k, v in self.params.items()},
            "free": list(self.free),
            "se": self.se,
            "cov": self.cov.tolist(),
            "loglik": float(self.loglik),
            "aic": float(self.aic),
            "n": self.n,
            "ks_statistic": float(self.ks_statistic),
            "ks_pvalue": float(self.ks_pvalue),
        }


@dataclass(frozen=True)
class MarginalChoice:
    """The AIC-best fit among the candidates, the others (ranked), and values left out."""

    best: MarginalFit
    fits: tuple[MarginalFit, ...]
    excluded: int = 0
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> dict[str, Any]:
        return {
            **self.best.describe(),
            "excluded": self.excluded,
            "candidates": {f.family: {"aic": float(f.aic), "ks_statistic": float(f.ks_statistic)} for f in self.fits},
        }


def _shape_names(family: str) -> list[str]:
    shapes = getattr(stats, family).shapes
    return [s.strip() for s in shapes.split(",")] if shapes else []


def fit_family(x: np.ndarray, family: str) -> MarginalFit | None:
    """Maximum-likelihood fit of ``family`` to ``x`` (``None`` if the fit fails or is degenerate)."""
    dist = getattr(stats, family)
    names = _shape_names(family) + ["loc", "scale"]
    fixed = FIXED[family]
    kw = {f"f{k}": v for k, v in fixed.items()}  # floc, fscale
    try:
        with np.errstate(all="ignore"):
            theta = dist.fit(x, **kw)
    except (ValueError, RuntimeError, FloatingPointError):
        return None
    params = {name: float(v) for name, v in zip(names, theta, strict=True)}
    free = tuple(n for n in names if n not in fixed)

    def nll(v: np.ndarray) -> float:
        p = dict(params)
        p.update(zip(free, (float(t) for t in v), strict=True))
        if any(p[n] <= 0 for n in p if n != "loc"):
            return math.inf
        with np.errstate(all="ignore"):
            return -float(np.sum(dist.logpdf(x, **p)))

    theta_free = np.array([params[n] for n in free])
    ll = -nll(theta_free)
    if not math.isfinite(ll):
        return None
    cov = covariance(nll, theta_free)
    ks = stats.kstest(x, dist.cdf, args=tuple(params[n] for n in names))
    return MarginalFit(family, params, free, cov, ll, int(x.size), float(ks.statistic), float(ks.pvalue))


def candidates_for(x: np.ndarray, lo: float | None, hi: float | None) -> list[str]:
    """The allow-listed families whose support holds the data and lies within the field's bounds."""
    out: list[str] = []
    if x.size and np.min(x) > 0 and (lo is None or lo <= 0):
        out += list(POSITIVE)
        if np.max(x) < 1 and (hi is None or hi >= 1):
            out += list(UNIT)
    if lo is None and hi is None:
        out += list(REAL)
    return out


def fit_marginal(
    x: np.ndarray,
    lo: float | None = 0.0,
    hi: float | None = None,
    families: Sequence[str] | None = None,
) -> MarginalChoice | None:
    """Fit every candidate family to the finite values of ``x`` and choose by AIC.

    ``lo``/``hi`` are the scenario field's bounds: values outside a family's support are left out
    (counted in ``excluded``; e.g. zeros for the families on (0, inf)), and a fit whose support
    leaves the bounds is not a candidate.  ``None`` when no family can be fitted."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n_all = x.size
    positive = x[x > 0] if lo is not None and lo >= 0 else x
    fam = list(families) if families is not None else candidates_for(positive, lo, hi)
    fits: list[MarginalFit] = []
    for name in fam:
        data = x if name in REAL else positive
        if name in UNIT:
            data = positive[positive < 1]
        if data.size < 3 or data.size != (positive.size if name not in REAL else x.size):
            continue
        fit = fit_family(data, name)
        if fit is None:
            continue
        try:
            dists.parse(fit.table(), lo=lo, hi=hi)
        except dists.DistributionError:
            continue
        fits.append(fit)
    if not fits:
        return None
    fits.sort(key=lambda f: f.aic)
    best = fits[0]
    return MarginalChoice(best, tuple(fits), excluded=int(n_all - best.n))
