"""Monte Carlo statistics of a sample of replications.

Every quantity here is a function of one variable's replications (for
example ``firm_value``): the mean with its Monte Carlo standard error, bootstrap
confidence intervals (:func:`scipy.stats.bootstrap`), percentiles, value at risk
and expected shortfall, the probability of a negative value with a Wilson
interval, and the running mean with its confidence band (convergence).

Bootstrap resampling draws from its own generator, derived from the run's seed
(:func:`analysis_rng`), so a report computed twice from the same result is
identical; it never touches the replications' random streams.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from valuecapture.run.precision import mean_ci_halfwidth

#: Default level of every confidence interval.
LEVEL = 0.95
#: Default tail probability of value at risk and expected shortfall.
ALPHA = 0.05
#: Bootstrap resamples used by default (enough for 95% intervals to two digits).
N_RESAMPLES = 2000
#: Above this many observations the bootstrap uses the percentile method
#: instead of BCa (whose jackknife costs O(n^2)).
BCA_MAX_N = 5000

#: Purposes for which analysis code draws random numbers (bootstrap, designs).
#: Each has its own generator ``SeedSequence([seed, tag])``: independent of the
#: replications' streams, which are ``SeedSequence(seed, spawn_key=...)``.
ANALYSIS_TAGS = {"bootstrap": 0xB0075, "design": 0xDE516}


def analysis_rng(seed: int, purpose: str = "bootstrap") -> np.random.Generator:
    """A reproducible generator for analysis randomness (bootstrap, designs).

    Derived from the run's root ``seed`` and a fixed tag per purpose, so the same
    result always gives the same intervals and the same design.
    """
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence([int(seed), ANALYSIS_TAGS[purpose]])))


def _bootstrap_kwargs(rng: np.random.Generator) -> dict[str, Any]:
    # scipy >= 1.15 takes ``rng``; older versions ``random_state``.
    params = inspect.signature(sps.bootstrap).parameters
    return {"rng": rng} if "rng" in params else {"random_state": rng}


def bootstrap_ci(
    data: Sequence[np.ndarray],
    statistic: Callable[..., npt.ArrayLike],
    *,
    seed: int = 0,
    level: float = LEVEL,
    n_resamples: int = N_RESAMPLES,
    paired: bool = True,
    method: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap confidence interval of a (possibly vector-valued) statistic.

    A thin wrapper of :func:`scipy.stats.bootstrap`: ``statistic(*samples, axis=-1)``
    must be vectorized along ``axis``.  With ``paired=True`` (default) every sample
    is resampled at the same indices, which is what common random numbers need:
    replication ``r`` of every configuration stays together.  The method is BCa
    up to :data:`BCA_MAX_N` observations, else percentile; where BCa cannot be
    computed (degenerate data, such as a statistic that is the same in every
    resample) the percentile interval is used.  Where the statistic is undefined
    in some resamples (NaN) the interval is NaN: reported as not available.

    Returns ``(low, high)`` with the shape of the statistic.
    """
    data = tuple(np.asarray(d, dtype=float) for d in data)
    n = data[0].shape[-1]
    point = np.asarray(statistic(*data, axis=-1), dtype=float)
    if n < 2:
        nan = np.full(point.shape, np.nan)
        return nan, nan.copy()
    chosen = method or ("BCa" if n <= BCA_MAX_N else "percentile")
    batch = max(1, int(2e7 // max(1, n * len(data))))
    out: tuple[np.ndarray, np.ndarray] | None = None  # (low, high)
    for m in (chosen, "percentile") if chosen != "percentile" else ("percentile",):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = sps.bootstrap(
                    data,
                    statistic,
                    n_resamples=n_resamples,
                    batch=batch,
                    vectorized=True,
                    paired=paired,
                    axis=-1,
                    confidence_level=level,
                    method=m,
                    **_bootstrap_kwargs(analysis_rng(seed)),
                )
            except (ValueError, FloatingPointError):
                continue
        low = np.asarray(res.confidence_interval.low, dtype=float)
        high = np.asarray(res.confidence_interval.high, dtype=float)
        if out is None:
            out = (low.copy(), high.copy())
        else:  # fill what BCa left undefined
            out_low, out_high = out
            bad = ~(np.isfinite(out_low) & np.isfinite(out_high))
            out_low[bad], out_high[bad] = low[bad], high[bad]
        if np.isfinite(out[0]).all() and np.isfinite(out[1]).all():
            break
    if out is None:
        out = (np.full(point.shape, np.nan), np.full(point.shape, np.nan))
    return out[0].reshape(point.shape), out[1].reshape(point.shape)


# ---------------------------------------------------------------------------
# Risk measures, vectorized along an axis
# ---------------------------------------------------------------------------


def value_at_risk(x: np.ndarray, alpha: float = ALPHA, axis: int = -1) -> np.ndarray:
    """Value at risk as a value level: the ``alpha`` quantile of ``x`` (linear interpolation).

    With probability ``alpha`` the value falls below it.  The loss relative to
    the mean is ``mean - value_at_risk``.
    """
    return np.quantile(x, alpha, axis=axis)


def expected_shortfall(x: np.ndarray, alpha: float = ALPHA, axis: int = -1) -> np.ndarray:
    """Expected shortfall (conditional value at risk) as a value level.

    The mean of the worst ``alpha`` share of outcomes, with the fractional
    observation weighted as in Acerbi & Tasche (2002):
    ``ES = (sum of the k = floor(n alpha) lowest + (n alpha - k) x_(k+1)) / (n alpha)``.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    n = x.shape[-1]
    srt = np.sort(x, axis=-1)
    na = n * alpha
    k = int(math.floor(na))
    total = srt[..., :k].sum(axis=-1)
    if k < n:
        total = total + (na - k) * srt[..., k]
    return total / na


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (exact coverage is close to nominal even at 0 or 1)."""
    if n == 0:
        return float("nan"), float("nan")
    z = float(sps.norm.ppf(0.5 + level / 2))
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


# ---------------------------------------------------------------------------
# The description of one sample
# ---------------------------------------------------------------------------

#: Percentiles reported by :func:`describe`.
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval (and, for means, the MC standard error)."""

    value: float
    low: float
    high: float
    se: float = float("nan")

    def contains(self, v: float) -> bool:
        return self.low <= v <= self.high


@dataclass(frozen=True)
class Description:
    """Monte Carlo statistics of one variable's replications."""

    name: str
    units: str
    n: int
    mean: Estimate  # CI: t interval; se = MC standard error
    mean_bootstrap: Estimate  # bootstrap (BCa) interval of the mean
    sd: Estimate
    percentiles: dict[int, Estimate]
    var: Estimate  # value at risk (alpha quantile)
    es: Estimate  # expected shortfall (mean of the worst alpha)
    p_negative: Estimate  # with a Wilson interval
    alpha: float = ALPHA
    level: float = LEVEL
    extra: dict[str, Any] = field(default_factory=dict)


def _desc_stat(alpha: float) -> Callable[..., np.ndarray]:
    def stat(x: np.ndarray, axis: int = -1) -> np.ndarray:
        q = np.quantile(x, np.array(PERCENTILES) / 100.0, axis=axis)  # (k, ...)
        return np.concatenate(
            [
                np.mean(x, axis=axis)[None],
                np.std(x, axis=axis, ddof=1)[None],
                q,
                value_at_risk(x, alpha, axis=axis)[None],
                expected_shortfall(x, alpha, axis=axis)[None],
            ],
            axis=0,
        )

    return stat


def describe(
    x: np.ndarray,
    name: str = "",
    units: str = "",
    *,
    seed: int = 0,
    level: float = LEVEL,
    alpha: float = ALPHA,
    n_resamples: int = N_RESAMPLES,
) -> Description:
    """Mean (MC s.e., t and bootstrap intervals), sd, percentiles, VaR, ES and P(x < 0).

    Non-finite values are dropped (NaN marks a quantity that does not exist in a
    replication).  Bootstrap intervals use :func:`bootstrap_ci` with ``seed``.
    """
    x = np.asarray(x, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = x.size
    nan = float("nan")
    if n == 0:
        e = Estimate(nan, nan, nan)
        return Description(name, units, 0, e, e, e, {p: e for p in PERCENTILES}, e, e, e, alpha, level)
    stat = _desc_stat(alpha)
    point = stat(x[None, :], axis=-1)[:, 0] if n > 1 else np.array([x[0], nan] + [x[0]] * (len(PERCENTILES) + 2))
    if n > 1:
        low, high = bootstrap_ci((x,), stat, seed=seed, level=level, n_resamples=n_resamples)
    else:
        low = high = np.full(point.shape, nan)
    se = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else nan
    half = mean_ci_halfwidth(x, level) if n > 1 else nan
    mean = Estimate(float(point[0]), float(point[0] - half), float(point[0] + half), se)
    k = len(PERCENTILES)
    pct = {p: Estimate(float(point[2 + i]), float(low[2 + i]), float(high[2 + i])) for i, p in enumerate(PERCENTILES)}
    neg = int((x < 0).sum())
    wl, wh = wilson_interval(neg, n, level)
    p_neg = neg / n
    return Description(
        name=name,
        units=units,
        n=n,
        mean=mean,
        mean_bootstrap=Estimate(float(point[0]), float(low[0]), float(high[0]), se),
        sd=Estimate(float(point[1]), float(low[1]), float(high[1])),
        percentiles=pct,
        var=Estimate(float(point[2 + k]), float(low[2 + k]), float(high[2 + k])),
        es=Estimate(float(point[3 + k]), float(low[3 + k]), float(high[3 + k])),
        p_negative=Estimate(p_neg, wl, wh, math.sqrt(p_neg * (1 - p_neg) / n)),
        alpha=alpha,
        level=level,
    )


# ---------------------------------------------------------------------------
# Convergence
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Convergence:
    """Running mean and the half-width of its confidence interval after n = 1..N replications."""

    n: np.ndarray
    mean: np.ndarray
    half_width: np.ndarray  # NaN for n = 1
    level: float

    @property
    def relative_half_width(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.half_width / np.abs(self.mean)


def running_mean(x: np.ndarray, level: float = LEVEL) -> Convergence:
    """The running mean of ``x`` in replication order and its t interval half-width.

    The variance is computed from cumulative sums of the data centred on its
    overall mean (numerically stable for values far from zero), so the n-th
    entry equals the statistics of ``x[:n]`` up to rounding.
    """
    x = np.asarray(x, dtype=float)
    n = np.arange(1, x.size + 1)
    mean = np.cumsum(x) / n
    y = x - (x.mean() if x.size else 0.0)
    s1 = np.cumsum(y)
    s2 = np.cumsum(y * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(n > 1, np.maximum(s2 - s1 * s1 / n, 0.0) / np.maximum(n - 1, 1), np.nan)
        tq = np.where(n > 1, sps.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), np.nan)
        half = tq * np.sqrt(var / n)
    return Convergence(n=n, mean=mean, half_width=half, level=level)


@dataclass(frozen=True)
class VarianceSplit:
    """The variance of one replication's value split by the law of total variance,
    ``Var(V) = Var(E[V | theta]) + E[Var(V | theta)]``: parameter uncertainty (``between``)
    and stochastic variation (``within``), estimated from ``groups`` groups of ``per_draw``
    replications that share a parameter draw ``theta``, with standard errors."""

    groups: int
    per_draw: int
    between: float
    between_se: float
    within: float
    within_se: float

    @property
    def total(self) -> float:
        return self.between + self.within

    @property
    def parameter_share(self) -> float:
        """Share of the variance due to parameter uncertainty (can be < 0 when it is too small to detect)."""
        return self.between / self.total if self.total > 0 else float("nan")


def variance_split(x: npt.ArrayLike, per_draw: int) -> VarianceSplit:
    """One-way random-effects ANOVA of ``x`` (replications in order, consecutive groups of
    ``per_draw`` sharing a parameter draw; an incomplete last group is left out):
    ``within = MSW`` and ``between = (MSB - MSW) / per_draw``, both unbiased (Searle, Casella &
    McCulloch 1992, Variance Components, ch. 3); ``between`` is not truncated at zero, so it
    stays unbiased.  Standard errors from the normal-theory variances of the mean squares,
    ``Var(MS) = 2 E[MS]^2 / df``.  Needs ``per_draw >= 2`` and at least two groups."""
    m = int(per_draw)
    v = np.asarray(x, dtype=float)
    g = v.size // m if m >= 2 else 0
    if g < 2:
        raise ValueError(f"a variance split needs per_draw >= 2 and two complete groups, got {v.size} x {m}")
    y = v[: g * m].reshape(g, m)
    means = y.mean(axis=1)
    msw = float(((y - means[:, None]) ** 2).sum() / (g * (m - 1)))
    msb = float(m * ((means - means.mean()) ** 2).sum() / (g - 1))
    var_msw = 2.0 * msw**2 / (g * (m - 1))
    var_msb = 2.0 * msb**2 / (g - 1)
    return VarianceSplit(
        groups=g,
        per_draw=m,
        between=(msb - msw) / m,
        between_se=math.sqrt(var_msb + var_msw) / m,
        within=msw,
        within_se=math.sqrt(var_msw),
    )
