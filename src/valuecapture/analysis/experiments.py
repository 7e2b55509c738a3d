"""Designed experiments over scenario fields: designs, sweeps, sensitivity, regression.

An **experiment file** (TOML, data only: nothing in it is evaluated) names a
base scenario, optional fixed changes to it, the **factors** (scenario fields
with a range or a list of levels) and a **design**:

* ``full_factorial``: every combination of the factors' levels (a range
  factor needs ``steps``);
* ``latin_hypercube``: ``points`` points, stratified in every factor
  (:class:`scipy.stats.qmc.LatinHypercube`);
* ``sobol``: the Saltelli (2010) scheme on a scrambled Sobol' sequence
  (:class:`scipy.stats.qmc.Sobol`): base matrices A and B of ``points = N`` rows
  (a power of 2) and, for each of the d factors, A with that factor's column
  from B: ``N (d + 2)`` design points.

Every design point is a synthetic firm: the base scenario with the factors set
to the point's values, simulated for ``replications`` replications with the
experiment's seed, so replication r faces the same random draws at every point
(common random numbers).  :func:`sweep` returns one Dataset with a
``design_point`` dimension and the factor values as coordinates.

Analyses (see docs/research.md):

* :func:`responses` -- statistics of each point's replications (mean and sd of
  firm value, P(value < 0), mean Gini of relationship value...).
* :func:`sensitivity` -- first-order and total sensitivity indices with
  bootstrap confidence intervals: Saltelli (2010) and Jansen (1999) estimators
  on Sobol designs; the exact ANOVA decomposition on full factorial designs;
  regression-based indices (adjusted R^2 of flexible regressions) on Latin
  hypercubes.
* :func:`regress` / :func:`hypothesis_tests` -- OLS of a response on the
  factors across design points: effect sizes with confidence intervals, and
  one-sided tests such as "does the wallet spread raise the sd of firm value?".
"""

from __future__ import annotations

import itertools
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import stats as sps

from valuecapture.analysis.heterogeneity import RELATIONSHIP_REDUCER, RELATIONSHIP_STATS
from valuecapture.run.load import scenario_of
from valuecapture.run.simulate import simulate_variants
from valuecapture.scenario.load import (
    BUSINESS_MODEL_FIELDS,
    NAME_RULE,
    Scenario,
    ScenarioError,
    field_by_path,
    hint,
    is_safe_name,
    read_input,
)

DESIGNS: tuple[str, ...] = ("full_factorial", "latin_hypercube", "sobol")
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "any")
#: Upper limit on design points (a guard against typing one zero too many).
MAX_POINTS = 100_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
    from valuecapture.analysis.stats import expected_shortfall

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
            return "levels " + ", ".join(_show(v) for v in self.levels)
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

    def factor(self, key: str) -> Factor:
        for f in self.factors:
            if key in (f.name, f.field):
                return f
        raise KeyError(key)


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _type(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "text", list: "list", dict: "table"}.get(
        type(v), type(v).__name__
    )


EXPERIMENT_KEYS = ("name", "description", "scenario", "design", "points", "replications", "seed", "responses")
FACTOR_KEYS = ("field", "name", "range", "levels", "scale", "steps")
HYPOTHESIS_KEYS = ("response", "factor", "direction")
TOP_KEYS = ("experiment", "set", "factors", "hypotheses")


def _reserved_names() -> set[str]:
    from valuecapture.run.results import REPLICATION_VARS

    return (
        set(REPLICATION_VARS)
        | set(RELATIONSHIP_STATS)
        | {"design_point", "replication", "sobol_block", "sobol_row", "sobol_column"}
    )


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment file (one-line :class:`ExperimentError` on bad input)."""
    text = read_input(path, "experiment", ExperimentError)
    return loads_experiment(text, source=str(path), base_dir=Path(path).parent)


def _flatten(node: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted paths of a [set] table; a table with a ``dist`` key (a distribution) is one value."""
    out: list[tuple[str, Any]] = []
    for k, v in node.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and "dist" not in v:
            out += _flatten(v, path)
        else:
            out.append((path, v))
    return out


def _field_info(path: str) -> tuple[str, str, str]:
    """(type, unit, description) of a scenario field path, as far as the schema knows it."""
    try:
        f = field_by_path(path)
        return f.type, f.unit, f.doc
    except KeyError:
        pass
    parts = path.split(".")
    if len(parts) == 4 and parts[:2] == ["choices", "business_models"] and parts[2].isdigit():
        for f in BUSINESS_MODEL_FIELDS:
            if f.path == parts[3]:
                return f.type, f.unit, f"business model {parts[2]}: {f.doc}"
    if len(parts) == 3:
        try:
            parent = field_by_path(".".join(parts[:2]))
            if parent.type == "dist":
                return "float", "-", f"parameter {parts[2]!r} of the distribution {parent.path} ({parent.doc})"
        except KeyError:
            pass
    return "float", "-", path


