"""Scenario discovery on a sweep result: where in the design do the cases of interest lie?

A **condition** names the cases of interest.  It is parsed as data (a small grammar, never evaluated)::

    condition := subject OP number         e.g.  firm_value < 0      p_loss > 0.2      p5(firm_value) < -1m
               | label "loses to" label    e.g.  tiered loses to single
    subject   := variable                  a per-replication output: each replication of each design point is a case
               | response                  a response of docs/research.md (mean_firm_value, p_loss...): one case a point
               | stat "(" variable ")"     a statistic of the point's replications: mean, median, sd, cv, es5, p1..p99
    OP        := "<" | "<=" | ">" | ">="
    number    := -12.5, 3e6, 1_000_000, with an optional suffix k (1e3), m (1e6) or bn (1e9)
    label     := a level of the sweep's policy factor (quote it, 'like this', if it has spaces or brackets)

``A loses to B`` compares mean firm value: one case per combination of the other factors' values, of
interest when A's mean is below B's there (the sweep needs both policies at each combination).

The cases' factor values are explained by **PRIM** (Friedman & Fisher 1999), as the EMA workbench runs
it: peeling takes off, from one side of one dimension, the ``alpha`` share of the box's cases whose
removal raises the box's density the most per case removed (the workbench's ``lenient1`` objective),
until no peel raises it or the box would hold less than ``mass_min`` of all cases; pasting then adds
back ``paste_alpha`` slices while that raises the density.  Every box on the way is a point of the
**peeling trajectory**: coverage (the share of all cases of interest that lie in the box), density (the
share of the box's cases that are of interest) and mass (the box's share of all cases).  Each
restricted dimension of a box gets a **quasi-p-value** (Bryant & Lempert 2010): the one-sided binomial
probability of at least the box's cases of interest among its cases, at the density of the box with
that restriction lifted.  A large quasi-p says the restriction adds nothing.  Numbers (and true/false)
are peeled by value; text levels one level at a time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats as sps

from valuecapture.analysis.experiments import RESPONSES
from valuecapture.analysis.stats import expected_shortfall

OPERATORS = ("<=", ">=", "<", ">")
SUFFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "bn": 1e9}
#: Statistics of a design point's replications that a condition can name, ``pN`` (N in 1..99) besides.
STATISTICS = ("mean", "median", "sd", "cv", "es5")
#: Factor fields that make a factor a policy (a lever) by default.
POLICY_FIELDS = ("choices.policy",)

_NUMBER = re.compile(r"^([+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)(k|m|bn)?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOKEN = re.compile(r"\s*(?:('[^']*'|\"[^\"]*\")|(<=|>=|<|>|\(|\))|([^\s<>()'\"]+))")


class ConditionError(ValueError):
    """A condition that cannot be read or does not fit the result (one line)."""


@dataclass(frozen=True)
class Condition:
    """A parsed condition: ``subject op value`` (``kind`` 'replication' or 'point') or ``loser loses to winner``."""

    text: str
    kind: str  # replication | point | loses
    variable: str = ""
    statistic: str = ""  # '' (per replication), a response name, or mean/median/sd/cv/es5/pN
    op: str = ""
    value: float = math.nan
    loser: str = ""
    winner: str = ""

    def describe(self) -> str:
        if self.kind == "loses":
            return f"{self.loser} has a lower mean firm value than {self.winner}"
        if self.kind == "replication":
            return f"a replication's {self.variable} {self.op} {show_number(self.value)}"
        subject = self.statistic if self.statistic in RESPONSES else f"{self.statistic}({self.variable})"
        return f"a design point's {subject} {self.op} {show_number(self.value)}"


def show_number(v: float) -> str:
    """``v`` as the grammar writes it: ``-2.5m``, ``250k``, ``0.2``."""
    for div, suf in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{suf}"
    return f"{v:g}"


def parse_number(text: str) -> float:
    """A number of the condition grammar (``-3.5``, ``2e6``, ``1_000_000``, ``250k``, ``1.5m``, ``2bn``)."""
    m = _NUMBER.match(text.strip())
    if not m:
        raise ConditionError(f"{text!r} is not a number (e.g. 0, -2.5, 3e6, 250k, 1.5m, 2bn)")
    v = float(m.group(1).replace("_", "")) * SUFFIXES[m.group(2) or ""]
    if not math.isfinite(v):
        raise ConditionError(f"{text!r} is not a finite number")
    return v


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"cannot read {text[pos:]!r}")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"" else token


def _statistic_ok(name: str) -> bool:
    if name in STATISTICS:
        return True
    m = re.fullmatch(r"p(\d{1,2})", name)
    return m is not None and 1 <= int(m.group(1)) <= 99


def parse_condition(text: str) -> Condition:
    """Read a condition (see the module docstring); raises :class:`ConditionError` with what is allowed."""
    if not text.strip():
        raise ConditionError("empty condition (e.g. 'firm_value < 0', 'p_loss > 0.2', 'tiered loses to single')")
    toks = _tokens(text)
    low = [t.lower() for t in toks]
    if "loses" in low:
        i = low.index("loses")
        if i != 1 or len(toks) != 4 or low[2] != "to":
            raise ConditionError(f"{text!r}: write 'POLICY loses to POLICY' (quote a label with spaces: 'a b')")
        loser, winner = _unquote(toks[0]), _unquote(toks[3])
        if loser == winner:
            raise ConditionError(f"{text!r}: a policy cannot lose to itself")
        return Condition(text, "loses", "firm_value", "mean", loser=loser, winner=winner)
    ops = [i for i, t in enumerate(toks) if t in OPERATORS]
    if len(ops) != 1 or ops[0] != len(toks) - 2:
        raise ConditionError(
            f"{text!r}: write 'SUBJECT OP NUMBER' with one of {', '.join(OPERATORS)} (e.g. 'firm_value < 0', "
            "'p_loss > 0.2', 'p5(firm_value) < -1m') or 'POLICY loses to POLICY'"
        )
    op, value = toks[-2], parse_number(toks[-1])
    subject = toks[:-2]
    if len(subject) == 4 and subject[1] == "(" and subject[3] == ")":
        subject = [subject[0], subject[2]]
    if len(subject) == 1 and _NAME.match(subject[0]):
        name = subject[0]
        if name in RESPONSES:
            return Condition(text, "point", RESPONSES[name].variable, name, op, value)
        return Condition(text, "replication", name, "", op, value)
    if len(subject) == 2 and all(_NAME.match(s) for s in subject):
        stat, var = subject[0].lower(), subject[1]
        if not _statistic_ok(stat):
            raise ConditionError(
                f"{text!r}: unknown statistic {subject[0]!r}; use one of {', '.join(STATISTICS)} or p1..p99, or a "
                f"response: {', '.join(RESPONSES)}"
            )
        return Condition(text, "point", var, stat, op, value)
    raise ConditionError(
        f"{text!r}: the subject must be a variable (firm_value), a response (p_loss) or STAT(VARIABLE) "
        "(mean(firm_value))"
    )


def _compare(x: np.ndarray, op: str, v: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return {"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v}[op]


def point_statistic(x: np.ndarray, statistic: str) -> np.ndarray:
    """``statistic`` (a response's reducer, mean/median/sd/cv/es5 or pN) over the last axis of ``x``."""
    if statistic in RESPONSES:
        return np.asarray(RESPONSES[statistic].reduce(x, axis=-1), dtype=float)
    if statistic == "mean":
        return np.nanmean(x, axis=-1)
    if statistic == "median":
        return np.nanmedian(x, axis=-1)
    if statistic == "sd":
        return np.nanstd(x, axis=-1, ddof=1)
    if statistic == "cv":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nanstd(x, axis=-1, ddof=1) / np.abs(np.nanmean(x, axis=-1))
    if statistic == "es5":
        return np.asarray(expected_shortfall(x, 0.05, axis=-1), dtype=float)
    return np.quantile(x, int(statistic[1:]) / 100, axis=-1)


# ---------------------------------------------------------------------------
# The cases: factor values and whether each is of interest
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cases:
    """What PRIM explains: one row per case, its factor values and whether it is of interest.

    ``x`` holds numbers; a categorical dimension ``j`` holds the index into ``levels[j]``
    (``levels[j]`` is None for a numeric one).  ``point`` is each case's design point (or, for
    ``loses to``, the loser's point)."""

    condition: Condition
    names: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    levels: tuple[tuple[str, ...] | None, ...]
    point: np.ndarray
    unit: str  # what a case is: replication, design point, or scenario (a combination of the other factors)


def _show(v: object) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v)


