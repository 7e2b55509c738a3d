"""Heterogeneity of relationship value: Stobachoff, whale and Lorenz curves, Gini.

The relationship values of one replication are the value capture of every
customer slot that ever held a customer (NaN marks a slot never filled).
valuecapture measures how unequal they are, following MODEL.md §5:

* **Stobachoff curve** (Storbacka 1997): relationships sorted most valuable
  first; x = cumulative share of relationships, y = cumulative value as a share
  of total value.  It rises above 100% while value-creating relationships are
  added, peaks where the value-destroying tail starts, and falls back to 100%.
  *Value created* is the sum of the positive values, *value destroyed* minus the
  sum of the negative ones, the *peak* is ``created / total`` at the *peak
  position* (share of relationships with positive value), and the *Stobachoff
  index* is ``destroyed / created`` (0: no relationship destroys value).
* **Whale curve** (Kaplan & Cooper 1998): the same cumulative value, most
  valuable first, against the cumulative share of customer *size* (the
  customer's wallet at the start), so it shows how much of the volume sits in
  value-destroying relationships.
* **Lorenz curve**: relationships sorted least valuable first; x = cumulative
  share of relationships, y = cumulative share of total value.  With negative
  values the curve dips below zero.
* **Gini coefficient** of relationship value with the Raffinetti, Siletti &
  Vernizzi (2015) normalisation ``sum_ij |x_i - x_j| / (2 n sum_i |x_i|)``: it
  equals the usual Gini when no value is negative and stays in [0, 1] when some
  are.
* **Top-20% share**: value of the most valuable 20% of relationships (rounded
  up) over total value.

Every function that takes a 2-D array treats rows as replications and columns
as customer slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from valuecapture.run.batch import Reducer


@dataclass(frozen=True)
class StobachoffCurve:
    """The Stobachoff curve of one list of relationship values.

    ``share`` (k/n, k = 0..n) and ``cumulative`` (sum of the k most valuable,
    currency) have n + 1 points; ``curve`` is ``cumulative / total`` (NaN when
    the total is not positive, where a share of total has no meaning).
    """

    share: np.ndarray
    cumulative: np.ndarray
    curve: np.ndarray
    total: float
    value_created: float
    value_destroyed: float
    peak: float  # max of curve (x total)
    peak_position: float  # share of relationships at the peak
    index: float  # destroyed / created

    @property
    def n(self) -> int:
        return int(self.share.size - 1)


def _clean(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[np.isfinite(v)]


def stobachoff_curve(values: np.ndarray) -> StobachoffCurve:
    """The Stobachoff curve of a list of relationship values (NaN entries are ignored).

    >>> c = stobachoff_curve([50, -10, 30, 20, -40])
    >>> c.curve.tolist()
    [0.0, 1.0, 1.6, 2.0, 1.8, 1.0]
    >>> (c.peak, c.peak_position, c.index)
    (2.0, 0.6, 0.5)
    """
    v = np.sort(_clean(values))[::-1]
    n = v.size
    share = np.arange(n + 1) / n if n else np.array([0.0])
    cum = np.concatenate(([0.0], np.cumsum(v)))
    total = float(cum[-1])
    created = float(v[v > 0].sum())
    destroyed = float(-v[v < 0].sum())
    if n and total > 0:
        curve = cum / total
        k = int(np.argmax(curve))
        peak, pos = float(curve[k]), float(share[k])
    else:
        curve = np.full(cum.shape, np.nan)
        peak = pos = float("nan")
    index = destroyed / created if created > 0 else float("nan")
    return StobachoffCurve(share, cum, curve, total, created, destroyed, peak, pos, index)


def whale_curve(values: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative value (share of total), most valuable first, against cumulative share of ``size``.

    ``size`` (e.g. the customer's wallet) must be non-negative and aligned with
    ``values``; entries where either is NaN are dropped.  Returns ``(x, y)`` with
    n + 1 points starting at (0, 0); y is NaN when the total value is not positive.
    """
    v = np.asarray(values, dtype=float).ravel()
    s = np.asarray(size, dtype=float).ravel()
    ok = np.isfinite(v) & np.isfinite(s)
    v, s = v[ok], s[ok]
    order = np.argsort(-v, kind="stable")
    v, s = v[order], s[order]
    cs = np.concatenate(([0.0], np.cumsum(s)))
    cv = np.concatenate(([0.0], np.cumsum(v)))
    x = cs / cs[-1] if cs[-1] > 0 else np.full(cs.shape, np.nan)
    y = cv / cv[-1] if cv[-1] > 0 else np.full(cv.shape, np.nan)
    return x, y


