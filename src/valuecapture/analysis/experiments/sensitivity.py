"""Global sensitivity of a response to the factors: Saltelli/Jansen on Sobol designs, ANOVA on full factorials,
regression on Latin hypercubes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from valuecapture.analysis.experiments.spec import DEFAULT_RESPONSES, RESPONSES
from valuecapture.analysis.stats import bootstrap_ci


def factor_names(ds: xr.Dataset) -> list[str]:
    return list(json.loads(ds.attrs["factors"]))


def responses(ds: xr.Dataset, names: Sequence[str] | None = None) -> xr.Dataset:
    """Each design point's responses (statistics over its replications), over ``design_point``."""
    names = list(names or json.loads(ds.attrs.get("responses", json.dumps(list(DEFAULT_RESPONSES)))))
    out = {}
    for n in names:
        r = RESPONSES[n]
        out[n] = xr.Variable(
            ("design_point",),
            r.reduce(ds[r.variable].values.astype(float), axis=-1),
            {"units": r.units, "description": r.title},
        )
    return xr.Dataset(out, coords={c: ds[c] for c in ds.coords if ds[c].dims == ("design_point",)})


@dataclass(frozen=True)
class SensitivityIndex:
    """First-order and total sensitivity index of one factor for one response."""

    factor: str
    first: float
    first_low: float
    first_high: float
    total: float
    total_low: float
    total_high: float


@dataclass(frozen=True)
class Sensitivity:
    response: str
    method: str
    indices: list[SensitivityIndex]
    variance: float
    level: float
    note: str = ""


