"""The tables ``valuecapture sweep`` prints."""

from __future__ import annotations

import json

import xarray as xr

from valuecapture.analysis.experiments.effects import format_number, hypothesis_tests, regress
from valuecapture.analysis.experiments.sensitivity import factor_names, sensitivity
from valuecapture.analysis.experiments.spec import RESPONSES


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
    for r in resp:
        s = sensitivity(ds, r, n_resamples=n_resamples)
        lines += ["", f"Sensitivity of {r} ({RESPONSES[r].title}): {s.method}"]
        head = f"{'factor':28s}{'first order':>12s}{'CI':>20s}{'total':>10s}{'CI':>20s}"
        lines += [head, "-" * len(head)]
        for i in s.indices:
            lines.append(
                f"{i.factor:28s}{i.first:>12.3f}{f'[{i.first_low:.3f}, {i.first_high:.3f}]':>20s}{i.total:>10.3f}"
                f"{f'[{i.total_low:.3f}, {i.total_high:.3f}]':>20s}"
            )
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
    return "\n".join(lines)
