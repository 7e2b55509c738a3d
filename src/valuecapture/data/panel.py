"""Demand dynamics and growth from a revenue panel, matched to the engine's demand model.

The engine (docs/model.md §3, ``demand.py``) gives customer ``j`` in segment ``s`` the log demand
shock ``x_jt = M_t + S_st + E_jt``: three AR(1) levels with one per-period persistence ``phi``
and innovation variances ``sigma^2 rho_across``, ``sigma^2 (rho_within - rho_across)`` and
``sigma^2 (1 - rho_within)`` (``sigma = volatility sqrt(dt)``), and a customer-specific growth
``log(1 + g_j)`` a year.  Log revenue is taken to follow log demand (share of wallet and price
held constant: their fluctuations are counted as demand), so a customer's log revenue growth
over one step of the panel (``m`` periods: ``m = 1`` for a panel by period, ``m =
periods_per_year`` for one by year) is

    d_jt = m dt log(1 + g_j) + a_jt - a_j,t-1,       a_jt = mean of x over the step's m periods

(the log of a sum of ``m`` periods' revenue is, to first order, the log of ``m`` plus the mean
of their log shocks: temporal aggregation).  With ``g_j`` varying across customers with
variance ``v_g`` (per step) and independent of the shocks, the pooled autocovariances of
``d`` within a customer are

    C_k = v_g + sigma^2 gamma_k(phi, m)      k = 0, 1, 2,

``gamma_k`` the lag-k autocovariance of the differenced aggregated AR(1) with unit innovation
variance.  The ratio ``(C1 - C2) / (C0 - C1)`` depends on ``phi`` alone (it rises from -1/3 at
``phi = 0`` toward 1 - it is solved for ``phi`` by root finding), then ``sigma^2 = (C0 - C1) /
(gamma_0 - gamma_1)`` and ``v_g = C0 - sigma^2 gamma_0``: a method-of-moments estimator that
needs no distributional assumption beyond the model's.  The random growth rates make the
usual within-customer AR(1) regression inconsistent in short panels (Nickell 1981,
Econometrica 49(6)); differencing and the lag-2 moment avoid that.

The one-factor structure comes from moments across customers at the same time: the covariance
of two customers' growth in the same segment is ``rho_within gamma_0 sigma^2``, in different
segments ``rho_across gamma_0 sigma^2`` (the three levels share ``phi``, so the correlation of
their aggregated differences equals that of the shocks).  Standard errors are a bootstrap over
customers (their whole histories resampled); it treats the observed years' common shocks as
given, so with few years the intervals of ``rho_within`` and ``rho_across`` are too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

#: Largest persistence written (the scenario allows [0, 1)).
MAX_PERSISTENCE = 0.99

#: Bootstrap resamples over customers for the standard errors.
BOOTSTRAP = 200


def aggregated_moments(phi: float, m: int) -> tuple[float, float, float]:
    """``gamma_0, gamma_1, gamma_2``: autocovariances of the step-to-step differences of the mean of
    ``m`` consecutive values of an AR(1) with persistence ``phi`` and unit innovation variance."""
    i = np.arange(m)
    lag = i[None, :] - i[:, None]
    scale = 1.0 / (1.0 - phi * phi)
    a = [float(np.mean(np.power(phi, np.abs(m * k + lag)))) * scale for k in range(4)]
    return 2.0 * (a[0] - a[1]), 2.0 * a[1] - a[0] - a[2], 2.0 * a[2] - a[1] - a[3]


def level_autocovariance(phi: float, m: int, k: int) -> float:
    """Lag-``k`` autocovariance of the mean of ``m`` consecutive values of an AR(1) with persistence
    ``phi`` and unit innovation variance (steps of ``m`` periods)."""
    i = np.arange(m)
    lag = i[None, :] - i[:, None]
    return float(np.mean(np.power(phi, np.abs(m * k + lag)))) / (1.0 - phi * phi)


def mean_growth_noise(fit: DemandFit, steps: np.ndarray, m: int, dt: float) -> np.ndarray:
    """Variance of a customer's mean annual log growth over ``steps`` observed steps that comes from
    its own demand shocks (not from its growth rate): ``2 (A_0 - A_T) sigma_e^2 / (T m dt)^2``."""
    sigma2_e = fit.volatility**2 * dt * (1.0 - fit.rho_within)
    t = np.maximum(np.asarray(steps, dtype=np.int64), 1)
    a0 = level_autocovariance(fit.persistence, m, 0)
    at = np.array([level_autocovariance(fit.persistence, m, int(k)) for k in np.unique(t)])
    lookup = dict(zip(np.unique(t).tolist(), at.tolist(), strict=True))
    a_t = np.array([lookup[int(k)] for k in t])
    return np.asarray(2.0 * (a0 - a_t) * sigma2_e / (t * m * dt) ** 2)


def _ratio(phi: float, m: int) -> float:
    g0, g1, g2 = aggregated_moments(phi, m)
    return (g1 - g2) / (g0 - g1)


@dataclass(frozen=True)
class PanelData:
    """Log revenue growth ``d[customer, step]`` (``NaN`` where a step is not observed), each row's
    segment code, and ``m`` periods per step of ``dt`` years."""

    d: np.ndarray
    segment: np.ndarray  # int codes, one per row
    m: int
    dt: float

    @property
    def step_years(self) -> float:
        return self.m * self.dt


def growth_matrix(
    customer: np.ndarray, time: np.ndarray, revenue: np.ndarray, keep: np.ndarray, n_customers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Log revenue growth between consecutive steps, as a matrix over the customers that have
    any (rows) and the steps (columns), and those customers' indices.  Only rows with ``keep``
    and revenue > 0 enter; a step is observed when both its ends are."""
    ok = keep & (revenue > 0) & np.isfinite(revenue)
    c, t, y = customer[ok], time[ok], np.log(revenue[ok])
    if c.size == 0:
        return np.empty((0, 0)), np.empty(0, dtype=np.int64)
    t0 = int(t.min())
    span = int(t.max()) - t0 + 1
    who, row = np.unique(c, return_inverse=True)
    levels = np.full((who.size, span), np.nan)
    levels[row, t - t0] = y
    d = levels[:, 1:] - levels[:, :-1]
    has = np.isfinite(d).any(axis=1)
    return d[has], who[has].astype(np.int64)


