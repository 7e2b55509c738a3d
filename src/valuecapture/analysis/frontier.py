"""The segment risk-return frontier of a customer portfolio (Tarasi et al. 2011, after Markowitz 1952).

The customer segments are treated like the assets of a financial portfolio.  From a result's
per-relationship detail (the first ``outputs.relationship_detail`` replications), replication ``r``
and segment ``s`` give the **value per customer** ``v[r, s]``: the sum of the value capture of the
relationships of segment ``s`` divided by the number of customers ever in it.  Across the ``R``
detail replications these estimate the segments' mean vector ``mu`` and covariance matrix ``Sigma``
(``ddof = 1``); shared demand shocks and contagion make the covariances.

A **mix** ``w`` (customer shares of the segments, ``sum(w) = 1``, ``lower <= w <= upper``) has value
per customer ``w' mu`` and variance ``w' Sigma w``.  Today's mix is the realised one: customers ever
in each segment over all detail replications, divided by all customers ever.  The default bounds let
each share move at most ``max_shift`` from today's (clipped to [0, 1]); any segment's bounds can be
set instead.

The **frontier** is, for each target mean ``m`` between the lowest and the highest feasible value
per customer, the smallest standard deviation of any feasible mix with that mean: a quadratic
programme, solved by SLSQP (scipy.optimize) on a scaled problem from a feasible start, or in closed
form with two segments, where the mean fixes the mix: ``w1 = (m - mu2) / (mu1 - mu2)`` and
``sd^2 = w1^2 s1^2 + (1 - w1)^2 s2^2 + 2 w1 (1 - w1) s12``.  Its part above the **minimum-variance
mix** (two segments: ``w1* = (s2^2 - s12) / (s1^2 + s2^2 - 2 s12)``, within the bounds) is the
efficient frontier.  Today's mix is placed against it with the two efficient mixes Tarasi et al.
compare a firm's portfolio with: the least risky at today's mean (**same mean**) and the most
valuable at today's risk (**same risk**).

**Monte Carlo band**: ``resamples`` bootstrap resamples of the detail replications (a fixed seed)
re-estimate ``mu`` and ``Sigma`` and their own efficient frontier.  A point of an efficient frontier
has a *position* from 0 (the minimum-variance mix) to 1 (the most valuable feasible mix); at each
position the band holds the central ``level`` of the resamples' means and standard deviations
there: its upper-left edge (low sd, high mean) is the optimistic frontier, its lower-right edge the
pessimistic one.  (A band at fixed target means would lose the resamples whose feasible means stop
short of a target, at the top of the frontier where it matters.)  Each reported mix's mean and
standard deviation get percentile intervals at its fixed weights.  The mixes on the frontier are
chosen on the same estimates they are judged by, so their advantage over today's mix is optimistic
(Michaud 1989); the band shows how far the sample lets one trust the frontier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import minimize

from valuecapture.analysis.summary import money_scale
from valuecapture.run.load import ResultError
from valuecapture.run.results import CF_CONVENTIONS
from valuecapture.version import __version__

#: Fewer detail replications than this give a frontier the text warns about.
FEW_REPLICATIONS = 30
#: The portfolios reported beside the frontier, in order.
PORTFOLIOS = ("current", "minimum_variance", "same_mean", "same_risk")
_DETAIL = ("detail_replication", "customer")


class FrontierError(ResultError):
    """A result or a setting the frontier cannot use (one line; bad input, exit code 2)."""


@dataclass(frozen=True)
class SegmentValues:
    """Value per customer of each segment in each replication: ``value[r, s]`` and ``customers[r, s]``
    (customers ever in segment ``s`` in replication ``r``), with the segments' ``names``."""

    names: tuple[str, ...]
    value: np.ndarray
    customers: np.ndarray
    currency: str = "currency units"
    source: str = "<values>"
    dropped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        v, c = np.asarray(self.value, dtype=float), np.asarray(self.customers, dtype=float)
        if v.ndim != 2 or v.shape != c.shape or v.shape[1] != len(self.names):
            raise FrontierError(
                f"{self.source}: value and customers must both be (replication, segment) with one column per segment "
                f"({len(self.names)}), got {v.shape} and {c.shape}"
            )
        if not np.isfinite(v).all():
            raise FrontierError(f"{self.source}: the values per customer must be finite numbers")
        if (c < 0).any() or not np.isfinite(c).all():
            raise FrontierError(f"{self.source}: customer counts must be finite and not negative")
        object.__setattr__(self, "value", v)
        object.__setattr__(self, "customers", c)

    @property
    def shares(self) -> np.ndarray:
        """Today's mix: customers ever in each segment over all replications / all customers ever."""
        total = self.customers.sum(axis=0)
        return np.asarray(total / total.sum())