def factor_table(ds: xr.Dataset, names: Sequence[str]) -> tuple[np.ndarray, tuple[tuple[str, ...] | None, ...]]:
    """The factors ``names`` over ``design_point`` as numbers (text and true/false levels as level indices)."""
    cols: list[np.ndarray] = []
    levels: list[tuple[str, ...] | None] = []
    for n in names:
        v = ds[n].values
        if v.dtype.kind in "iuf":
            cols.append(v.astype(float))
            levels.append(None)
        else:
            shown = [_show(a) for a in v]
            lv = tuple(dict.fromkeys(_ordered_levels(ds, n, shown)))
            cols.append(np.array([lv.index(s) for s in shown], dtype=float))
            levels.append(lv)
    return (np.column_stack(cols) if cols else np.zeros((ds.sizes["design_point"], 0))), tuple(levels)


def _ordered_levels(ds: xr.Dataset, name: str, shown: list[str]) -> list[str]:
    """A factor's levels in the experiment's order where its design says it, else as they appear."""
    design = str(ds[name].attrs.get("design", ""))
    if design.startswith("levels "):
        listed = [s.strip() for s in design[len("levels ") :].split(",")]
        if set(shown) <= set(listed):
            return [s for s in listed if s in set(shown)]
    return sorted(set(shown), key=shown.index)


