"""Reading an experiment file (TOML, data only) into a validated
:class:`~valuecapture.analysis.experiments.spec.Experiment`."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from valuecapture.analysis.experiments.design import design, design_size, point_scenario
from valuecapture.analysis.experiments.spec import (
    DEFAULT_RESPONSES,
    DESIGNS,
    DIRECTIONS,
    IDENTIFIER,
    MAX_POINTS,
    RESPONSES,
    SCREENING_DESIGNS,
    Experiment,
    ExperimentError,
    Factor,
    Hypothesis,
    show_value,
    type_name,
)
from valuecapture.analysis.heterogeneity import RELATIONSHIP_STATS
from valuecapture.run.load import scenario_of
from valuecapture.run.results import REPLICATION_VARS
from valuecapture.scenario.load import (
    BUSINESS_MODEL_FIELDS,
    NAME_RULE,
    Scenario,
    ScenarioError,
    field_by_path,
    hint,
    is_safe_name,
    load_scenario,
    read_input,
)

EXPERIMENT_KEYS = (
    "name",
    "description",
    "scenario",
    "design",
    "points",
    "replications",
    "seed",
    "responses",
    "trajectories",
    "levels",
    "trajectory_pool",
)
MORRIS_KEYS = ("trajectories", "levels", "trajectory_pool")
FACTOR_KEYS = ("field", "name", "range", "levels", "scale", "steps")
HYPOTHESIS_KEYS = ("response", "factor", "direction")
TOP_KEYS = ("experiment", "set", "factors", "hypotheses")


def _reserved_names() -> set[str]:
    return (
        set(REPLICATION_VARS)
        | set(RELATIONSHIP_STATS)
        | {"design_point", "replication", "sobol_block", "sobol_row", "sobol_column"}
        | {"morris_trajectory", "morris_factor", "morris_step", "oat_end", "oat_factor"}
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
    reproduce a sweep from its result, which stores the scenario).  Every design
    point is checked to be a valid scenario before this returns.
    """
    return _Reader(text, source, Path(base_dir)).experiment(base)


