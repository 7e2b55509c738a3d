"""Screening many factors: Morris elementary effects, one-at-a-time swings (tornado), and the warning a sweep
gives when it has too few design points for the sensitivity indices it reports."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.experiments.sensitivity import Sensitivity, factor_names
from valuecapture.analysis.experiments.spec import RESPONSES
from valuecapture.analysis.stats import bootstrap_ci

# ---------------------------------------------------------------------------
# Morris elementary effects
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MorrisIndex:
    """Morris (1991) statistics of one factor's elementary effects on one response.

    Elementary effects are in units of the response per the factor's whole range
    (a move of delta on the unit scale, divided by delta): ``mu`` their mean (signed),
    ``mu_star`` the mean of their absolute values (Campolongo et al. 2007), ``sigma``
    their standard deviation (interactions or curvature); the interval is a bootstrap
    over trajectories.
    """

    factor: str
    mu: float
    mu_star: float
    mu_star_low: float
    mu_star_high: float
    sigma: float
    effects: int


@dataclass(frozen=True)
class Morris:
    response: str
    method: str
    indices: list[MorrisIndex]  # sorted by mu* (largest first)
    trajectories: int
    level: float


def elementary_effects(
    y: np.ndarray, trajectory: np.ndarray, moved: np.ndarray, step: np.ndarray, d: int
) -> np.ndarray:
    """The elementary effects ``(trajectories, d)``: ``(y_j - y_{j-1}) / step_j`` for the factor moved at step j."""
    y = np.asarray(y, dtype=float)
    n_traj = int(np.max(trajectory)) + 1
    ee = np.full((n_traj, d), np.nan)
    for p in range(1, y.size):
        k = int(moved[p])
        if k < 0:
            continue
        if trajectory[p] != trajectory[p - 1]:
            raise ValueError(f"design point {p} moves factor {k} but starts trajectory {trajectory[p]}")
        ee[int(trajectory[p]), k] = (y[p] - y[p - 1]) / step[p]
    return ee


def morris_indices(
    ee: np.ndarray, names: Sequence[str], *, level: float = 0.95, n_resamples: int = 1000, seed: int = 0
) -> list[MorrisIndex]:
    """mu, mu*, sigma of each factor's elementary effects ``ee`` (trajectories x factors); mu*'s bootstrap CI."""
    ee = np.asarray(ee, dtype=float)
    d = ee.shape[1]

    def stat(*cols: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.stack([np.mean(np.abs(c), axis=axis) for c in cols])

    low, high = bootstrap_ci(
        [ee[:, k] for k in range(d)], stat, seed=seed, level=level, n_resamples=n_resamples, paired=True
    )
    out = []
    for k in range(d):
        e = ee[:, k]
        sd = float(np.std(e, ddof=1)) if e.size > 1 else float("nan")
        out.append(
            MorrisIndex(
                names[k],
                float(np.mean(e)),
                float(np.mean(np.abs(e))),
                float(low[k]),
                float(high[k]),
                sd,
                int(e.size),
            )
        )
    return sorted(out, key=lambda i: -i.mu_star)


def morris(
    ds: xr.Dataset, response: str, *, level: float = 0.95, n_resamples: int = 1000, seed: int | None = None
) -> Morris:
    """Morris elementary-effects screening of ``response`` on a sweep with a ``morris`` design."""
    if ds.attrs.get("design") != "morris":
        raise ValueError(f"morris screening needs a morris design, this sweep has {ds.attrs.get('design')!r}")
    r = RESPONSES[response]
    names = factor_names(ds)
    y = r.reduce(ds[r.variable].values.astype(float), axis=-1)
    ee = elementary_effects(
        y, ds["morris_trajectory"].values, ds["morris_factor"].values, ds["morris_step"].values, len(names)
    )
    seed = int(ds.attrs.get("seed", 0)) if seed is None else int(seed)
    idx = morris_indices(ee, names, level=level, n_resamples=n_resamples, seed=seed)
    n_traj = ee.shape[0]
    pool = int(ds.attrs.get("morris_trajectory_pool", 0))
    chosen = f" (the best spread of {pool})" if pool else ""
    method = (
        f"Morris (1991) elementary effects, {n_traj} trajectories{chosen} on a {ds.attrs.get('morris_levels')}-level "
        f"grid; mu* = mean |effect| (Campolongo et al. 2007), in {r.units} for a move across the factor's whole "
        "range; CI: bootstrap over trajectories"
    )
    return Morris(response, method, idx, n_traj, level)


# ---------------------------------------------------------------------------
# One-at-a-time swings (tornado)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Swing:
    """The response with one factor at its low and at its high end, every other factor at its base value."""

    factor: str
    low_value: Any
    high_value: Any
    base_value: Any
    low: float
    low_ci: tuple[float, float]
    high: float
    high_ci: tuple[float, float]
    swing: float  # high - low
    swing_ci: tuple[float, float]  # paired over replications (common random numbers)

    @property
    def width(self) -> float:
        return abs(self.swing)


@dataclass(frozen=True)
class Tornado:
    response: str
    base: float
    base_ci: tuple[float, float]
    swings: list[Swing]  # widest first
    level: float
    replications: int
    method: str


def tornado(
    ds: xr.Dataset, response: str, *, level: float = 0.95, n_resamples: int = 1000, seed: int | None = None
) -> Tornado:
    """One-at-a-time swings of ``response`` on a sweep with an ``oat`` design, widest first.

    Each end's response (a statistic of that point's replications) has a bootstrap CI
    over replications; the swing (high - low) a paired one: every point ran the same
    replications on the same seed, so the same resampled replication indices are used
    at both ends and the Monte Carlo noise common to them cancels.
    """
    if ds.attrs.get("design") != "oat":
        raise ValueError(f"a tornado needs an oat design, this sweep has {ds.attrs.get('design')!r}")
    r = RESPONSES[response]
    names = factor_names(ds)
    end = ds["oat_end"].values
    col = ds["oat_factor"].values
    x = ds[r.variable].values.astype(float)  # (points, replications)
    base_p = int(np.flatnonzero(end == "base")[0])
    lows = [int(np.flatnonzero((end == "low") & (col == k))[0]) for k in range(len(names))]
    highs = [int(np.flatnonzero((end == "high") & (col == k))[0]) for k in range(len(names))]
    order = [base_p, *lows, *highs]
    d = len(names)

    def stat(*s: np.ndarray, axis: int = -1) -> np.ndarray:
        v = [r.reduce(q, axis=axis) for q in s]
        return np.stack(v + [v[1 + d + k] - v[1 + k] for k in range(d)])

    data = [x[p] for p in order]
    point = stat(*[q[None, :] for q in data])[:, 0]
    seed = int(ds.attrs.get("seed", 0)) if seed is None else int(seed)
    low, high = bootstrap_ci(data, stat, seed=seed, level=level, n_resamples=n_resamples, paired=True)

    def ci(i: int) -> tuple[float, float]:
        return float(low[i]), float(high[i])

    swings = []
    for k, f in enumerate(names):
        v = ds[f].values
        swings.append(
            Swing(
                f,
                _item(v[lows[k]]),
                _item(v[highs[k]]),
                _item(v[base_p]),
                float(point[1 + k]),
                ci(1 + k),
                float(point[1 + d + k]),
                ci(1 + d + k),
                float(point[1 + 2 * d + k]),
                ci(1 + 2 * d + k),
            )
        )
    swings.sort(key=lambda s: -s.width if math.isfinite(s.width) else 0.0)
    method = (
        f"one factor at a time from the base scenario to each end of its range, {x.shape[1]} replications per point "
        "on one seed (common random numbers); CIs: bootstrap over replications, the swing's paired"
    )
    return Tornado(response, float(point[0]), ci(0), swings, level, int(x.shape[1]), method)


def _item(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


# ---------------------------------------------------------------------------
# Too few design points for the indices: the warning
# ---------------------------------------------------------------------------

#: Regression-based (Latin hypercube) indices: at least this many design points per factor.
LHS_POINTS_PER_FACTOR = 10
#: Sobol/Saltelli indices: at least this many base rows N.
SOBOL_MIN_BASE = 32
#: Morris: at least this many trajectories for mu*'s bootstrap interval.
MORRIS_MIN_TRAJECTORIES = 10
#: An index estimate outside [-INDEX_SLACK, 1 + INDEX_SLACK] is noise, not a share of variance.
INDEX_SLACK = 0.05
#: An index's confidence interval wider than this says little about the index.
MAX_CI_WIDTH = 0.5

WARNING_RULE = (
    f"regression-based indices need at least {LHS_POINTS_PER_FACTOR} Latin hypercube points per factor, Sobol "
    f"indices at least N = {SOBOL_MIN_BASE} base rows, Morris mu* at least {MORRIS_MIN_TRAJECTORIES} trajectories; "
    f"any index outside [-{INDEX_SLACK:g}, {1 + INDEX_SLACK:g}] or with a CI wider than {MAX_CI_WIDTH:g} is flagged"
)


def index_warning(ds: xr.Dataset, sens: Mapping[str, Sensitivity] | None = None) -> str | None:
    """One line when the sweep has too few design points for the indices it reports, else None.

    The rule (:data:`WARNING_RULE`): a design below its minimum size
    (:data:`LHS_POINTS_PER_FACTOR` points per factor for Latin hypercubes,
    :data:`SOBOL_MIN_BASE` base rows for Sobol, :data:`MORRIS_MIN_TRAJECTORIES`
    trajectories for Morris), or any first-order or total index (of any response
    in ``sens``) outside ``[-INDEX_SLACK, 1 + INDEX_SLACK]``, or with a confidence
    interval wider than :data:`MAX_CI_WIDTH`.  Full factorial (exact ANOVA of the
    grid) and one-at-a-time designs report no such indices and get no size warning.
    """
    a = ds.attrs
    kind = a.get("design")
    d = len(factor_names(ds))
    n = int(a.get("design_points", ds.sizes.get("design_point", 0)))
    problems = []
    if kind == "latin_hypercube" and n < LHS_POINTS_PER_FACTOR * d:
        problems.append(
            f"{n} Latin hypercube points for {d} factors (regression-based indices need at least "
            f"{LHS_POINTS_PER_FACTOR} per factor: {LHS_POINTS_PER_FACTOR * d})"
        )
    if kind == "sobol":
        base = int(np.max(ds["sobol_row"].values)) + 1
        if base < SOBOL_MIN_BASE:
            problems.append(
                f"N = {base} Sobol base rows (the Saltelli/Jansen estimators need at least {SOBOL_MIN_BASE})"
            )
    if kind == "morris":
        r = int(a.get("morris_trajectories", 0))
        if r < MORRIS_MIN_TRAJECTORIES:
            problems.append(
                f"{r} Morris trajectories (mu*'s interval and ranking need at least {MORRIS_MIN_TRAJECTORIES})"
            )
    outside = wide = total = 0
    worst: tuple[float, str] | None = None
    for resp, s in (sens or {}).items():
        for i in s.indices:
            for key in ("first", "total"):
                v, lo, hi = getattr(i, key), getattr(i, f"{key}_low"), getattr(i, f"{key}_high")
                total += 1
                if math.isfinite(v) and not -INDEX_SLACK <= v <= 1 + INDEX_SLACK:
                    outside += 1
                    dist = max(-INDEX_SLACK - v, v - 1 - INDEX_SLACK)
                    if worst is None or dist > worst[0]:
                        worst = (
                            dist,
                            f"{key}-order index of {i.factor} on {resp} = {v:.3f}".replace("total-order", "total"),
                        )
                if math.isfinite(lo) and math.isfinite(hi) and hi - lo > MAX_CI_WIDTH:
                    wide += 1
    if outside:
        assert worst is not None
        problems.append(
            f"{outside} of {total} indices outside [-{INDEX_SLACK:g}, {1 + INDEX_SLACK:g}] (e.g. the {worst[1]})"
        )
    if wide:
        problems.append(f"{wide} of {total} index CIs wider than {MAX_CI_WIDTH:g}")
    if not problems:
        return None
    return (
        "warning: too few design points for the indices reported: "
        + "; ".join(problems)
        + ". Read them as rough; rerun with more points (or a morris design to screen many factors)."
    )
