"""Money as the report tables and the figures show it: one formatter for every table, axis and label.

An amount is written with four significant digits, a ``k``/``m``/``bn`` scale chosen by its
magnitude, and the result's currency as an ISO 4217 code after a space: ``237.4m EUR``,
``-12.35k USD``, ``1.235bn EUR``; below a thousand with two decimals, ``950.00 EUR``.  A result
without a currency (written before ``economics.currency`` existed) shows no code: ``237.4m``.
Axes put the scale and the code in their label, ``firm value (m EUR)``, and plain numbers on the
ticks.  The currency is read from ``attrs["currency"]`` and used only when it is three capital
letters (anything else in a result file is left out rather than printed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from valuecapture.analysis.summary import money_scale
from valuecapture.scenario.schema import CURRENCY_PATTERN


def currency_of(source: Any) -> str:
    """The ISO 4217 code in ``source.attrs["currency"]`` (a Dataset) or ``source["currency"]`` (a
    mapping of attributes); ``""`` when absent or not three capital letters."""
    attrs = getattr(source, "attrs", source)
    code = attrs.get("currency") if isinstance(attrs, Mapping) else None
    if isinstance(code, bytes):
        code = code.decode("ascii", "replace")
    return str(code) if isinstance(code, str) and CURRENCY_PATTERN.fullmatch(code) else ""


def money(value: float, currency: str = "") -> str:
    """``value`` as text: four significant digits with k/m/bn, two decimals below a thousand, the code after."""
    v = float(value)
    if not math.isfinite(v):
        return "n/a"
    rounded = float(f"{v:.4g}")  # round first, so that 999,960 is 1.000m and not 1000k
    div, suffix = money_scale(rounded)
    if suffix:
        x = rounded / div
        decimals = max(0, 3 - int(math.floor(math.log10(abs(x)))))
        text = f"{x:,.{decimals}f}{suffix}"
    else:
        text = f"{v:,.2f}"
    return f"{text} {currency}" if currency else text


def unit(suffix: str, currency: str = "") -> str:
    """The unit of an axis whose values are divided by the scale ``suffix``: ``m EUR``, ``EUR``, ``m``."""
    parts = [p for p in (suffix, currency) if p]
    return " ".join(parts) if parts else "currency units"


def scaled(values: np.ndarray | float, currency: str = "") -> tuple[float, str]:
    """Divisor and axis unit (:func:`unit`) that suit the largest |value| of ``values``."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    div, suffix = money_scale(arr) if arr.size else (1.0, "")
    return div, unit(suffix, currency)


def units_text(units: str, currency: str = "") -> str:
    """Units with the placeholder ``currency`` of the analyses' own tables replaced by the code
    (``EUR/year``); units a result file already spells with its code are left as they are."""
    return units.replace("currency", currency) if currency else units