def segment_values(ds: xr.Dataset, select: Mapping[str, str] | None = None, where: str = "<result>") -> SegmentValues:
    """The value per customer of each segment in each detail replication of the result ``ds``.

    ``select``: a label for each further dimension of the detail (``policy`` of a comparison,
    ``design_point`` of a sweep...), matched as text; a dimension of length one needs none.
    Segments without a customer in any detail replication are left out (``dropped``); one that
    is empty in some replications only, or fewer than two segments, is refused (:class:`FrontierError`)."""
    if "relationship_value" not in ds.data_vars or "segment" not in ds.data_vars:
        raise FrontierError(
            f"{where}: has no per-relationship detail (relationship_value, segment); run it again with "
            "outputs.relationship_detail >= 30 (e.g. --set outputs.relationship_detail=200)"
        )
    rv, seg = ds["relationship_value"], ds["segment"]
    chosen = dict(select or {})
    extra = [str(d) for d in rv.dims if d not in _DETAIL]
    for dim in chosen:
        if dim not in extra:
            raise FrontierError(
                f"--at {dim}=...: {where} has no such dimension to choose from"
                + (f" (it has {', '.join(extra)})" if extra else " (it has one result only)")
            )
    for dim in extra:
        labels = [str(x) for x in (ds[dim].values if dim in ds.coords else range(ds.sizes[dim]))]
        if dim not in chosen:
            if len(labels) == 1:
                chosen[dim] = labels[0]
            else:
                raise FrontierError(
                    f"{where}: has several results along {dim} ({', '.join(labels[:8])}"
                    f"{', ...' if len(labels) > 8 else ''}); choose one with --at {dim}=LABEL"
                )
        if chosen[dim] not in labels:
            raise FrontierError(
                f"--at {dim}={chosen[dim]}: not a label of {dim} in {where}; allowed: {', '.join(labels[:20])}"
            )
        i = labels.index(chosen[dim])
        rv, seg = rv.isel({dim: i}), seg.isel({dim: i}) if dim in seg.dims else seg
    values = rv.transpose(*_DETAIL).values.astype(float)
    segments = seg.transpose(*_DETAIL).values
    names = tuple(str(n) for n in ds["segment_name"].values) if "segment_name" in ds.coords else ()
    if values.shape[0] == 0:
        raise FrontierError(
            f"{where}: keeps the detail of no replication; run it again with outputs.relationship_detail >= 30"
        )
    filled = ~np.isnan(values)
    k = len(names) if names else int(segments[filled].max(initial=-1)) + 1
    names = names or tuple(f"segment {i}" for i in range(k))
    onehot = (segments[:, :, None] == np.arange(k)) & filled[:, :, None]
    customers = onehot.sum(axis=1).astype(float)
    totals = np.where(onehot, np.nan_to_num(values)[:, :, None], 0.0).sum(axis=1)
    present = customers.sum(axis=0) > 0
    partly = present & (customers == 0).any(axis=0)
    if partly.any():
        s = int(np.flatnonzero(partly)[0])
        r = int(np.flatnonzero(customers[:, s] == 0)[0])
        raise FrontierError(
            f"{where}: segment {names[s]!r} has no customer in detail replication {r}, so its value per customer "
            "is undefined there; give it more customers (customers.count, customers.segment_weights)"
        )
    kept = np.flatnonzero(present)
    if kept.size < 2:
        raise FrontierError(
            f"{where}: has customers in {'one segment' if kept.size == 1 else 'no segment'}"
            f"{f' ({names[int(kept[0])]})' if kept.size == 1 else ''}; the frontier needs at least two "
            "(customers.segments)"
        )
    currency = ds.attrs.get("currency")
    return SegmentValues(
        names=tuple(names[i] for i in kept),
        value=totals[:, kept] / customers[:, kept],
        customers=customers[:, kept],
        currency=str(currency) if isinstance(currency, str) and currency else "currency units",
        source=where,
        dropped=tuple(names[i] for i in np.flatnonzero(~present)),
    )