@dataclass(frozen=True)
class DemandFit:
    """Estimates of ``[demand]`` and of the growth distribution, with bootstrap standard errors."""

    persistence: float  # per period
    volatility: float  # 1/sqrt(year)
    rho_within: float
    rho_across: float
    growth_log_mean: float  # mean of log(1 + g) per year
    growth_log_sd: float  # sd across customers of log(1 + g) per year
    se: dict[str, float]
    customers: int
    steps: int
    moments: dict[str, float]
    notes: tuple[str, ...] = field(default=())
    #: bootstrap covariance of (growth_loc, growth_scale), the scenario's normal growth parameters
    growth_cov: np.ndarray = field(default_factory=lambda: np.full((2, 2), np.nan))

    @property
    def growth_loc(self) -> float:
        """Mean annual growth rate, ``E[g] = exp(mean + sd^2 / 2) - 1`` for lognormal ``1 + g``."""
        return math.expm1(self.growth_log_mean + 0.5 * self.growth_log_sd**2)

    @property
    def growth_scale(self) -> float:
        """Sd of the annual growth rate across customers (first order: ``sd x (1 + E[g])``)."""
        return self.growth_log_sd * (1.0 + self.growth_loc)

    def describe(self) -> dict[str, Any]:
        return {
            "persistence": self.persistence,
            "volatility": self.volatility,
            "rho_within": self.rho_within,
            "rho_across": self.rho_across,
            "growth_loc": self.growth_loc,
            "growth_scale": self.growth_scale,
            "se": self.se,
            "customers": self.customers,
            "steps": self.steps,
            "moments": self.moments,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Prepared:
    """What every resample of the same panel shares: the matrices, the segment indicator, and each
    customer's sums of products of its idiosyncratic growth at lags 0, 1, 2 with their counts
    (``lags[j]`` = (sum, count) per customer)."""

    z: np.ndarray  # d with 0 where not observed
    z2: np.ndarray  # its square
    one: np.ndarray  # 1 where observed
    g: np.ndarray  # customers x segments indicator
    lags: tuple[tuple[np.ndarray, np.ndarray], ...]


def _prepare(data: PanelData) -> _Prepared:
    """The idiosyncratic part: growth less its segment's mean growth in the same step (which removes
    the market and segment levels), scaled by ``1/sqrt(1 - 1/n)`` for the ``n`` customers behind
    that mean; then each customer's lagged products."""
    d = data.d
    ok = np.isfinite(d)
    z = np.where(ok, d, 0.0)
    one = ok.astype(float)
    seg = data.segment
    k = int(seg.max()) + 1 if seg.size else 1
    g = np.zeros((d.shape[0], k))
    g[np.arange(d.shape[0]), seg] = 1.0
    n1 = one.T @ g
    with np.errstate(divide="ignore", invalid="ignore"):
        seg_mean = (z.T @ g) / n1  # (steps x segments)
        scale = np.where(n1 > 1, 1.0 / np.sqrt(1.0 - 1.0 / n1), 0.0)
    dev = np.where(ok, (z - seg_mean.T[seg]) * scale.T[seg], 0.0)
    used = one * (scale.T[seg] > 0)
    lags = [((dev * dev).sum(axis=1), used.sum(axis=1))]
    for j in (1, 2):
        lags.append(((dev[:, j:] * dev[:, :-j]).sum(axis=1), (used[:, j:] * used[:, :-j]).sum(axis=1)))
    return _Prepared(z, z * z, one, g, tuple(lags))


def _estimate(
    data: PanelData, w: np.ndarray | None = None, prep: _Prepared | None = None
) -> tuple[dict[str, float], list[str]]:
    """The estimates for customer weights ``w`` (bootstrap counts; ``None`` = each once).  A resample
    reuses ``prep``: its segment-step means are those of the data (a change of order 1/n)."""
    prep = prep or _prepare(data)
    z, one, g = prep.z, prep.one, prep.g
    wc = np.ones(z.shape[0]) if w is None else w.astype(float)
    w1, w2 = wc[:, None] * g, (wc * wc)[:, None] * g
    n1, n2 = one.T @ w1, one.T @ w2  # (steps x segments): customers (with their weights) present
    n0 = float(n1.sum())
    zw1 = z.T @ w1
    mu = float(np.sum(zw1)) / n0
    notes: list[str] = []

    def lag(j: int) -> float:
        num, den = prep.lags[j]
        total = float(np.sum(wc * den))  # not a BLAS dot: its threads cost more than the sum on a busy machine
        if total == 0:
            raise ValueError("no customer has 4 consecutive observed years/periods")
        return float(np.sum(wc * num)) / total

    c0, c1, c2 = (lag(j) for j in range(3))
    m = data.m
    r = (c1 - c2) / (c0 - c1) if c0 > c1 else math.nan
    lo, hi = _ratio(0.0, m), _ratio(MAX_PERSISTENCE, m)
    if not math.isfinite(r):
        phi = 0.0
        notes.append("log revenue growth shows no step-to-step variation: volatility 0")
    elif r <= lo:
        phi = 0.0
        notes.append(f"the autocovariances point below persistence 0 (ratio {r:.3f} < {lo:.3f}); set to 0")
    elif r >= hi:
        phi = MAX_PERSISTENCE
        notes.append(f"the autocovariances point to persistence of at least {MAX_PERSISTENCE}; set to it")
    else:
        phi = float(optimize.brentq(lambda p: _ratio(p, m) - r, 0.0, MAX_PERSISTENCE, xtol=1e-10))
    g0, g1, _ = aggregated_moments(phi, m)
    sigma2_e = max(c0 - c1, 0.0) / (g0 - g1)  # idiosyncratic innovation variance, sigma^2 (1 - rho_within)
    v_g = c0 - sigma2_e * g0
    if v_g < 0:
        notes.append("customers' growth rates show no dispersion beyond the demand shocks: growth sd 0")
        v_g = 0.0
    # the common levels: covariance of two customers' growth in the same step
    a = zw1 - mu * n1  # sum of w e per step and segment, e = d - mu
    b = prep.z2.T @ w2 - 2.0 * mu * (z.T @ w2) + mu * mu * n2  # sum of w^2 e^2
    same = float(np.sum(a * a - b))
    same_n = float(np.sum(n1 * n1 - n2))
    tot_a, tot_n = a.sum(axis=1), n1.sum(axis=1)
    across = float(np.sum(tot_a * tot_a - (a * a).sum(axis=1)))
    across_n = float(np.sum(tot_n * tot_n - (n1 * n1).sum(axis=1)))
    cov_same = max(same / same_n, 0.0) if same_n > 0 else 0.0
    cov_across = across / across_n if across_n > 0 else math.nan
    var_x = sigma2_e * g0 + cov_same  # variance of a customer's demand growth (idiosyncratic + common)
    rho_w = cov_same / var_x if var_x > 0 else math.nan
    rho_a = cov_across / var_x if var_x > 0 and math.isfinite(cov_across) else math.nan
    sigma2 = var_x / g0 if g0 > 0 else 0.0
    step = data.step_years
    out = {
        "persistence": phi,
        "volatility": math.sqrt(sigma2 / data.dt),
        "rho_within": rho_w,
        "rho_across": rho_a,
        "growth_log_mean": mu / step,
        "growth_log_sd": math.sqrt(v_g) / step,
        "C0": c0,
        "C1": c1,
        "C2": c2,
        "cov_same_segment": cov_same,
        "cov_across_segments": cov_across,
    }
    return out, notes


def _step_jackknife(data: PanelData, est: dict[str, float]) -> dict[str, float]:
    """Delete-one-step jackknife standard errors of ``rho_within``, ``rho_across`` and (through the
    common part of the variance) ``volatility``: the variation that the common shocks of the
    observed steps bring (the bootstrap over customers holds them fixed)."""
    d = data.d
    ok = np.isfinite(d)
    seg = data.segment
    k = int(seg.max()) + 1 if seg.size else 1
    g = np.zeros((d.shape[0], k))
    g[np.arange(d.shape[0]), seg] = 1.0
    e = np.where(ok, d - est["growth_log_mean"] * data.step_years, 0.0)
    a, b, n1 = e.T @ g, (e * e).T @ g, ok.astype(float).T @ g
    same_t, same_n_t = (a * a - b).sum(axis=1), (n1 * n1 - n1).sum(axis=1)
    tot_a, tot_n = a.sum(axis=1), n1.sum(axis=1)
    across_t = tot_a * tot_a - (a * a).sum(axis=1)
    across_n_t = tot_n * tot_n - (n1 * n1).sum(axis=1)
    var_x = (est["volatility"] ** 2) * data.dt * aggregated_moments(est["persistence"], data.m)[0]
    steps = d.shape[1]
    g0 = aggregated_moments(est["persistence"], data.m)[0]
    sigma2_e_g0 = var_x - est["cov_same_segment"]  # idiosyncratic part of var_x, held fixed
    out: dict[str, float] = {}
    if steps >= 3 and same_n_t.sum() > 0 and g0 > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            cov_loo = np.maximum((same_t.sum() - same_t) / (same_n_t.sum() - same_n_t), 0.0)
            vol = np.sqrt((sigma2_e_g0 + cov_loo) / g0 / data.dt)
        vol = vol[np.isfinite(vol)]
        if vol.size > 2:
            out["volatility"] = float(np.sqrt((vol.size - 1) / vol.size * np.sum((vol - vol.mean()) ** 2)))
    for key, num, den in (("rho_within", same_t, same_n_t), ("rho_across", across_t, across_n_t)):
        if steps < 3 or var_x <= 0 or den.sum() <= 0:
            out[key] = math.nan
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            loo = (num.sum() - num) / (den.sum() - den) / var_x
        loo = loo[np.isfinite(loo)]
        out[key] = (
            float(np.sqrt((loo.size - 1) / loo.size * np.sum((loo - loo.mean()) ** 2))) if loo.size > 2 else math.nan
        )
    return out


def fit_demand(data: PanelData, bootstrap: int = BOOTSTRAP, seed: int = 0) -> DemandFit:
    """Estimate persistence, volatility, the within- and across-segment correlations and the growth
    distribution from log revenue growth (see the module's text); bootstrap standard errors over
    customers with ``bootstrap`` resamples from ``seed``.  Raises ``ValueError`` when no customer
    has 4 consecutive observed steps."""
    prep = _prepare(data)
    est, notes = _estimate(data, prep=prep)
    n = data.d.shape[0]
    rng = np.random.default_rng(seed)
    keys = ("persistence", "volatility", "rho_within", "rho_across", "growth_log_mean", "growth_log_sd")
    draws: dict[str, list[float]] = {key: [] for key in keys}
    for _ in range(bootstrap):
        w = np.bincount(rng.integers(0, n, n), minlength=n)
        try:
            b, _ = _estimate(data, w, prep)
        except ValueError:
            continue
        for key in keys:
            draws[key].append(b[key])
    se: dict[str, float] = {}
    for key, values in draws.items():
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]
        se[key] = float(np.std(v, ddof=1)) if v.size > 1 else math.nan
    mu_b, sd_b = np.asarray(draws["growth_log_mean"]), np.asarray(draws["growth_log_sd"])
    loc_b = np.expm1(mu_b + 0.5 * sd_b**2)
    pairs = np.column_stack([loc_b, sd_b * (1.0 + loc_b)])
    pairs = pairs[np.all(np.isfinite(pairs), axis=1)]
    growth_cov = np.cov(pairs, rowvar=False) if pairs.shape[0] > 2 else np.full((2, 2), np.nan)
    for key, jack in _step_jackknife(data, est).items():
        if math.isfinite(jack):
            se[key] = max(se[key], jack) if math.isfinite(se[key]) else jack
    rho_w, rho_a = est["rho_within"], est["rho_across"]
    single = int(data.segment.max()) == 0 if data.segment.size else True
    if single:
        rho_a = rho_w  # one segment: one correlation
    if math.isfinite(rho_w) and not 0 <= rho_w <= 1:
        notes.append(f"within-segment correlation {rho_w:.3f} clipped to [0, 1]")
    if math.isfinite(rho_a) and not 0 <= rho_a <= 1:
        notes.append(f"across-segment correlation {rho_a:.3f} clipped to [0, 1]")
    rho_w = float(np.clip(rho_w, 0.0, 1.0)) if math.isfinite(rho_w) else 0.0
    rho_a = float(np.clip(rho_a, 0.0, 1.0)) if math.isfinite(rho_a) else 0.0
    if rho_a > rho_w:
        notes.append(f"across-segment correlation {rho_a:.3f} above within {rho_w:.3f}: both set to their mean")
        rho_w = rho_a = 0.5 * (rho_w + rho_a)
    return DemandFit(
        persistence=est["persistence"],
        volatility=est["volatility"],
        rho_within=rho_w,
        rho_across=rho_a,
        growth_log_mean=est["growth_log_mean"],
        growth_log_sd=est["growth_log_sd"],
        se=se,
        customers=n,
        steps=int(np.isfinite(data.d).sum()),
        moments={k: est[k] for k in ("C0", "C1", "C2", "cov_same_segment", "cov_across_segments")},
        notes=tuple(notes),
        growth_cov=np.asarray(growth_cov, dtype=float).reshape(2, 2),
    )