def sweep_factors(ds: xr.Dataset) -> list[str]:
    """The factor names of a sweep result; raises :class:`ConditionError` for another kind of result."""
    if ds.attrs.get("kind") != "sweep" or "design_point" not in ds.dims:
        raise ConditionError("not a sweep result (no design_point dimension): run `valuecapture sweep` first")
    try:
        names = json.loads(ds.attrs["factors"])
    except (KeyError, TypeError, ValueError):
        raise ConditionError("attribute factors is not a JSON list of factor names") from None
    if not isinstance(names, list) or not all(isinstance(n, str) and n in ds.coords for n in names):
        raise ConditionError("attribute factors does not name the result's factor coordinates")
    return names


def policy_factors(ds: xr.Dataset, levers: Sequence[str] | None = None) -> list[str]:
    """The lever factors: ``levers`` (checked) or the factors whose field is a policy (``choices.policy``)."""
    names = sweep_factors(ds)
    if levers:
        bad = [n for n in levers if n not in names]
        if bad:
            raise ConditionError(f"--lever {bad[0]}: not a factor of this sweep (factors: {', '.join(names)})")
        return list(dict.fromkeys(levers))
    return [n for n in names if str(ds[n].attrs.get("field", "")) in POLICY_FIELDS]


def lever_labels(ds: xr.Dataset, levers: Sequence[str]) -> list[str]:
    """Each design point's policy label: the lever's level, or ``name=value`` pairs for several levers."""
    if len(levers) == 1:
        return [_show(v) for v in ds[levers[0]].values]
    cols = [[f"{n}={_show(v)}" for v in ds[n].values] for n in levers]
    return [", ".join(parts) for parts in zip(*cols, strict=True)]


