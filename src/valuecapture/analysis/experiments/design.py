"""Designs: the design points of an experiment (full factorial, Latin hypercube, Sobol/Saltelli, Morris
trajectories, one-at-a-time swings)."""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import qmc

from valuecapture.analysis.experiments.spec import Experiment
from valuecapture.analysis.stats import analysis_rng
from valuecapture.scenario.load import (
    Scenario,
)


@dataclass(frozen=True)
class DesignTable:
    """The design points: ``values[p][k]`` is factor k's value at point p.

    For Sobol designs, ``block`` is 'A', 'B' or 'AB', ``row`` the row of the base
    matrices and ``column`` the factor taken from B (-1 for A and B rows).  For Morris
    designs, ``row`` is the trajectory, ``column`` the factor moved to reach the point
    from the one before it (-1 for a trajectory's first point) and ``step`` that move on
    the unit scale (+-delta; 0 for first points).  For one-at-a-time designs, ``block``
    is 'base', 'low' or 'high' and ``column`` the factor moved (-1 for the base point).
    """

    values: list[list[Any]]
    block: list[str]
    row: list[int]
    column: list[int]
    step: list[float] = field(default_factory=list)


def design_size(e: Experiment) -> int:
    if e.design == "full_factorial":
        return int(np.prod([len(f.grid()) for f in e.factors]))
    if e.design == "latin_hypercube":
        return int(e.points or 0)
    if e.design == "morris":
        return int(e.trajectories or 0) * (len(e.factors) + 1)
    if e.design == "oat":
        return 1 + 2 * len(e.factors)
    return int(e.points or 0) * (len(e.factors) + 2)


def design(e: Experiment) -> DesignTable:
    """The design points of an experiment (deterministic given its seed)."""
    d = len(e.factors)
    if e.design == "full_factorial":
        combos = list(itertools.product(*[f.grid() for f in e.factors]))
        n = len(combos)
        return DesignTable([list(c) for c in combos], ["grid"] * n, list(range(n)), [-1] * n)
    if e.design == "oat":
        return _oat(e)
    rng = analysis_rng(e.seed, "design")
    if e.design == "morris":
        return _morris(e, rng)
    if e.design == "latin_hypercube":
        u = qmc.LatinHypercube(d, **_qmc_rng(qmc.LatinHypercube, rng)).random(int(e.points or 0))
        cols = [f.from_unit(u[:, k]) for k, f in enumerate(e.factors)]
        n = u.shape[0]
        return DesignTable([[cols[k][p] for k in range(d)] for p in range(n)], ["lhs"] * n, list(range(n)), [-1] * n)
    n_base = int(e.points or 0)
    u = qmc.Sobol(2 * d, scramble=True, **_qmc_rng(qmc.Sobol, rng)).random_base2(int(round(math.log2(n_base))))
    a, b = u[:, :d], u[:, d:]
    mats = [("A", -1, a), ("B", -1, b)]
    for k in range(d):
        ab = a.copy()
        ab[:, k] = b[:, k]
        mats.append(("AB", k, ab))
    values, block, row, column = [], [], [], []
    for name, k, m in mats:
        cols = [f.from_unit(m[:, j]) for j, f in enumerate(e.factors)]
        for r in range(n_base):
            values.append([cols[j][r] for j in range(d)])
            block.append(name)
            row.append(r)
            column.append(k)
    return DesignTable(values, block, row, column)


def morris_unit_design(
    d: int, trajectories: int, levels: int, rng: np.random.Generator, pool: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Morris (1991) trajectories on the unit hypercube, from :func:`SALib.sample.morris.sample`.

    ``trajectories`` trajectories of ``d + 1`` points on the ``levels``-level grid
    {0, 1/(p-1), ..., 1}, each moving one factor at a time by delta = p / (2 (p - 1));
    with ``pool``, the ``trajectories`` best spread of ``pool`` random ones
    (Campolongo et al. 2007, with Ruano et al. 2012's local optimisation).  Returns
    ``(u, moved, step)``: the points (``trajectories * (d + 1)`` x ``d``), the factor
    moved to reach each point (-1 for first points) and the signed move.
    """
    from SALib.sample import morris as salib_morris  # lazy: SALib imports pandas and matplotlib

    problem = {"num_vars": d, "names": [f"x{k}" for k in range(d)], "bounds": [[0.0, 1.0]] * d}
    if pool is not None:
        u = salib_morris.sample(problem, pool, levels, optimal_trajectories=trajectories, seed=rng)
    else:
        u = salib_morris.sample(problem, trajectories, levels, seed=rng)
    u = np.asarray(u, dtype=float)
    moved = np.full(u.shape[0], -1, dtype=int)
    step = np.zeros(u.shape[0])
    for t in range(trajectories):
        for j in range(1, d + 1):
            p = t * (d + 1) + j
            diff = u[p] - u[p - 1]
            k = int(np.argmax(np.abs(diff)))
            moved[p] = k
            step[p] = float(diff[k])
    return u, moved, step


def _morris(e: Experiment, rng: np.random.Generator) -> DesignTable:
    d = len(e.factors)
    r = int(e.trajectories or 0)
    u, moved, step = morris_unit_design(d, r, int(e.levels or 4), rng, e.trajectory_pool)
    cols = [f.from_unit(u[:, k]) for k, f in enumerate(e.factors)]
    n = u.shape[0]
    return DesignTable(
        [[cols[k][p] for k in range(d)] for p in range(n)],
        ["morris"] * n,
        [p // (d + 1) for p in range(n)],
        [int(m) for m in moved],
        [float(s) for s in step],
    )


def base_value(e: Experiment, field_path: str) -> Any:
    """The base scenario's value of a factor's field (``choices.business_models.<i>.<field>`` included)."""
    node: Any = e.base.get(field_path.split(".")[0])
    for part in field_path.split(".")[1:]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _oat(e: Experiment) -> DesignTable:
    """The base point and, for each factor, the base with that factor at its low and then its high end."""
    base = [base_value(e, f.field) for f in e.factors]
    values, block, column = [list(base)], ["base"], [-1]
    for k, f in enumerate(e.factors):
        ends = f.extremes()
        for name, v in (("low", ends[0]), ("high", ends[-1])):
            row = list(base)
            row[k] = v
            values.append(row)
            block.append(name)
            column.append(k)
    return DesignTable(values, block, [0] * len(values), column, [0.0] * len(values))


def _qmc_rng(cls: Any, rng: np.random.Generator) -> dict[str, Any]:
    return {"rng": rng} if "rng" in inspect.signature(cls).parameters else {"seed": rng}


def point_scenario(e: Experiment, row: Sequence[Any]) -> Scenario:
    """The base scenario with the factors set to ``row`` (validated)."""
    values = {f.field: v for f, v in zip(e.factors, row, strict=True)}
    return e.base.with_values(values)
