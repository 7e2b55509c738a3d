"""Checks of a calibrated scenario against the data it was calibrated to, by simulating it.

* :func:`match_survival`: the churn distribution adjusted for the scenario's trust dynamics.  The
  data give realised survival; the engine's ``uncertainties.churn`` is churn at reference trust
  0.5, moved by ``relationship.churn_trust_effect x (trust - 0.5)`` on the complementary log-log
  hazard (and by contagion, referral and misalignment where they are on).  The adjustment is a
  method of simulated moments with one parameter: the Beta's ``b`` is multiplied by a factor
  ``k`` (for small churn probabilities ``p ~ Beta(a, b)`` is close to ``Gamma(a, 1/b)``, so ``k``
  is about a common hazard multiplier ``1/k`` that keeps the heterogeneity's shape ``a``) until
  the mean of the simulated survival at the yearly points ``1..K`` (the moment) equals the data's
  Kaplan-Meier mean.  Simulated survival is the Kaplan-Meier of the customers won during the
  simulated run, from their acquisition (the data's customers are observed from theirs too), over
  a few replications with the same seed at every evaluation (common random numbers: the moment
  is a smooth, monotone function of ``k`` up to steps of one customer), found by Brent's method
  on ``log k``.
* :func:`fit_checks`: the calibrated scenario simulated, each check with its interval and
  pass/fail (marginals, survival, revenue concentration, churn by segment), and the series the
  report's figures need.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import optimize, stats

from valuecapture.data import churn as sbg
from valuecapture.data.calibrate import Calibration, mean_share_of_wallet
from valuecapture.run.simulate import simulate
from valuecapture.scenario.load import Scenario

#: Replications of each evaluation of the survival match (customers won in them: thousands).
MATCH_REPLICATIONS = 16
#: Stop when log k is known to this (0.1% in k), or the moment is within the tolerance below.
MATCH_XTOL = 1e-3
#: The moment is matched when the simulated mean survival is this close to the data's.
MATCH_TOLERANCE = 0.002
#: Survival is compared at yearly points up to this many years, and where the data hold enough customers at risk.
MAX_MATCH_YEARS = 5
MIN_AT_RISK = 20
#: The z of the two-sided 95% intervals.
Z95 = float(stats.norm.ppf(0.975))


def simulated_lifetimes(ds: xr.Dataset, new: bool = True) -> tuple[sbg.Lifetimes, np.ndarray, np.ndarray]:
    """Lifetimes (years, on the period grid) of the customers of the detail replications of a result:
    those won during the run (``new``) from their acquisition, and the replication and segment of each
    (lost ones first, then censored, as in :class:`~valuecapture.data.churn.Lifetimes`).

    A customer won at the start of period ``t`` and active in ``L`` periods was lost at the end of its
    ``L``-th period, within ``((L - 1) dt, L dt]``, unless it was still active in the last period: then it
    survived ``L - 1`` whole periods and is censored there (a loss at the horizon's end is not seen)."""
    dt = 1.0 / float(ds.attrs["periods_per_year"])
    periods = int(ds.sizes["period"])
    acq = ds["acquired_period"].values.astype(np.int64)
    act = ds["periods_active"].values.astype(np.int64)
    seg = ds["segment"].values.astype(np.int64)
    rep = np.broadcast_to(np.arange(acq.shape[0])[:, None], acq.shape)
    who = acq >= 1 if new else acq >= 0
    last = np.maximum(acq, 1) + act - 1 >= periods  # active in the last period
    lost = who & ~last & (act >= 1)
    cens = who & last
    lt = sbg.Lifetimes((act[lost] - 1.0) * dt, act[lost] * dt, (act[cens] - 1.0) * dt)
    return lt, np.concatenate([rep[lost], rep[cens]]), np.concatenate([seg[lost], seg[cens]])


def _survival_by_replication(lt: sbg.Lifetimes, reps: np.ndarray, n_rep: int, years: np.ndarray) -> np.ndarray:
    """Kaplan-Meier survival at ``years`` per replication (rows)."""
    n_lost = lt.events
    out = np.full((n_rep, years.size), np.nan)
    for r in range(n_rep):
        ml, mc = reps[:n_lost] == r, reps[n_lost:] == r
        if ml.any():
            out[r] = sbg.kaplan_meier(lt.subset(ml, mc), years).survival
        elif mc.any():
            out[r] = 1.0
    return out


@dataclass(frozen=True)
class SimulatedSurvival:
    """Survival of the customers won in a simulated run: pooled Kaplan-Meier at ``years``, its Monte
    Carlo standard error (from the spread across replications) and the per-replication curves."""

    years: np.ndarray
    survival: np.ndarray
    se: np.ndarray
    by_replication: np.ndarray
    customers: int

    @property
    def moment(self) -> float:
        return float(np.mean(self.survival[self.years > 0]))

    @property
    def moment_se(self) -> float:
        per = np.nanmean(self.by_replication[:, self.years > 0], axis=1)
        per = per[np.isfinite(per)]
        return float(np.std(per, ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.nan


def simulated_survival(ds: xr.Dataset, years: np.ndarray) -> SimulatedSurvival:
    """:class:`SimulatedSurvival` of a result's detail replications."""
    lt, reps, _ = simulated_lifetimes(ds)
    n_rep = int(ds.sizes["detail_replication"])
    if lt.events == 0:
        pooled = np.ones(years.size)
    else:
        pooled = sbg.kaplan_meier(lt, years).survival
    by = _survival_by_replication(lt, reps, n_rep, years)
    with np.errstate(invalid="ignore"):
        se = np.nanstd(by, axis=0, ddof=1) / math.sqrt(max(n_rep, 1))
    return SimulatedSurvival(years, pooled, se, by, lt.n)


def _for_simulation(scenario: Scenario, replications: int, churn: dict[str, Any] | None = None) -> Scenario:
    values: dict[str, Any] = {"outputs.relationship_detail": replications, "parameter_uncertainty.enabled": False}
    if churn is not None:
        values["uncertainties.churn"] = churn
    return scenario.with_values(values)


def match_years(km: dict[str, Any], scenario: Scenario) -> np.ndarray:
    """The yearly points the survival is matched at: 1..K, K at most :data:`MAX_MATCH_YEARS`, half the
    horizon, and the last whole year with at least :data:`MIN_AT_RISK` of the data's customers at risk."""
    horizon = float(scenario.get("horizon.periods")) / float(scenario.get("horizon.periods_per_year"))
    years = np.asarray(km["years"], dtype=float)
    at_risk = np.asarray(km["at_risk"], dtype=float)
    ok = years[(years >= 1) & (at_risk >= MIN_AT_RISK) & (years <= min(MAX_MATCH_YEARS, horizon / 2))]
    return ok if ok.size else np.array([1.0])


@dataclass(frozen=True)
class SurvivalMatch:
    """The churn distribution's ``b`` multiplied by ``factor`` so that the simulated survival's moment
    (mean of S at ``years``) equals the data's Kaplan-Meier one."""

    factor: float
    a: float
    b: float  # the data's fit
    years: np.ndarray
    target: np.ndarray  # the data's Kaplan-Meier at years
    target_se: np.ndarray
    before: SimulatedSurvival  # at factor 1
    after: SimulatedSurvival  # at factor
    evaluations: int
    seconds: float
    replications: int
    converged: bool
    trace: list[tuple[float, float]] = field(default_factory=list)  # (factor, moment)

    @property
    def target_moment(self) -> float:
        return float(np.mean(self.target))

    def describe(self) -> dict[str, Any]:
        """The sidecar's record, with the text for the TOML comment and the notes."""
        moment = f"mean survival at years {', '.join(f'{y:g}' for y in self.years)}"
        worst = float(np.max(np.abs(self.after.survival - self.target)))
        summary = (
            f"survival matched by simulated moments: {moment} {self.after.moment:.4f} simulated vs "
            f"{self.target_moment:.4f} data (before {self.before.moment:.4f}), largest gap at a year {worst:.4f}"
        )
        note = (
            f"b x {self.factor:.4g} ({self.b:.4g} -> {self.b * self.factor:.4g}) so that the simulated survival of "
            f"customers won in the run matches the data's Kaplan-Meier ({moment}: {self.target_moment:.4f} data, "
            f"{self.before.moment:.4f} simulated before, {self.after.moment:.4f} after, Monte Carlo s.e. "
            f"{self.after.moment_se:.4f}; {self.replications} replications, common random numbers, "
            f"{self.evaluations} evaluations, {self.seconds:.1f} s; off: --no-match-survival)"
        )
        return {
            "factor": self.factor,
            "a": self.a,
            "b_fitted": self.b,
            "b": self.b * self.factor,
            "moment": moment,
            "years": self.years.tolist(),
            "data": self.target.tolist(),
            "data_se": self.target_se.tolist(),
            "simulated_before": self.before.survival.tolist(),
            "simulated": self.after.survival.tolist(),
            "simulated_se": self.after.se.tolist(),
            "moment_data": self.target_moment,
            "moment_before": self.before.moment,
            "moment_simulated": self.after.moment,
            "moment_mc_se": self.after.moment_se,
            "tolerance": MATCH_TOLERANCE,
            "xtol_log_factor": MATCH_XTOL,
            "customers_simulated": self.after.customers,
            "replications": self.replications,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "converged": self.converged,
            "trace": [list(t) for t in self.trace],
            "summary": summary,
            "note": note,
        }


def match_survival(
    scenario: Scenario,
    calibration: Calibration,
    replications: int = MATCH_REPLICATIONS,
    seed: int | None = None,
) -> SurvivalMatch:
    """Find the factor ``k`` on the churn distribution's ``b`` (module text) for the calibrated
    ``scenario``.  ``seed``: the scenario's ``run.seed`` by default; the same at every evaluation."""
    t0 = time.perf_counter()
    churn = calibration.estimates["uncertainties.churn"]
    a, b = float(churn.details["pooled"]["a"]), float(churn.details["pooled"]["b"])
    km = churn.details["kaplan_meier"]
    years = match_years(km, scenario)
    idx = [km["years"].index(y) for y in years.tolist()]
    target = np.asarray(km["survival"], dtype=float)[idx]
    target_se = np.asarray(km["se"], dtype=float)[idx]
    goal = float(np.mean(target))
    seed = int(scenario.get("run.seed")) if seed is None else seed
    cache: dict[float, SimulatedSurvival] = {}

    def at(log_k: float) -> SimulatedSurvival:
        if log_k not in cache:
            sc = _for_simulation(scenario, replications, {"dist": "beta", "a": a, "b": b * math.exp(log_k)})
            cache[log_k] = simulated_survival(simulate(sc, replications, seed, workers=1), years)
        return cache[log_k]

    def gap(log_k: float) -> float:
        return at(log_k).moment - goal

    g0 = gap(0.0)
    converged = abs(g0) <= MATCH_TOLERANCE
    best = 0.0
    if not converged:
        # survival rises with b: simulated survival too high (g0 > 0) needs a smaller b
        step = -math.log(2.0) if g0 > 0 else math.log(2.0)
        lo, hi = 0.0, step
        for _ in range(6):
            if (gap(hi) > 0) != (g0 > 0):
                break
            lo, hi = hi, hi + step
        if (gap(hi) > 0) != (g0 > 0):
            root = optimize.brentq(gap, min(lo, hi), max(lo, hi), xtol=MATCH_XTOL, full_output=False)
            best = float(root)
            converged = True
        else:
            best = hi
    # the evaluation closest to the goal (brentq's last one need not be it: the moment has steps)
    best = min(cache, key=lambda v: (abs(cache[v].moment - goal), abs(v - best)))
    trace = sorted((math.exp(v), s.moment) for v, s in cache.items())
    return SurvivalMatch(
        factor=float(math.exp(best)),
        a=a,
        b=b,
        years=years,
        target=target,
        target_se=target_se,
        before=cache[0.0],
        after=cache[best],
        evaluations=len(cache),
        seconds=time.perf_counter() - t0,
        replications=replications,
        converged=converged,
        trace=trace,
    )


# ---------------------------------------------------------------------------
# Fit checks
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One fit check: the data's value, the interval it must lie in, and whether it does."""

    group: str  # "marginal", "survival", "concentration", "segment churn"
    name: str
    data: float
    low: float
    high: float
    simulated: float = math.nan
    how: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.low <= self.data <= self.high)

    def line(self) -> str:
        sim = f", simulated {self.simulated:.4g}" if math.isfinite(self.simulated) else ""
        return (
            f"fit check failed: {self.group} {self.name}: data {self.data:.4g} outside [{self.low:.4g}, "
            f"{self.high:.4g}]{sim} ({self.how})"
        )

    def describe(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "data": self.data,
            "low": self.low,
            "high": self.high,
            "simulated": self.simulated,
            "passed": self.passed,
            "how": self.how,
        }


def lorenz(values: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The Lorenz curve of ``values`` (share of customers from the smallest, share of the total) at
    ``points`` shares."""
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    share = np.linspace(0.0, 1.0, points)
    if v.size == 0 or v.sum() <= 0:
        return share, share.copy()
    cum = np.concatenate([[0.0], np.cumsum(v)]) / v.sum()
    return share, np.interp(share * v.size, np.arange(v.size + 1), cum)


def top_share(values: np.ndarray, top: float = 0.2) -> float:
    """Share of the total held by the largest ``top`` share of the customers."""
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])[::-1]
    if v.size == 0 or v.sum() <= 0:
        return math.nan
    k = max(1, int(round(top * v.size)))
    return float(v[:k].sum() / v.sum())


def gini(values: np.ndarray) -> float:
    """The Gini coefficient of ``values``."""
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n = v.size
    if n == 0 or v.sum() <= 0:
        return math.nan
    return float((2.0 * np.sum(np.arange(1, n + 1) * v) / (n * v.sum())) - (n + 1.0) / n)


@dataclass(frozen=True)
class FitChecks:
    """The simulated check of a calibrated scenario: every :class:`Check`, and what the figures show."""

    checks: list[Check]
    replications: int
    seconds: float
    qq: dict[str, dict[str, Any]]  # input -> {"family", "empirical", "fitted"} quantiles
    survival: dict[str, Any]  # years, data (S, lo, hi), simulated (S, lo, hi)
    concentration: dict[str, Any]  # data and simulated Lorenz curves, top-20% shares
    segments: list[dict[str, Any]]  # per segment: data and simulated first-year survival with intervals

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def describe(self) -> dict[str, Any]:
        return {
            "replications": self.replications,
            "seconds": self.seconds,
            "checks": [c.describe() for c in self.checks],
            "failed": len(self.failed),
        }


def _simulated_revenue(ds: xr.Dataset, scenario: Scenario) -> list[np.ndarray]:
    """Each detail replication's annual revenue at the start of the customers drawn from the
    distributions: wallet x net price x the scenario's mean initial share of wallet (the mapping the
    calibration inverts); the initial customers, or with ``customers.source`` those won in the run."""
    sow = mean_share_of_wallet(scenario)
    acq = ds["acquired_period"].values
    who = acq >= 1 if scenario.get("customers.source") else acq == 0
    rev = ds["wallet"].values * ds["net_price"].values * sow
    return [rev[r][who[r] & np.isfinite(rev[r])] for r in range(rev.shape[0])]


def fit_checks(
    scenario: Scenario, calibration: Calibration, replications: int = 100, seed: int | None = None
) -> FitChecks:
    """Simulate ``scenario`` (the calibrated one) and check it against ``calibration``'s data:

    * each fitted marginal: the Kolmogorov-Smirnov distance below its 95% critical value
      ``1.358 / sqrt(n)`` (conservative with estimated parameters, Lilliefors 1967);
    * survival at each yearly point: the data's Kaplan-Meier inside the simulated survival
      +- 1.96 x sqrt(Greenwood s.e.^2 + Monte Carlo s.e.^2);
    * revenue concentration (top-20% share, Gini): the data's value inside the 2.5-97.5% range
      of the simulated replications' values (each a firm of the simulated size);
    * churn by segment: first-year survival, as for survival, per segment.
    """
    t0 = time.perf_counter()
    seed = int(scenario.get("run.seed")) if seed is None else seed
    ds = simulate(_for_simulation(scenario, replications), replications, seed, workers=1)
    checks: list[Check] = []
    samples = calibration.samples
    qq: dict[str, dict[str, Any]] = {}
    for name in ("wallet", "price", "cost_to_serve", "initial_age"):
        e = calibration.estimates.get(f"uncertainties.{name}")
        x = samples.get(name)
        if e is None or x is None or "family" not in e.details:
            continue
        x = np.sort(np.asarray(x, dtype=float))
        x = x[np.isfinite(x) & (x > 0)]
        frozen = getattr(stats, e.details["family"])(**e.details["params"])
        probs = (np.arange(1, x.size + 1) - 0.5) / x.size
        qq[name] = {"family": e.details["family"], "empirical": x, "fitted": frozen.ppf(probs)}
        d = float(stats.kstest(x, frozen.cdf).statistic)
        crit = 1.358 / math.sqrt(x.size)
        checks.append(Check("marginal", name, d, 0.0, crit, math.nan, f"KS distance D vs its 95% value, n = {x.size}"))
    # survival
    churn = calibration.estimates["uncertainties.churn"]
    km = churn.details["kaplan_meier"]
    years = np.asarray(km["years"], dtype=float)
    keep = (np.asarray(km["at_risk"]) >= MIN_AT_RISK) & (
        years <= float(scenario.get("horizon.periods")) / float(scenario.get("horizon.periods_per_year")) / 2
    )
    years = years[keep]
    data_s = np.asarray(km["survival"], dtype=float)[keep]
    data_se = np.asarray(km["se"], dtype=float)[keep]
    sim = simulated_survival(ds, years)
    band = np.nanpercentile(sim.by_replication, [2.5, 97.5], axis=0) if sim.by_replication.size else None
    for y, s_d, se_d, s_s, se_s in zip(years, data_s, data_se, sim.survival, sim.se, strict=True):
        if y <= 0:
            continue
        half = Z95 * math.sqrt(se_d**2 + (se_s if math.isfinite(se_s) else 0.0) ** 2)
        checks.append(
            Check(
                "survival",
                f"S({y:g} years)",
                float(s_d),
                float(s_s - half),
                float(s_s + half),
                float(s_s),
                "Kaplan-Meier of the data vs of customers won in the run; 1.96 x sqrt(Greenwood^2 + MC s.e.^2)",
            )
        )
    survival = {
        "years": years,
        "data": data_s,
        "data_low": np.clip(data_s - Z95 * data_se, 0, 1),
        "data_high": np.clip(data_s + Z95 * data_se, 0, 1),
        "simulated": sim.survival,
        "band_low": band[0] if band is not None else sim.survival,
        "band_high": band[1] if band is not None else sim.survival,
        "customers": sim.customers,
        "replications": int(ds.sizes["detail_replication"]),
    }
    # revenue concentration
    concentration: dict[str, Any] = {}
    revenue = samples.get("revenue")
    if revenue is not None and np.isfinite(revenue).sum() >= 20:
        data_rev = np.asarray(revenue, dtype=float)[np.isfinite(revenue)]
        sims = [r for r in _simulated_revenue(ds, scenario) if r.size >= 5]
        if sims:
            x, data_curve = lorenz(data_rev)
            curves = np.array([lorenz(r)[1] for r in sims])
            for label, fn in (("top-20% revenue share", top_share), ("Gini of revenue", gini)):
                values = np.array([fn(r) for r in sims])
                lo, hi = np.nanpercentile(values, [2.5, 97.5])
                checks.append(
                    Check(
                        "concentration",
                        label,
                        fn(data_rev),
                        float(lo),
                        float(hi),
                        float(np.nanmean(values)),
                        f"2.5-97.5% of {len(sims)} simulated firms",
                    )
                )
            concentration = {
                "share": x,
                "data": data_curve,
                "simulated": curves.mean(axis=0),
                "low": np.percentile(curves, 2.5, axis=0),
                "high": np.percentile(curves, 97.5, axis=0),
                "top20_data": top_share(data_rev),
                "top20_simulated": float(np.nanmean([top_share(r) for r in sims])),
            }
    # churn by segment: first-year survival
    segments: list[dict[str, Any]] = []
    names: list[str] = samples.get("segments", [])
    lt: sbg.Lifetimes | None = samples.get("lifetimes")
    if names and lt is not None:
        codes = samples["segment"]
        lost_mask = samples["lost"]
        codes_lt = np.concatenate([codes[lost_mask], codes[~lost_mask]])
        slt, _, sseg = simulated_lifetimes(ds)
        one = np.array([1.0])
        for k, name in enumerate(names):
            ml, mc = codes_lt[: lt.events] == k, codes_lt[lt.events :] == k
            if ml.sum() + mc.sum() < MIN_AT_RISK:
                continue
            dkm = sbg.kaplan_meier(lt.subset(ml, mc), one)
            sl, sc_ = sseg[: slt.events] == k, sseg[slt.events :] == k
            if sl.sum() + sc_.sum() < MIN_AT_RISK:
                continue
            skm = sbg.kaplan_meier(slt.subset(sl, sc_), one)
            half = Z95 * math.sqrt(float(dkm.se[0]) ** 2 + float(skm.se[0]) ** 2)
            d1, s1 = 1.0 - float(dkm.survival[0]), 1.0 - float(skm.survival[0])
            checks.append(
                Check(
                    "segment churn",
                    f"{name}: first-year churn",
                    d1,
                    s1 - half,
                    s1 + half,
                    s1,
                    "1 - Kaplan-Meier S(1 year), data vs customers won in the run; 1.96 x sqrt(se^2 + se^2)",
                )
            )
            segments.append(
                {
                    "segment": name,
                    "data": d1,
                    "data_se": float(dkm.se[0]),
                    "simulated": s1,
                    "simulated_se": float(skm.se[0]),
                    "n_data": int(ml.sum() + mc.sum()),
                }
            )
    return FitChecks(checks, replications, time.perf_counter() - t0, qq, survival, concentration, segments)
