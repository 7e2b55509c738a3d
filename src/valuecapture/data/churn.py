"""Churn heterogeneity: the shifted-beta-geometric model by maximum likelihood with right-censoring.

Fader & Hardie (2007), "How to project customer retention", Journal of Interactive Marketing
21(1), 76-90: each customer has a constant churn probability ``p`` per period, and ``p`` varies
across customers as ``Beta(a, b)``.  The engine's ``uncertainties.churn`` is a customer's
*annual* churn probability and its survival over ``t`` years is ``(1 - p)^t`` (per period
``(1 - p)^dt``, ``retention.py``), so survival to ``t`` years across customers is

    S(t) = E[(1 - p)^t] = B(a, b + t) / B(a, b)        for any real t >= 0,

which at whole years is Fader & Hardie's sBG survival.  A customer lost within ``(t0, t1]``
(years since acquisition) contributes ``S(t0) - S(t1)`` to the likelihood, a customer still
active at the end of observation, ``T`` years after acquisition, contributes ``S(T)``
(right-censoring), and a customer known only from ``entry`` years after acquisition on (left
truncation: observation began after it was won) is divided by ``S(entry)``.

Estimates are found on ``(log a, log b)`` by L-BFGS-B; the standard errors come from the
observed information (numerical Hessian, :mod:`valuecapture.data.likelihood`), mapped back to
``(a, b)`` by the delta method.  Lifetimes are grouped by their unique values first, so
100,000 customers cost as little as the few hundred distinct intervals they fall in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from valuecapture.data.likelihood import covariance, standard_errors

#: Days per year used to turn dates into years.
DAYS_PER_YEAR = 365.25

#: A loss this many days after the end of a period counts in that period (dates are whole days).
BOUNDARY_DAYS = 2


def survival(a: float, b: float, t: np.ndarray | float) -> np.ndarray:
    """``S(t) = B(a, b + t) / B(a, b)``: the share of a cohort still active ``t`` years after acquisition."""
    t = np.asarray(t, dtype=float)
    return np.asarray(np.exp(special.betaln(a, b + t) - special.betaln(a, b)))


def retention_rate(a: float, b: float, t: np.ndarray | float) -> np.ndarray:
    """``S(t) / S(t - 1) = (b + t - 1) / (a + b + t - 1)``: the retention rate in year ``t``."""
    t = np.asarray(t, dtype=float)
    return np.asarray((b + t - 1.0) / (a + b + t - 1.0))


@dataclass(frozen=True)
class Lifetimes:
    """Observed lifetimes in years: lost within ``(lost_from, lost_by]``, or still active at
    ``censored`` (years since acquisition); ``entry`` (same length as all customers, lost ones
    first) is when observation of each began (0 = from acquisition)."""

    lost_from: np.ndarray
    lost_by: np.ndarray
    censored: np.ndarray
    entry_lost: np.ndarray | None = None
    entry_censored: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.lost_from.size + self.censored.size)

    @property
    def events(self) -> int:
        return int(self.lost_from.size)

    def subset(self, lost: np.ndarray, censored: np.ndarray) -> Lifetimes:
        """The lifetimes selected by two boolean masks (over the lost and the censored)."""
        return Lifetimes(
            self.lost_from[lost],
            self.lost_by[lost],
            self.censored[censored],
            None if self.entry_lost is None else self.entry_lost[lost],
            None if self.entry_censored is None else self.entry_censored[censored],
        )


def lifetimes(
    acquired: np.ndarray,
    churned: np.ndarray,
    as_of: np.datetime64,
    periods_per_year: int,
    observed_from: np.datetime64 | None = None,
) -> tuple[Lifetimes, np.ndarray]:
    """Customers' lifetimes from their dates, on the scenario's period grid, and the mask of the
    lost ones (in table order: ``Lifetimes`` holds the lost ones, then the censored ones).

    A customer lost ``d`` days after acquisition was lost in its ``k``-th period,
    ``k = max(1, ceil((d - 2) / 365.25 x periods_per_year))``: within ``((k-1) dt, k dt]`` years
    (the engine churns at the end of a period; a loss up to :data:`BOUNDARY_DAYS` days after a
    period's end counts in that period, since dates are rounded to days).  A customer active at
    ``as_of`` is censored at its exact tenure.  ``observed_from``: customers acquired before it
    are left-truncated there."""
    dt = 1.0 / periods_per_year
    lost = ~np.isnat(churned)
    days = (np.where(lost, churned, as_of) - acquired).astype("timedelta64[D]").astype(np.int64)
    years = days / DAYS_PER_YEAR
    k = np.maximum(1.0, np.ceil((days[lost] - BOUNDARY_DAYS) / DAYS_PER_YEAR / dt))
    entry = None
    if observed_from is not None:
        entry = np.maximum((observed_from - acquired).astype("timedelta64[D]").astype(np.int64), 0) / DAYS_PER_YEAR
    return (
        Lifetimes(
            (k - 1.0) * dt,
            k * dt,
            years[~lost],
            None if entry is None else entry[lost],
            None if entry is None else entry[~lost],
        ),
        lost,
    )


def from_survivors(survivors: np.ndarray) -> Lifetimes:
    """A cohort's counts still active at the start of years 0, 1, ..., T (Fader & Hardie's tables)
    as lifetimes: those lost in year ``k`` within ``(k-1, k]``, the last count censored at ``T``."""
    s = np.asarray(survivors, dtype=np.int64)
    lost = -np.diff(s)
    k = np.repeat(np.arange(1, s.size, dtype=float), lost)
    return Lifetimes(k - 1.0, k, np.full(int(s[-1]), float(s.size - 1)))


@dataclass(frozen=True)
class SbgFit:
    """A shifted-beta-geometric fit: ``p ~ Beta(a, b)`` (annual churn probability)."""

    a: float
    b: float
    cov: np.ndarray  # of (a, b): inverse observed information, delta method from the log scale
    loglik: float
    n: int
    events: int
    converged: bool

    @property
    def se(self) -> tuple[float, float]:
        s = standard_errors(self.cov)
        return float(s[0]), float(s[1])

    @property
    def mean(self) -> float:
        """Mean annual churn probability ``a / (a + b)``."""
        return self.a / (self.a + self.b)

    def retention(self, years: float = 1.0) -> float:
        """Share of a new cohort still active after ``years``."""
        return float(survival(self.a, self.b, years))

    def describe(self) -> dict[str, Any]:
        sa, sb = self.se
        return {
            "a": self.a,
            "b": self.b,
            "se": {"a": sa, "b": sb},
            "cov": self.cov.tolist(),
            "loglik": self.loglik,
            "n": self.n,
            "events": self.events,
            "mean_annual_churn": self.mean,
            "retention_year_1": self.retention(1.0),
            "converged": self.converged,
        }


def _grouped(lt: Lifetimes) -> tuple[np.ndarray, ...]:
    """Unique (from, by, entry) of the lost and (T, entry) of the censored, with counts."""
    e_lost = np.zeros(lt.lost_from.size) if lt.entry_lost is None else lt.entry_lost
    e_cens = np.zeros(lt.censored.size) if lt.entry_censored is None else lt.entry_censored
    lost_u, lost_n = np.unique(np.column_stack([lt.lost_from, lt.lost_by, e_lost]), axis=0, return_counts=True)
    cens_u, cens_n = np.unique(np.column_stack([lt.censored, e_cens]), axis=0, return_counts=True)
    return lost_u.reshape(-1, 3), lost_n, cens_u.reshape(-1, 2), cens_n


def loglik(a: float, b: float, lt: Lifetimes) -> float:
    """Log-likelihood of ``Beta(a, b)`` heterogeneity for the lifetimes ``lt``."""
    return _loglik_grouped(a, b, *_grouped(lt))


def _loglik_grouped(
    a: float, b: float, lost: np.ndarray, lost_n: np.ndarray, cens: np.ndarray, cens_n: np.ndarray
) -> float:
    base = special.betaln(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = special.betaln(a, b + lost[:, 0]) - base  # log S(t0)
        hi = special.betaln(a, b + lost[:, 1]) - base  # log S(t1) < log S(t0)
        ll_lost = lo + np.log(-np.expm1(hi - lo)) - (special.betaln(a, b + lost[:, 2]) - base)
        ll_cens = special.betaln(a, b + cens[:, 0]) - special.betaln(a, b + cens[:, 1])
    total = float(np.dot(lost_n, ll_lost) + np.dot(cens_n, ll_cens))
    return total if math.isfinite(total) else -math.inf


def fit_sbg(lt: Lifetimes, start: tuple[float, float] = (1.0, 5.0)) -> SbgFit:
    """Maximum-likelihood ``Beta(a, b)`` for the lifetimes ``lt`` (needs at least one loss)."""
    if lt.events == 0:
        raise ValueError("no customer was lost: the churn distribution cannot be estimated")
    groups = _grouped(lt)

    def nll_log(v: np.ndarray) -> float:
        value = -_loglik_grouped(math.exp(v[0]), math.exp(v[1]), *groups)
        return value if math.isfinite(value) else 1e300

    best: Any = None
    for guess in (start, (0.5, 1.0), (2.0, 20.0)):
        res = optimize.minimize(
            nll_log,
            np.log(np.asarray(guess, dtype=float)),
            method="L-BFGS-B",
            bounds=[(-12.0, 12.0), (-12.0, 14.0)],
            options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 2000},
        )
        if best is None or res.fun < best.fun:
            best = res
    v = np.asarray(best.x, dtype=float)
    a, b = math.exp(v[0]), math.exp(v[1])
    cov_log = covariance(nll_log, v)
    jac = np.diag([a, b])
    cov = jac @ cov_log @ jac
    return SbgFit(a, b, cov, -float(best.fun), lt.n, lt.events, bool(best.success))


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier survival at ``times`` (years since acquisition) with Greenwood's standard error
    and the customers at risk just before each time."""

    times: np.ndarray
    survival: np.ndarray
    se: np.ndarray
    at_risk: np.ndarray

    def describe(self) -> dict[str, Any]:
        return {
            "years": self.times.tolist(),
            "survival": self.survival.tolist(),
            "se": self.se.tolist(),
            "at_risk": self.at_risk.tolist(),
        }


