"""Whether a re-run reproduced a result: every variable compared bit for bit (``valuecapture reproduce``).

Two results are *identical* when they hold the same variables and coordinates, each with
the same dimensions, shape, type and values; values are compared bit for bit except that
NaN equals NaN (whatever its payload) and 0.0 differs from -0.0.  Attributes are
compared too, but only reported: a result written by another package version or on
another machine differs in ``valuecapture_version`` or ``numpy_version`` without its data
differing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr


@dataclass(frozen=True)
class Difference:
    """One variable (or coordinate) that differs between an original result and its re-run.

    ``what`` says how, in words; ``max_abs`` is the largest absolute difference between
    values that are finite in both (None when not numeric or not comparable) and
    ``count`` the number of values that differ (None when the shapes differ)."""

    name: str
    role: str
    what: str
    max_abs: float | None = None
    count: int | None = None


def _role(ds: xr.Dataset, name: Any) -> str:
    return "variable" if name in ds.data_vars else "coordinate"


def compare_arrays(a: np.ndarray, b: np.ndarray) -> tuple[int, float | None, int]:
    """Values of ``a`` and ``b`` (same shape) that differ: (count, max |a - b| over values finite
    in both, or None when not numeric, count of places where exactly one is NaN)."""
    numeric = a.dtype.kind in "biufc" and b.dtype.kind in "biufc"
    if numeric and (a.dtype.kind in "fc" or b.dtype.kind in "fc"):
        x, y = a.astype(np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64), b
        y = y.astype(x.dtype)
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        same = ((x == y) & (np.signbit(x.real) == np.signbit(y.real))) | (nan_x & nan_y)
        finite = np.isfinite(x) & np.isfinite(y) & ~same
        gap = float(np.max(np.abs(x[finite] - y[finite]))) if finite.any() else None
        return int((~same).sum()), gap, int((nan_x ^ nan_y).sum())
    if numeric:
        diff = a != b
        gap = float(np.max(np.abs(a[diff].astype(np.float64) - b[diff].astype(np.float64)))) if diff.any() else None
        return int(diff.sum()), gap, 0
    same = np.array([x == y for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True)], dtype=bool)
    return int((~same).sum()), None, 0


def differences(original: xr.Dataset, again: xr.Dataset) -> list[Difference]:
    """Every variable and coordinate of ``original`` or ``again`` that is not identical in the other."""
    out: list[Difference] = []
    names = [*original.variables, *(n for n in again.variables if n not in original.variables)]
    for name in names:
        if name not in again.variables:
            out.append(Difference(str(name), _role(original, name), "only in the original"))
            continue
        if name not in original.variables:
            out.append(Difference(str(name), _role(again, name), "only in the re-run"))
            continue
        a, b = original.variables[name], again.variables[name]
        role = _role(original, name)
        if set(a.dims) != set(b.dims) or any(a.sizes[d] != b.sizes[d] for d in a.dims):
            out.append(
                Difference(
                    str(name), role, f"dimensions {_shape(a)} in the original, {_shape(b)} in the re-run", None, None
                )
            )
            continue
        x, y = np.asarray(a.values), np.asarray(b.transpose(*a.dims).values)
        count, gap, nans = compare_arrays(x, y)
        if count == 0 and x.dtype == y.dtype:
            continue
        if count == 0:
            what = f"the same values, stored as {x.dtype} in the original and {y.dtype} in the re-run"
        else:
            units = a.attrs.get("units")
            parts = [f"{count} of {x.size} values differ"]
            if gap is not None:
                parts.append(f"max |difference| {gap:.6g}" + (f" {units}" if isinstance(units, str) and units else ""))
            if nans:
                parts.append(f"NaN in only one of them at {nans} place{'s' if nans > 1 else ''}")
            what = ", ".join(parts)
        out.append(Difference(str(name), role, what, gap, count))
    return out


def _shape(v: xr.Variable) -> str:
    return "(" + ", ".join(f"{d}: {n}" for d, n in v.sizes.items()) + ")"


def attribute_differences(original: xr.Dataset, again: xr.Dataset) -> list[str]:
    """Names of the Dataset attributes that differ (or exist in only one), sorted."""
    keys = set(original.attrs) | set(again.attrs)
    return sorted(str(k) for k in keys if not _same(original.attrs.get(k), again.attrs.get(k)))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _short(v: Any) -> str:
    t = repr(v.item() if isinstance(v, np.generic) else v)
    return t if len(t) <= 40 else t[:37] + "..."


def reproduction_text(original: xr.Dataset, again: xr.Dataset, where: str, written: str) -> str:
    """What ``valuecapture reproduce`` prints: "identical", or the variables that differ and by how much."""
    diffs = differences(original, again)
    n = len(set(original.variables) | set(again.variables))
    if not diffs:
        lines = [f"identical: {written} reproduces {where} bit for bit ({n} variables and coordinates; NaN equals NaN)"]
    else:
        lines = [f"differs: {written} differs from {where} in {len(diffs)} of {n} variables and coordinates"]
        width = max(len(d.name) for d in diffs)
        lines += [f"  {d.name:{width}s}  {d.what}" for d in diffs]
    attrs = attribute_differences(original, again)
    if attrs:
        shown = [f"{k} ({_short(original.attrs.get(k))} -> {_short(again.attrs.get(k))})" for k in attrs]
        lines.append("attributes that differ (data compared above): " + "; ".join(shown))
    return "\n".join(lines)