def lorenz_curve(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve: least valuable first, cumulative share of relationships vs of total value.

    Returns ``(x, y)`` with n + 1 points from (0, 0) to (1, 1); y is NaN when the
    total value is not positive.
    """
    v = np.sort(_clean(values))
    n = v.size
    x = np.arange(n + 1) / n if n else np.array([0.0])
    cum = np.concatenate(([0.0], np.cumsum(v)))
    y = cum / cum[-1] if n and cum[-1] > 0 else np.full(cum.shape, np.nan)
    return x, y


def gini(values: np.ndarray) -> float:
    """Gini coefficient, normalised for negative values (Raffinetti et al. 2015); NaN for fewer than 2 values.

    >>> gini([1, 1, 1, 1])
    0.0
    >>> gini([0, 0, 0, 4])
    0.75
    """
    return float(relationship_stats(np.asarray(_clean(values))[None, :])["relationship_value_gini"][0])


def top_share(values: np.ndarray, share: float = 0.2) -> float:
    """Value of the most valuable ``ceil(share n)`` relationships over total value (NaN when the total
    is not positive: a share of a negative total has no meaning, as for :func:`stobachoff_curve`)."""
    v = np.sort(_clean(values))[::-1]
    if v.size == 0 or v.sum() <= 0:
        return float("nan")
    k = max(1, int(np.ceil(share * v.size)))
    return float(v[:k].sum() / v.sum())


# ---------------------------------------------------------------------------
# Per-replication statistics, vectorized over rows
# ---------------------------------------------------------------------------

#: Per-replication statistics of relationship value: name -> (units, description).
RELATIONSHIP_STATS: dict[str, tuple[str, str]] = {
    "relationship_count": ("customers", "Relationships that existed in the replication (slots ever filled)."),
    "relationship_value_mean": ("currency", "Mean value capture per relationship within the replication."),
    "relationship_value_sd": (
        "currency",
        "Standard deviation of relationship value capture within the replication (spread across relationships).",
    ),
    "relationship_value_gini": (
        "index 0-1",
        (
            "Gini coefficient of relationship value within the replication (Raffinetti et al. 2015 normalisation for "
            "negative values; the usual Gini when none is negative)."
        ),
    ),
    "relationship_value_top20": (
        "fraction of total",
        "Value of the most valuable 20% of relationships / total value (NaN when the total is not positive).",
    ),
    "relationship_value_negative_share": (
        "fraction of customers",
        "Share of relationships with negative value capture.",
    ),
}


def relationship_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row statistics of relationship values (rows: replications, NaN: no relationship).

    Returns the arrays named in :data:`RELATIONSHIP_STATS`, one value per row.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[None, :]
    ok = np.isfinite(v)
    n = ok.sum(axis=1)
    z = np.where(ok, v, 0.0)
    total = z.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.where(ok, v - mean[:, None], 0.0)
        sd = np.where(n > 1, np.sqrt((dev * dev).sum(axis=1) / np.maximum(n - 1, 1)), np.nan)
        asc = np.sort(np.where(ok, v, np.inf), axis=1)  # valid values first, ascending
        asc = np.where(np.isfinite(asc), asc, 0.0)
        i = np.arange(1, v.shape[1] + 1)[None, :]
        weights = np.where(i <= n[:, None], 2 * i - n[:, None] - 1, 0)
        pair_sum = (weights * asc).sum(axis=1)  # sum_ij |x_i - x_j| / 2
        abs_total = np.abs(z).sum(axis=1)
        g = np.where((n > 1) & (abs_total > 0), pair_sum / (n * np.where(abs_total > 0, abs_total, 1.0)), np.nan)
        desc = -np.sort(np.where(ok, -v, np.inf), axis=1)
        desc = np.where(np.isfinite(desc), desc, 0.0)
        cum = np.cumsum(desc, axis=1)
        k20 = np.maximum(1, np.ceil(0.2 * n).astype(np.int64)) - 1
        k20 = np.minimum(k20, v.shape[1] - 1)
        top = np.take_along_axis(cum, k20[:, None], axis=1)[:, 0]
        top20 = np.where((n > 0) & (total > 0), top / np.where(total > 0, total, 1.0), np.nan)
        neg = np.where(n > 0, (ok & (v < 0)).sum(axis=1) / np.maximum(n, 1), np.nan)
    return {
        "relationship_count": n.astype(np.int64),
        "relationship_value_mean": mean,
        "relationship_value_sd": sd,
        "relationship_value_gini": g,
        "relationship_value_top20": top20,
        "relationship_value_negative_share": neg,
    }


#: :func:`relationship_stats` as a run computes it in the workers (decompositions, sweeps).
RELATIONSHIP_REDUCER = Reducer(relationship_stats, RELATIONSHIP_STATS)


def relationship_stats_dataset(ds: xr.Dataset) -> xr.Dataset:
    """:func:`relationship_stats` of a result's per-relationship detail, over ``detail_replication``.

    Extra leading dimensions (``policy``, ``configuration``...) are kept.
    """
    rv = ds["relationship_value"]
    other = [d for d in rv.dims if d not in ("detail_replication", "customer")]
    arr = rv.transpose(*other, "detail_replication", "customer").values
    lead = arr.shape[:-1]
    st = relationship_stats(arr.reshape(-1, arr.shape[-1]))
    dims = tuple(other) + ("detail_replication",)
    out = {
        name: xr.Variable(dims, st[name].reshape(lead), {"units": u, "description": d})
        for name, (u, d) in RELATIONSHIP_STATS.items()
    }
    coords = {d: ds[d] for d in dims if d in ds.coords}
    return xr.Dataset(out, coords=coords)


def curve_bands(
    values: np.ndarray, grid: int = 201, size: np.ndarray | None = None, kind: str = "stobachoff"
) -> tuple[np.ndarray, np.ndarray]:
    """Curves of every replication interpolated on a common grid of x in [0, 1].

    ``kind`` is ``"stobachoff"``, ``"lorenz"`` or ``"whale"`` (which needs
    ``size``).  Returns ``(x, curves)`` with ``curves`` shaped (replications, grid);
    a replication whose curve is undefined (total value not positive) is NaN.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[None, :]
    x = np.linspace(0.0, 1.0, grid)
    out = np.full((v.shape[0], grid), np.nan)
    for r in range(v.shape[0]):  # one curve per replication
        if kind == "stobachoff":
            c = stobachoff_curve(v[r])
            cx, cy = c.share, c.curve
        elif kind == "lorenz":
            cx, cy = lorenz_curve(v[r])
        elif kind == "whale":
            if size is None:
                raise ValueError("the whale curve needs customer sizes")
            cx, cy = whale_curve(v[r], np.asarray(size)[r])
        else:
            raise ValueError(f"unknown curve kind {kind!r}; allowed: stobachoff, lorenz, whale")
        if cx.size < 2 or not np.isfinite(cy).all() or not np.isfinite(cx).all():
            continue
        out[r] = np.interp(x, cx, cy)
    return x, out