def groups(ds: xr.Dataset, levers: Sequence[str]) -> tuple[list[str], list[str], np.ndarray]:
    """Policies, other factors, and the design point of every (combination of the other factors, policy).

    Returns ``(labels, others, index)``, ``index[s, p]`` the design point of combination ``s`` under
    policy ``p``.  Raises :class:`ConditionError` when some combination lacks a policy or has it twice."""
    names = sweep_factors(ds)
    others = [n for n in names if n not in levers]
    labels_of = lever_labels(ds, levers)
    labels = list(dict.fromkeys(labels_of))
    keys = [tuple(_show(ds[n].values[i]) for n in others) for i in range(ds.sizes["design_point"])]
    combos = list(dict.fromkeys(keys))
    index = np.full((len(combos), len(labels)), -1, dtype=np.int64)
    where = {k: s for s, k in enumerate(combos)}
    for i, (k, lab) in enumerate(zip(keys, labels_of, strict=True)):
        s, p = where[k], labels.index(lab)
        if index[s, p] >= 0:
            raise ConditionError(
                f"design points {index[s, p]} and {i} both run {lab!r} at the same values of {', '.join(others)}: "
                "the policies must each appear once at each combination of the other factors"
            )
        index[s, p] = i
    missing = np.argwhere(index < 0)
    if missing.size:
        s, p = missing[0]
        shown = ", ".join(f"{n}={v}" for n, v in zip(others, combos[s], strict=True))
        raise ConditionError(
            f"no design point runs {labels[p]!r} at {shown or 'the base scenario'}: every policy must appear at every "
            "combination of the other factors (a full factorial design over the policy factor)"
        )
    return labels, others, index


def cases(ds: xr.Dataset, condition: Condition | str, levers: Sequence[str] | None = None) -> Cases:
    """The cases of ``condition`` on the sweep ``ds`` (see the module docstring)."""
    cond = parse_condition(condition) if isinstance(condition, str) else condition
    names = sweep_factors(ds)
    if cond.kind == "loses":
        lev = policy_factors(ds, levers)
        if not lev:
            raise ConditionError(
                f"{cond.text!r}: the sweep has no policy factor (a factor on choices.policy); name the factor that "
                "holds the policies with --lever"
            )
        labels, others, index = groups(ds, lev)
        for lab in (cond.loser, cond.winner):
            if lab not in labels:
                raise ConditionError(f"{cond.text!r}: {lab!r} is not a policy of this sweep ({', '.join(labels)})")
        if not others:
            raise ConditionError(f"{cond.text!r}: the sweep has no factor besides {', '.join(lev)} to explain it by")
        fv = ds["firm_value"].values.astype(float)
        mean = np.nanmean(fv, axis=-1)
        a, b = index[:, labels.index(cond.loser)], index[:, labels.index(cond.winner)]
        x, levels = factor_table(ds.isel(design_point=a), others)
        return Cases(cond, tuple(others), x, mean[a] < mean[b], levels, a, "scenario")
    if cond.variable not in ds.data_vars or ds[cond.variable].dims != ("design_point", "replication"):
        per_rep = [str(v) for v in ds.data_vars if ds[v].dims == ("design_point", "replication")]
        raise ConditionError(
            f"{cond.text!r}: {cond.variable!r} is not a per-replication output of this sweep (e.g. "
            f"{', '.join(per_rep[:6])}; responses: {', '.join(RESPONSES)})"
        )
    values = ds[cond.variable].values.astype(float)
    x, levels = factor_table(ds, names)
    points = np.arange(ds.sizes["design_point"])
    if cond.kind == "point":
        y = _compare(point_statistic(values, cond.statistic), cond.op, cond.value)
        return Cases(cond, tuple(names), x, y, levels, points, "design point")
    reps = values.shape[1]
    y = _compare(values, cond.op, cond.value).reshape(-1)
    return Cases(cond, tuple(names), np.repeat(x, reps, axis=0), y, levels, np.repeat(points, reps), "replication")


