"""Scenario files: TOML loading, ``--set`` overrides and validation against the schema
(:mod:`valuecapture.scenario.schema`, whose names are re-exported here).

The pipeline is load -> check keys -> fill defaults -> validate -> freeze.  A
scenario keeps apart what is *uncertain* (``[uncertainties.*]``: distributions),
what the firm *chooses* (``[choices]``: policy, business models, fixed cost)
and what is *reported* (``[outputs]``); the remaining sections describe the
structure of the world (horizon, economics, dynamics, interdependence).

Every error is a :class:`ScenarioError` whose message names the file, the field
path and what is allowed.  Scenario files are data only: nothing in them is
evaluated or imported.
"""

from __future__ import annotations

import copy
import datetime
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from valuecapture.scenario import distributions as dists
from valuecapture.scenario.files import MAX_INPUT_BYTES, InputFileError
from valuecapture.scenario.files import read_input as read_bytes
from valuecapture.scenario.schema import (
    _BY_PATH,
    ARRAY_TABLES,
    BUSINESS_MODEL_FIELDS,
    CORRELATED,
    CORRELATION_FIELDS,
    CURRENCY_PATTERN,
    DEFAULT_BUSINESS_MODELS,
    ESTIMATE_FIELDS,
    ESTIMATED,
    FIELDS,
    INTERACTION_FIELDS,
    MECHANISM_FREE,
    NAME_PATTERN,
    NAME_RULE,
    Field,
    _known_children,
    field_by_path,
    hint,
    is_safe_name,
)

#: The schema's names are re-exported: ``from valuecapture.scenario.load import FIELDS`` works.
__all__ = [
    "ARRAY_TABLES",
    "BUSINESS_MODEL_FIELDS",
    "CORRELATED",
    "CORRELATION_FIELDS",
    "correlation_matrix",
    "DEFAULT_BUSINESS_MODELS",
    "ESTIMATE_FIELDS",
    "ESTIMATED",
    "Field",
    "field_by_path",
    "FIELDS",
    "from_dict",
    "hint",
    "INTERACTION_FIELDS",
    "is_safe_name",
    "load_scenario",
    "loads",
    "MECHANISM_FREE",
    "NAME_PATTERN",
    "NAME_RULE",
    "parse_override",
    "read_input",
    "Scenario",
    "ScenarioError",
]


class ScenarioError(ValueError):
    """A scenario is invalid.  ``str(err)`` is one line: ``file: field: problem``."""

    def __init__(self, source: str, field_path: str, message: str):
        self.source = source
        self.field = field_path
        self.problem = message
        where = f"{source}: {field_path}: " if field_path else f"{source}: "
        super().__init__(where + message)


# ---------------------------------------------------------------------------
# The frozen scenario
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Values are read with :meth:`get` (``sc.get("economics.wacc")``);
    distributions come back as :class:`~valuecapture.scenario.distributions.Distribution`.
    Derive variants with :meth:`with_values`; the object itself never changes.
    """

    data: Mapping[str, Any]
    source: str = "<scenario>"
    overrides: tuple[str, ...] = ()
    _parsed: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return str(self.get("scenario.name"))

    def get(self, path: str) -> Any:
        if path in self._parsed:
            return self._parsed[path]
        node: Any = self.data
        for part in path.split("."):
            node = node[part]
        return copy.deepcopy(node)

    @property
    def business_models(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.data["choices"]["business_models"]))

    @property
    def correlations(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.data.get("correlations", [])))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(_thaw(self.data))

    def to_toml(self) -> str:
        """The complete scenario (defaults filled, overrides applied) as TOML text."""
        return tomli_w.dumps(self.to_dict())

    def with_values(self, values: Mapping[str, Any]) -> Scenario:
        """A new validated scenario with ``{"a.b": value}`` replaced."""
        raw = self.to_dict()
        for path, value in values.items():
            _assign(raw, path, value, self.source)
        return from_dict(raw, source=self.source, overrides=self.overrides)

    def scale_money(self, k: float) -> Scenario:
        """The same scenario with every monetary input multiplied by ``k > 0``."""
        raw = self.to_dict()
        for f in FIELDS:
            if f.money:
                section, key = f.path.rsplit(".", 1)
                node = _walk(raw, section)
                if f.type == "dist":
                    node[key] = dists.parse(node[key]).scaled(k).to_table()
                elif f.type == "list[float]":
                    node[key] = [v * k for v in node[key]]
                else:
                    node[key] = node[key] * k
        for table, fields in (("choices.business_models", BUSINESS_MODEL_FIELDS), ("interactions", INTERACTION_FIELDS)):
            section, key = table.rsplit(".", 1) if "." in table else ("", table)
            for entry in (_walk(raw, section) if section else raw).get(key, []):
                for f in fields:
                    if f.money:
                        entry[f.path] = entry[f.path] * k
        return from_dict(raw, source=self.source, overrides=self.overrides)


def _thaw(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_thaw(v) for v in obj]
    return obj


def _walk(raw: dict[str, Any], section: str) -> dict[str, Any]:
    node = raw
    for part in section.split("."):
        node = node.setdefault(part, {})
    return node


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load, check and validate a scenario file.

    Parameters
    ----------
    path
        A TOML scenario file.
    overrides
        ``"a.b=value"`` strings applied after loading (value parsed as TOML,
        falling back to a plain string), as ``valuecapture run --set`` does.

    Raises
    ------
    ScenarioError
        One line naming the file, the field and what is allowed.
    """
    return loads(read_input(path, "scenario"), source=str(path), overrides=overrides)