def loads_experiment(
    text: str, source: str = "<experiment>", base_dir: str | Path = ".", base: Scenario | None = None
) -> Experiment:
    """Parse and validate an experiment from TOML text.

    The base scenario path is relative to ``base_dir`` (the experiment file's
    folder).  ``base`` supplies the scenario instead of loading it (used to
    reproduce a sweep from its result, which stores the scenario).
    """

    def bad(where: str, problem: str) -> ExperimentError:
        return ExperimentError(source, where, problem)

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise bad("", f"malformed TOML: {exc}") from None
    for k in raw:
        if k not in TOP_KEYS:
            raise bad(k, "unknown section" + hint(k, TOP_KEYS))
    exp = raw.get("experiment")
    if not isinstance(exp, dict):
        raise bad("experiment", "missing [experiment] table (with at least scenario and design)")
    for k in exp:
        if k not in EXPERIMENT_KEYS:
            raise bad(f"experiment.{k}", "unknown key" + hint(k, EXPERIMENT_KEYS))

    # -- base scenario ------------------------------------------------------
    scen = exp.get("scenario")
    if base is None:
        if not isinstance(scen, str) or not scen:
            raise bad(
                "experiment.scenario", "required: the path of the base scenario file (relative to the experiment file)"
            )
        scen_path = Path(scen) if Path(scen).is_absolute() else Path(base_dir) / scen
        from valuecapture.scenario.load import load_scenario

        try:
            base = load_scenario(scen_path)
        except ScenarioError as exc:
            raise bad("experiment.scenario", f"base scenario is not valid: {exc}") from None
    scenario_path = str(scen) if isinstance(scen, str) else base.source
    sets = raw.get("set", {})
    if not isinstance(sets, dict):
        raise bad("set", f"must be a table of scenario fields and values, got {_type(sets)}")
    changes = dict(_flatten(sets))
    for path in changes:
        if path.split(".")[0] in ("run",):
            raise bad(f"set.{path}", "run settings belong in [experiment] (replications, seed)")
    if changes:
        try:
            base = base.with_values(changes)
        except ScenarioError as exc:
            raise bad(f"set.{exc.field}" if exc.field else "set", exc.problem) from None

    # -- scalars --------------------------------------------------------------
    design_kind = exp.get("design")
    if not isinstance(design_kind, str) or design_kind not in DESIGNS:
        got = (
            f"unknown design {design_kind!r}"
            if isinstance(design_kind, str)
            else ("required" if design_kind is None else f"must be text, got {_type(design_kind)}")
        )
        raise bad(
            "experiment.design",
            got + (hint(design_kind, DESIGNS) if isinstance(design_kind, str) else f"; allowed: {', '.join(DESIGNS)}"),
        )

    def integer(key: str, default: Any, lo: int, hi: int) -> Any:
        v = exp.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad(f"experiment.{key}", f"must be an integer in [{lo}, {hi}], got {_type(v)} {v!r}")
        if not lo <= v <= hi:
            raise bad(f"experiment.{key}", f"must be an integer in [{lo}, {hi}], got {v}")
        return v

    name = exp.get("name", Path(source).stem if source and not source.startswith("<") else "experiment")
    if not is_safe_name(name):
        raise bad("experiment.name", f"must be {NAME_RULE} (it names the result folder), got {name!r}")
    description = exp.get("description", "")
    if not isinstance(description, str):
        raise bad("experiment.description", f"must be text, got {_type(description)}")
    replications = integer("replications", int(base.get("run.replications")), 2, 10_000_000)
    seed = integer("seed", int(base.get("run.seed")), 0, 2**63 - 1)
    points = integer("points", None, 2, MAX_POINTS)
    if design_kind == "full_factorial" and points is not None:
        raise bad(
            "experiment.points",
            "is not used by a full_factorial design (its size is the product of the factors' levels); remove it",
        )
    if design_kind == "latin_hypercube" and points is None:
        raise bad(
            "experiment.points", "required for a latin_hypercube design: the number of design points (an integer >= 2)"
        )
    if design_kind == "sobol":
        if points is None:
            raise bad(
                "experiment.points",
                "required for a sobol design: the base sample size N, a power of 2 (the design has N x (factors + 2) points)",
            )
        if points & (points - 1):
            raise bad("experiment.points", f"must be a power of 2 for a sobol design (e.g. 16, 32, 64), got {points}")
    resp = exp.get("responses", list(DEFAULT_RESPONSES))
    if not isinstance(resp, list) or not resp or not all(isinstance(r, str) for r in resp):
        raise bad(
            "experiment.responses", f"must be a non-empty list of response names; allowed: {', '.join(RESPONSES)}"
        )
    for i, r in enumerate(resp):
        if r not in RESPONSES:
            raise bad(f"experiment.responses[{i}]", f"unknown response {r!r}" + hint(r, list(RESPONSES)))
    if len(set(resp)) != len(resp):
        raise bad("experiment.responses", f"names must be distinct, got {resp}")

    # -- factors --------------------------------------------------------------
    fs = raw.get("factors")
    if not isinstance(fs, list) or not fs or not all(isinstance(f, dict) for f in fs):
        raise bad("factors", "required: at least one [[factors]] table with field and range or levels")
    factors: list[Factor] = []
    for i, f in enumerate(fs):
        where = f"factors[{i}]"
        for k in f:
            if k not in FACTOR_KEYS:
                raise bad(f"{where}.{k}", "unknown key" + hint(k, FACTOR_KEYS))
        path = f.get("field")
        if not isinstance(path, str) or not path:
            raise bad(
                f"{where}.field",
                'required: the scenario field to vary, e.g. "uncertainties.wallet.s" or "demand.rho_within"',
            )
        if path.split(".")[0] in ("scenario", "run"):
            raise bad(
                f"{where}.field", f"{path!r} cannot be a factor (name, replications and seed are set by the experiment)"
            )
        if any(g.field == path for g in factors):
            raise bad(f"{where}.field", f"{path!r} is already a factor")
        ftype, unit, doc = _field_info(path)
        fname = f.get("name", path.replace(".", "_"))
        if not isinstance(fname, str) or not _NAME.match(fname):
            raise bad(f"{where}.name", f"must be an identifier (letters, digits, '_'), got {fname!r}")
        if any(g.name == fname for g in factors):
            raise bad(f"{where}.name", f"{fname!r} is already the name of a factor")
        if fname in _reserved_names():
            raise bad(f"{where}.name", f"{fname!r} is the name of a result variable; choose another name")
        if ("range" in f) == ("levels" in f):
            raise bad(where, "needs exactly one of range = [low, high] or levels = [...]")
        scale = f.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise bad(f"{where}.scale", f"unknown scale {scale!r}; allowed: 'linear', 'log'")
        steps = f.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 2 or steps > 1000):
            raise bad(f"{where}.steps", f"must be an integer in [2, 1000], got {steps!r}")
        if "range" in f:
            r = f["range"]
            if (
                not isinstance(r, list)
                or len(r) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
                or not all(math.isfinite(v) for v in r)
            ):
                raise bad(f"{where}.range", f"must be two finite numbers [low, high], got {r!r}")
            if not r[0] < r[1]:
                raise bad(f"{where}.range", f"low must be below high, got {r!r}")
            if ftype not in ("int", "float"):
                raise bad(f"{where}.range", f"{path} is {ftype}, not a number: give levels = [...] instead")
            if scale == "log" and r[0] <= 0:
                raise bad(f"{where}.scale", f"a log scale needs a positive range, got {r!r}")
            if design_kind == "full_factorial" and steps is None:
                raise bad(
                    f"{where}.steps",
                    "required for a range in a full_factorial design (levels evenly spaced over the range)",
                )
            factor = Factor(
                path,
                fname,
                "int" if ftype == "int" else "float",
                float(r[0]),
                float(r[1]),
                None,
                scale,
                steps,
                unit,
                doc,
            )
        else:
            lv = f["levels"]
            if not isinstance(lv, list) or len(lv) < 2:
                raise bad(f"{where}.levels", f"must be a list of at least two values, got {lv!r}")
            kinds = {type(v) for v in lv}
            if len(kinds) > 1 and kinds != {int, float}:
                raise bad(f"{where}.levels", f"must all be of one type, got {lv!r}")
            if any(isinstance(v, (dict, list)) for v in lv):
                raise bad(f"{where}.levels", f"must be numbers, true/false or text, got {lv!r}")
            if len({json.dumps(v) for v in lv}) != len(lv) or (
                kinds <= {int, float} and len(set(float(v) for v in lv)) != len(lv)
            ):
                raise bad(f"{where}.levels", f"must be distinct, got {lv!r}")
            if "scale" in f:
                raise bad(f"{where}.scale", "applies to a range only")
            if steps is not None:
                raise bad(f"{where}.steps", "applies to a range only")
            first = lv[0]
            kind = (
                "bool"
                if isinstance(first, bool)
                else "str"
                if isinstance(first, str)
                else ("int" if ftype == "int" else "float")
            )
            levels = tuple(float(v) if kind == "float" else v for v in lv)
            factor = Factor(path, fname, kind, None, None, levels, "linear", None, unit, doc)
        # each extreme must give a valid scenario on its own
        for v in factor.extremes():
            try:
                base.with_values({path: v})
            except ScenarioError as exc:
                key = "range" if factor.is_range else "levels"
                raise bad(
                    f"{where}.{key}",
                    f"{path} = {_show(v)} is not valid: {exc.field}: {exc.problem}"
                    if exc.field != path
                    else f"{path} = {_show(v)}: {exc.problem}",
                ) from None
        factors.append(factor)

    # -- hypotheses -----------------------------------------------------------
    hs = raw.get("hypotheses", [])
    if not isinstance(hs, list) or not all(isinstance(h, dict) for h in hs):
        raise bad("hypotheses", "must be an array of tables [[hypotheses]] with response, factor and direction")
    hypotheses: list[Hypothesis] = []
    names = [f.name for f in factors] + [f.field for f in factors]
    for i, h in enumerate(hs):
        where = f"hypotheses[{i}]"
        for k in h:
            if k not in HYPOTHESIS_KEYS:
                raise bad(f"{where}.{k}", "unknown key" + hint(k, HYPOTHESIS_KEYS))
        r = h.get("response")
        if r not in RESPONSES:
            raise bad(
                f"{where}.response",
                (f"unknown response {r!r}" + hint(str(r), list(RESPONSES)))
                if r is not None
                else "required: a response name",
            )
        fk = h.get("factor")
        if fk not in names:
            raise bad(
                f"{where}.factor",
                (f"{fk!r} is not a factor" + hint(str(fk), names))
                if fk is not None
                else "required: a factor's field or name",
            )
        fac = next(f for f in factors if fk in (f.name, f.field))
        if not fac.numeric:
            raise bad(f"{where}.factor", f"{fk!r} has text levels; a hypothesis needs a numeric or true/false factor")
        d = h.get("direction", "any")
        if d not in DIRECTIONS:
            raise bad(f"{where}.direction", f"unknown direction {d!r}; allowed: {', '.join(DIRECTIONS)}")
        hypotheses.append(Hypothesis(r, fac.name, d))
        if r not in resp:
            resp.append(r)

    e = Experiment(
        name,
        description,
        source,
        scenario_path,
        base,
        design_kind,
        points,
        replications,
        seed,
        tuple(factors),
        tuple(resp),
        tuple(hypotheses),
        text,
    )
    n = design_size(e)
    if n > MAX_POINTS:
        raise bad("factors", f"the design has {n} points; at most {MAX_POINTS} are allowed")
    # every design point must be a valid scenario: check them all before anything runs
    table = design(e)
    for p, row in enumerate(table.values):
        try:
            point_scenario(e, row)
        except ScenarioError as exc:
            setting = ", ".join(f"{f.field}={_show(v)}" for f, v in zip(e.factors, row))
            raise bad(
                "factors", f"design point {p} ({setting}) is not a valid scenario: {exc.field}: {exc.problem}"
            ) from None
    return e