# ---------------------------------------------------------------------------
# PRIM
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A box: ``lower``/``upper`` per dimension (numbers; unused for categorical ones) and, for a
    categorical dimension ``j``, ``allowed[j]`` (the levels kept, by index; None for a numeric one)."""

    lower: np.ndarray
    upper: np.ndarray
    allowed: tuple[np.ndarray | None, ...]

    def contains(self, x: np.ndarray) -> np.ndarray:
        inside = np.all((x >= self.lower) & (x <= self.upper), axis=1) if x.size else np.ones(len(x), bool)
        for j, a in enumerate(self.allowed):
            if a is not None:
                inside &= a[x[:, j].astype(np.int64)]
        return inside

    def lifted(self, j: int, full: Box) -> Box:
        """This box with dimension ``j``'s restriction lifted (as in ``full``)."""
        lo, hi = self.lower.copy(), self.upper.copy()
        lo[j], hi[j] = full.lower[j], full.upper[j]
        allowed = list(self.allowed)
        allowed[j] = full.allowed[j]
        return Box(lo, hi, tuple(allowed))

    def restricted(self, full: Box) -> list[int]:
        """Dimensions this box restricts relative to ``full``."""
        out = []
        for j in range(len(self.lower)):
            a, f = self.allowed[j], full.allowed[j]
            if a is not None and f is not None:
                if a.sum() < f.sum():
                    out.append(j)
            elif self.lower[j] > full.lower[j] or self.upper[j] < full.upper[j]:
                out.append(j)
        return out


@dataclass(frozen=True)
class BoxStats:
    """One point of the peeling trajectory."""

    index: int
    phase: str  # start | peel | paste
    coverage: float
    density: float
    mass: float
    cases: int
    of_interest: int
    restricted: int


@dataclass(frozen=True)
class Trajectory:
    """PRIM's boxes from the whole space to the last peel and paste, with their statistics."""

    boxes: tuple[Box, ...]
    stats: tuple[BoxStats, ...]
    full: Box
    alpha: float
    paste_alpha: float
    mass_min: float