def read_input(path: str | Path, kind: str, error: type[ScenarioError] = ScenarioError) -> str:
    """The text of a user's ``kind`` file (``scenario``, ``experiment``); a missing,
    unreadable, not-a-regular-file or oversized path (above
    :data:`~valuecapture.run.outputs.MAX_INPUT_BYTES`) is one-line ``error`` naming it."""
    src = str(path)
    try:
        data = read_bytes(path, MAX_INPUT_BYTES)
    except FileNotFoundError:
        raise error(src, "", "file not found") from None
    except IsADirectoryError:
        raise error(src, "", f"is a directory, expected a .toml {kind} file") from None
    except InputFileError:
        raise error(
            src, "", f"is not a regular file of at most {MAX_INPUT_BYTES // 2**20} MiB; expected a .toml {kind} file"
        ) from None
    except OSError as exc:
        raise error(src, "", f"cannot be read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            src, "", f"is not UTF-8 text ({exc.reason} at byte {exc.start}); expected a .toml {kind} file"
        ) from None


def loads(text: str, source: str = "<string>", overrides: Iterable[str] = ()) -> Scenario:
    """Parse a scenario from TOML text (see :func:`load_scenario`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, "", f"malformed TOML: {exc}") from None
    if not raw:
        raise ScenarioError(
            source,
            "",
            "is empty: a scenario needs at least a [scenario] table with a name (every other field has a default, see "
            "docs/scenarios.md)",
        )
    overrides = tuple(overrides)
    for ov in overrides:
        path, value = parse_override(ov, source)
        _assign(raw, path, value, source)
    return from_dict(raw, source=source, overrides=overrides)


def parse_override(text: str, source: str = "--set") -> tuple[str, Any]:
    """Split ``"a.b=value"``; the value is read as a TOML value, else as text."""
    if "=" not in text:
        raise ScenarioError(source, text, "an override must look like section.field=value")
    path, _, value_text = text.partition("=")
    path = path.strip()
    value_text = value_text.strip()
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text
    return path, value


def _assign(raw: dict[str, Any], path: str, value: Any, source: str) -> None:
    parts = path.split(".")
    node: Any = raw
    if not path or any(not part for part in parts):
        raise ScenarioError(source, path, "an override must name a field, like section.field=value")
    for i, part in enumerate(parts[:-1]):
        prefix = ".".join(parts[:i])
        if not isinstance(node, (dict, list)):
            raise ScenarioError(source, path, f"{'.'.join(parts[:i])} is a value, not a section")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(source, path, f"index {part!r} out of range (0..{len(node) - 1})")
            node = node[int(part)]
            continue
        if part not in node:
            array_path = ".".join(parts[: i + 1])
            if array_path in ARRAY_TABLES:
                node[part] = copy.deepcopy(DEFAULT_BUSINESS_MODELS) if array_path == "choices.business_models" else []
            elif part in _known_children(prefix) or prefix.startswith("uncertainties"):
                node[part] = {}
            else:
                raise ScenarioError(source, path, f"unknown section {part!r}" + hint(part, _known_children(prefix)))
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(source, path, f"index {last!r} out of range")
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(source, path, f"{'.'.join(parts[:-1])} is a value, not a section")


def from_dict(raw: Mapping[str, Any], source: str = "<dict>", overrides: tuple[str, ...] = ()) -> Scenario:
    """Validate a nested dict (as parsed from TOML) and return a Scenario."""
    plain: dict[str, Any] = _thaw(raw)
    _policy_table(plain, source)
    _check_keys(plain, "", source)
    raw = plain
    data: dict[str, Any] = {}
    parsed: dict[str, Any] = {}
    for f in FIELDS:
        section, key = f.path.rsplit(".", 1)
        src_node = raw
        for part in section.split("."):
            src_node = src_node.get(part, {}) if isinstance(src_node, dict) else {}
        present = isinstance(src_node, dict) and key in src_node
        value = src_node[key] if present else copy.deepcopy(f.default)
        value, parsed_value = _validate_value(f, f.path, value, source)
        _walk(data, section)[key] = value
        if parsed_value is not None:
            parsed[f.path] = parsed_value
    # array tables
    bms = raw.get("choices", {}).get("business_models", None)
    if bms is None:
        bms = copy.deepcopy(DEFAULT_BUSINESS_MODELS)
    data["choices"]["business_models"] = _validate_array(bms, "choices.business_models", BUSINESS_MODEL_FIELDS, source)
    data["correlations"] = _validate_array(
        raw.get("correlations", []), "correlations", CORRELATION_FIELDS, source, fill_defaults=False
    )
    data["interactions"] = _validate_array(raw.get("interactions", []), "interactions", INTERACTION_FIELDS, source)
    data["estimates"] = _validate_array(raw.get("estimates", []), "estimates", ESTIMATE_FIELDS, source)
    _cross_checks(data, parsed, source)
    _check_estimates(data, parsed, source)
    _check_stages(data, source)
    return Scenario(data=data, source=source, overrides=tuple(overrides), _parsed=parsed)


def _policy_table(raw: dict[str, Any], source: str) -> None:
    """``[choices.policy]`` with ``name`` and parameters, as ``choices.policy`` (the name) and
    ``choices.policy_parameters`` (the rest, under parameters given there or by ``--set``)."""
    choices = raw.get("choices")
    if not isinstance(choices, dict) or not isinstance(choices.get("policy"), dict):
        return
    table = dict(choices["policy"])
    name = table.pop("name", None)
    if not isinstance(name, str):
        raise ScenarioError(source, "choices.policy.name", f"must name the policy (text), got {name!r}")
    extra = choices.get("policy_parameters", {})
    choices["policy"] = name
    choices["policy_parameters"] = {**table, **(extra if isinstance(extra, dict) else {})}


def _check_keys(node: Any, prefix: str, source: str) -> None:
    if not isinstance(node, dict):
        return
    allowed = _known_children(prefix)
    for key, val in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if path in ARRAY_TABLES:
            continue
        if key not in allowed:
            kind = "section" if isinstance(val, dict) else "key"
            raise ScenarioError(source, path, f"unknown {kind}" + hint(key, allowed))
        if path in _BY_PATH:
            f = _BY_PATH[path]
            if f.type not in ("dist", "table") and isinstance(val, dict):
                raise ScenarioError(source, path, f"must be {f.allowed()}, got a table")
            continue
        if not isinstance(val, dict):
            raise ScenarioError(source, path, f"is a section (a table), got {type(val).__name__} {val!r}")
        _check_keys(val, path, source)


def _type_name(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "text", list: "list", dict: "table"}.get(
        type(v), type(v).__name__
    )


def _validate_value(f: Field, path: str, value: Any, source: str) -> tuple[Any, Any]:
    """Return (plain value, parsed object or None)."""

    def bad(problem: str) -> ScenarioError:
        return ScenarioError(source, path, problem)

    if f.type == "dist":
        try:
            d = dists.parse(value, lo=f.lo, hi=f.hi)
        except dists.DistributionError as exc:
            sub = f"{path}.{exc.field}" if exc.field else path
            raise ScenarioError(source, sub, str(exc)) from None
        return d.to_table(), d
    if f.type == "table":
        if not isinstance(value, dict):
            raise bad(f"must be {f.allowed()}, got {_type_name(value)} {value!r}")
        for key, v in value.items():
            if not (isinstance(key, str) and key.isidentifier()):
                raise bad(f"{key!r} is not a parameter name (letters, digits and '_')")
            if not isinstance(v, (bool, int, float, str)) or (isinstance(v, float) and not math.isfinite(v)):
                raise ScenarioError(
                    source, f"{path}.{key}", f"must be a number, true/false or text, got {_type_name(v)} {v!r}"
                )
        return dict(value), None
    if f.type == "bool":
        if not isinstance(value, bool):
            raise bad(f"must be true or false, got {_type_name(value)} {value!r}")
        return value, None
    if f.type == "name":
        if not is_safe_name(value):
            raise bad(f"must be {NAME_RULE} (it names the result folder), got {value!r}")
        return value, None
    if f.format == "date" and isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = value.isoformat()  # a TOML date (start = 2026-01-01, or --set horizon.start=2026-01-01)
    if f.type in ("str", "enum"):
        if not isinstance(value, str):
            raise bad(f"must be {f.allowed() if f.format else 'text'}, got {_type_name(value)} {value!r}")
        if f.format and not _formatted(f.format, value):
            raise bad(f"must be {f.allowed()}, got {value!r}")
        if f.type == "enum" and value not in f.choices:
            raise bad(f"unknown value {value!r}" + hint(value, f.choices))
        return value, None
    if f.type == "list[str]":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise bad(f"must be a non-empty list of names, got {value!r}")
        if len(set(value)) != len(value):
            raise bad(f"names must be distinct, got {value!r}")
        return list(value), None
    if f.type == "list[float]":
        may_be_empty = f.default == []
        if not isinstance(value, list) or not (value or may_be_empty):
            raise bad(f"must be a {'' if may_be_empty else 'non-empty '}list of numbers, got {value!r}")
        out = []
        for i, v in enumerate(value):
            out.append(_check_number(f, f"{path}[{i}]", v, source, integer=False))
        return out, None
    if f.type == "matrix":
        if not isinstance(value, list) or not value or not all(isinstance(row, list) and row for row in value):
            raise bad(f"must be a non-empty list of rows, each a non-empty list of numbers, got {value!r}")
        rows = []
        for i, row in enumerate(value):
            rows.append([_check_number(f, f"{path}[{i}][{j}]", v, source, integer=False) for j, v in enumerate(row)])
        return rows, None
    return _check_number(f, path, value, source, integer=f.type == "int"), None


def _formatted(fmt: str, value: str) -> bool:
    """Whether ``value`` has the format ``fmt`` of :data:`valuecapture.scenario.schema.FORMATS`."""
    if fmt == "iso4217":
        return CURRENCY_PATTERN.fullmatch(value) is not None
    if fmt == "date":
        if value == "":
            return True
        try:
            return len(value) == 10 and datetime.date.fromisoformat(value).isoformat() == value
        except ValueError:
            return False
    raise AssertionError(f"unknown field format {fmt!r}")


def _check_number(f: Field, path: str, value: Any, source: str, integer: bool) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(source, path, f"must be {f.allowed()}, got {_type_name(value)} {value!r}")
    if integer and not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ScenarioError(source, path, f"must be {f.allowed()}, got {value!r}")
    if not integer:
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(source, path, f"must be a finite number ({f.allowed()}), got {value!r}")
    too_low = f.lo is not None and (value <= f.lo if f.lo_open else value < f.lo)
    too_high = f.hi is not None and (value >= f.hi if f.hi_open else value > f.hi)
    if too_low or too_high:
        raise ScenarioError(source, path, f"must be {f.allowed()}, got {value!r}")
    return value


def _validate_array(
    items: Any, path: str, fields: tuple[Field, ...], source: str, fill_defaults: bool = True
) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise ScenarioError(source, path, f"must be an array of tables ([[{path}]]), got {_type_name(items)}")
    names = {f.path for f in fields}
    out = []
    for i, item in enumerate(items):
        entry: dict[str, Any] = {}
        for key in item:
            if key not in names:
                raise ScenarioError(source, f"{path}[{i}].{key}", "unknown key" + hint(key, names))
        for f in fields:
            if key_missing := f.path not in item:
                if not fill_defaults:
                    raise ScenarioError(source, f"{path}[{i}].{f.path}", f"is required ({f.allowed()})")
            value = copy.deepcopy(f.default) if key_missing else item[f.path]
            entry[f.path], _ = _validate_value(f, f"{path}[{i}].{f.path}", value, source)
        out.append(entry)
    return out


def _cross_checks(data: dict[str, Any], parsed: dict[str, Any], source: str) -> None:
    segs = data["customers"]["segments"]
    weights = data["customers"]["segment_weights"]
    if len(weights) != len(segs):
        raise ScenarioError(
            source, "customers.segment_weights", f"must have one weight per segment ({len(segs)}), got {len(weights)}"
        )
    if sum(weights) <= 0:
        raise ScenarioError(source, "customers.segment_weights", "must have a positive sum")
    d = data["demand"]
    if d["rho_across"] > d["rho_within"]:
        raise ScenarioError(
            source, "demand.rho_across", f"must not exceed demand.rho_within ({d['rho_within']}), got {d['rho_across']}"
        )
    bms = data["choices"]["business_models"]
    if not bms:
        raise ScenarioError(source, "choices.business_models", "must declare at least one business model")
    names = [bm["name"] for bm in bms]
    if len(set(names)) != len(names):
        raise ScenarioError(source, "choices.business_models", f"names must be distinct, got {names}")
    if all(bm["account_management"] >= 0.5 for bm in bms):
        raise ScenarioError(
            source,
            "choices.business_models",
            "at least one business model must need no account manager (account_management < 0.5): relationships "
            "beyond the managers' capacity fall back to it",
        )
    al = data["alignment"]
    if len(al["kraljic_levels"]) != 4:
        raise ScenarioError(
            source,
            "alignment.kraljic_levels",
            f"must have 4 levels (strategic, leverage, bottleneck, routine), got {len(al['kraljic_levels'])}",
        )
    spaces = data["interactions"]
    if spaces and not al["enabled"]:
        raise ScenarioError(
            source,
            "interactions",
            "interaction spaces act on alignment: set alignment.enabled = true, or remove [[interactions]]",
        )
    space_names = [sp["name"] for sp in spaces]
    if len(set(space_names)) != len(space_names):
        raise ScenarioError(source, "interactions", f"names must be distinct, got {space_names}")
    for i, sp in enumerate(spaces):
        if sp["models"] != ["all"]:
            for m in sp["models"]:
                if m not in names:
                    raise ScenarioError(
                        source, f"interactions[{i}].models", f"unknown business model {m!r}" + hint(m, names + ["all"])
                    )
    slots = data["customers"]["max_slots"]
    if slots and slots < data["customers"]["count"]:
        raise ScenarioError(
            source,
            "customers.max_slots",
            f"must be 0 (automatic) or at least customers.count ({data['customers']['count']}), got {slots}",
        )
    start, cust = data["horizon"]["start"], data["customers"]
    if start and cust["source"] and start != cust["as_of"]:
        raise ScenarioError(
            source,
            "horizon.start",
            f"must be empty or equal customers.as_of ({cust['as_of'] or 'empty'}) when customers.source is given: the "
            f"horizon starts at the customers' as-of date, got {start!r}",
        )
    corr = correlation_matrix(data["correlations"], source)
    parsed["_correlation_matrix"] = corr


#: The fields of ``[stages]`` with one number per stage (or none: the default for every stage).
STAGE_LISTS = ("initial", "margin_factor", "margin", "cost_to_serve_factor", "churn_multiplier", "closeness")
MAX_STAGES = 32
#: How far a row of ``stages.transitions`` may sum from 1 (decimal fractions rarely add up to 1 exactly).
ROW_SUM_TOLERANCE = 1e-6


def _check_stages(data: dict[str, Any], source: str) -> None:
    """``[stages]``: 2 to 32 names; one row of transitions per stage, all with one column per stage and
    optionally one more (the relationship ends), each summing to 1; per-stage lists empty or one number
    per stage; initial weights with a positive sum; shifts named by declared business models."""
    st = data["stages"]
    names = st["names"]
    k = len(names)
    if not 2 <= k <= MAX_STAGES:
        raise ScenarioError(source, "stages.names", f"must name 2 to {MAX_STAGES} stages, got {k}")
    rows = st["transitions"]
    if len(rows) != k:
        raise ScenarioError(
            source, "stages.transitions", f"must have one row per stage ({k}: {', '.join(names)}), got {len(rows)}"
        )
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) not in (k, k + 1) or len(row) != width:
            raise ScenarioError(
                source,
                f"stages.transitions[{i}]",
                f"every row must have {k} numbers (one per stage) or {k + 1} (and the probability that the "
                f"relationship ends), the same in every row; got {len(row)}" + (f" after {width}" if i else ""),
            )
        if abs(math.fsum(row) - 1.0) > ROW_SUM_TOLERANCE:
            raise ScenarioError(
                source, f"stages.transitions[{i}]", f"must sum to 1 (stage {names[i]!r}), got {math.fsum(row):.9g}"
            )
    for key in STAGE_LISTS:
        values = st[key]
        if values and len(values) != k:
            raise ScenarioError(
                source, f"stages.{key}", f"must be empty or have one number per stage ({k}), got {len(values)}"
            )
    if st["initial"] and math.fsum(st["initial"]) <= 0:
        raise ScenarioError(source, "stages.initial", "must have a positive sum (or be empty: all in the first stage)")
    models = [bm["name"] for bm in data["choices"]["business_models"]]
    for name, shift in st["model_shift"].items():
        if name not in models:
            raise ScenarioError(source, f"stages.model_shift.{name}", "unknown business model" + hint(name, models))
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not -50 <= shift <= 50:
            raise ScenarioError(source, f"stages.model_shift.{name}", f"must be a number in [-50, 50], got {shift!r}")


def _check_estimates(data: dict[str, Any], parsed: dict[str, Any], source: str) -> None:
    """Each ``[[estimates]]`` entry names distinct parameters of the estimable inputs' distributions,
    once across entries, with a symmetric positive semi-definite covariance of matching size."""
    entries = data["estimates"]
    seen: set[str] = set()
    for i, e in enumerate(entries):
        where = f"estimates[{i}]"
        names = e["fields"]  # a non-empty list (the field's type)
        for name in names:
            parts = name.split(".")
            dist = parsed.get(".".join(parts[:2])) if len(parts) == 3 and parts[0] == "uncertainties" else None
            if dist is None or parts[1] not in ESTIMATED:
                raise ScenarioError(
                    source,
                    f"{where}.fields",
                    f"{name!r} is not a distribution parameter of an estimable input; allowed: "
                    + ", ".join(f"uncertainties.{a}.<parameter>" for a in ESTIMATED),
                )
            if parts[2] not in dist.kwargs:
                raise ScenarioError(
                    source,
                    f"{where}.fields",
                    f"{name!r}: uncertainties.{parts[1]} ({dist.name}) has no parameter {parts[2]!r}; it has "
                    + ", ".join(dist.kwargs),
                )
            if name in seen:
                raise ScenarioError(source, f"{where}.fields", f"{name!r} is estimated in two entries")
            seen.add(name)
        k = len(names)
        cov = np.asarray(e["covariance"], dtype=float)
        if cov.size != k * k:
            raise ScenarioError(
                source, f"{where}.covariance", f"must hold len(fields)^2 = {k * k} numbers (row by row), got {cov.size}"
            )
        cov = cov.reshape(k, k)
        scale = float(np.max(np.abs(cov))) if cov.size else 0.0
        if not np.allclose(cov, cov.T, rtol=1e-9, atol=1e-12 * scale):
            raise ScenarioError(source, f"{where}.covariance", "must be symmetric")
        if np.linalg.eigvalsh(cov).min() < -1e-9 * max(scale, 1e-300):
            raise ScenarioError(source, f"{where}.covariance", "must be positive semi-definite")
    if data["parameter_uncertainty"]["enabled"] and not entries:
        raise ScenarioError(
            source,
            "parameter_uncertainty.enabled",
            "needs [[estimates]] (parameters with their covariance; valuecapture calibrate writes them)",
        )


def correlation_matrix(entries: list[dict[str, Any]], source: str = "<scenario>") -> np.ndarray:
    """The copula correlation matrix over :data:`CORRELATED`; must be positive definite."""
    k = len(CORRELATED)
    c = np.eye(k)
    seen: set[tuple[int, int]] = set()
    for i, e in enumerate(entries):
        pair = e["between"]
        where = f"correlations[{i}].between"
        if len(pair) != 2:
            raise ScenarioError(source, where, f"must name exactly two attributes, got {pair!r}")
        for name in pair:
            if name not in CORRELATED:
                raise ScenarioError(source, where, f"unknown attribute {name!r}" + hint(name, CORRELATED))
        a, b = CORRELATED.index(pair[0]), CORRELATED.index(pair[1])
        key = (min(a, b), max(a, b))
        if a == b or key in seen:
            raise ScenarioError(source, where, f"pair {pair!r} is repeated or names one attribute twice")
        seen.add(key)
        c[a, b] = c[b, a] = e["rho"]
    if np.linalg.eigvalsh(c).min() <= 1e-10:
        raise ScenarioError(
            source,
            "correlations",
            "the correlations together are impossible (the matrix is not positive definite); reduce their magnitudes",
        )
    return c
