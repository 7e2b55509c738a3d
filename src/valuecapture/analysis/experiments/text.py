"""The tables ``valuecapture sweep`` prints."""

from __future__ import annotations

import json

import xarray as xr

from valuecapture.analysis.experiments.effects import format_number, hypothesis_tests, regress
from valuecapture.analysis.experiments.screening import Morris, Tornado, index_warning, morris, tornado
from valuecapture.analysis.experiments.sensitivity import factor_names, sensitivity
from valuecapture.analysis.experiments.spec import RESPONSES, show_value


def sweep_text(ds: xr.Dataset, *, n_resamples: int = 1000) -> str:
    """The tables ``valuecapture sweep`` prints."""
    a = ds.attrs
    names = factor_names(ds)
    resp = json.loads(a.get("responses", "[]"))
    lines = [
        f"experiment {a.get('experiment_name')!r}   design {a.get('design')} ({a.get('design_points')} points)   seed "
        f"{a.get('seed')}   replications {a.get('replications')} per point   valuecapture "
        f"{a.get('valuecapture_version')}",
        f"base scenario {a.get('scenario_name')!r}; common random numbers across design points",
        "",
        "Factors",
    ]
    for f in names:
        lines.append(f"  {f:28s} {ds[f].attrs.get('field', f)}: {ds[f].attrs.get('design', '')}")
    if a.get("design") == "oat":
        for r in resp:
            lines += ["", *tornado_lines(tornado(ds, r, n_resamples=n_resamples))]
        return "\n".join(lines)
    if a.get("design") == "morris":
        warn = index_warning(ds)
        lines[2:2] = [warn] if warn else []
        for r in resp:
            lines += ["", *morris_lines(morris(ds, r, n_resamples=n_resamples))]
        return "\n".join(lines)
    sens = {r: sensitivity(ds, r, n_resamples=n_resamples) for r in resp}
    warn = index_warning(ds, sens)
    lines[2:2] = [warn] if warn else []
    for r, s in sens.items():
        lines += ["", f"Sensitivity of {r} ({RESPONSES[r].title}): {s.method}"]
        head = f"{'factor':28s}{'first order':>12s}{'CI':>20s}{'total':>10s}{'CI':>20s}"
        lines += [head, "-" * len(head)]
        for i in s.indices:
            lines.append(
                f"{i.factor:28s}{i.first:>12.3f}{f'[{i.first_low:.3f}, {i.first_high:.3f}]':>20s}{i.total:>10.3f}"
                f"{f'[{i.total_low:.3f}, {i.total_high:.3f}]':>20s}"
            )
    return "\n".join(lines + _effects_lines(ds, resp))


def _effects_lines(ds: xr.Dataset, resp: list[str]) -> list[str]:
    lines: list[str] = []
    for r in resp:
        reg = regress(ds, r)
        lines += ["", f"Effects on {r}: regression across design points (R^2 = {reg.r2:.3f}; {reg.model})"]
        head = f"{'term':28s}{'effect over span':>18s}{'95% CI':>26s}{'p':>10s}{'effect/sd':>11s}"
        lines += [head, "-" * len(head)]
        for e in reg.effects:
            ci = f"[{format_number(e.effect_low)}, {format_number(e.effect_high)}]"
            lines.append(
                f"{e.term:28s}{format_number(e.effect):>18s}{ci:>26s}{e.p:>10.3g}{e.standardized:>11.3f}   "
                f"({e.effect_label})"
            )
    hyps = hypothesis_tests(ds)
    if hyps:
        lines += ["", "Hypotheses"]
        lines += ["  " + h.sentence() for h in hyps]
    return lines


def morris_lines(m: Morris) -> list[str]:
    """The Morris table of one response, most influential factor first."""
    lines = [f"Screening of {m.response} ({RESPONSES[m.response].title}): {m.method}"]
    head = f"{'factor':28s}{'mu*':>12s}{f'{m.level:.0%} CI':>26s}{'mu':>12s}{'sigma':>12s}{'sigma/mu*':>11s}"
    lines += [head, "-" * len(head)]
    for i in m.indices:
        ci = f"[{format_number(i.mu_star_low)}, {format_number(i.mu_star_high)}]"
        ratio = f"{i.sigma / i.mu_star:.2f}" if i.mu_star > 0 else "-"
        lines.append(
            f"{i.factor:28s}{format_number(i.mu_star):>12s}{ci:>26s}{format_number(i.mu):>12s}"
            f"{format_number(i.sigma):>12s}{ratio:>11s}"
        )
    return lines


def tornado_lines(t: Tornado) -> list[str]:
    """The one-at-a-time swings of one response, widest first."""
    lines = [
        f"One-at-a-time swings of {t.response} ({RESPONSES[t.response].title}): {t.method}",
        f"base scenario: {format_number(t.base)} [{format_number(t.base_ci[0])}, {format_number(t.base_ci[1])}]",
    ]
    head = (
        f"{'factor':28s}{'low -> high (base)':>30s}{'at low':>12s}{'at high':>12s}{'swing':>12s}"
        f"{f'{t.level:.0%} CI':>26s}"
    )
    lines += [head, "-" * len(head)]
    for s in t.swings:
        span = f"{show_value(s.low_value)} -> {show_value(s.high_value)} ({show_value(s.base_value)})"
        ci = f"[{format_number(s.swing_ci[0])}, {format_number(s.swing_ci[1])}]"
        lines.append(
            f"{s.factor:28s}{span:>30s}{format_number(s.low):>12s}{format_number(s.high):>12s}"
            f"{format_number(s.swing):>12s}{ci:>26s}"
        )
    return lines
