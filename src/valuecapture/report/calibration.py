"""The fit-check report of ``valuecapture calibrate``: ``NEW.check.html`` beside the calibrated
scenario, self-contained (figures embedded as PNG, as in ``valuecapture report``), and its figures
as PNG and SVG in the folder ``NEW.check/``.

It shows the checks of :func:`valuecapture.analysis.calibration.fit_checks`: QQ plots of the
fitted against the empirical marginals, the data's Kaplan-Meier survival against the simulated
survival with Monte Carlo bands, revenue concentration (Lorenz curves, top-20% share) of data and
simulation, churn by segment, and a table of every check with its interval and pass/fail.  Both
are written atomically (the folder through :func:`~valuecapture.run.outputs.atomic_dir`, the HTML
file staged beside its target and renamed), and neither ever replaces what valuecapture did not
write.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.calibration import FitChecks, SurvivalMatch
from valuecapture.analysis.summary import money_scale
from valuecapture.report.html import Column, Report, Table, _render
from valuecapture.report.money import currency_of, unit
from valuecapture.report.plots import _plt
from valuecapture.run.outputs import OutputError, atomic_dir, check_target, umask, write_file

#: In the HTML file's head: what ``--overwrite`` may replace.
GENERATOR = '<meta name="generator" content="valuecapture calibrate fit check">'

BLUE, ORANGE, GREY, RED = "#4C72B0", "#DD8452", "#7f7f7f", "#C44E52"

LABELS = {
    "wallet": "wallet (currency/year at list price)",
    "price": "net price (fraction of list)",
    "cost_to_serve": "cost to serve (fraction of revenue)",
    "initial_age": "tenure of active customers (years)",
}


def check_paths(out: str | Path) -> tuple[Path, Path]:
    """``NEW.toml`` -> (``NEW.check.html``, ``NEW.check/``) beside it."""
    p = Path(out)
    return p.with_name(p.stem + ".check.html"), p.with_name(p.stem + ".check")


def _ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return GENERATOR.encode() in f.read(4096)
    except OSError:
        return False


def check_report_targets(out: str | Path, overwrite: bool) -> tuple[Path, Path]:
    """The report's file and folder, refused (:class:`~valuecapture.run.outputs.OutputError`) when
    they cannot be written without losing anything: a link or a folder in the way, an existing one
    without ``overwrite``, or one that valuecapture did not write."""
    html_path, folder = check_paths(out)
    if html_path.is_symlink():
        raise OutputError(f"{html_path}: is a link; valuecapture does not write through links (choose another --out)")
    if html_path.exists():
        if not html_path.is_file():
            raise OutputError(f"{html_path}: exists and is not a file; choose another --out")
        if not _ours(html_path):
            raise OutputError(
                f"{html_path}: exists and was not written by valuecapture calibrate; it is never replaced: move it "
                "or choose another --out (or --no-check)"
            )
        if not overwrite:
            raise OutputError(f"{html_path}: exists; add --overwrite to replace it, or choose another --out")
    check_target(folder, overwrite, "the fit check's figures")
    return html_path, folder


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def qq_figure(checks: FitChecks, currency: str = ""):  # type: ignore[no-untyped-def]
    """QQ plots: the fitted distribution's quantiles against the data's, one panel per marginal
    (the wallet in ``currency``, an ISO 4217 code or none)."""
    plt = _plt()
    names = list(checks.qq)
    cols = max(1, min(len(names), 2))
    rows = max(1, -(-len(names) // cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.6 * cols + 0.4, 3.6 * rows + 0.5), layout="constrained", squeeze=False
    )
    for ax, name in zip(axes.flat, names, strict=False):
        q = checks.qq[name]
        emp, fit = np.asarray(q["empirical"]), np.asarray(q["fitted"])
        div, suf = money_scale(emp) if name == "wallet" else (1.0, "")
        emp, fit = emp / div, fit / div
        log = name == "wallet" and emp.min() > 0 and emp.max() / emp.min() > 50
        ax.plot(fit, emp, "o", ms=2.5, color=BLUE, alpha=0.6, label="customers")
        lo, hi = float(min(emp.min(), fit.min())), float(max(emp.max(), fit.max()))
        ax.plot([lo, hi], [lo, hi], color=RED, lw=1, ls="--", label="y = x")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        label = LABELS.get(name, name)
        if name == "wallet":
            label = label.replace("currency/year", f"{unit(suf, currency)}/year")
        ax.set_title(f"{name}: {q['family']}", fontsize=10)
        ax.set_xlabel("fitted quantile", fontsize=9)
        ax.set_ylabel(f"data: {label}", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_axis_off()
    fig.suptitle("Fitted vs empirical marginals (QQ)", fontsize=11)
    return fig


def survival_figure(checks: FitChecks, match: SurvivalMatch | None):  # type: ignore[no-untyped-def]
    """The data's Kaplan-Meier survival (95% interval) against the simulated survival of customers
    won in the run (pooled, with the 2.5-97.5% band of single replications)."""
    plt = _plt()
    s = checks.survival
    fig, ax = plt.subplots(figsize=(7.2, 4.4), constrained_layout=True)
    years = np.asarray(s["years"])
    ax.fill_between(years, s["band_low"], s["band_high"], step="post", color=ORANGE, alpha=0.2,
                    label="simulated: 2.5-97.5% of replications")  # fmt: skip
    ax.step(years, s["simulated"], where="post", color=ORANGE, lw=2,
            label=f"simulated ({s['customers']} customers won in {s['replications']} replications)")  # fmt: skip
    ax.fill_between(years, s["data_low"], s["data_high"], step="post", color=BLUE, alpha=0.18,
                    label="data: 95% interval (Greenwood)")  # fmt: skip
    ax.step(years, s["data"], where="post", color=BLUE, lw=2, label="data: Kaplan-Meier")
    if match is not None and abs(match.factor - 1.0) > 1e-9:
        before = match.before
        ax.plot(before.years, before.survival, "x--", color=GREY, lw=1,
                label=f"simulated before the survival match (b x 1; now b x {match.factor:.3f})")  # fmt: skip
    ax.set_xlabel("years since acquisition")
    ax.set_ylabel("share still a customer")
    ax.set_ylim(max(0.0, float(np.nanmin(s["band_low"])) - 0.1) if years.size else 0.0, 1.02)
    ax.set_xlim(0, float(years.max()) if years.size else 1)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    ax.set_title("Survival: data vs simulated calibrated scenario", fontsize=11)
    return fig


def concentration_figure(checks: FitChecks):  # type: ignore[no-untyped-def]
    """Lorenz curves of annual revenue per customer: data and simulation (mean, 2.5-97.5% band)."""
    plt = _plt()
    c = checks.concentration
    fig, ax = plt.subplots(figsize=(5.6, 5.0), constrained_layout=True)
    x = np.asarray(c["share"])
    ax.plot([0, 1], [0, 1], color=GREY, lw=0.8, ls=":", label="equal revenue")
    ax.fill_between(x, c["low"], c["high"], color=ORANGE, alpha=0.25, label="simulated: 2.5-97.5% of replications")
    ax.plot(x, c["simulated"], color=ORANGE, lw=2, label=f"simulated (top 20%: {c['top20_simulated']:.1%})")
    ax.plot(x, c["data"], color=BLUE, lw=2, label=f"data (top 20%: {c['top20_data']:.1%})")
    ax.axvline(0.8, color=GREY, lw=0.6, ls="--")
    ax.set_xlabel("share of customers, smallest first")
    ax.set_ylabel("share of revenue")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_title("Revenue concentration (Lorenz curve)", fontsize=11)
    return fig


def segment_figure(checks: FitChecks):  # type: ignore[no-untyped-def]
    """First-year churn by segment: data and simulation, with 95% intervals."""
    plt = _plt()
    rows = checks.segments
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(rows) + 2.4), 4.0), constrained_layout=True)
    pos = np.arange(len(rows))
    w = 0.36
    for off, key, color, label in ((-w / 2, "data", BLUE, "data"), (w / 2, "simulated", ORANGE, "simulated")):
        vals = np.array([r[key] for r in rows])
        err = Z * np.array([r[f"{key}_se"] for r in rows])
        ax.bar(pos + off, vals, w, color=color, alpha=0.85, label=label)
        ax.errorbar(pos + off, vals, yerr=err, fmt="none", ecolor="black", elinewidth=1, capsize=3)
    ax.set_xticks(pos, [f"{r['segment']}\n(n = {r['n_data']})" for r in rows], fontsize=9)
    ax.set_ylabel("first-year churn (1 - S(1 year))")
    top = max([r["data"] + Z * r["data_se"] for r in rows] + [r["simulated"] for r in rows] + [0.05])
    ax.set_ylim(0, top * 1.3)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(frameon=False, fontsize=8, loc="upper left", ncol=2)
    ax.set_title("Churn by segment (95% intervals)", fontsize=11)
    return fig


Z = 1.959963984540054


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------


def build_check_report(
    checks: FitChecks, match: SurvivalMatch | None, name: str, toml_name: str, currency: str = ""
) -> Report:
    """The report's content (the blocks :func:`~valuecapture.report.html._render` draws); money in
    ``currency`` (an ISO 4217 code, or none)."""
    rep = Report(f"Fit check of {name}", "calibration")
    failed = checks.failed
    rep.p(
        f"The calibrated scenario {toml_name} simulated with {checks.replications} replications "
        f"({checks.seconds:.1f} s) and compared with the data it was calibrated to: "
        + (
            f"{len(failed)} of {len(checks.checks)} checks fail (marked FAIL below; each interval is a 95% one)."
            if failed
            else f"all {len(checks.checks)} checks pass (each interval is a 95% one)."
        )
        + " docs/calibration.md says how each check is made and what a failure means."
    )
    t = Table(
        "checks",
        "Every check",
        [
            Column("check", "check", "text"),
            Column("group", "group", "text"),
            Column("data", "data", "num"),
            Column("simulated", "simulated / fitted", "num"),
            Column("low", "interval: low", "num"),
            Column("high", "interval: high", "num"),
            Column("result", "result", "text"),
            Column("how", "how", "text"),
        ],
    )
    for c in checks.checks:
        t.add(c.name, c.group, c.data, c.simulated, c.low, c.high, "pass" if c.passed else "FAIL", c.how)
    rep.table(t)
    if match is not None:
        d = match.describe()
        rep.h("Churn adjusted for the trust dynamics")
        rep.p(d["note"])
        mt = Table(
            "survival_match",
            "Survival at the matched years: data and simulated",
            [
                Column("year", "years", "num"),
                Column("data", "data (Kaplan-Meier)", "num"),
                Column("data_se", "data s.e.", "num"),
                Column("before", "simulated, b as fitted", "num"),
                Column("after", f"simulated, b x {match.factor:.4g}", "num"),
                Column("after_se", "Monte Carlo s.e.", "num"),
            ],
        )
        for i, y in enumerate(match.years):
            mt.add(
                float(y), float(match.target[i]), float(match.target_se[i]), float(match.before.survival[i]),
                float(match.after.survival[i]), float(match.after.se[i]),
            )  # fmt: skip
        rep.table(mt)
    if checks.qq:
        rep.h("Marginals")
        rep.figure(
            "qq", "QQ plots: data against the fitted distribution's quantiles", lambda: qq_figure(checks, currency)
        )
    rep.h("Survival")
    rep.figure(
        "survival",
        "Kaplan-Meier survival since acquisition of the data's customers and of customers won in the simulated run",
        lambda: survival_figure(checks, match),
    )
    if checks.concentration:
        rep.h("Revenue concentration")
        rep.figure("lorenz", "Lorenz curves of annual revenue per customer", lambda: concentration_figure(checks))
    if checks.segments:
        rep.h("Churn by segment")
        rep.p(
            "The engine has one churn distribution for all segments (the pooled fit); a segment outside its interval "
            "churns differently from the rest, which the simulation does not reproduce."
        )
        rep.figure("segments", "First-year churn by segment, data and simulation", lambda: segment_figure(checks))
    return rep


def write_check_report(
    checks: FitChecks,
    match: SurvivalMatch | None,
    out: str | Path,
    name: str,
    meta: dict[str, Any],
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Write ``NEW.check.html`` and ``NEW.check/`` (figures) for the scenario ``out``; returns both.
    ``meta``: the result-like attributes the report's header shows (version, seed, replications) and
    the scenario's ``currency``, when it has one."""
    html_path, folder = check_report_targets(out, overwrite)
    rep = build_check_report(checks, match, name, Path(out).name, currency_of(meta))
    ds = xr.Dataset(attrs=meta)
    with atomic_dir(folder, "the fit check's figures", overwrite=overwrite) as tmp:
        html_text, _ = _render(rep, tmp, ds)
        for t in rep.tables:
            t.write_csv(tmp / f"{t.name}.csv")
    html_text = html_text.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n' + GENERATOR, 1)
    html_text = html_text.replace('href="figures/', f'href="{folder.name}/')
    html_text = re.sub(
        r"Table as CSV: tables/(\w+)\.csv, NetCDF: tables/\w+\.nc\.", rf"Table as CSV: {folder.name}/\1.csv.", html_text
    )
    check_report_targets(out, True)  # still ours to replace
    fd, tmp_name = tempfile.mkstemp(prefix=f".{html_path.name}.partial-", dir=html_path.parent)
    os.close(fd)
    try:
        write_file(Path(tmp_name), html_text)
        os.chmod(tmp_name, 0o666 & ~umask())
        os.replace(tmp_name, html_path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return html_path, folder


def failure_lines(checks: FitChecks) -> list[str]:
    """One line per failed check (for the terminal)."""
    return [c.line() for c in checks.failed]
