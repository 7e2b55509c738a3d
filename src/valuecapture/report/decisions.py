"""Figures and folders of the decision analyses: scenario discovery (PRIM) and robustness (regret).

:func:`tradeoff_figure` and :func:`box_figure` draw a :class:`~valuecapture.analysis.discovery.Discovery`;
:func:`regret_figure` a :class:`~valuecapture.analysis.robustness.Robustness`.  :func:`write_discovery`
and :func:`write_robustness` write the printed text, the tables (CSV) and the figures (PNG and SVG)
into one folder, atomically and locked, with its manifest (docs/safety.md).
"""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from valuecapture.analysis.discovery import Discovery, discovery_text
from valuecapture.analysis.robustness import Robustness, robustness_dataset, robustness_text
from valuecapture.report.money import money, scaled
from valuecapture.report.plots import PALETTE, _plt, suptitle
from valuecapture.report.research_plots import save
from valuecapture.run.outputs import OutputError, WriteFailure, atomic_dir, check_target, claimed, write_file

DISCOVERY_DIR = "discovery"
ROBUSTNESS_DIR = "robustness"


def _wrap(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def tradeoff_figure(d: Discovery):  # type: ignore[no-untyped-def]
    """The peeling trajectory: density against coverage, coloured by the number of restricted dimensions."""
    plt = _plt()
    st = d.trajectory.stats
    cov = np.array([s.coverage for s in st])
    den = np.array([s.density for s in st])
    res = np.array([s.restricted for s in st])
    fig, ax = plt.subplots(figsize=(7.5, 5.2), constrained_layout=True)
    ax.plot(cov, den, color="#8C8C8C", lw=1, zorder=1)
    top = int(res.max())
    cmap = plt.get_cmap("viridis", top + 1)
    sc = ax.scatter(cov, den, c=res, cmap=cmap, vmin=-0.5, vmax=top + 0.5, s=36, zorder=2, edgecolor="white", lw=0.5)
    paste = np.array([s.phase == "paste" for s in st])
    if paste.any():
        ax.scatter(
            cov[paste], den[paste], s=70, facecolor="none", edgecolor="#C44E52", lw=1.2, zorder=3, label="pasted"
        )
    c = d.chosen
    ax.scatter(cov[c], den[c], s=220, marker="*", color="#C44E52", zorder=4, label=f"chosen box {c}")
    ax.annotate(
        f"box {c}: coverage {cov[c]:.2f}, density {den[c]:.2f}",
        (cov[c], den[c]),
        xytext=(-12, -18),
        textcoords="offset points",
        ha="right",
        fontsize=8,
    )
    ax.axhline(float(d.cases.y.mean()), color="#8C8C8C", ls=":", lw=1, label="share of interest overall")
    cb = fig.colorbar(sc, ax=ax, ticks=range(top + 1))
    cb.set_label("restricted dimensions")
    ax.set_xlim(-0.02, 1.04)
    ax.set_ylim(min(0.0, float(np.nanmin(den)) - 0.05), 1.04)
    ax.set_xlabel("coverage (share of the cases of interest inside the box)")
    ax.set_ylabel("density (share of the box's cases of interest)")
    ax.set_title(_wrap(f"PRIM peeling trajectory: {d.cases.condition.text}"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=True, fontsize=8, loc="lower left")
    return fig


def _spans(lim_low: float, lim_high: float, levels: Any, kept: Any) -> list[tuple[float, float]]:
    if levels is None:
        pad = 0.01 * (lim_high - lim_low) if lim_high > lim_low else 0.01
        return [(lim_low - pad, lim_high + pad)]
    return [(k - 0.4, k + 0.4) for k in kept]


def box_figure(d: Discovery):  # type: ignore[no-untyped-def]
    """The cases over the two most restricted dimensions of the chosen box, with the box drawn.

    Each dot gathers the cases with its two values (over the other factors' values and, per
    replication, the replications), coloured by the share of them of interest; larger dots gather more."""
    plt = _plt()
    c = d.cases
    box, full = d.trajectory.boxes[d.chosen], d.trajectory.full
    by = {lim.dimension: lim for lim in d.limits}
    order = sorted(range(len(c.names)), key=lambda j: (-(by[c.names[j]].restriction() if c.names[j] in by else -1), j))
    dims = order[:2]
    keys = c.x[:, dims]
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    count = np.bincount(inv)
    share = np.bincount(inv, weights=c.y.astype(float)) / count
    fig, ax = plt.subplots(figsize=(7.8, 5.8), constrained_layout=True)
    xv = uniq[:, 0]
    yv = uniq[:, 1] if len(dims) > 1 else np.zeros(len(xv))
    size = np.minimum(18 * np.sqrt(count / count.min()), 220)
    sc = ax.scatter(
        xv, yv, c=share, cmap="coolwarm", vmin=0, vmax=1, s=size, edgecolor="grey", lw=0.3, alpha=0.9, zorder=6
    )
    cb = fig.colorbar(sc, ax=ax)
    cb.set_label(f"share of the {c.unit}s with these values that are of interest")
    spans = []
    for j in dims:
        lv = c.levels[j]
        allowed = box.allowed[j]
        kept = None if allowed is None else np.flatnonzero(allowed)
        spans.append(_spans(float(box.lower[j]), float(box.upper[j]), lv, kept))
    if len(dims) == 1:
        spans.append([(-0.45, 0.45)])
    for x0, x1 in spans[0]:
        for y0, y1 in spans[1]:
            ax.add_patch(
                plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", lw=1.8, ls="--", zorder=4)
            )
    for axis, j in zip(("x", "y"), dims, strict=False):
        lv = c.levels[j]
        set_label = ax.set_xlabel if axis == "x" else ax.set_ylabel
        lim = by.get(c.names[j])
        tag = f" (quasi-p {lim.quasi_p:.2g})" if lim is not None else " (not restricted)"
        set_label(c.names[j] + tag)
        if lv is not None:
            (ax.set_xticks if axis == "x" else ax.set_yticks)(range(len(lv)), lv)
        pad = 0.05 * (full.upper[j] - full.lower[j]) if lv is None else 0.6
        lo, hi = (full.lower[j], full.upper[j]) if lv is None else (0, len(lv) - 1)
        (ax.set_xlim if axis == "x" else ax.set_ylim)(lo - pad, hi + pad)
    if len(dims) == 1:
        ax.set_yticks([])
        ax.set_ylim(-0.6, 0.6)
    s = d.box
    ax.set_title(
        _wrap(f"Box {d.chosen} for {c.condition.text}")
        + f"\ncoverage {s.coverage:.2f}, density {s.density:.2f}, mass {s.mass:.2f}; dashed: the box\n"
        f"each dot gathers the {c.unit}s at its two values",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    return fig


def regret_figure(r: Robustness, currency: str = ""):  # type: ignore[no-untyped-def]
    """Regret of every policy across the scenarios (box plots, max regret marked) and, with a threshold,
    each policy's satisficing share (else its share of scenarios where it is best); money in ``currency``
    (an ISO 4217 code, or none)."""
    plt = _plt()
    t = r.table
    div, unit_text = scaled(r.regret, currency)
    n = len(t.policies)
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(10.8, 1.8 + 0.7 * n), gridspec_kw={"width_ratios": [2.1, 1]}, constrained_layout=True
    )
    pos = np.arange(n)[::-1]
    data = [r.regret[:, p] / div for p in range(n)]
    try:  # matplotlib >= 3.10
        ax1.boxplot(data, positions=pos, orientation="horizontal", widths=0.55, showfliers=False)
    except TypeError:
        ax1.boxplot(data, positions=pos, vert=False, widths=0.55, showfliers=False)
    for y, p, vals in zip(pos, range(n), data, strict=True):
        jit = 0.18 * ((np.arange(vals.size) * 0.618034) % 1 - 0.5)
        ax1.scatter(vals, y + jit, s=9, color=PALETTE[p % len(PALETTE)], alpha=0.6, edgecolor="none", zorder=3)
        ax1.scatter(vals.max(), y, marker="D", s=40, color="#C44E52", zorder=4)
    ax1.set_yticks(pos, [f"{p}{'  (minimax)' if p == r.minimax else ''}" for p in t.policies])
    ax1.set_xlabel(f"regret: best mean firm value minus the policy's ({unit_text})")
    ax1.set_title("Regret across scenarios (each dot a scenario; red diamond: max regret)", fontsize=10)
    ax1.grid(alpha=0.3, axis="x")
    if r.satisficing is not None and r.threshold is not None:
        share, what = r.satisficing, f"meeting mean firm value >= {money(r.threshold, currency)}"
    else:
        share, what = r.best_share, "where it is the best policy"
    ax2.barh(pos, share * 100, color=[PALETTE[p % len(PALETTE)] for p in range(n)], height=0.55)
    for y, v in zip(pos, share, strict=True):
        ax2.text(min(v * 100 + 2, 88), y, f"{v:.0%}", va="center", fontsize=8)
    ax2.set_yticks(pos, [])
    ax2.set_xlim(0, 100)
    ax2.set_xlabel("% of scenarios")
    ax2.set_title(textwrap.fill(f"Share of scenarios {what}", 38), fontsize=10)
    ax2.grid(alpha=0.3, axis="x")
    suptitle(
        fig, f"Robustness over {len(r.best)} scenarios ({', '.join(t.factors)}), {t.values.shape[2]} replications each"
    )
    return fig


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def trajectory_csv(d: Discovery) -> str:
    rows: list[list[Any]] = [["box", "phase", "coverage", "density", "mass", "cases", "of_interest", "restricted"]]
    rows += [
        [s.index, s.phase, s.coverage, s.density, s.mass, s.cases, s.of_interest, s.restricted]
        for s in d.trajectory.stats
    ]
    return _csv(rows)


def box_csv(d: Discovery) -> str:
    rows: list[list[Any]] = [["dimension", "low", "high", "levels", "quasi_p"]]
    for lim in d.limits:
        if lim.levels is not None:
            rows.append([lim.dimension, "", "", ";".join(lim.levels), lim.quasi_p])
        else:
            rows.append([lim.dimension, lim.low, lim.high, "", lim.quasi_p])
    return _csv(rows)


def robustness_csv(r: Robustness) -> str:
    ds = robustness_dataset(r)
    t = r.table
    rows: list[list[Any]] = [
        ["scenario", *t.factors, "best_policy", "best_mean_firm_value"]
        + [f"{k}[{p}]" for p in t.policies for k in ("mean_firm_value", "mean_firm_value_se", "regret", "regret_se")]
    ]
    for s in range(len(r.best)):
        row: list[Any] = [s, *[ds[f].values[s] for f in t.factors], t.policies[r.best[s]], r.mean[s, r.best[s]]]
        for p in range(len(t.policies)):
            row += [r.mean[s, p], r.se[s, p], r.regret[s, p], r.regret_se[s, p]]
        rows.append(row)
    return _csv(rows)


def policies_csv(r: Robustness) -> str:
    rows: list[list[Any]] = [["policy", "mean_regret", "max_regret", "best_share", "satisficing_share", "minimax"]]
    for p, name in enumerate(r.table.policies):
        sat = "" if r.satisficing is None else r.satisficing[p]
        rows.append([name, r.regret[:, p].mean(), r.max_regret[p], r.best_share[p], sat, int(name == r.minimax)])
    return _csv(rows)


def _write_folder(target: str | Path, what: str, overwrite: bool, fill: Callable[[Path], None]) -> Path:
    """Write a folder atomically under its lock; a previous one is replaced only with ``overwrite``."""
    if not str(target).strip():
        raise OutputError("--out '': must be a folder name, not empty")
    t = Path(target)
    check_target(t, overwrite, what)
    with claimed(t.parent, t.name, what):
        try:
            with atomic_dir(t, what, overwrite=overwrite) as tmp:
                fill(tmp)
        except WriteFailure:
            raise
        except OSError as exc:
            raise WriteFailure(
                f"cannot write {what} to {t}: {exc.strerror or exc}; nothing was written there"
            ) from None
    return t


def write_discovery(d: Discovery, target: str | Path, *, overwrite: bool = False, figures: bool = True) -> Path:
    """``target/``: discovery.txt, trajectory.csv, box.csv and figures/tradeoff.* and figures/box.*."""

    def fill(tmp: Path) -> None:
        write_file(tmp / "discovery.txt", discovery_text(d) + "\n")
        write_file(tmp / "trajectory.csv", trajectory_csv(d))
        write_file(tmp / "box.csv", box_csv(d))
        if figures:
            save(tradeoff_figure(d), tmp / "figures", "tradeoff")
            save(box_figure(d), tmp / "figures", "box")

    return _write_folder(target, "a scenario discovery", overwrite, fill)


def write_robustness(
    r: Robustness, target: str | Path, *, overwrite: bool = False, figures: bool = True, currency: str = ""
) -> Path:
    """``target/``: robustness.txt, policies.csv, scenarios.csv and figures/regret.* (money in ``currency``)."""

    def fill(tmp: Path) -> None:
        write_file(tmp / "robustness.txt", robustness_text(r, rows=len(r.best)) + "\n")
        write_file(tmp / "policies.csv", policies_csv(r))
        write_file(tmp / "scenarios.csv", robustness_csv(r))
        if figures:
            save(regret_figure(r, currency), tmp / "figures", "regret")

    return _write_folder(target, "a robustness analysis", overwrite, fill)