# ---------------------------------------------------------------------------
# Designs
# ---------------------------------------------------------------------------


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
    from scipy.stats import qmc

    from valuecapture.analysis.stats import analysis_rng

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
    import inspect

    return {"rng": rng} if "rng" in inspect.signature(cls).parameters else {"seed": rng}


def point_scenario(e: Experiment, row: Sequence[Any]) -> Scenario:
    """The base scenario with the factors set to ``row`` (validated)."""
    values = {f.field: v for f, v in zip(e.factors, row)}
    return e.base.with_values(values)


# ---------------------------------------------------------------------------
# Running a sweep
# ---------------------------------------------------------------------------


def sweep(
    e: Experiment,
    replications: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    store: str | Path | None = None,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
) -> xr.Dataset:
    """Run every design point of ``e`` (same seed: common random numbers) and return one Dataset.

    Dims ``design_point`` x ``replication``; every per-replication output of
    :func:`~valuecapture.simulate` and the per-replication statistics of
    relationship value; the factor values as coordinates on ``design_point``
    (named by the factors' names, with the scenario field in attrs); the
    experiment (TOML), the base scenario, seed and version in attrs.  The run goes through
    :func:`~valuecapture.run.simulate.simulate_variants` (executors, ``store``/``resume``).
    """
    reps = int(e.replications if replications is None else replications)
    seed = int(e.seed if seed is None else seed)
    if reps < 2:
        raise ValueError(f"a sweep needs at least 2 replications per design point, got {reps}")
    table = design(e)
    scenarios = [point_scenario(e, row) for row in table.values]
    out = simulate_variants(
        {str(i): sc for i, sc in enumerate(scenarios)},
        "design_point",
        reps,
        seed,
        keep="replication",
        reduce=RELATIONSHIP_REDUCER,
        workers=workers,
        batch_size=batch_size,
        executor=executor,
        scheduler=scheduler,
        progress=progress,
        store=store,
        resume=resume,
        stop=stop,
    )
    ref = dict(out.attrs)
    coords: dict[str, Any] = {
        "design_point": (
            "design_point",
            np.arange(len(scenarios)),
            {
                "description": "Design point: a synthetic firm (the base scenario with the factors set as in the factor coordinates)."
            },
        )
    }
    for j, f in enumerate(e.factors):
        vals = [row[j] for row in table.values]
        arr = np.array(
            vals,
            dtype=object
            if f.kind == "str"
            else (bool if f.kind == "bool" else (np.int64 if f.kind == "int" else float)),
        )
        fattrs: dict[str, Any] = {
            "field": f.field,
            "units": f.units,
            "design": f.describe(),
            "description": f"Factor {f.field} ({f.describe()}): {f.doc}",
        }
        if f.is_range:
            fattrs.update({"range_low": f.low, "range_high": f.high})
        coords[f.name] = ("design_point", arr, fattrs)
    if e.design == "sobol":
        coords["sobol_block"] = (
            "design_point",
            np.array(table.block, dtype=object),
            {"description": "Saltelli scheme: 'A', 'B' or 'AB' (A with one factor's column from B)."},
        )
        coords["sobol_row"] = (
            "design_point",
            np.array(table.row),
            {"description": "Row of the base matrices A and B."},
        )
        coords["sobol_column"] = (
            "design_point",
            np.array(table.column),
            {"description": "For 'AB' points, the index of the factor taken from B; -1 otherwise."},
        )
    out = out.assign_coords(coords)
    base_attrs = {
        **ref,
        "scenario_name": e.base.name,
        "scenario_source": e.base.source,
        "scenario_overrides": json.dumps(list(e.base.overrides)),
        "scenario_toml": e.base.to_toml(),
    }
    attrs = {
        key: base_attrs[key]
        for key in (
            "scenario_name",
            "scenario_source",
            "scenario_overrides",
            "scenario_toml",
            "root_entropy",
            "seed_scheme",
            "valuecapture_version",
            "numpy_version",
            "currency",
        )
        if key in base_attrs
    }
    attrs.update(
        {
            "title": f"valuecapture experiment {e.name!r}: {e.design} design over {', '.join(f.field for f in e.factors)}",
            "kind": "sweep",
            "experiment_name": e.name,
            "experiment_description": e.description,
            "experiment_source": e.source,
            "experiment_toml": e.text,
            "design": e.design,
            "design_points": int(len(scenarios)),
            "factors": json.dumps([f.name for f in e.factors]),
            "responses": json.dumps(list(e.responses)),
            "hypotheses": json.dumps(
                [{"response": h.response, "factor": h.factor, "direction": h.direction} for h in e.hypotheses]
            ),
            "seed": seed,
            "replications": reps,
            "comparison": "common random numbers: every design point ran the same replications with the same seed",
            "reproduce": f"valuecapture reproduce <this file>  (or: valuecapture sweep {e.source} --seed {seed} --replications {reps})",
        }
    )
    out.attrs = attrs
    return out