def _objective(y_old_sum: float, n_old: int, y_new_sum: np.ndarray, n_new: np.ndarray) -> np.ndarray:
    """The workbench's ``lenient1``: the rise in density per case removed (or added)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_new = np.where(n_new > 0, y_new_sum / np.maximum(n_new, 1), -np.inf)
        out = (mean_new - y_old_sum / n_old) / np.abs(n_old - n_new)
    return np.where(n_new == n_old, -np.inf, out)


def _stats(index: int, phase: str, inside: np.ndarray, y: np.ndarray, box: Box, full: Box) -> BoxStats:
    n, k = int(inside.sum()), int(y[inside].sum())
    total = int(y.sum())
    return BoxStats(
        index,
        phase,
        k / total if total else math.nan,
        k / n if n else math.nan,
        n / len(y),
        n,
        k,
        len(box.restricted(full)),
    )


def _full_box(x: np.ndarray, levels: Sequence[tuple[str, ...] | None]) -> Box:
    d = x.shape[1]
    lo = np.array([x[:, j].min() if levels[j] is None else -np.inf for j in range(d)], dtype=float)
    hi = np.array([x[:, j].max() if levels[j] is None else np.inf for j in range(d)], dtype=float)
    allowed = tuple(
        None if lv is None else np.isin(np.arange(len(lv)), x[:, j].astype(np.int64)) for j, lv in enumerate(levels)
    )
    return Box(lo, hi, allowed)


def _peels(x: np.ndarray, y: np.ndarray, inside: np.ndarray, box: Box, alpha: float) -> list[tuple[Box, np.ndarray]]:
    """Every candidate peel of ``box``: per numeric dimension its lower and upper ``alpha`` slice (at least
    one distinct value), per categorical dimension each level still in the box."""
    xin = x[inside]
    out: list[tuple[Box, np.ndarray]] = []
    num = [j for j, a in enumerate(box.allowed) if a is None]
    if num:
        cols = xin[:, num]
        q_lo = np.quantile(cols, alpha, axis=0)
        q_hi = np.quantile(cols, 1 - alpha, axis=0)
        mins, maxs = cols.min(axis=0), cols.max(axis=0)
        for k, j in enumerate(num):
            if mins[k] == maxs[k]:
                continue
            c = cols[:, k]
            # lower: drop values below the alpha quantile, or (ties) the smallest value
            keep_lo = c >= q_lo[k] if np.any(c < q_lo[k]) else c > mins[k]
            keep_hi = c <= q_hi[k] if np.any(c > q_hi[k]) else c < maxs[k]
            for keep, side in ((keep_lo, 0), (keep_hi, 1)):
                lo, hi = box.lower.copy(), box.upper.copy()
                if side == 0:
                    lo[j] = c[keep].min()
                else:
                    hi[j] = c[keep].max()
                out.append((Box(lo, hi, box.allowed), keep))
    for j, a in enumerate(box.allowed):
        if a is None or a.sum() <= 1:
            continue
        codes = xin[:, j].astype(np.int64)
        for level in np.flatnonzero(a):
            keep = codes != level
            allowed = list(box.allowed)
            new = a.copy()
            new[level] = False
            allowed[j] = new
            out.append((Box(box.lower, box.upper, tuple(allowed)), keep))
    return out


def _pastes(x: np.ndarray, box: Box, full: Box, n_box: int, paste_alpha: float) -> list[tuple[Box, np.ndarray]]:
    """Every candidate paste: per restricted dimension, widen one side by about ``paste_alpha`` of the box's
    cases (at least one distinct value), or add back one categorical level."""
    out: list[tuple[Box, np.ndarray]] = []
    step = max(1, math.ceil(paste_alpha * n_box))
    for j in box.restricted(full):
        wide = box.lifted(j, full)
        cand = wide.contains(x)
        c = x[:, j]
        if box.allowed[j] is None:
            below = np.sort(c[cand & (c < box.lower[j])])[::-1]
            above = np.sort(c[cand & (c > box.upper[j])])
            if below.size:
                lo = box.lower.copy()
                lo[j] = below[min(step, below.size) - 1]
                b = Box(lo, box.upper, box.allowed)
                out.append((b, b.contains(x)))
            if above.size:
                hi = box.upper.copy()
                hi[j] = above[min(step, above.size) - 1]
                b = Box(box.lower, hi, box.allowed)
                out.append((b, b.contains(x)))
        else:
            a, f = box.allowed[j], full.allowed[j]
            assert a is not None and f is not None
            for level in np.flatnonzero(f & ~a):
                allowed = list(box.allowed)
                new = a.copy()
                new[level] = True
                allowed[j] = new
                b = Box(box.lower, box.upper, tuple(allowed))
                out.append((b, b.contains(x)))
    return out


def prim(
    x: np.ndarray,
    y: np.ndarray,
    levels: Sequence[tuple[str, ...] | None] | None = None,
    *,
    alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> Trajectory:
    """PRIM's peeling and pasting of the cases ``x`` (n x d) with ``y`` (n, true: of interest).

    ``levels[j]``: the level names of a categorical dimension (``x[:, j]`` holds their indices), None
    for a numeric one.  Peeling stops when no peel raises the density or the next box would hold
    less than ``mass_min`` of the cases; ties between peels go to the one that keeps more
    dimensions unrestricted, then to the first.  Returns the :class:`Trajectory`."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=bool)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x must be n x d and y of length n, got {x.shape} and {y.shape}")
    if not len(y):
        raise ValueError("no cases")
    if not 0 < alpha < 0.5 or not 0 < paste_alpha < 0.5 or not 0 < mass_min < 1:
        raise ValueError("alpha and paste_alpha must be in (0, 0.5), mass_min in (0, 1)")
    levels = tuple(levels) if levels is not None else (None,) * x.shape[1]
    full = _full_box(x, levels)
    n = len(y)
    yf = y.astype(float)
    box, inside = full, np.ones(n, dtype=bool)
    boxes, stats = [full], [_stats(0, "start", inside, y, full, full)]
    while True:
        cands = _peels(x, y, inside, box, alpha)
        if not cands:
            break
        n_old, y_old = int(inside.sum()), float(yf[inside].sum())
        keeps = np.array([k for _, k in cands])  # candidates x cases in the box
        n_new = keeps.sum(axis=1)
        y_new = keeps.astype(float) @ yf[inside]
        score = _objective(y_old, n_old, y_new, n_new)
        free = np.array([x.shape[1] - len(b.restricted(full)) for b, _ in cands])
        best = int(np.lexsort((np.arange(len(cands)), -free, -score))[0])
        if not (score[best] > 0 and n_new[best] >= mass_min * n and n_new[best] < n_old):
            break
        new_inside = np.zeros(n, dtype=bool)
        new_inside[np.flatnonzero(inside)[keeps[best]]] = True
        box, inside = cands[best][0], new_inside
        boxes.append(box)
        stats.append(_stats(len(stats), "peel", inside, y, box, full))
    while True:
        n_old, y_old = int(inside.sum()), float(yf[inside].sum())
        cands = _pastes(x, box, full, n_old, paste_alpha)
        if not cands:
            break
        masks = np.array([m for _, m in cands])
        n_new = masks.sum(axis=1)
        y_new = masks.astype(float) @ yf
        score = _objective(y_old, n_old, y_new, n_new)
        free = np.array([x.shape[1] - len(b.restricted(full)) for b, _ in cands])
        best = int(np.lexsort((np.arange(len(cands)), -free, -score))[0])
        if not (score[best] > 0 and n_new[best] > n_old and y_new[best] / n_new[best] > y_old / n_old):
            break
        box, inside = cands[best][0], masks[best]
        boxes.append(box)
        stats.append(_stats(len(stats), "paste", inside, y, box, full))
    return Trajectory(tuple(boxes), tuple(stats), full, alpha, paste_alpha, mass_min)


