"""What an experiment is: its factors, hypotheses and responses (the statistics of a design point's replications)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from valuecapture.analysis.stats import expected_shortfall
from valuecapture.scenario.load import (
    Scenario,
    ScenarioError,
)

DESIGNS: tuple[str, ...] = ("full_factorial", "latin_hypercube", "sobol", "morris", "oat")
#: Designs that screen (elementary effects, one-at-a-time swings) instead of estimating variance-based indices.
SCREENING_DESIGNS: tuple[str, ...] = ("morris", "oat")
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "any")
#: Upper limit on design points (a guard against typing one zero too many).
MAX_POINTS = 100_000
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExperimentError(ScenarioError):
    """An experiment file is invalid.  ``str(err)`` is one line: ``file: field: problem``."""


# ---------------------------------------------------------------------------
# Responses: statistics of one design point's replications
# ---------------------------------------------------------------------------


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.nanmean(x, axis=axis)


def _sd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.nanstd(x, axis=axis, ddof=1)


def _cv(x: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nanstd(x, axis=axis, ddof=1) / np.abs(np.nanmean(x, axis=axis))


def _p5(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.quantile(x, 0.05, axis=axis)


def _es5(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return expected_shortfall(x, 0.05, axis=axis)


def _p_loss(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x < 0, axis=axis)


@dataclass(frozen=True)
class Response:
    """A statistic of one per-replication variable over a design point's replications."""

    name: str
    variable: str
    units: str
    title: str
    reduce: Callable[..., np.ndarray]


#: The responses an experiment can analyse, by name.
RESPONSES: dict[str, Response] = {
    r.name: r
    for r in (
        Response("mean_firm_value", "firm_value", "currency", "Mean firm value", _mean),
        Response(
            "sd_firm_value", "firm_value", "currency", "Standard deviation of firm value across replications", _sd
        ),
        Response(
            "cv_firm_value",
            "firm_value",
            "ratio",
            "Coefficient of variation of firm value (sd / |mean|): risk relative to value",
            _cv,
        ),
        Response("p5_firm_value", "firm_value", "currency", "5% quantile of firm value (value at risk)", _p5),
        Response(
            "es5_firm_value", "firm_value", "currency", "Expected shortfall of firm value (mean of the worst 5%)", _es5
        ),
        Response("p_loss", "firm_value", "probability", "P(firm value < 0)", _p_loss),
        Response(
            "mean_value_created",
            "value_created",
            "currency",
            "Mean value created by value-creating relationships",
            _mean,
        ),
        Response(
            "mean_value_destroyed",
            "value_destroyed",
            "currency",
            "Mean value destroyed by value-destroying relationships",
            _mean,
        ),
        Response(
            "mean_stobachoff_index",
            "stobachoff_index",
            "ratio",
            "Mean Stobachoff index (value destroyed / value created)",
            _mean,
        ),
        Response(
            "mean_top20_share",
            "top20_share",
            "fraction of total",
            "Mean share of value of the top 20% of relationships",
            _mean,
        ),
        Response(
            "mean_gini", "relationship_value_gini", "index 0-1", "Mean Gini coefficient of relationship value", _mean
        ),
        Response(
            "mean_relationship_sd",
            "relationship_value_sd",
            "currency",
            "Mean within-replication sd of relationship value",
            _mean,
        ),
    )
}
DEFAULT_RESPONSES = ("mean_firm_value", "sd_firm_value", "mean_gini")


# ---------------------------------------------------------------------------
# The experiment file
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One experimental factor: a scenario field with a range or a list of levels."""

    field: str
    name: str
    kind: str  # int | float | bool | str
    low: float | None = None
    high: float | None = None
    levels: tuple[Any, ...] | None = None
    scale: str = "linear"
    steps: int | None = None
    units: str = "-"
    doc: str = ""

    @property
    def is_range(self) -> bool:
        return self.levels is None

    def _cast(self, v: float) -> Any:
        return int(round(v)) if self.kind == "int" else float(v)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map points of [0, 1) to factor values (uniform on the range or log-range; equal-probability levels)."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, np.nextafter(1.0, 0.0))
        if self.levels is not None:
            return [self.levels[int(math.floor(x * len(self.levels)))] for x in u]
        assert self.low is not None and self.high is not None
        if self.scale == "log":
            vals = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        else:
            vals = self.low + u * (self.high - self.low)
        return [self._cast(v) for v in vals]

    def grid(self) -> list[Any]:
        """The levels of a full factorial design."""
        if self.levels is not None:
            return list(self.levels)
        assert self.low is not None and self.high is not None and self.steps is not None
        if self.scale == "log":
            vals = np.exp(np.linspace(np.log(self.low), np.log(self.high), self.steps))
        else:
            vals = np.linspace(self.low, self.high, self.steps)
        out: list[Any] = []
        for v in vals:
            c = self._cast(v)
            if c not in out:
                out.append(c)
        return out

    def extremes(self) -> list[Any]:
        return list(self.levels) if self.levels is not None else [self._cast(self.low), self._cast(self.high)]  # type: ignore[arg-type]

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float", "bool")

    def code(self, values: Sequence[Any]) -> np.ndarray:
        """Numbers for analysis: the value (bool: 0/1; text levels: their index)."""
        if self.kind == "str":
            assert self.levels is not None
            return np.array([self.levels.index(v) for v in values], dtype=float)
        return np.array([float(v) for v in values], dtype=float)

    def describe(self) -> str:
        if self.levels is not None:
            return "levels " + ", ".join(show_value(v) for v in self.levels)
        s = f"range [{self.low:g}, {self.high:g}]" + (" (log scale)" if self.scale == "log" else "")
        return s + (f", {self.steps} steps" if self.steps else "")


@dataclass(frozen=True)
class Hypothesis:
    """'Raising ``factor`` changes ``response`` in ``direction``' (tested by OLS across design points)."""

    response: str
    factor: str  # factor name
    direction: str = "any"


@dataclass(frozen=True)
class Experiment:
    """A validated experiment (see the module docstring)."""

    name: str
    description: str
    source: str
    scenario_path: str
    base: Scenario
    design: str
    points: int | None
    replications: int
    seed: int
    factors: tuple[Factor, ...]
    responses: tuple[str, ...]
    hypotheses: tuple[Hypothesis, ...]
    text: str = field(repr=False, default="")
    #: Morris designs: r trajectories on a p-level grid, optionally the r best spread of a pool (Campolongo 2007).
    trajectories: int | None = None
    levels: int | None = None
    trajectory_pool: int | None = None

    def factor(self, key: str) -> Factor:
        for f in self.factors:
            if key in (f.name, f.field):
                return f
        raise KeyError(key)


def show_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def type_name(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "text", list: "list", dict: "table"}.get(
        type(v), type(v).__name__
    )