def experiment_of(ds: xr.Dataset) -> Experiment:
    """The experiment a sweep result was produced from, from its attrs.

    The stored base scenario (with ``[set]`` already applied; applying it again
    changes nothing) replaces the scenario file, which may have changed or moved.
    """
    return loads_experiment(
        ds.attrs["experiment_toml"], source=ds.attrs.get("experiment_source", "<result>"), base=scenario_of(ds)
    )


# ---------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------


def factor_names(ds: xr.Dataset) -> list[str]:
    return list(json.loads(ds.attrs["factors"]))


def responses(ds: xr.Dataset, names: Sequence[str] | None = None) -> xr.Dataset:
    """Each design point's responses (statistics over its replications), over ``design_point``."""
    names = list(names or json.loads(ds.attrs.get("responses", json.dumps(list(DEFAULT_RESPONSES)))))
    out = {}
    for n in names:
        r = RESPONSES[n]
        out[n] = xr.Variable(
            ("design_point",),
            r.reduce(ds[r.variable].values.astype(float), axis=-1),
            {"units": r.units, "description": r.title},
        )
    return xr.Dataset(out, coords={c: ds[c] for c in ds.coords if ds[c].dims == ("design_point",)})


@dataclass(frozen=True)
class SensitivityIndex:
    """First-order and total sensitivity index of one factor for one response."""

    factor: str
    first: float
    first_low: float
    first_high: float
    total: float
    total_low: float
    total_high: float


