"""Distributions of uncertain inputs.

A distribution in a scenario file is a TOML table with a ``dist`` key naming a
``scipy.stats`` distribution from a fixed allow-list and its keyword parameters,
for example ``{ dist = "lognorm", s = 1.2, scale = 80000 }``.  The special name
``"fixed"`` with a single ``value`` gives a degenerate (constant) input.

Nothing is evaluated: the name is looked up in the allow-list below, never
imported by path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

#: Allowed distribution names and their allowed parameters.  ``loc`` and
#: ``scale`` are accepted by every scipy continuous distribution.
ALLOWED: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "norm": ("loc", "scale"),
    "lognorm": ("s", "loc", "scale"),
    "truncnorm": ("a", "b", "loc", "scale"),
    "beta": ("a", "b", "loc", "scale"),
    "gamma": ("a", "loc", "scale"),
    "uniform": ("loc", "scale"),
    "triang": ("c", "loc", "scale"),
    "weibull_min": ("c", "loc", "scale"),
    "expon": ("loc", "scale"),
}

#: Parameters that must be given (the rest default as in scipy.stats).
REQUIRED: dict[str, tuple[str, ...]] = {
    "fixed": ("value",),
    "lognorm": ("s",),
    "truncnorm": ("a", "b"),
    "beta": ("a", "b"),
    "gamma": ("a",),
    "triang": ("c",),
    "weibull_min": ("c",),
}

#: Parameters that carry the unit of the variable (they scale with it).
LOCATION_SCALE = ("loc", "scale", "value")


class DistributionError(ValueError):
    """A distribution table is not valid; ``field`` is the offending key."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Distribution:
    """A validated, frozen univariate distribution."""

    name: str
    params: tuple[tuple[str, float], ...]

    @property
    def kwargs(self) -> dict[str, float]:
        return dict(self.params)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantile function applied elementwise to uniforms ``u`` in (0, 1)."""
        if self.name == "fixed":
            return np.full(np.shape(u), self.kwargs["value"], dtype=float)
        return np.asarray(getattr(stats, self.name).ppf(u, **self.kwargs), dtype=float)

    def mean(self) -> float:
        if self.name == "fixed":
            return float(self.kwargs["value"])
        return float(getattr(stats, self.name).mean(**self.kwargs))

    def support(self) -> tuple[float, float]:
        if self.name == "fixed":
            v = float(self.kwargs["value"])
            return v, v
        lo, hi = getattr(stats, self.name).support(**self.kwargs)
        return float(lo), float(hi)

    def scaled(self, k: float) -> Distribution:
        """The distribution of ``k * X`` (``k > 0``), used for money scaling."""
        out = []
        for key, val in self.params:
            out.append((key, val * k if key in LOCATION_SCALE else val))
        if self.name != "fixed" and "scale" not in self.kwargs:
            out.append(("scale", float(k)))
        return Distribution(self.name, tuple(sorted(out)))

    def to_table(self) -> dict[str, Any]:
        return {"dist": self.name, **self.kwargs}


def parse(table: Any, lo: float | None = None, hi: float | None = None) -> Distribution:
    """Validate a distribution table and return a :class:`Distribution`.

    ``lo``/``hi`` bound the support the variable may take (closed bounds).
    Raises :class:`DistributionError` naming the offending key.
    """
    if not isinstance(table, Mapping):
        raise DistributionError(
            "", f'must be a table like {{ dist = "lognorm", s = 1.0, scale = 1.0 }}, got {type(table).__name__}'
        )
    if "dist" not in table:
        raise DistributionError("dist", f"missing; allowed: {', '.join(ALLOWED)}")
    name = table["dist"]
    if not isinstance(name, str) or name not in ALLOWED:
        raise DistributionError("dist", f"unknown distribution {name!r}; allowed: {', '.join(ALLOWED)}")
    allowed = ALLOWED[name]
    params: dict[str, float] = {}
    for key, val in table.items():
        if key == "dist":
            continue
        if key not in allowed:
            raise DistributionError(key, f"is not a parameter of {name!r}; allowed: {', '.join(allowed)}")
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise DistributionError(key, f"must be a number, got {type(val).__name__} {val!r}")
        if not math.isfinite(val):
            raise DistributionError(key, f"must be a finite number, got {val!r}")
        params[key] = float(val)
    for key in REQUIRED.get(name, ()):
        if key not in params:
            raise DistributionError(key, f"is required for {name!r} (parameters: {', '.join(allowed)})")
    if "scale" in params and params["scale"] <= 0:
        raise DistributionError("scale", f"must be > 0, got {params['scale']}")
    for shape in ("s", "a", "b", "c"):
        if shape in params and name != "truncnorm" and params[shape] <= 0:
            raise DistributionError(shape, f"must be > 0 for {name!r}, got {params[shape]}")
    if name == "triang" and not 0 <= params["c"] <= 1:
        raise DistributionError("c", f"must be in [0, 1] for 'triang', got {params['c']}")
    if name == "truncnorm" and not params["a"] < params["b"]:
        raise DistributionError("b", f"must be greater than a for 'truncnorm', got a={params['a']}, b={params['b']}")
    dist = Distribution(name, tuple(sorted(params.items())))
    s_lo, s_hi = dist.support()
    if name == "fixed":
        v = params["value"]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            bounds = f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
            raise DistributionError("value", f"must be in {bounds}, got {v:g}")
    elif lo is not None and s_lo < lo:
        raise DistributionError(
            "",
            f"{name} with these parameters takes values down to {s_lo:g}, below the allowed minimum {lo:g}; choose a "
            "distribution bounded there (e.g. lognorm, beta, truncnorm)",
        )
    elif hi is not None and s_hi > hi:
        raise DistributionError(
            "",
            f"{name} with these parameters takes values up to {s_hi:g}, above the allowed maximum {hi:g}; choose a "
            "distribution bounded there (e.g. beta, truncnorm)",
        )
    m = dist.mean()
    if not math.isfinite(m):
        raise DistributionError("dist", "has no finite mean; choose parameters with a finite mean")
    return dist