def mix_bounds(
    current: np.ndarray,
    names: tuple[str, ...],
    max_shift: float = 0.1,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper share of each segment: today's share ``+- max_shift`` within [0, 1], replaced
    for the segments named in ``bounds`` (``name -> (low, high)``).  Refuses (:class:`FrontierError`)
    an unknown name, a bound outside [0, 1] or above its partner, and bounds no mix can meet."""
    if not 0 <= max_shift <= 1 or not math.isfinite(max_shift):
        raise FrontierError(f"--max-shift {max_shift}: must be a share between 0 and 1")
    cur = np.asarray(current, dtype=float)
    lo, hi = np.clip(cur - max_shift, 0.0, 1.0), np.clip(cur + max_shift, 0.0, 1.0)
    for name, (a, b) in (bounds or {}).items():
        if name not in names:
            raise FrontierError(f"--bounds {name}=...: no segment {name!r}; allowed: {', '.join(names)}")
        if not (0 <= a <= b <= 1):
            raise FrontierError(f"--bounds {name}={a:g}:{b:g}: need 0 <= low <= high <= 1 (customer shares)")
        i = names.index(name)
        lo[i], hi[i] = a, b
    if lo.sum() > 1 + 1e-12 or hi.sum() < 1 - 1e-12:
        raise FrontierError(
            f"the bounds admit no mix: the lower bounds sum to {lo.sum():.4g} and the upper to {hi.sum():.4g}, and "
            "the shares must sum to 1 (widen --max-shift or --bounds)"
        )
    return lo, hi


@dataclass(frozen=True)
class Portfolio:
    """A mix of the segments: its ``weights``, value per customer ``mean`` and standard deviation ``sd``,
    with bootstrap intervals (``mean_ci``, ``sd_ci``) at these weights."""

    weights: np.ndarray
    mean: float
    sd: float
    mean_ci: tuple[float, float] = (math.nan, math.nan)
    sd_ci: tuple[float, float] = (math.nan, math.nan)


@dataclass(frozen=True)
class Frontier:
    """The estimated frontier of a customer portfolio's segments, with its band and portfolios.

    Point ``j`` of the frontier: target mean ``mean[j]``, the smallest standard deviation ``sd[j]``
    of a feasible mix with that mean and the mix ``weights[j]`` that attains it.  ``efficient[j]``:
    on or above the minimum-variance mix, where ``position[j]`` runs from 0 (the minimum-variance
    mix) to 1 (the most valuable feasible mix; NaN below).  The band, on the efficient points: at
    each position, the central ``level`` of the resampled frontiers' means (``band_mean_low``,
    ``band_mean_high``) and standard deviations (``band_sd_low``, ``band_sd_high``) at that position
    of their own efficient frontiers.  ``long_only_*``: the frontier when every share may range
    over [0, 1] (for context).  ``resampled_mean``/``resampled_sd`` (resample, position): each
    resample's efficient frontier at the positions of the efficient points.  ``gain``: the same-risk
    mix's mean minus today's (``"mean"``) and today's sd minus the same-mean mix's (``"sd"``), each
    with the bootstrap interval of the paired difference at fixed weights."""

    names: tuple[str, ...]
    mu: np.ndarray
    cov: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    portfolios: dict[str, Portfolio | None]
    mean: np.ndarray
    sd: np.ndarray
    weights: np.ndarray
    efficient: np.ndarray
    position: np.ndarray
    band_mean_low: np.ndarray
    band_mean_high: np.ndarray
    band_sd_low: np.ndarray
    band_sd_high: np.ndarray
    long_only_mean: np.ndarray
    long_only_sd: np.ndarray
    resampled_mean: np.ndarray
    resampled_sd: np.ndarray
    gain: dict[str, tuple[float, float, float]]
    replications: int
    resamples: int
    seed: int
    level: float
    method: str
    currency: str
    source: str
    dropped: tuple[str, ...] = ()
    max_shift: float | None = None
    unsolved: int = 0


# ---------------------------------------------------------------------------
# The solvers
# ---------------------------------------------------------------------------


def extreme_mix(mu: np.ndarray, lower: np.ndarray, upper: np.ndarray, highest: bool = True) -> np.ndarray:
    """The feasible mix of highest (or lowest) mean: every share at its lower bound, the rest of the
    customers given to the segments in order of mean value up to their upper bounds (exact)."""
    w = np.array(lower, dtype=float)
    left = 1.0 - w.sum()
    for k in np.argsort(-mu if highest else mu, kind="stable"):
        add = min(upper[k] - w[k], max(left, 0.0))
        w[k] += add
        left -= add
    return w


class _Scaled:
    """The quadratic programme on a unit scale: variance over its largest diagonal entry, mean
    centred and divided by its range, so SLSQP's tolerances mean the same whatever the currency."""

    def __init__(self, mu: np.ndarray, cov: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        self.k = len(mu)
        self.c = float(np.mean(mu))
        self.d = max(float(np.ptp(mu)), 1e-300)
        self.mu = (mu - self.c) / self.d
        self.cov = cov / max(float(np.max(np.diag(cov))), 1e-300)
        self.lower, self.upper = lower, upper
        self.bounds = list(zip(lower.tolist(), upper.tolist(), strict=True))

    def _var(self, w: np.ndarray) -> float:
        return float(w @ self.cov @ w)

    def solve(self, start: np.ndarray, target: float | None) -> np.ndarray | None:
        """The least-variance mix (of mean ``target`` if given) from the feasible ``start``; None if
        SLSQP ends off the constraints."""
        ones = np.ones(self.k)
        cons: list[dict[str, object]] = [{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: ones}]
        t = None if target is None else (target - self.c) / self.d
        if t is not None:
            cons.append({"type": "eq", "fun": lambda w: w @ self.mu - t, "jac": lambda w: self.mu})
        res = minimize(
            self._var,
            start,
            jac=lambda w: 2.0 * self.cov @ w,
            method="SLSQP",
            bounds=self.bounds,
            constraints=cons,
            options={"ftol": 1e-15, "maxiter": 500},
        )
        w = np.clip(res.x, self.lower, self.upper)
        if abs(w.sum() - 1.0) > 1e-8 or (t is not None and abs(w @ self.mu - t) > 1e-7):
            return None
        return start if self._var(w) > self._var(start) else w  # never worse than the feasible start


def _two_interval(lower: np.ndarray, upper: np.ndarray) -> tuple[float, float]:
    """The feasible range of the first share of a two-segment mix."""
    return max(float(lower[0]), 1.0 - float(upper[1])), min(float(upper[0]), 1.0 - float(lower[1]))


def _two_min_variance(mu: np.ndarray, cov: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """First shares of the two-segment minimum-variance mixes, for ``mu (..., 2)`` and ``cov (..., 2, 2)``:
    ``(s2^2 - s12) / (s1^2 + s2^2 - 2 s12)`` within the bounds (where the variance does not depend on the
    mix, the mix of higher mean)."""
    a, b = _two_interval(lower, upper)
    s1, s2, s12 = cov[..., 0, 0], cov[..., 1, 1], cov[..., 0, 1]
    den = s1 + s2 - 2 * s12
    flat = den <= 1e-14 * np.maximum(s1 + s2, 1e-300)
    w = np.where(flat, np.where(mu[..., 0] >= mu[..., 1], b, a), (s2 - s12) / np.where(flat, 1.0, den))
    return np.asarray(np.clip(w, a, b))


def _two_at(mu: np.ndarray, lower: np.ndarray, upper: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """First shares of the two-segment mixes with mean ``targets`` (``mu (..., 2)``, targets broadcast
    against ``(..., n)``), NaN where a target is out of reach: the mean fixes the mix,
    ``(m - mu2) / (mu1 - mu2)`` (equal means: NaN; :func:`frontier` refuses them)."""
    a, b = _two_interval(lower, upper)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (targets - mu[..., 1][..., None]) / (mu[..., 0] - mu[..., 1])[..., None]
    tol = 1e-9 * max(b - a, 1e-12)
    return np.asarray(np.where((w >= a - tol) & (w <= b + tol), np.clip(w, a, b), np.nan))


def _sd(w: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Standard deviations ``sqrt(w' cov w)`` over the last axis (a tiny negative rounding clipped to 0)."""
    return np.asarray(np.sqrt(np.maximum(np.einsum("...i,...ij,...j->...", w, cov, w), 0.0)))


def _two(w1: np.ndarray) -> np.ndarray:
    return np.stack([w1, 1.0 - w1], axis=-1)


class _Solver:
    """Least-variance mixes of one (mu, cov) under fixed bounds: closed form with two segments, SLSQP otherwise."""

    def __init__(self, mu: np.ndarray, cov: np.ndarray, lower: np.ndarray, upper: np.ndarray, closed: bool) -> None:
        self.mu, self.cov, self.lower, self.upper, self.closed = mu, cov, lower, upper, closed
        self.w_lo = extreme_mix(mu, lower, upper, highest=False)
        self.w_hi = extreme_mix(mu, lower, upper, highest=True)
        self.m_lo, self.m_hi = float(self.w_lo @ mu), float(self.w_hi @ mu)
        self.qp = None if closed else _Scaled(mu, cov, lower, upper)
        self.unsolved = 0

    def min_variance(self) -> np.ndarray:
        if self.qp is None:
            return _two(_two_min_variance(self.mu, self.cov, self.lower, self.upper))
        start = (self.w_lo + self.w_hi) / 2
        w = self.qp.solve(start, None)
        self.unsolved += w is None
        return start if w is None else w

    def at(self, target: float) -> np.ndarray | None:
        """The least-variance mix of mean ``target``; None if out of reach (or, rarely, unsolved)."""
        span = self.m_hi - self.m_lo
        tol = 1e-9 * max(span, abs(self.m_hi), 1e-300)
        if not self.m_lo - tol <= target <= self.m_hi + tol:
            return None
        target = min(max(target, self.m_lo), self.m_hi)
        if self.qp is None:
            w1 = _two_at(self.mu, self.lower, self.upper, np.array([target]))[0]
            return None if np.isnan(w1) else _two(w1)
        t = 0.0 if span <= 0 else (target - self.m_lo) / span
        start = (1 - t) * self.w_lo + t * self.w_hi  # feasible: this mix of the two extremes has mean target
        w = self.qp.solve(start, target)
        self.unsolved += w is None
        return w

    def curve(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standard deviations and mixes of the frontier at ``targets`` (NaN where out of reach)."""
        if self.qp is None:
            w1 = _two_at(self.mu, self.lower, self.upper, targets)
            ws = _two(w1)
        else:
            ws = np.full((len(targets), len(self.mu)), np.nan)
            for j, t in enumerate(targets):
                if (w := self.at(float(t))) is not None:
                    ws[j] = w
        return np.where(np.isnan(ws[:, 0]), np.nan, _sd(np.nan_to_num(ws), self.cov)), ws

    def efficient_targets(self, mv: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Target means at ``positions`` (0 to 1) from the minimum-variance mix ``mv`` to the most valuable mix."""
        m_mv = float(mv @ self.mu)
        return np.asarray(m_mv + positions * (self.m_hi - m_mv))


def least_variance_mix(
    mu: np.ndarray,
    cov: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    target: float | None = None,
    method: str = "auto",
) -> np.ndarray | None:
    """The feasible mix (``sum(w) = 1``, ``lower <= w <= upper``) of least variance ``w' cov w``, with
    mean ``w' mu = target`` if given (None if no feasible mix has that mean).  ``method``: ``auto``
    (closed form with two segments, else SLSQP), ``closed`` or ``slsqp``."""
    mu, cov = np.asarray(mu, dtype=float), np.asarray(cov, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    solver = _Solver(mu, cov, lo, hi, _method(method, len(mu)) == "closed")
    return solver.min_variance() if target is None else solver.at(float(target))


def _method(method: str, k: int) -> str:
    if method not in ("auto", "closed", "slsqp"):
        raise FrontierError(f"method {method!r}: allowed: auto, closed, slsqp")
    if method == "closed" and k != 2:
        raise FrontierError(f"method 'closed': only for two segments, got {k}")
    return "closed" if method == "auto" and k == 2 else ("slsqp" if method == "auto" else method)


def _same_risk(solver: _Solver, sd_limit: float, mv: np.ndarray) -> np.ndarray | None:
    """The feasible mix of highest mean whose sd is at most ``sd_limit``: on the efficient frontier,
    found by bisection on the target mean (the frontier's sd rises with the mean above ``mv``)."""
    if float(_sd(mv, solver.cov)) > sd_limit * (1 + 1e-9):
        return None

    def within(w: np.ndarray | None) -> bool:
        return w is not None and float(_sd(w, solver.cov)) <= sd_limit * (1 + 1e-12)

    top = solver.at(solver.m_hi)
    if top is not None and within(top):
        return top
    lo, hi, best = float(mv @ solver.mu), solver.m_hi, mv
    while hi - lo > 1e-12 * max(abs(hi), abs(lo), solver.m_hi - solver.m_lo):
        mid = (lo + hi) / 2
        w = solver.at(mid)
        if w is not None and within(w):
            lo, best = mid, w
        else:
            hi = mid
    return best


def _interval(x: np.ndarray, level: float) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    q = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
    return float(q[0]), float(q[1])


def _intervals(x: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` intervals of each column of ``x`` (NaN entries left out)."""
    if np.isfinite(x).all():
        q = np.quantile(x, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return q[0], q[1]
    pairs = [_interval(col, level) for col in x.T]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _resampled(
    v: np.ndarray, lo: np.ndarray, hi: np.ndarray, closed: bool, positions: np.ndarray, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Bootstrap: ``mu_b``, ``cov_b`` of each resample of the replications, and the means and sds of
    each resample's efficient frontier at ``positions``; the count of unsolved programmes."""
    r = v.shape[0]
    idx = np.random.default_rng(seed).integers(0, r, size=(resamples, r))
    boot = v[idx]  # (B, R, K)
    mu_b = boot.mean(axis=1)
    dev = boot - mu_b[:, None, :]
    cov_b = np.einsum("bri,brj->bij", dev, dev) / (r - 1)
    n = len(positions)
    if closed:
        a, b = _two_interval(lo, hi)
        mv = _two(_two_min_variance(mu_b, cov_b, lo, hi))  # (B, 2)
        m_mv = np.einsum("bi,bi->b", mv, mu_b)
        m_hi = np.maximum(mu_b @ np.array([a, 1 - a]), mu_b @ np.array([b, 1 - b]))
        means = m_mv[:, None] + positions * (m_hi - m_mv)[:, None]
        w = _two(np.nan_to_num(_two_at(mu_b, lo, hi, means)))
        return mu_b, cov_b, means, _sd(w, cov_b[:, None, :, :]), 0
    means, sds, unsolved = np.full((resamples, n), np.nan), np.full((resamples, n), np.nan), 0
    for i in range(resamples):
        s = _Solver(mu_b[i], cov_b[i], lo, hi, False)
        means[i] = s.efficient_targets(s.min_variance(), positions)
        sds[i] = s.curve(means[i])[0]
        unsolved += s.unsolved
    return mu_b, cov_b, means, sds, unsolved


def frontier(
    values: SegmentValues,
    *,
    current: np.ndarray | None = None,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    max_shift: float = 0.1,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    points: int = 41,
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    method: str = "auto",
) -> Frontier:
    """The mean-variance frontier of the segments in ``values`` (module docstring).

    ``current``: today's mix (default: the realised shares, :attr:`SegmentValues.shares`);
    ``lower``/``upper``: the share bounds (default :func:`mix_bounds` with ``max_shift`` and
    ``bounds``); ``points``: points on the efficient frontier (half as many below it);
    ``resamples``: bootstrap resamples of the replications for the band (0: none), drawn from
    ``numpy.random.default_rng(seed)``; ``method``: ``auto`` (closed form with two segments, else
    SLSQP), ``closed`` or ``slsqp``."""
    names, k = values.names, len(values.names)
    r = values.value.shape[0]
    if r < k + 1:
        raise FrontierError(
            f"{values.source}: {r} detail replication{'s' if r != 1 else ''} cannot estimate a {k} x {k} covariance; "
            f"need at least {k + 1} (outputs.relationship_detail; {FEW_REPLICATIONS} or more for a useful frontier)"
        )
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise FrontierError(f"--points {points}: must be a whole number of at least 2")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0:
        raise FrontierError(f"--resamples {resamples}: must be a whole number, 0 or more")
    if not 0 < level < 1:
        raise FrontierError(f"level {level}: must be between 0 and 1")
    closed = _method(method, k) == "closed"
    cur = values.shares if current is None else np.asarray(current, dtype=float)
    if cur.shape != (k,) or not np.isfinite(cur).all() or (cur < 0).any() or abs(cur.sum() - 1) > 1e-9:
        raise FrontierError(f"current mix {cur.tolist()}: must be {k} shares, none negative, summing to 1")
    shifted = (lower is None or upper is None) and len(bounds or {}) < k
    if lower is None or upper is None:
        lo_d, hi_d = mix_bounds(cur, names, max_shift, bounds)
        lower = lo_d if lower is None else lower
        upper = hi_d if upper is None else upper
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if lo.shape != (k,) or hi.shape != (k,) or (lo < 0).any() or (hi > 1).any() or (lo > hi).any():
        raise FrontierError(f"bounds {lo.tolist()} / {hi.tolist()}: need 0 <= lower <= upper <= 1 for {k} segments")
    if lo.sum() > 1 + 1e-12 or hi.sum() < 1 - 1e-12:
        raise FrontierError(f"the bounds admit no mix (lower sum {lo.sum():.4g}, upper sum {hi.sum():.4g})")

    v = values.value
    mu, cov = v.mean(axis=0), np.atleast_2d(np.cov(v, rowvar=False, ddof=1))
    if np.ptp(mu) <= 1e-12 * max(float(np.abs(mu).max()), 1e-300):
        raise FrontierError(
            f"{values.source}: every segment has the same mean value per customer; the frontier is a single point"
        )
    solver = _Solver(mu, cov, lo, hi, closed)
    mv = solver.min_variance()
    m_mv = float(mv @ mu)
    positions = np.linspace(0.0, 1.0, points)
    below = np.linspace(solver.m_lo, m_mv, max(points // 2, 2))[:-1] if m_mv > solver.m_lo else np.empty(0)
    means = np.concatenate([below, solver.efficient_targets(mv, positions)])
    sd, ws = solver.curve(means)
    efficient = np.arange(len(means)) >= len(below)
    position = np.concatenate([np.full(len(below), np.nan), positions])

    cur_sd = float(_sd(cur, cov))
    mixes: dict[str, np.ndarray | None] = {
        "current": cur,
        "minimum_variance": mv,
        "same_mean": solver.at(float(cur @ mu)),
        "same_risk": _same_risk(solver, cur_sd, mv),
    }

    band = {n: np.full(len(means), np.nan) for n in ("mean_low", "mean_high", "sd_low", "sd_high")}
    unsolved = solver.unsolved
    m_b = s_b = np.empty((0, points))
    if resamples:
        mu_b, cov_b, m_b, s_b, failed = _resampled(v, lo, hi, closed, positions, resamples, seed)
        unsolved += failed
        cols = np.flatnonzero(efficient)
        band["mean_low"][cols], band["mean_high"][cols] = _intervals(m_b, level)
        band["sd_low"][cols], band["sd_high"][cols] = _intervals(s_b, level)

    def portfolio(w: np.ndarray | None) -> Portfolio | None:
        if w is None:
            return None
        if not resamples:
            return Portfolio(w, float(w @ mu), float(_sd(w, cov)))
        mb, sb = mu_b @ w, _sd(np.broadcast_to(w, mu_b.shape), cov_b)
        return Portfolio(w, float(w @ mu), float(_sd(w, cov)), _interval(mb, level), _interval(sb, level))

    ports = {name: portfolio(w) for name, w in mixes.items()}
    gain: dict[str, tuple[float, float, float]] = {}
    if (p := ports["same_risk"]) is not None:
        diff = mu_b @ (p.weights - cur) if resamples else np.empty(0)
        gain["mean"] = (p.mean - float(cur @ mu), *_interval(diff, level))
    if (p := ports["same_mean"]) is not None:
        diff = (
            _sd(np.broadcast_to(cur, mu_b.shape), cov_b) - _sd(np.broadcast_to(p.weights, mu_b.shape), cov_b)
            if resamples
            else np.empty(0)
        )
        gain["sd"] = (cur_sd - p.sd, *_interval(diff, level))

    full = _Solver(mu, cov, np.zeros(k), np.ones(k), closed)
    lo_means = np.linspace(full.m_lo, full.m_hi, max(points, 61))
    lo_sd, _ = full.curve(lo_means)
    return Frontier(
        names=names,
        mu=mu,
        cov=cov,
        lower=lo,
        upper=hi,
        portfolios=ports,
        mean=means,
        sd=sd,
        weights=ws,
        efficient=efficient,
        position=position,
        band_mean_low=band["mean_low"],
        band_mean_high=band["mean_high"],
        band_sd_low=band["sd_low"],
        band_sd_high=band["sd_high"],
        long_only_mean=lo_means,
        long_only_sd=lo_sd,
        resampled_mean=m_b,
        resampled_sd=s_b,
        gain=gain,
        replications=r,
        resamples=resamples,
        seed=int(seed),
        level=level,
        method="closed form (two segments)" if closed else "SLSQP (scipy.optimize)",
        currency=values.currency,
        source=values.source,
        dropped=values.dropped,
        max_shift=max_shift if shifted else None,
        unsolved=unsolved + full.unsolved,
    )


def frontier_of(
    ds: xr.Dataset,
    *,
    select: Mapping[str, str] | None = None,
    where: str = "<result>",
    max_shift: float = 0.1,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    points: int = 41,
    resamples: int = 200,
    seed: int | None = None,
    level: float = 0.95,
    method: str = "auto",
) -> Frontier:
    """:func:`frontier` of a result's detail replications (:func:`segment_values`) around today's
    realised mix; the bootstrap seed defaults to the result's own ``seed`` attribute, so a result
    always gives the same band."""
    values = segment_values(ds, select, where)
    return frontier(
        values,
        max_shift=max_shift,
        bounds=bounds,
        points=points,
        resamples=resamples,
        seed=int(ds.attrs.get("seed", 0)) if seed is None else int(seed),
        level=level,
        method=method,
    )


# ---------------------------------------------------------------------------
# Text and Dataset
# ---------------------------------------------------------------------------


def _money(v: float, div: float, suf: str) -> str:
    return "nan" if not math.isfinite(v) else f"{v / div:,.2f}{suf}" if suf else f"{v:,.0f}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


LABELS = {
    "current": "today's mix",
    "minimum_variance": "minimum variance",
    "same_mean": "same mean, least risk",
    "same_risk": "same risk, most value",
}


def money_unit(f: Frontier) -> tuple[float, str, str]:
    """Divisor, suffix and unit text (``k scenario currency units per customer``) for the frontier's numbers."""
    div, suf = money_scale(np.concatenate([np.abs(f.mu), np.sqrt(np.diag(f.cov))]))
    return div, suf, f"{suf + ' ' if suf else ''}{f.currency} per customer"


def on_frontier(f: Frontier) -> bool:
    """Whether today's mix is (numerically) on the efficient frontier: neither efficient mix beside it
    gains more than a millionth of today's sd."""
    tol = 1e-6 * max(f.portfolios["current"].sd if f.portfolios["current"] else 0.0, 1e-300)
    return all(abs(f.gain.get(k, (math.inf,))[0]) <= tol for k in ("mean", "sd"))


def frontier_text(f: Frontier, rows: int = 9) -> str:
    """The printed tables: segments (mean, sd, shares and bounds, the reported mixes), the portfolios
    with their bootstrap intervals, and ``rows`` points of the efficient frontier with its band."""
    div, suf, unit = money_unit(f)
    pct = f"{f.level:.0%}"

    def m(x: float) -> str:
        return _money(x, div, suf)

    out = [
        f"Segment risk-return frontier (Tarasi et al. 2011) of {f.source}",
        f"value per customer in {unit}; the sample: {f.replications} detail replications "
        f"(outputs.relationship_detail); band: {f.resamples} bootstrap resamples (seed {f.seed}); {f.method}",
    ]
    if f.replications < FEW_REPLICATIONS:
        out.append(
            f"warning: only {f.replications} detail replications; the covariances are rough (raise "
            "outputs.relationship_detail)"
        )
    if f.unsolved:
        out.append(f"warning: SLSQP did not converge in {f.unsolved} programmes (their points are left out)")
    if f.dropped:
        out.append(f"left out (no customers in any detail replication): {', '.join(f.dropped)}")
    out.append("")
    width = max(8, *(len(n) for n in f.names))
    cols = ("today", "bounds", "min-var", "same-mu", "same-sd")
    head = f"{'segment':<{width}}  {'mean':>9}  {'sd':>9}  " + "  ".join(
        f"{h:>{13 if h == 'bounds' else 7}}" for h in cols
    )
    out += [head, "-" * len(head)]
    sds = np.sqrt(np.diag(f.cov))
    for i, n in enumerate(f.names):
        cells = [f.portfolios[key] for key in PORTFOLIOS]
        share = [_pct(p.weights[i]) if p is not None else "-" for p in cells]
        bounds = f"{_pct(f.lower[i])}-{_pct(f.upper[i])}"
        out.append(
            f"{n:<{width}}  {m(f.mu[i]):>9}  {m(sds[i]):>9}  {share[0]:>7}  {bounds:>13}  "
            + "  ".join(f"{s:>7}" for s in share[1:])
        )
    if (sds > 0).all():
        corr = f.cov / np.outer(sds, sds)
        k = len(f.names)
        pairs = [f"{f.names[i]}/{f.names[j]} {corr[i, j]:+.2f}" for i in range(k) for j in range(i + 1, k)]
        out.append("correlations: " + ", ".join(pairs[:10]) + (" ..." if len(pairs) > 10 else ""))
    out += ["", f"{'portfolio':<22}  {'mean':>9}  {pct + ' interval':>21}  {'sd':>9}  {pct + ' interval':>21}"]
    for key in PORTFOLIOS:
        p = f.portfolios[key]
        if p is None:
            out.append(f"{LABELS[key]:<22}  (out of reach within the bounds)")
            continue
        mi, si = f"{m(p.mean_ci[0])} to {m(p.mean_ci[1])}", f"{m(p.sd_ci[0])} to {m(p.sd_ci[1])}"
        out.append(f"{LABELS[key]:<22}  {m(p.mean):>9}  {mi:>21}  {m(p.sd):>9}  {si:>21}")
    if on_frontier(f):
        out.append("today's mix is efficient: no mix within the bounds has more value at its risk or less risk")
    else:
        if "mean" in f.gain:
            g = f.gain["mean"]
            out.append(
                f"at today's risk the frontier adds {m(g[0])} per customer ({pct} interval {m(g[1])} to {m(g[2])})"
            )
        if "sd" in f.gain:
            g = f.gain["sd"]
            out.append(f"at today's mean it removes {m(g[0])} of sd ({pct} interval {m(g[1])} to {m(g[2])})")
    out.append("(intervals at fixed weights; mixes chosen on the estimates they are judged by are optimistic)")
    eff = np.flatnonzero(f.efficient)
    pick = eff[np.unique(np.linspace(0, len(eff) - 1, min(rows, len(eff))).round().astype(int))]
    wn = [max(len(n), 6) for n in f.names]
    head = f"{'position':>8}  {'mean':>9}  {pct + ' band':>21}  {'sd':>9}  {pct + ' band':>21}  " + "  ".join(
        f"{n:>{w}}" for n, w in zip(f.names, wn, strict=True)
    )
    out += ["", "efficient frontier (position 0: minimum variance, 1: most valuable mix)", head, "-" * len(head)]
    for j in pick:
        mb = f"{m(f.band_mean_low[j])} to {m(f.band_mean_high[j])}" if f.resamples else "-"
        sb = f"{m(f.band_sd_low[j])} to {m(f.band_sd_high[j])}" if f.resamples else "-"
        out.append(
            f"{f.position[j]:>8.2f}  {m(f.mean[j]):>9}  {mb:>21}  {m(f.sd[j]):>9}  {sb:>21}  "
            + "  ".join(f"{_pct(x):>{w}}" for x, w in zip(f.weights[j], wn, strict=True))
        )
    return "\n".join(out)


def frontier_dataset(f: Frontier) -> xr.Dataset:
    """The frontier as a small Dataset with CF attributes (``units``: money as ``currency``, per customer
    in the long name, ``long_name``): dimensions
    ``point`` (along the frontier), ``segment`` (and ``segment_j`` for the covariance), ``portfolio``
    and ``long_only_point``."""
    unit = "currency"  # the placeholder write_netcdf turns into the result's ISO code (docs/results.md)
    k = len(f.names)
    pw = np.full((len(PORTFOLIOS), k), np.nan)
    stats = {n: np.full(len(PORTFOLIOS), np.nan) for n in ("mean", "sd", "mean_lo", "mean_hi", "sd_lo", "sd_hi")}
    for i, key in enumerate(PORTFOLIOS):
        p = f.portfolios[key]
        if p is not None:
            pw[i] = p.weights
            for n, val in zip(stats, (p.mean, p.sd, *p.mean_ci, *p.sd_ci), strict=True):
                stats[n][i] = val
    pct = f"{f.level:.0%}"

    def var(dims: tuple[str, ...], data: np.ndarray, units: str, long_name: str) -> xr.Variable:
        return xr.Variable(dims, np.asarray(data), {"units": units, "long_name": long_name})

    band = "on the efficient points: at the same position of the resamples' own efficient frontiers"
    data = {
        "frontier_mean": var(("point",), f.mean, unit, "Target mean value per customer of the mix"),
        "frontier_sd": var(
            ("point",), f.sd, unit, "Smallest standard deviation of value per customer of a feasible mix with that mean"
        ),
        "frontier_weight": var(("point", "segment"), f.weights, "1", "Customer share of the segment in that mix"),
        "efficient": var(("point",), f.efficient.astype(np.int8), "1", "1: on or above the minimum-variance mix"),
        "position": var(
            ("point",), f.position, "1", "Position on the efficient frontier: 0 minimum variance, 1 most valuable mix"
        ),
        "band_mean_low": var(
            ("point",), f.band_mean_low, unit, f"Lower end of the {pct} bootstrap band of the mean, {band}"
        ),
        "band_mean_high": var(
            ("point",), f.band_mean_high, unit, f"Upper end of the {pct} bootstrap band of the mean, {band}"
        ),
        "band_sd_low": var(("point",), f.band_sd_low, unit, f"Lower end of the {pct} bootstrap band of the sd, {band}"),
        "band_sd_high": var(
            ("point",), f.band_sd_high, unit, f"Upper end of the {pct} bootstrap band of the sd, {band}"
        ),
        "segment_mean": var(("segment",), f.mu, unit, "Mean value per customer of the segment over the replications"),
        "segment_covariance": var(
            ("segment", "segment_j"),
            f.cov,
            "currency^2",
            "Covariance of the segments' values per customer across replications",
        ),
        "lower_bound": var(("segment",), f.lower, "1", "Lowest customer share of the segment a mix may have"),
        "upper_bound": var(("segment",), f.upper, "1", "Highest customer share of the segment a mix may have"),
        "portfolio_weight": var(("portfolio", "segment"), pw, "1", "Customer share of the segment in the portfolio"),
        "portfolio_mean": var(("portfolio",), stats["mean"], unit, "Value per customer of the portfolio"),
        "portfolio_sd": var(
            ("portfolio",), stats["sd"], unit, "Standard deviation of the portfolio's value per customer"
        ),
        "portfolio_mean_low": var(("portfolio",), stats["mean_lo"], unit, f"Lower end of the mean's {pct} interval"),
        "portfolio_mean_high": var(("portfolio",), stats["mean_hi"], unit, f"Upper end of the mean's {pct} interval"),
        "portfolio_sd_low": var(("portfolio",), stats["sd_lo"], unit, f"Lower end of the sd's {pct} interval"),
        "portfolio_sd_high": var(("portfolio",), stats["sd_hi"], unit, f"Upper end of the sd's {pct} interval"),
        "long_only_mean": var(("long_only_point",), f.long_only_mean, unit, "Target mean with every share in 0 to 1"),
        "long_only_sd": var(("long_only_point",), f.long_only_sd, unit, "Frontier sd with every share in 0 to 1"),
        "resampled_mean": var(
            ("resample", "efficient_point"), f.resampled_mean, unit, "Mean of each resample's efficient frontier"
        ),
        "resampled_sd": var(
            ("resample", "efficient_point"), f.resampled_sd, unit, "Sd of each resample's efficient frontier"
        ),
    }
    coords = {
        "segment": ("segment", np.array(f.names, dtype=object), {"long_name": "Customer segment"}),
        "segment_j": ("segment_j", np.array(f.names, dtype=object), {"long_name": "Customer segment (covariance)"}),
        "portfolio": ("portfolio", np.array(PORTFOLIOS, dtype=object), {"long_name": "Reported mix"}),
        "efficient_point": (
            "efficient_point",
            f.position[f.efficient],
            {"units": "1", "long_name": "Position on the efficient frontier: 0 minimum variance, 1 most valuable mix"},
        ),
    }
    attrs = {
        "title": f"Segment risk-return frontier of {f.source}",
        "Conventions": CF_CONVENTIONS,
        "source": f.source,
        "references": "Tarasi, Bolton, Hutt & Walker 2011, Journal of Marketing 75(3); Markowitz 1952",
        "currency": f.currency,
        "detail_replications": int(f.replications),
        "bootstrap_resamples": int(f.resamples),
        "bootstrap_seed": int(f.seed),
        "level": float(f.level),
        "method": f.method,
        "unsolved_programmes": int(f.unsolved),
        "dropped_segments": ", ".join(f.dropped),
        "max_shift": "" if f.max_shift is None else float(f.max_shift),
        "valuecapture_version": __version__,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)