@dataclass(frozen=True)
class Sensitivity:
    response: str
    method: str
    indices: list[SensitivityIndex]
    variance: float
    level: float
    note: str = ""


def sensitivity(
    ds: xr.Dataset, response: str, *, level: float = 0.95, n_resamples: int = 1000, seed: int | None = None
) -> Sensitivity:
    """First-order and total sensitivity indices of ``response`` with bootstrap CIs.

    * Sobol designs: first order by Saltelli (2010), ``S_i = mean(f(B) (f(AB_i) - f(A))) / V``,
      total by Jansen (1999), ``S_Ti = mean((f(A) - f(AB_i))^2) / (2V)``, V the variance of
      f over A and B; CI by bootstrap over the N base rows (paired across A, B, AB_i).
    * Full factorial designs: the ANOVA decomposition of the design (every factor's
      levels equally likely), ``S_i = Var(E[Y|X_i]) / Var(Y)`` and
      ``S_Ti = E[Var(Y|X_~i)] / Var(Y)``, exact for the grid; CI by bootstrap over
      replications (the same replication indices at every point).
    * Latin hypercube designs (regression-based): ``S_i`` = adjusted R^2 of a
      regression of Y on factor i alone (quadratic in a numeric factor, dummies for
      levels); ``S_Ti`` = adjusted R^2 of the full model (all factors, pairwise
      interactions when there are enough points) minus that of the full model
      without factor i.  Adjusted R^2 removes the chance fit, so an irrelevant
      factor scores about 0 and can score below it.  CI by bootstrap over design points.
    """
    from valuecapture.analysis.stats import bootstrap_ci

    r = RESPONSES[response]
    names = factor_names(ds)
    seed = int(ds.attrs.get("seed", 0)) if seed is None else int(seed)
    design_kind = ds.attrs["design"]
    x = ds[r.variable].values.astype(float)  # (points, replications)
    y = r.reduce(x, axis=-1)
    if design_kind == "sobol":
        block = ds["sobol_block"].values
        col = ds["sobol_column"].values
        row = ds["sobol_row"].values
        n = int(row.max()) + 1
        fa = y[block == "A"][np.argsort(row[block == "A"])]
        fb = y[block == "B"][np.argsort(row[block == "B"])]
        fab = [
            y[(block == "AB") & (col == k)][np.argsort(row[(block == "AB") & (col == k)])] for k in range(len(names))
        ]
        d = len(names)

        def stat(*s: np.ndarray, axis: int = -1) -> np.ndarray:
            # centred on the mean of f over A and B (Saltelli's estimator is not shift-invariant in its variance)
            centre = np.mean(np.concatenate([s[0], s[1]], axis=axis), axis=axis, keepdims=True)
            a, b, abs_ = s[0] - centre, s[1] - centre, [q - centre for q in s[2:]]
            v = np.var(np.concatenate([a, b], axis=axis), axis=axis, ddof=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                first = [np.mean(b * (ab - a), axis=axis) / v for ab in abs_]
                total = [0.5 * np.mean((a - ab) ** 2, axis=axis) / v for ab in abs_]
            return np.stack(first + total)

        data = [fa, fb, *fab]
        point = stat(*[q[None, :] for q in data])[:, 0]
        low, high = bootstrap_ci(data, stat, seed=seed, level=level, n_resamples=n_resamples, paired=True)
        var = float(np.var(np.concatenate([fa, fb]), ddof=1))
        method = f"Saltelli (2010) first order, Jansen (1999) total; N = {n} base rows, {len(y)} points; CI: bootstrap over base rows"
        idx = [
            SensitivityIndex(
                names[k],
                float(point[k]),
                float(low[k]),
                float(high[k]),
                float(point[d + k]),
                float(low[d + k]),
                float(high[d + k]),
            )
            for k in range(d)
        ]
        return Sensitivity(response, method, idx, var, level)
    codes = [_codes(ds, f) for f in names]
    if design_kind == "full_factorial":
        keys = [np.unique(c, return_inverse=True)[1] for c in codes]
        d = len(names)

        def stat_ff(*s: np.ndarray, axis: int = -1) -> np.ndarray:
            yy = np.stack([r.reduce(q, axis=axis) for q in s], axis=-1)  # (..., points)
            return np.stack(_anova_indices(yy, keys), axis=0)

        data = list(x)
        point = stat_ff(*[q[None, :] for q in data])[:, 0]
        low, high = bootstrap_ci(data, stat_ff, seed=seed, level=level, n_resamples=n_resamples, paired=True)
        method = f"ANOVA decomposition of the full factorial grid ({len(y)} points); CI: bootstrap over replications (same indices at every point)"
        idx = [
            SensitivityIndex(
                names[k],
                float(point[k]),
                float(low[k]),
                float(high[k]),
                float(point[d + k]),
                float(low[d + k]),
                float(high[d + k]),
            )
            for k in range(d)
        ]
        return Sensitivity(response, method, idx, float(np.var(y)), level)
    # latin hypercube: regression-based
    cats = [ds[f].dtype == object or ds[f].dtype == bool for f in names]
    n_pts = len(y)
    d = len(names)
    bases = [_basis(c, cat) for c, cat in zip(codes, cats)]
    p_full = 1 + sum(b.shape[1] for b in bases) + d * (d - 1) // 2
    interactions = n_pts >= 3 * p_full
    pts = np.arange(n_pts, dtype=float)

    def stat_lhs(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        one = np.ndim(idx) == 1
        idx = np.atleast_2d(idx).astype(int)
        out = np.empty((2 * d, idx.shape[0]))
        for j, rows in enumerate(idx):
            out[:, j] = _regression_indices(y[rows], [b[rows] for b in bases], [c[rows] for c in codes], interactions)
        return out[:, 0] if one else out

    point = stat_lhs(pts)
    low, high = bootstrap_ci((pts,), stat_lhs, seed=seed, level=level, n_resamples=n_resamples, method="percentile")
    method = (
        f"regression-based (adjusted R^2; {'with' if interactions else 'without'} pairwise interactions) on {n_pts} Latin hypercube points; "
        "CI: bootstrap over design points"
    )
    idx = [
        SensitivityIndex(
            names[k],
            float(point[k]),
            float(low[k]),
            float(high[k]),
            float(point[d + k]),
            float(low[d + k]),
            float(high[d + k]),
        )
        for k in range(d)
    ]
    return Sensitivity(response, method, idx, float(np.var(y, ddof=1)), level)


def _codes(ds: xr.Dataset, name: str) -> np.ndarray:
    v = ds[name].values
    if v.dtype == object:
        levels = list(dict.fromkeys(v.tolist()))
        return np.array([levels.index(a) for a in v.tolist()], dtype=float)
    return v.astype(float)


def _anova_indices(y: np.ndarray, keys: list[np.ndarray]) -> list[np.ndarray]:
    """First-order and total indices of a full factorial grid; y is (..., points)."""
    d = len(keys)
    var = np.var(y, axis=-1)
    first, total = [], []
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(d):
            # E[Y | X_k]: mean over points sharing level of k
            m = np.zeros_like(y)
            for lvl in np.unique(keys[k]):
                sel = keys[k] == lvl
                m[..., sel] = y[..., sel].mean(axis=-1, keepdims=True)
            first.append(np.var(m, axis=-1) / var)
            # E[Var(Y | X_~k)]: variance within groups of points equal in every other factor
            if d == 1:
                group = np.zeros(y.shape[-1], dtype=int)
            else:
                group = np.unique(np.stack([keys[j] for j in range(d) if j != k], axis=1), axis=0, return_inverse=True)[
                    1
                ].ravel()
            w = np.zeros_like(y)
            for g in np.unique(group):
                sel = group == g
                w[..., sel] = y[..., sel] - y[..., sel].mean(axis=-1, keepdims=True)
            total.append(np.mean(w * w, axis=-1) / var)
    return first + total


def _basis(code: np.ndarray, categorical: bool) -> np.ndarray:
    """Regression columns of one factor: dummies for levels, else standardized linear (+ quadratic)."""
    lv = np.unique(code)
    if categorical or lv.size <= 2:
        if lv.size <= 2 and not categorical:
            z = (code - code.mean()) / (code.std() or 1.0)
            return z[:, None]
        return (
            np.stack([(code == v).astype(float) for v in lv[1:]], axis=1) if lv.size > 1 else np.zeros((code.size, 0))
        )
    z = (code - code.mean()) / (code.std() or 1.0)
    return np.stack([z, z * z - 1.0], axis=1) if lv.size > 2 else z[:, None]


def _adj_r2(y: np.ndarray, cols: list[np.ndarray]) -> float:
    n = y.size
    X = np.column_stack([np.ones(n)] + [c for c in cols if c.size]) if cols else np.ones((n, 1))
    p = np.linalg.matrix_rank(X)
    if n - p < 1:
        return float("nan")
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    rss = float(((y - X @ beta) ** 2).sum())
    tss = float(((y - y.mean()) ** 2).sum())
    if tss == 0:
        return 0.0
    return 1.0 - (rss / (n - p)) / (tss / (n - 1))


def _regression_indices(
    y: np.ndarray, bases: list[np.ndarray], codes: list[np.ndarray], interactions: bool
) -> np.ndarray:
    d = len(bases)
    lin = [(c - c.mean()) / (c.std() or 1.0) for c in codes]

    def model(exclude: int | None) -> list[np.ndarray]:
        cols = [bases[k] for k in range(d) if k != exclude]
        if interactions:
            cols += [(lin[i] * lin[j])[:, None] for i in range(d) for j in range(i + 1, d) if exclude not in (i, j)]
        return cols

    full = _adj_r2(y, model(None))
    first = [_adj_r2(y, [bases[k]]) for k in range(d)]
    total = [full - _adj_r2(y, model(k)) for k in range(d)]
    return np.array(first + total)


@dataclass(frozen=True)
class Effect:
    """The effect of one factor on a response, from the regression across design points.

    ``effect`` is the predicted change of the response when the factor moves from
    the low to the high end of its range (true/false factors: false to true; text
    levels: from the first level to this one) with the other factors at the centre
    of theirs; ``coef`` is that per unit of the factor.
    """

    response: str
    term: str
    factor: str
    coef: float
    se: float  # of the effect (HC3)
    low: float  # CI of the effect
    high: float
    t: float
    p: float  # two-sided
    effect: float
    effect_low: float
    effect_high: float
    effect_label: str
    standardized: float  # effect / sd of the response across the points used


@dataclass(frozen=True)
class Regression:
    response: str
    n: int
    r2: float
    effects: list[Effect]
    level: float
    df: int
    model: str


def regress(ds: xr.Dataset, response: str, factors: Sequence[str] | None = None, *, level: float = 0.95) -> Regression:
    """Effects of the factors on a response (one value per design point), by OLS across design points.

    The model codes every numeric factor to [-1, 1] over its range and includes
    its linear term, a quadratic term (factors with more than two distinct values)
    and, when there are at least three points per coefficient, all pairwise
    products of the linear terms; text factors enter as dummies against their
    first level.  The effect of a factor (low -> high, others at the centre of
    their ranges) is twice its linear coefficient; its interval uses
    heteroskedasticity-robust HC3 standard errors and t quantiles.  Curvature and
    interactions are in the model because under common random numbers the
    residuals are mostly deterministic lack of fit, which a straight line would
    leave correlated with the factors.  Sobol designs use only their A and B rows
    (2N independent points): the AB rows repeat A's responses with one column
    changed, which is what the Sobol estimators need but not what OLS assumes.
    """
    r = RESPONSES[response]
    names = list(factors or factor_names(ds))
    y_all = r.reduce(ds[r.variable].values.astype(float), axis=-1)
    rows = (
        np.isin(ds["sobol_block"].values, ["A", "B"]) if "sobol_block" in ds.coords else np.ones(y_all.size, dtype=bool)
    )
    y = y_all[rows]
    n = y.size
    base: list[np.ndarray] = [np.ones(n)]
    lin: list[np.ndarray] = []
    quad: list[np.ndarray] = []
    terms: list[tuple[str, str, int, float, str]] = []  # (term, factor, column, effect per coefficient, label)
    for f in names:
        v = ds[f].values[rows]
        if v.dtype == object:
            levels = list(dict.fromkeys(ds[f].values.tolist()))
            for lv in levels[1:]:
                base.append(np.array([a == lv for a in v.tolist()], dtype=float))
                terms.append((f"{f}={lv}", f, len(base) - 1, 1.0, f"{levels[0]} -> {lv}"))
            continue
        x = v.astype(float)
        lo = float(ds[f].attrs.get("range_low", ds[f].values.astype(float).min()))
        hi = float(ds[f].attrs.get("range_high", ds[f].values.astype(float).max()))
        half = (hi - lo) / 2 or 1.0
        z = (x - (lo + hi) / 2) / half
        base.append(z)
        lin.append(z)
        terms.append((f, f, len(base) - 1, 2.0, "false -> true" if v.dtype == bool else f"{_show(lo)} -> {_show(hi)}"))
        if np.unique(x).size > 2:
            quad.append(z * z - float(np.mean(z * z)))
    cols = base + quad
    inter = [lin[i] * lin[j] for i in range(len(lin)) for j in range(i + 1, len(lin))]
    with_inter = n >= 3 * (len(cols) + len(inter))
    if with_inter:
        cols = cols + inter
    X = np.column_stack(cols)
    p = X.shape[1]
    df = n - p
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / tss if tss > 0 else float("nan")
    if df > 0:
        xtxi = np.linalg.pinv(X.T @ X)
        h = np.einsum("ij,jk,ik->i", X, xtxi, X)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(h < 1 - 1e-12, resid / (1 - h), 0.0)
        cov = xtxi @ (X.T * u * u) @ X @ xtxi
        se_beta = np.sqrt(np.maximum(np.diag(cov), 0.0))
        tq = float(sps.t.ppf(0.5 + level / 2, df))
    else:
        se_beta = np.full(p, np.nan)
        tq = float("nan")
    sd_y = float(y.std(ddof=1)) if n > 1 else float("nan")
    effects = []
    for term, f, j, k, label in terms:
        eff, se = k * float(beta[j]), k * float(se_beta[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            t = eff / se if se > 0 else (0.0 if eff == 0 else math.copysign(math.inf, eff))
        pval = float(2 * sps.t.sf(abs(t), df)) if df > 0 and math.isfinite(t) else (1.0 if t == 0 else 0.0)
        span = 1.0
        if ds[f].values.dtype != object:
            lo = float(ds[f].attrs.get("range_low", ds[f].values.astype(float).min()))
            hi = float(ds[f].attrs.get("range_high", ds[f].values.astype(float).max()))
            span = (hi - lo) or 1.0
        effects.append(
            Effect(
                response,
                term,
                f,
                eff / span,
                se,
                eff - tq * se,
                eff + tq * se,
                float(t),
                pval,
                eff,
                eff - tq * se,
                eff + tq * se,
                label,
                eff / sd_y if sd_y > 0 else float("nan"),
            )
        )
    model = (
        "linear + quadratic"
        + (" + pairwise interactions" if with_inter else "")
        + " in factors coded to [-1, 1]; HC3 standard errors; "
        + (f"{n} Sobol A and B rows" if "sobol_block" in ds.coords else f"{n} design points")
    )
    return Regression(response, n, r2, effects, level, df, model)


@dataclass(frozen=True)
class HypothesisResult:
    hypothesis: Hypothesis
    effect: Effect
    p: float  # one-sided for increase/decrease, two-sided for any
    supported: bool
    alpha: float

    def sentence(self) -> str:
        h = self.hypothesis
        verb = {"increase": "raises", "decrease": "lowers", "any": "changes"}[h.direction]
        e = self.effect
        ci = f"[{_num(e.effect_low)}, {_num(e.effect_high)}]"
        verdict = "supported" if self.supported else "not supported"
        return (
            f"H: {h.factor} {verb} {h.response}: effect {e.effect_label} = {_num(e.effect)} {ci} "
            f"({'one' if h.direction != 'any' else 'two'}-sided p = {self.p:.3g}): {verdict} at {self.alpha:g}"
        )


def _num(v: float) -> str:
    from valuecapture.analysis.summary import _fmt

    if not math.isfinite(v):
        return "nan"
    if v != 0 and abs(v) < 0.1:
        return f"{v:.3g}"
    return _fmt(v, abs(v) >= 1000)


def hypothesis_tests(
    ds: xr.Dataset, hypotheses: Sequence[Hypothesis] | None = None, *, alpha: float = 0.05
) -> list[HypothesisResult]:
    """Test each hypothesis with :func:`regress` (all factors in the model)."""
    if hypotheses is None:
        hypotheses = [Hypothesis(**h) for h in json.loads(ds.attrs.get("hypotheses", "[]"))]
    out = []
    for h in hypotheses:
        reg = regress(ds, h.response, level=1 - alpha)
        e = next(x for x in reg.effects if x.factor == h.factor)
        if reg.df <= 0 or not math.isfinite(e.t):
            p = float("nan") if reg.df <= 0 else (0.0 if (e.t > 0) == (h.direction != "decrease") else 1.0)
        elif h.direction == "increase":
            p = float(sps.t.sf(e.t, reg.df))
        elif h.direction == "decrease":
            p = float(sps.t.cdf(e.t, reg.df))
        else:
            p = e.p
        out.append(HypothesisResult(h, e, p, bool(p < alpha), alpha))
    return out


def sweep_text(ds: xr.Dataset, *, n_resamples: int = 1000) -> str:
    """The tables ``valuecapture sweep`` prints."""
    a = ds.attrs
    names = factor_names(ds)
    resp = json.loads(a.get("responses", "[]"))
    lines = [
        f"experiment {a.get('experiment_name')!r}   design {a.get('design')} ({a.get('design_points')} points)   seed {a.get('seed')}   "
        f"replications {a.get('replications')} per point   valuecapture {a.get('valuecapture_version')}",
        f"base scenario {a.get('scenario_name')!r}; common random numbers across design points",
        "",
        "Factors",
    ]
    for f in names:
        lines.append(f"  {f:28s} {ds[f].attrs.get('field', f)}: {ds[f].attrs.get('design', '')}")
    for r in resp:
        s = sensitivity(ds, r, n_resamples=n_resamples)
        lines += ["", f"Sensitivity of {r} ({RESPONSES[r].title}): {s.method}"]
        head = f"{'factor':28s}{'first order':>12s}{'CI':>20s}{'total':>10s}{'CI':>20s}"
        lines += [head, "-" * len(head)]
        for i in s.indices:
            lines.append(
                f"{i.factor:28s}{i.first:>12.3f}{f'[{i.first_low:.3f}, {i.first_high:.3f}]':>20s}{i.total:>10.3f}{f'[{i.total_low:.3f}, {i.total_high:.3f}]':>20s}"
            )
    for r in resp:
        reg = regress(ds, r)
        lines += ["", f"Effects on {r}: regression across design points (R^2 = {reg.r2:.3f}; {reg.model})"]
        head = f"{'term':28s}{'effect over span':>18s}{'95% CI':>26s}{'p':>10s}{'effect/sd':>11s}"
        lines += [head, "-" * len(head)]
        for e in reg.effects:
            ci = f"[{_num(e.effect_low)}, {_num(e.effect_high)}]"
            lines.append(
                f"{e.term:28s}{_num(e.effect):>18s}{ci:>26s}{e.p:>10.3g}{e.standardized:>11.3f}   ({e.effect_label})"
            )
    hyps = hypothesis_tests(ds)
    if hyps:
        lines += ["", "Hypotheses"]
        lines += ["  " + h.sentence() for h in hyps]
    return "\n".join(lines)