class _Reader:
    """The steps of :func:`loads_experiment`, one per section of the file; each raises a
    one-line :class:`ExperimentError` naming the key."""

    def __init__(self, text: str, source: str, base_dir: Path):
        self.text = text
        self.source = source
        self.base_dir = base_dir
        try:
            self.raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise self.bad("", f"malformed TOML: {exc}") from None
        for k in self.raw:
            if k not in TOP_KEYS:
                raise self.bad(k, "unknown section" + hint(k, TOP_KEYS))
        exp = self.raw.get("experiment")
        if not isinstance(exp, dict):
            raise self.bad("experiment", "missing [experiment] table (with at least scenario and design)")
        for k in exp:
            if k not in EXPERIMENT_KEYS:
                raise self.bad(f"experiment.{k}", "unknown key" + hint(k, EXPERIMENT_KEYS))
        self.exp: dict[str, Any] = exp

    def bad(self, where: str, problem: str) -> ExperimentError:
        return ExperimentError(self.source, where, problem)

    def experiment(self, base: Scenario | None) -> Experiment:
        scen = self.exp.get("scenario")
        base = self.base_scenario(base)
        design_kind = self.design_kind()
        name = self.exp.get(
            "name", Path(self.source).stem if self.source and not self.source.startswith("<") else "experiment"
        )
        if not is_safe_name(name):
            raise self.bad("experiment.name", f"must be {NAME_RULE} (it names the result folder), got {name!r}")
        description = self.exp.get("description", "")
        if not isinstance(description, str):
            raise self.bad("experiment.description", f"must be text, got {type_name(description)}")
        replications = self.integer("replications", int(base.get("run.replications")), 2, 10_000_000)
        seed = self.integer("seed", int(base.get("run.seed")), 0, 2**63 - 1)
        points = self.points(design_kind)
        trajectories, levels, pool = self.morris(design_kind)
        responses = self.responses()
        factors = self.factors(base, design_kind)
        hypotheses = self.hypotheses(factors, responses)
        if design_kind in SCREENING_DESIGNS and hypotheses:
            raise self.bad(
                "hypotheses",
                f"a {design_kind} design screens factors and tests no hypothesis (its points move one factor at a "
                "time, not a sample a regression can test on); use a latin_hypercube or sobol design to test them",
            )
        e = Experiment(
            name,
            description,
            self.source,
            str(scen) if isinstance(scen, str) else base.source,
            base,
            design_kind,
            points,
            replications,
            seed,
            tuple(factors),
            tuple(responses),
            tuple(hypotheses),
            self.text,
            trajectories,
            levels,
            pool,
        )
        self.check_points(e)
        return e

    def base_scenario(self, base: Scenario | None) -> Scenario:
        """The base scenario (loaded from ``experiment.scenario`` unless given) with ``[set]`` applied."""
        if base is None:
            scen = self.exp.get("scenario")
            if not isinstance(scen, str) or not scen:
                raise self.bad(
                    "experiment.scenario",
                    "required: the path of the base scenario file (relative to the experiment file)",
                )
            scen_path = Path(scen) if Path(scen).is_absolute() else self.base_dir / scen
            try:
                base = load_scenario(scen_path)
            except ScenarioError as exc:
                raise self.bad("experiment.scenario", f"base scenario is not valid: {exc}") from None
        sets = self.raw.get("set", {})
        if not isinstance(sets, dict):
            raise self.bad("set", f"must be a table of scenario fields and values, got {type_name(sets)}")
        changes = dict(_flatten(sets))
        for path in changes:
            if path.split(".")[0] in ("run",):
                raise self.bad(f"set.{path}", "run settings belong in [experiment] (replications, seed)")
        if changes:
            try:
                base = base.with_values(changes)
            except ScenarioError as exc:
                raise self.bad(f"set.{exc.field}" if exc.field else "set", exc.problem) from None
        return base

    def design_kind(self) -> str:
        kind = self.exp.get("design")
        if isinstance(kind, str) and kind in DESIGNS:
            return kind
        if isinstance(kind, str):
            raise self.bad("experiment.design", f"unknown design {kind!r}" + hint(kind, DESIGNS))
        got = "required" if kind is None else f"must be text, got {type_name(kind)}"
        raise self.bad("experiment.design", got + f"; allowed: {', '.join(DESIGNS)}")

    def integer(self, key: str, default: Any, lo: int, hi: int) -> Any:
        v = self.exp.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.bad(f"experiment.{key}", f"must be an integer in [{lo}, {hi}], got {type_name(v)} {v!r}")
        if not lo <= v <= hi:
            raise self.bad(f"experiment.{key}", f"must be an integer in [{lo}, {hi}], got {v}")
        return v

    def points(self, design_kind: str) -> int | None:
        points = self.integer("points", None, 2, MAX_POINTS)
        where = "experiment.points"
        if design_kind == "full_factorial" and points is not None:
            raise self.bad(
                where,
                "is not used by a full_factorial design (its size is the product of the factors' levels); remove it",
            )
        if design_kind in ("morris", "oat") and points is not None:
            size = "trajectories x (factors + 1)" if design_kind == "morris" else "1 + 2 x factors"
            raise self.bad(where, f"is not used by a {design_kind} design (its size is {size}); remove it")
        if design_kind == "latin_hypercube" and points is None:
            raise self.bad(
                where, "required for a latin_hypercube design: the number of design points (an integer >= 2)"
            )
        if design_kind == "sobol":
            if points is None:
                raise self.bad(
                    where,
                    "required for a sobol design: the base sample size N, a power of 2 "
                    "(the design has N x (factors + 2) points)",
                )
            if points & (points - 1):
                raise self.bad(where, f"must be a power of 2 for a sobol design (e.g. 16, 32, 64), got {points}")
        return points  # type: ignore[no-any-return]

    def morris(self, design_kind: str) -> tuple[int | None, int | None, int | None]:
        """``trajectories`` (r, default 10), ``levels`` (p, even, default 4), ``trajectory_pool`` (> r, optional)."""
        if design_kind != "morris":
            for k in MORRIS_KEYS:
                if k in self.exp:
                    raise self.bad(f"experiment.{k}", f"applies to a morris design only (this one is {design_kind})")
            return None, None, None
        r = int(self.integer("trajectories", 10, 2, 10_000))
        p = int(self.integer("levels", 4, 2, 100))
        if p % 2:
            raise self.bad("experiment.levels", f"must be even (so that every grid level is visited equally), got {p}")
        pool = self.integer("trajectory_pool", None, 3, 1000)
        if pool is not None and pool <= r:
            raise self.bad(
                "experiment.trajectory_pool",
                f"must exceed trajectories ({r}): the r best spread trajectories are chosen from the pool, got {pool}",
            )
        return r, p, pool

    def responses(self) -> list[str]:
        resp = self.exp.get("responses", list(DEFAULT_RESPONSES))
        if not isinstance(resp, list) or not resp or not all(isinstance(r, str) for r in resp):
            raise self.bad(
                "experiment.responses", f"must be a non-empty list of response names; allowed: {', '.join(RESPONSES)}"
            )
        for i, r in enumerate(resp):
            if r not in RESPONSES:
                raise self.bad(f"experiment.responses[{i}]", f"unknown response {r!r}" + hint(r, list(RESPONSES)))
        if len(set(resp)) != len(resp):
            raise self.bad("experiment.responses", f"names must be distinct, got {resp}")
        return list(resp)

    def factors(self, base: Scenario, design_kind: str) -> list[Factor]:
        fs = self.raw.get("factors")
        if not isinstance(fs, list) or not fs or not all(isinstance(f, dict) for f in fs):
            raise self.bad("factors", "required: at least one [[factors]] table with field and range or levels")
        factors: list[Factor] = []
        for i, f in enumerate(fs):
            factors.append(self.factor(f"factors[{i}]", f, factors, base, design_kind))
        return factors

    def factor(self, where: str, f: dict[str, Any], before: list[Factor], base: Scenario, design_kind: str) -> Factor:
        """One ``[[factors]]`` table; each of its extremes must give a valid scenario on its own."""
        for k in f:
            if k not in FACTOR_KEYS:
                raise self.bad(f"{where}.{k}", "unknown key" + hint(k, FACTOR_KEYS))
        path = f.get("field")
        if not isinstance(path, str) or not path:
            raise self.bad(
                f"{where}.field",
                'required: the scenario field to vary, e.g. "uncertainties.wallet.s" or "demand.rho_within"',
            )
        if path.split(".")[0] in ("scenario", "run"):
            raise self.bad(
                f"{where}.field", f"{path!r} cannot be a factor (name, replications and seed are set by the experiment)"
            )
        if any(g.field == path for g in before):
            raise self.bad(f"{where}.field", f"{path!r} is already a factor")
        fname = f.get("name", path.replace(".", "_"))
        if not isinstance(fname, str) or not IDENTIFIER.match(fname):
            raise self.bad(f"{where}.name", f"must be an identifier (letters, digits, '_'), got {fname!r}")
        if any(g.name == fname for g in before):
            raise self.bad(f"{where}.name", f"{fname!r} is already the name of a factor")
        if fname in _reserved_names():
            raise self.bad(f"{where}.name", f"{fname!r} is the name of a result variable; choose another name")
        if ("range" in f) == ("levels" in f):
            raise self.bad(where, "needs exactly one of range = [low, high] or levels = [...]")
        scale = f.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise self.bad(f"{where}.scale", f"unknown scale {scale!r}; allowed: 'linear', 'log'")
        steps = f.get("steps")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 2 or steps > 1000):
            raise self.bad(f"{where}.steps", f"must be an integer in [2, 1000], got {steps!r}")
        ftype, unit, doc = _field_info(path)
        if "range" in f:
            factor = self.range_factor(where, f, path, fname, ftype, scale, steps, unit, doc, design_kind)
        else:
            factor = self.levels_factor(where, f, path, fname, ftype, steps, unit, doc)
        for v in factor.extremes():
            try:
                base.with_values({path: v})
            except ScenarioError as exc:
                key = "range" if factor.is_range else "levels"
                raise self.bad(
                    f"{where}.{key}",
                    f"{path} = {show_value(v)} is not valid: {exc.field}: {exc.problem}"
                    if exc.field != path
                    else f"{path} = {show_value(v)}: {exc.problem}",
                ) from None
        return factor

    def range_factor(
        self,
        where: str,
        f: dict[str, Any],
        path: str,
        fname: str,
        ftype: str,
        scale: str,
        steps: int | None,
        unit: str,
        doc: str,
        design_kind: str,
    ) -> Factor:
        r = f["range"]
        numbers = isinstance(r, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
        if not numbers or len(r) != 2 or not all(math.isfinite(v) for v in r):
            raise self.bad(f"{where}.range", f"must be two finite numbers [low, high], got {r!r}")
        if not r[0] < r[1]:
            raise self.bad(f"{where}.range", f"low must be below high, got {r!r}")
        if ftype not in ("int", "float"):
            raise self.bad(f"{where}.range", f"{path} is {ftype}, not a number: give levels = [...] instead")
        if scale == "log" and r[0] <= 0:
            raise self.bad(f"{where}.scale", f"a log scale needs a positive range, got {r!r}")
        if design_kind == "full_factorial" and steps is None:
            raise self.bad(
                f"{where}.steps",
                "required for a range in a full_factorial design (levels evenly spaced over the range)",
            )
        kind = "int" if ftype == "int" else "float"
        return Factor(path, fname, kind, float(r[0]), float(r[1]), None, scale, steps, unit, doc)

    def levels_factor(
        self, where: str, f: dict[str, Any], path: str, fname: str, ftype: str, steps: int | None, unit: str, doc: str
    ) -> Factor:
        lv = f["levels"]
        if not isinstance(lv, list) or len(lv) < 2:
            raise self.bad(f"{where}.levels", f"must be a list of at least two values, got {lv!r}")
        kinds = {type(v) for v in lv}
        if len(kinds) > 1 and kinds != {int, float}:
            raise self.bad(f"{where}.levels", f"must all be of one type, got {lv!r}")
        if any(isinstance(v, (dict, list)) for v in lv):
            raise self.bad(f"{where}.levels", f"must be numbers, true/false or text, got {lv!r}")
        repeated = len({json.dumps(v) for v in lv}) != len(lv)
        if repeated or (kinds <= {int, float} and len({float(v) for v in lv}) != len(lv)):
            raise self.bad(f"{where}.levels", f"must be distinct, got {lv!r}")
        if "scale" in f:
            raise self.bad(f"{where}.scale", "applies to a range only")
        if steps is not None:
            raise self.bad(f"{where}.steps", "applies to a range only")
        first = lv[0]
        if isinstance(first, bool):
            kind = "bool"
        elif isinstance(first, str):
            kind = "str"
        else:
            kind = "int" if ftype == "int" else "float"
        levels = tuple(float(v) if kind == "float" else v for v in lv)
        return Factor(path, fname, kind, None, None, levels, "linear", None, unit, doc)

    def hypotheses(self, factors: list[Factor], responses: list[str]) -> list[Hypothesis]:
        """The ``[[hypotheses]]``; a hypothesis's response joins the responses if it is not one already."""
        hs = self.raw.get("hypotheses", [])
        if not isinstance(hs, list) or not all(isinstance(h, dict) for h in hs):
            raise self.bad(
                "hypotheses", "must be an array of tables [[hypotheses]] with response, factor and direction"
            )
        out: list[Hypothesis] = []
        names = [f.name for f in factors] + [f.field for f in factors]
        for i, h in enumerate(hs):
            where = f"hypotheses[{i}]"
            for k in h:
                if k not in HYPOTHESIS_KEYS:
                    raise self.bad(f"{where}.{k}", "unknown key" + hint(k, HYPOTHESIS_KEYS))
            r = h.get("response")
            if r not in RESPONSES:
                problem = (
                    (f"unknown response {r!r}" + hint(str(r), list(RESPONSES)))
                    if r is not None
                    else "required: a response name"
                )
                raise self.bad(f"{where}.response", problem)
            fk = h.get("factor")
            if fk not in names:
                problem = (
                    (f"{fk!r} is not a factor" + hint(str(fk), names))
                    if fk is not None
                    else "required: a factor's field or name"
                )
                raise self.bad(f"{where}.factor", problem)
            fac = next(f for f in factors if fk in (f.name, f.field))
            if not fac.numeric:
                raise self.bad(
                    f"{where}.factor", f"{fk!r} has text levels; a hypothesis needs a numeric or true/false factor"
                )
            d = h.get("direction", "any")
            if d not in DIRECTIONS:
                raise self.bad(f"{where}.direction", f"unknown direction {d!r}; allowed: {', '.join(DIRECTIONS)}")
            out.append(Hypothesis(r, fac.name, d))
            if r not in responses:
                responses.append(r)
        return out

    def check_points(self, e: Experiment) -> None:
        """Every design point must be a valid scenario: all are checked before anything runs."""
        n = design_size(e)
        if n > MAX_POINTS:
            raise self.bad("factors", f"the design has {n} points; at most {MAX_POINTS} are allowed")
        for p, row in enumerate(design(e).values):
            try:
                point_scenario(e, row)
            except ScenarioError as exc:
                setting = ", ".join(f"{f.field}={show_value(v)}" for f, v in zip(e.factors, row, strict=True))
                raise self.bad(
                    "factors", f"design point {p} ({setting}) is not a valid scenario: {exc.field}: {exc.problem}"
                ) from None


def experiment_of(ds: xr.Dataset) -> Experiment:
    """The experiment a sweep result was produced from, from its attrs.

    The stored base scenario (with ``[set]`` already applied; applying it again
    changes nothing) replaces the scenario file, which may have changed or moved.
    """
    return loads_experiment(
        ds.attrs["experiment_toml"], source=ds.attrs.get("experiment_source", "<result>"), base=scenario_of(ds)
    )
