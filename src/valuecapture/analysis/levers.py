"""Levers: the scenario fields and policy parameters an optimisation may set.

A lever is written as data, never evaluated: ``FIELD=LOW:HIGH`` (a number in a range),
``FIELD=LOW:HIGH:int`` (an integer), ``FIELD=LOW:HIGH:log`` (a positive number searched on a
log scale), or ``FIELD=a|b|c`` (categories: TOML values — numbers, ``true``/``false``,
``"text"`` — or bare words).  ``FIELD`` is a scenario field path (``choices.fixed_cost``,
``capabilities.review_interval``, ``choices.business_models.0.price_level``,
``uncertainties.wallet.s``) or a parameter of the scenario's policy
(``choices.policy_parameters.top_share``).  :func:`parse_lever` checks the text and that
each end of the range (every category) gives a valid scenario, through the scenario schema
and the policy's signature, so a bad lever is refused with their one-line error before
anything runs.
"""

from __future__ import annotations

import inspect
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from valuecapture.model.policies import parameters_of, policy_class, value_text
from valuecapture.model.validate import check_scenario
from valuecapture.scenario.load import BUSINESS_MODEL_FIELDS, Scenario, ScenarioError, field_by_path

#: Lever kinds: a number in a range, an integer in a range, one of listed values.
KINDS = ("float", "int", "category")
POLICY_PARAMETERS = "choices.policy_parameters."
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class LeverError(ValueError):
    """A lever that does not parse or does not fit the scenario (bad input: exit code 2)."""


@dataclass(frozen=True)
class Lever:
    """One lever: the field it sets and the values it may take."""

    field: str
    kind: str  # float | int | category
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def text(self) -> str:
        """The canonical ``FIELD=...`` text (parses back to the same lever)."""
        if self.kind == "category":
            return f"{self.field}=" + "|".join(value_text(v) for v in self.choices)
        assert self.low is not None and self.high is not None
        ends = f"{_number(self.low, self.kind)}:{_number(self.high, self.kind)}"
        return f"{self.field}={ends}" + (":int" if self.kind == "int" else "") + (":log" if self.log else "")

    def cast(self, value: Any) -> Any:
        """A value the optimiser proposed, as the scenario takes it."""
        if self.kind == "int":
            return int(value)
        if self.kind == "float":
            return float(value)
        return value


def _number(v: float, kind: str) -> str:
    return str(int(v)) if kind == "int" else repr(float(v))


def _field_type(path: str, base: Scenario) -> str:
    """The value type of a lever's field: int, float, bool, str (text or one of a list), or what else it is."""
    if path.startswith(POLICY_PARAMETERS):
        key = path[len(POLICY_PARAMETERS) :]
        try:
            q = parameters_of(policy_class(str(base.get("choices.policy")))).get(key)
        except KeyError:
            q = None
        if q is None:
            return "float"  # the scenario check names the unknown parameter
        ann = q.annotation if isinstance(q.annotation, str) else getattr(q.annotation, "__name__", "")
        names = {t.strip() for t in str(ann).split("|")}
        if q.default is not inspect.Parameter.empty and q.default is not None and not names & {"int", "float"}:
            names.add(type(q.default).__name__)
        return "int" if "int" in names and "float" not in names else "float"
    try:
        return field_by_path(path).type
    except KeyError:
        pass
    parts = path.split(".")
    if len(parts) == 4 and parts[:2] == ["choices", "business_models"] and parts[2].isdigit():
        for f in BUSINESS_MODEL_FIELDS:
            if f.path == parts[3]:
                return f.type
    if len(parts) == 3:
        try:
            if field_by_path(".".join(parts[:2])).type == "dist":
                return "float"
        except KeyError:
            pass
    return "float"  # unknown fields are named by the scenario's own check


def _category(raw: str, where: str) -> Any:
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if _BARE.fullmatch(raw):
            return raw
        raise LeverError(f'{where}: {raw!r} is not a number, true/false, a "text" or a bare word') from None
    if not isinstance(value, (bool, int, float, str)) or (isinstance(value, float) and not math.isfinite(value)):
        raise LeverError(f"{where}: {raw!r} must be a finite number, true/false or text")
    return value


