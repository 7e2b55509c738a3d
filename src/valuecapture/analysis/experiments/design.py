"""Designs: the design points of an experiment (full factorial, Latin hypercube, Sobol/Saltelli)."""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
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
    matrices and ``column`` the factor taken from B (-1 for A and B rows).
    """

    values: list[list[Any]]
    block: list[str]
    row: list[int]
    column: list[int]


def design_size(e: Experiment) -> int:
    if e.design == "full_factorial":
        return int(np.prod([len(f.grid()) for f in e.factors]))
    if e.design == "latin_hypercube":
        return int(e.points or 0)
    return int(e.points or 0) * (len(e.factors) + 2)


def design(e: Experiment) -> DesignTable:
    """The design points of an experiment (deterministic given its seed)."""
    d = len(e.factors)
    if e.design == "full_factorial":
        combos = list(itertools.product(*[f.grid() for f in e.factors]))
        n = len(combos)
        return DesignTable([list(c) for c in combos], ["grid"] * n, list(range(n)), [-1] * n)
    rng = analysis_rng(e.seed, "design")
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


def _qmc_rng(cls: Any, rng: np.random.Generator) -> dict[str, Any]:
    return {"rng": rng} if "rng" in inspect.signature(cls).parameters else {"seed": rng}


def point_scenario(e: Experiment, row: Sequence[Any]) -> Scenario:
    """The base scenario with the factors set to ``row`` (validated)."""
    values = {f.field: v for f, v in zip(e.factors, row, strict=True)}
    return e.base.with_values(values)
