"""Monte Carlo statistics of results."""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.stats import expected_shortfall, value_at_risk, variance_split
from valuecapture.run.results import currency_of, is_money


@dataclass(frozen=True)
class Stats:
    """Summary of a sample of replications."""

    n: int
    mean: float
    mcse: float  # Monte Carlo standard error of the mean: sd / sqrt(n)
    sd: float
    p5: float
    p50: float
    p95: float
    p_negative: float

    @classmethod
    def of(cls, x: np.ndarray) -> Stats:
        x = np.asarray(x, dtype=float)
        x = x[np.isfinite(x)]
        n = x.size
        if n == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan, nan, nan, nan)
        sd = float(x.std(ddof=1)) if n > 1 else float("nan")
        p5, p50, p95 = (float(v) for v in np.percentile(x, [5, 50, 95]))
        return cls(
            n, float(x.mean()), sd / math.sqrt(n) if n > 1 else float("nan"), sd, p5, p50, p95, float((x < 0).mean())
        )


SUMMARY_ROWS = (
    ("firm_value", "Firm value"),
    ("value_capture", "Relationship value capture"),
    ("pv_firm_costs", "PV of firm-level costs"),
    ("terminal_value", "Terminal value (net)"),
    ("value_created", "Value created"),
    ("value_destroyed", "Value destroyed"),
    ("stobachoff_peak", "Stobachoff peak (x total)"),
    ("top20_share", "Top-20% share (x total)"),
)


def summary(ds: xr.Dataset) -> dict[str, Stats]:
    """Stats of the per-replication outputs, plus customers active at the horizon."""
    out = {name: Stats.of(ds[name].values) for name, _ in SUMMARY_ROWS if name in ds}
    out["customers_active_end"] = Stats.of(ds["customers_active"].isel(period=-1).values)
    return out


def money_scale(values: np.ndarray | float) -> tuple[float, str]:
    """Divisor and suffix (``bn``, ``m``, ``k`` or none) that suit the largest |value|."""
    m = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    for div, suf in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if m >= div:
            return div, suf
    return 1.0, ""


def _fmt(v: float, money: bool) -> str:
    if not math.isfinite(v):
        return "nan"
    if money:
        div, suf = money_scale(v)
        return f"{v / div:,.2f}{suf}" if suf else f"{v:,.0f}"
    return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"


def header_lines(attrs: Mapping[str, Any]) -> list[str]:
    """The first lines of a result's printed summary: scenario, seed, replications, version, and the
    ``--set`` overrides the scenario was run with (from ``scenario_overrides``), when there are any."""
    lines = [
        f"scenario {attrs.get('scenario_name')!r}   seed {attrs.get('seed')}   replications "
        f"{attrs.get('replications')}   valuecapture {attrs.get('valuecapture_version')}"
    ]
    try:
        overrides = json.loads(str(attrs.get("scenario_overrides", "[]")))
    except ValueError:
        overrides = None
    if not isinstance(overrides, list):
        lines.append(f"overrides: (unreadable scenario_overrides attribute {attrs.get('scenario_overrides')!r})")
    elif overrides:
        lines.append("overrides: " + " ".join(f"--set {shlex.quote(str(o))}" for o in overrides))
    return lines


def money_text(v: float, currency: str = "") -> str:
    """An amount of money as the summaries print it: ``EUR 723.38m`` (no code for results without one)."""
    text = _fmt(v, True)
    return f"{currency} {text}" if currency and text != "nan" else text


def summary_text(ds: xr.Dataset) -> str:
    """The summary table `valuecapture run` and `show` print; money in the result's currency
    (``attrs["currency"]``), named above the table and before each amount in the text."""
    st = summary(ds)
    cur = currency_of(ds)
    lines = header_lines(ds.attrs)
    corner = f"money in {cur}" if cur else ""
    head = f"{corner:30s}{'mean':>12s}{'± MC s.e.':>12s}{'sd':>12s}{'p5':>12s}{'p50':>12s}{'p95':>12s}"
    lines += ["", head, "-" * len(head)]
    rows = list(SUMMARY_ROWS) + [("customers_active_end", "Customers active at horizon")]
    for key, label in rows:
        if key not in st:
            continue
        s = st[key]
        money = is_money(ds[key], cur) if key in ds else False
        vals = [s.mean, s.mcse, s.sd, s.p5, s.p50, s.p95]
        lines.append(f"{label:30s}" + "".join(f"{_fmt(v, money):>12s}" for v in vals))
    fv = st["firm_value"]
    se_p = math.sqrt(fv.p_negative * (1 - fv.p_negative) / fv.n) if fv.n else float("nan")
    lines += ["", f"P(firm value < 0) = {fv.p_negative:.3f} ± {se_p:.3f} (MC s.e.)"]
    if fv.n:
        x = ds["firm_value"].values.astype(float)
        x = x[np.isfinite(x)]
        lines.append(
            f"Value at risk (5% quantile of firm value) = {money_text(float(value_at_risk(x)), cur)}; "
            f"expected shortfall (mean of the worst 5%) = {money_text(float(expected_shortfall(x)), cur)}"
        )
    if "estimated_parameters" in ds:
        lines += _parameter_uncertainty_lines(ds)
    exhausted = int(ds["slots_exhausted"].sum())
    if exhausted:
        lines.append(
            f"warning: {exhausted} acquisitions were dropped for lack of customer slots; raise customers.max_slots"
        )
    return "\n".join(lines)


def _parameter_uncertainty_lines(ds: xr.Dataset) -> list[str]:
    """What the summary says of a run with parameter uncertainty: the variance split of firm value."""
    per_draw = int(ds["estimated_parameters"].attrs.get("per_draw", 1))
    n_params = ds.sizes["estimated_parameter"]
    head = f"Parameter uncertainty: {n_params} estimated parameters drawn once per {per_draw} replication(s)"
    x = ds["firm_value"].values
    try:
        split = variance_split(x, per_draw)
    except ValueError:
        return ["", head + "; set parameter_uncertainty.per_draw >= 2 to split the variance of firm value"]
    sd_b = math.copysign(math.sqrt(abs(split.between)), split.between)
    cur = currency_of(ds)
    share = split.parameter_share
    lines = [
        "",
        head + f" ({split.groups} draws)",
        f"  variance of firm value: parameter uncertainty {share:.1%} ± {split.between_se / split.total:.1%} "
        f"(sd {money_text(sd_b, cur)}), stochastic variation {1 - share:.1%} (sd "
        f"{money_text(math.sqrt(split.within), cur)})",
    ]
    if split.between < 0:
        lines.append(
            "  (a negative share: the parameter uncertainty is too small to detect with these replications; the "
            "unbiased estimate is kept)"
        )
    return lines