def parse_lever(text: str, base: Scenario) -> Lever:
    """The lever ``text`` (see the module docstring), checked against ``base``.

    Raises :class:`LeverError` naming the lever and the problem (the scenario schema's or the
    policy's message when an end of the range, or a category, is not a valid setting)."""
    where = f"--lever {text}"
    path, eq, spec = (x.strip() for x in text.partition("="))
    if not eq or not path or not spec:
        raise LeverError(f"{where}: must look like FIELD=LOW:HIGH, FIELD=LOW:HIGH:int or FIELD=a|b|c")
    if path.split(".")[0] in ("scenario", "run"):
        raise LeverError(f"{where}: {path!r} cannot be a lever (name, replications and seed are set by the command)")
    ftype = _field_type(path, base)
    if ftype in ("dist", "table") or ftype.startswith("list"):
        example = f"{path}.s" if ftype == "dist" else f"{path}.NAME" if ftype == "table" else path
        raise LeverError(f"{where}: {path} is a {ftype}, not one value; a lever sets one value (e.g. {example})")
    if "|" in spec:
        choices = tuple(_category(c, where) for c in spec.split("|"))
        if len(choices) < 2:
            raise LeverError(f"{where}: give at least two categories, like a|b")
        keys = [value_text(c) for c in choices]
        if len(set(keys)) != len(keys):
            raise LeverError(f"{where}: categories must be distinct")
        if ftype == "float":
            choices = tuple(float(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in choices)
        lever = Lever(path, "category", choices=choices)
    else:
        lever = _range_lever(where, path, spec, ftype)
    for value in lever.choices if lever.kind == "category" else (lever.low, lever.high):
        check_setting(base, {path: lever.cast(value)}, where)
    return lever


def _range_lever(where: str, path: str, spec: str, ftype: str) -> Lever:
    parts = [p.strip() for p in spec.split(":")]
    flags = parts[2:]
    if len(parts) < 2 or any(f not in ("int", "log") for f in flags) or len(set(flags)) != len(flags):
        raise LeverError(f"{where}: a range must look like LOW:HIGH, LOW:HIGH:int, LOW:HIGH:log (or a|b|c categories)")
    if ftype not in ("int", "float"):
        raise LeverError(f"{where}: {path} takes {ftype} values, not a number: give categories, like a|b")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise LeverError(f"{where}: LOW and HIGH must be numbers, got {parts[0]!r} and {parts[1]!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise LeverError(f"{where}: LOW and HIGH must be finite numbers")
    if not low < high:
        raise LeverError(f"{where}: LOW must be below HIGH, got {parts[0]} and {parts[1]}")
    kind = "int" if "int" in flags or ftype == "int" else "float"
    if kind == "int" and not (low.is_integer() and high.is_integer()):
        raise LeverError(f"{where}: an integer lever needs integer LOW and HIGH, got {parts[0]} and {parts[1]}")
    log = "log" in flags
    if log and low <= 0:
        raise LeverError(f"{where}: a log scale needs LOW > 0, got {parts[0]}")
    return Lever(path, kind, low, high, log)


def check_setting(base: Scenario, values: Mapping[str, Any], where: str = "") -> Scenario:
    """The scenario ``base`` with ``values`` set, validated as a run would validate it (the schema,
    the policy and its parameters); a bad one raises :class:`LeverError` prefixed with ``where``."""
    try:
        sc = base.with_values(values)
        check_scenario(sc)
    except ScenarioError as exc:
        raise LeverError(f"{where}: {exc}" if where else str(exc)) from None
    return sc


def parse_levers(texts: Sequence[str], base: Scenario) -> tuple[Lever, ...]:
    """Every ``--lever`` text, checked one by one and together (distinct fields; a lever on the
    policy itself excludes levers on its parameters, which belong to one policy)."""
    if not texts:
        raise LeverError("--lever: give at least one lever, like --lever choices.fixed_cost=0:200000")
    levers = tuple(parse_lever(t, base) for t in texts)
    fields = [lv.field for lv in levers]
    for f in fields:
        if fields.count(f) > 1:
            raise LeverError(f"--lever: {f} is given twice")
    if "choices.policy" in fields and any(f.startswith(POLICY_PARAMETERS) for f in fields):
        raise LeverError(
            "--lever: a lever on choices.policy cannot be combined with levers on its parameters (each policy has "
            "its own); optimise one policy's parameters at a time"
        )
    return levers