def sensitivity(
    ds: xr.Dataset, response: str, *, level: float = 0.95, n_resamples: int = 1000, seed: int | None = None
) -> Sensitivity:
    """First-order and total sensitivity indices of ``response`` with bootstrap CIs.

    * Sobol designs: first order by Saltelli (2010), ``S_i = mean(f(B) (f(AB_i) - f(A))) / V``,
      total by Jansen (1999), ``S_Ti = mean((f(A) - f(AB_i))^2) / (2V)``, V the variance of
      f over A and B; CI by bootstrap over the N base rows (paired across A, B, AB_i).
    * Full factorial designs: the ANOVA decomposition of the design (every factor's
      levels equally likely), ``S_i = Var(E[Y|X_i]) / Var(Y)`` and
      ``S_Ti = E[Var(Y|X_~i)] / Var(Y)``, exact for the grid; CI by bootstrap over
      replications (the same replication indices at every point).
    * Latin hypercube designs (regression-based): ``S_i`` = adjusted R^2 of a
      regression of Y on factor i alone (quadratic in a numeric factor, dummies for
      levels); ``S_Ti`` = adjusted R^2 of the full model (all factors, pairwise
      interactions when there are enough points) minus that of the full model
      without factor i.  Adjusted R^2 removes the chance fit, so an irrelevant
      factor scores about 0 and can score below it.  CI by bootstrap over design points.
    """
    r = RESPONSES[response]
    names = factor_names(ds)
    seed = int(ds.attrs.get("seed", 0)) if seed is None else int(seed)
    design_kind = ds.attrs["design"]
    x = ds[r.variable].values.astype(float)  # (points, replications)
    y = r.reduce(x, axis=-1)
    if design_kind == "sobol":
        block = ds["sobol_block"].values
        col = ds["sobol_column"].values
        row = ds["sobol_row"].values
        n = int(row.max()) + 1
        fa = y[block == "A"][np.argsort(row[block == "A"])]
        fb = y[block == "B"][np.argsort(row[block == "B"])]
        fab = [
            y[(block == "AB") & (col == k)][np.argsort(row[(block == "AB") & (col == k)])] for k in range(len(names))
        ]
        d = len(names)

        def stat(*s: np.ndarray, axis: int = -1) -> np.ndarray:
            # centred on the mean of f over A and B (Saltelli's estimator is not shift-invariant in its variance)
            centre = np.mean(np.concatenate([s[0], s[1]], axis=axis), axis=axis, keepdims=True)
            a, b, abs_ = s[0] - centre, s[1] - centre, [q - centre for q in s[2:]]
            v = np.var(np.concatenate([a, b], axis=axis), axis=axis, ddof=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                first = [np.mean(b * (ab - a), axis=axis) / v for ab in abs_]
                total = [0.5 * np.mean((a - ab) ** 2, axis=axis) / v for ab in abs_]
            return np.stack(first + total)

        data = [fa, fb, *fab]
        point = stat(*[q[None, :] for q in data])[:, 0]
        low, high = bootstrap_ci(data, stat, seed=seed, level=level, n_resamples=n_resamples, paired=True)
        var = float(np.var(np.concatenate([fa, fb]), ddof=1))
        method = (
            f"Saltelli (2010) first order, Jansen (1999) total; N = {n} base rows, {len(y)} points; CI: bootstrap "
            "over base rows"
        )
        idx = [
            SensitivityIndex(
                names[k],
                float(point[k]),
                float(low[k]),
                float(high[k]),
                float(point[d + k]),
                float(low[d + k]),
                float(high[d + k]),
            )
            for k in range(d)
        ]
        return Sensitivity(response, method, idx, var, level)
    codes = [_codes(ds, f) for f in names]
    if design_kind == "full_factorial":
        keys = [np.unique(c, return_inverse=True)[1] for c in codes]
        d = len(names)

        def stat_ff(*s: np.ndarray, axis: int = -1) -> np.ndarray:
            yy = np.stack([r.reduce(q, axis=axis) for q in s], axis=-1)  # (..., points)
            return np.stack(_anova_indices(yy, keys), axis=0)

        data = list(x)
        point = stat_ff(*[q[None, :] for q in data])[:, 0]
        low, high = bootstrap_ci(data, stat_ff, seed=seed, level=level, n_resamples=n_resamples, paired=True)
        method = (
            f"ANOVA decomposition of the full factorial grid ({len(y)} points); CI: bootstrap over replications (same "
            "indices at every point)"
        )
        idx = [
            SensitivityIndex(
                names[k],
                float(point[k]),
                float(low[k]),
                float(high[k]),
                float(point[d + k]),
                float(low[d + k]),
                float(high[d + k]),
            )
            for k in range(d)
        ]
        return Sensitivity(response, method, idx, float(np.var(y)), level)
    # latin hypercube: regression-based
    cats = [ds[f].dtype == object or ds[f].dtype == bool for f in names]
    n_pts = len(y)
    d = len(names)
    bases = [_basis(c, cat) for c, cat in zip(codes, cats, strict=True)]
    p_full = 1 + sum(b.shape[1] for b in bases) + d * (d - 1) // 2
    interactions = n_pts >= 3 * p_full
    pts = np.arange(n_pts, dtype=float)

    def stat_lhs(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        one = np.ndim(idx) == 1
        idx = np.atleast_2d(idx).astype(int)
        out = np.empty((2 * d, idx.shape[0]))
        for j, rows in enumerate(idx):
            out[:, j] = _regression_indices(y[rows], [b[rows] for b in bases], [c[rows] for c in codes], interactions)
        return out[:, 0] if one else out

    point = stat_lhs(pts)
    low, high = bootstrap_ci((pts,), stat_lhs, seed=seed, level=level, n_resamples=n_resamples, method="percentile")
    method = (
        f"regression-based (adjusted R^2; {'with' if interactions else 'without'} pairwise interactions) on {n_pts} "
        "Latin hypercube points; CI: bootstrap over design points"
    )
    idx = [
        SensitivityIndex(
            names[k],
            float(point[k]),
            float(low[k]),
            float(high[k]),
            float(point[d + k]),
            float(low[d + k]),
            float(high[d + k]),
        )
        for k in range(d)
    ]
    return Sensitivity(response, method, idx, float(np.var(y, ddof=1)), level)


def _codes(ds: xr.Dataset, name: str) -> np.ndarray:
    v = ds[name].values
    if v.dtype == object or v.dtype.kind in "USO":  # a text factor (object or fixed-width strings, as read back)
        levels = list(dict.fromkeys(v.tolist()))
        return np.array([levels.index(a) for a in v.tolist()], dtype=float)
    return v.astype(float)


def _anova_indices(y: np.ndarray, keys: list[np.ndarray]) -> list[np.ndarray]:
    """First-order and total indices of a full factorial grid; y is (..., points)."""
    d = len(keys)
    var = np.var(y, axis=-1)
    first, total = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(d):
            # E[Y | X_k]: mean over points sharing level of k
            m = np.zeros_like(y)
            for lvl in np.unique(keys[k]):
                sel = keys[k] == lvl
                m[..., sel] = y[..., sel].mean(axis=-1, keepdims=True)
            first.append(np.var(m, axis=-1) / var)
            # E[Var(Y | X_~k)]: variance within groups of points equal in every other factor
            if d == 1:
                group = np.zeros(y.shape[-1], dtype=int)
            else:
                group = np.unique(np.stack([keys[j] for j in range(d) if j != k], axis=1), axis=0, return_inverse=True)[
                    1
                ].ravel()
            w = np.zeros_like(y)
            for g in np.unique(group):
                sel = group == g
                w[..., sel] = y[..., sel] - y[..., sel].mean(axis=-1, keepdims=True)
            total.append(np.mean(w * w, axis=-1) / var)
    return first + total


def _basis(code: np.ndarray, categorical: bool) -> np.ndarray:
    """Regression columns of one factor: dummies for levels, else standardized linear (+ quadratic)."""
    lv = np.unique(code)
    if categorical or lv.size <= 2:
        if lv.size <= 2 and not categorical:
            z = (code - code.mean()) / (code.std() or 1.0)
            return z[:, None]
        return (
            np.stack([(code == v).astype(float) for v in lv[1:]], axis=1) if lv.size > 1 else np.zeros((code.size, 0))
        )
    z = (code - code.mean()) / (code.std() or 1.0)
    return np.stack([z, z * z - 1.0], axis=1) if lv.size > 2 else z[:, None]


def _adj_r2(y: np.ndarray, cols: list[np.ndarray]) -> float:
    n = y.size
    X = np.column_stack([np.ones(n)] + [c for c in cols if c.size]) if cols else np.ones((n, 1))
    p = np.linalg.matrix_rank(X)
    if n - p < 1:
        return float("nan")
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    rss = float(((y - X @ beta) ** 2).sum())
    tss = float(((y - y.mean()) ** 2).sum())
    if tss == 0:
        return 0.0
    return 1.0 - (rss / (n - p)) / (tss / (n - 1))


def _regression_indices(
    y: np.ndarray, bases: list[np.ndarray], codes: list[np.ndarray], interactions: bool
) -> np.ndarray:
    d = len(bases)
    lin = [(c - c.mean()) / (c.std() or 1.0) for c in codes]

    def model(exclude: int | None) -> list[np.ndarray]:
        cols = [bases[k] for k in range(d) if k != exclude]
        if interactions:
            cols += [(lin[i] * lin[j])[:, None] for i in range(d) for j in range(i + 1, d) if exclude not in (i, j)]
        return cols

    full = _adj_r2(y, model(None))
    first = [_adj_r2(y, [bases[k]]) for k in range(d)]
    total = [full - _adj_r2(y, model(k)) for k in range(d)]
    return np.array(first + total)