def quasi_p(x: np.ndarray, y: np.ndarray, box: Box, full: Box) -> dict[int, float]:
    """Quasi-p-value of each restricted dimension of ``box`` (Bryant & Lempert 2010): ``P(Binom(T, p) >= H)``
    with T and H the box's cases and cases of interest and p the density of the box with that
    dimension's restriction lifted."""
    y = np.asarray(y, dtype=bool)
    inside = box.contains(x)
    t, h = int(inside.sum()), int(y[inside].sum())
    out = {}
    for j in box.restricted(full):
        m = box.lifted(j, full).contains(x)
        p = float(y[m].mean())
        out[j] = float(sps.binom.sf(h - 1, t, p)) if t else math.nan
    return out


def default_box(traj: Trajectory) -> int:
    """The box chosen when none is asked for: the largest harmonic mean of coverage and density
    (the F1 score of "in the box" as a prediction of "of interest"); ties to the fewer restrictions."""
    f1 = np.array([2 * s.coverage * s.density / (s.coverage + s.density) if s.of_interest else 0.0 for s in traj.stats])
    restricted = np.array([s.restricted for s in traj.stats])
    order = np.lexsort((np.arange(len(f1)), restricted, -np.round(f1, 12)))
    return int(order[0])


# ---------------------------------------------------------------------------
# Discovery on a sweep
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One restricted dimension of the chosen box."""

    dimension: str
    low: float
    high: float
    levels: tuple[str, ...] | None  # the levels kept (categorical); None for a range
    full_low: float
    full_high: float
    full_levels: tuple[str, ...] | None
    quasi_p: float

    def describe(self) -> str:
        if self.levels is not None:
            return "{" + ", ".join(self.levels) + "}"
        return f"[{self.low:.4g}, {self.high:.4g}]"

    def restriction(self) -> float:
        """How much of the dimension the box cuts away (share of the range or of the levels)."""
        if self.levels is not None and self.full_levels is not None:
            return 1 - len(self.levels) / len(self.full_levels)
        span = self.full_high - self.full_low
        return 1 - (self.high - self.low) / span if span > 0 else 0.0


@dataclass(frozen=True)
class Discovery:
    """PRIM on a sweep's cases: the trajectory, the chosen box, its limits with quasi-p-values."""

    cases: Cases
    trajectory: Trajectory
    chosen: int
    limits: tuple[Limit, ...]

    @property
    def box(self) -> BoxStats:
        return self.trajectory.stats[self.chosen]