def kaplan_meier(lt: Lifetimes, times: np.ndarray) -> KaplanMeier:
    """Kaplan-Meier estimate of survival since acquisition (Kaplan & Meier 1958, JASA 53(282)) from
    lifetimes ``lt`` (a loss counted at the end of its interval, ``lost_by``; a censored customer at
    risk up to and including its censoring time), at ``times`` (years), with Greenwood's variance
    ``S^2 sum d / (n (n - d))``.  Left truncation is not taken into account (``entry`` ignored)."""
    times = np.asarray(times, dtype=float)
    ev, d = np.unique(lt.lost_by, return_counts=True)
    all_times = np.concatenate([lt.lost_by, lt.censored])
    eps = 1e-9
    n = np.array([(all_times >= u - eps).sum() for u in ev], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = 1.0 - d / n
        green = np.where(n > d, d / (n * (n - d)), np.inf)
    s_ev, g_ev = np.cumprod(step), np.cumsum(green)
    k = np.searchsorted(ev, times + eps, side="right")  # events at or before each time
    surv = np.where(k > 0, s_ev[np.maximum(k - 1, 0)], 1.0)
    with np.errstate(invalid="ignore"):  # 0 x inf where everyone is lost: no variance (NaN), said below
        var = np.where(k > 0, surv**2 * g_ev[np.maximum(k - 1, 0)], 0.0)
    at_risk = np.array([(all_times >= t - eps).sum() for t in times], dtype=np.int64)
    return KaplanMeier(times, surv, np.sqrt(np.where(np.isfinite(var), var, np.nan)), at_risk)