def box_limits(c: Cases, traj: Trajectory, i: int) -> tuple[Limit, ...]:
    """The restricted dimensions of box ``i`` with their quasi-p-values, most significant first."""
    box, full = traj.boxes[i], traj.full
    qp = quasi_p(c.x, c.y, box, full)
    out = []
    for j, p in qp.items():
        lv = c.levels[j]
        a, f = box.allowed[j], full.allowed[j]
        out.append(
            Limit(
                c.names[j],
                float(box.lower[j]),
                float(box.upper[j]),
                None if lv is None or a is None else tuple(lv[k] for k in np.flatnonzero(a)),
                float(full.lower[j]),
                float(full.upper[j]),
                None if lv is None or f is None else tuple(lv[k] for k in np.flatnonzero(f)),
                p,
            )
        )
    return tuple(sorted(out, key=lambda lim: (lim.quasi_p, -lim.restriction())))


def discover(
    ds: xr.Dataset,
    condition: Condition | str,
    *,
    levers: Sequence[str] | None = None,
    alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    box: int | None = None,
) -> Discovery:
    """Scenario discovery with PRIM on the sweep ``ds`` for ``condition`` (see the module docstring).

    ``box``: the trajectory's box to describe (default :func:`default_box`).  Raises
    :class:`ConditionError` (one line) for a condition that does not fit the result, or one
    that no case (or every case) meets."""
    c = cases(ds, condition, levers)
    k = int(c.y.sum())
    if k == 0:
        raise ConditionError(f"{c.condition.text!r}: no {c.unit} meets it; there is nothing to discover")
    if k == len(c.y):
        raise ConditionError(f"{c.condition.text!r}: every {c.unit} meets it; there is nothing to discover")
    traj = prim(c.x, c.y, c.levels, alpha=alpha, paste_alpha=paste_alpha, mass_min=mass_min)
    if box is None:
        chosen = default_box(traj)
    elif not 0 <= box < len(traj.boxes):
        raise ConditionError(f"--box {box}: the trajectory has boxes 0 to {len(traj.boxes) - 1}")
    else:
        chosen = box
    return Discovery(c, traj, chosen, box_limits(c, traj, chosen))


def discovery_text(d: Discovery) -> str:
    """The printed tables: the chosen box and the trajectory's coverage-density trade-off."""
    c, s = d.cases, d.box
    lines = [
        f"Scenario discovery (PRIM): cases of interest: {c.condition.describe()}",
        f"cases: {len(c.y)} ({c.unit}s); of interest: {int(c.y.sum())} ({c.y.mean():.1%}); dimensions: "
        f"{', '.join(c.names)}",
        f"peeling alpha {d.trajectory.alpha:g}, pasting alpha {d.trajectory.paste_alpha:g}, minimum mass "
        f"{d.trajectory.mass_min:g}",
        "",
        f"Chosen box {d.chosen} of {len(d.trajectory.boxes) - 1}: coverage {s.coverage:.3f}, density {s.density:.3f}, "
        f"mass {s.mass:.3f} ({s.cases} cases, {s.of_interest} of interest), {s.restricted} restricted dimension"
        f"{'' if s.restricted == 1 else 's'}",
    ]
    if d.limits:
        lines += [f"{'dimension':24s} {'box':>28s} {'whole design':>28s} {'quasi-p':>10s}", "-" * 93]
        for lim in d.limits:
            whole = (
                "{" + ", ".join(lim.full_levels) + "}"
                if lim.full_levels is not None
                else f"[{lim.full_low:.4g}, {lim.full_high:.4g}]"
            )
            lines.append(f"{lim.dimension:24s} {lim.describe():>28s} {whole:>28s} {lim.quasi_p:10.3g}")
        lines.append(
            "quasi-p: P(as many cases of interest in the box) were the restriction lifted; above 0.05 it adds little"
        )
    else:
        lines.append("(the whole design: no restriction concentrates the cases of interest better)")
    lines += [
        "",
        "Peeling trajectory (coverage-density trade-off; --box N describes box N):",
        f"{'box':>4s} {'phase':6s} {'coverage':>9s} {'density':>8s} {'mass':>6s} {'restricted':>10s}",
    ]
    for st in d.trajectory.stats:
        mark = "  <- chosen" if st.index == d.chosen else ""
        lines.append(
            f"{st.index:4d} {st.phase:6s} {st.coverage:9.3f} {st.density:8.3f} {st.mass:6.3f} {st.restricted:10d}{mark}"
        )
    return "\n".join(lines)
