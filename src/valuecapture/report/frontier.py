"""The figure and folder of the segment risk-return frontier (:mod:`valuecapture.analysis.frontier`).

:func:`frontier_figure` draws a :class:`~valuecapture.analysis.frontier.Frontier`;
:func:`write_frontier` writes the printed text, the frontier as CSV and NetCDF and the figure
(PNG and SVG) into one folder, atomically and locked, with its manifest (docs/safety.md).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from valuecapture.analysis.frontier import LABELS, Frontier, frontier_dataset, frontier_text, money_unit, on_frontier
from valuecapture.report.plots import PALETTE, _plt
from valuecapture.report.research_plots import save
from valuecapture.run.outputs import OutputError, WriteFailure, atomic_dir, check_target, claimed, write_file
from valuecapture.run.results import write_netcdf

FRONTIER_DIR = "frontier"
#: Resampled frontiers drawn as thin lines over the band.
SPAGHETTI = 40
BAND = "#DCE5F2"
_MARKERS = {"current": ("o", "black"), "minimum_variance": ("^", PALETTE[2]), "same_mean": ("s", PALETTE[1])}
_MARKERS["same_risk"] = ("D", PALETTE[3])


def _short(source: str) -> str:
    p = Path(source)
    return str(Path(p.parent.name, p.name)) if p.name == "result.nc" else p.name or source


def frontier_figure(f: Frontier):  # type: ignore[no-untyped-def]
    """Left: the frontier within the bounds, its bootstrap band and the reported mixes (today's with
    its intervals, arrows to the same-mean and same-risk mixes).  Right: every mix with shares from
    0 to 1, each segment alone, and the feasible frontier inside it."""
    plt = _plt()
    div, _, unit = money_unit(f)
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [1.45, 1]}, layout="constrained"
    )
    eff, below = f.efficient, ~f.efficient
    blue = PALETTE[0]
    if f.resamples:
        # the band: the union of each position's rectangle of central intervals; the frontier and its
        # quantiles rise in sd and mean with the position, so the union's outline runs up the low-sd,
        # high-mean corners and back down the high-sd, low-mean ones
        e = np.flatnonzero(eff)
        sl, sh, ml, mh = (a[e] / div for a in (f.band_sd_low, f.band_sd_high, f.band_mean_low, f.band_mean_high))
        x = np.concatenate([[sl[0]], sl, [sh[-1]], sh[::-1]])
        y = np.concatenate([[ml[0]], mh, [mh[-1]], ml[::-1]])
        ax.fill(x, y, color=BAND, lw=0, zorder=0)
        ax.fill([], [], color=BAND, label=f"{f.level:.0%} band at each position ({f.resamples} bootstrap resamples)")
        for b in range(min(SPAGHETTI, f.resamples)):
            ax.plot(
                f.resampled_sd[b] / div, f.resampled_mean[b] / div, color=blue, lw=0.5, alpha=0.25, zorder=1,
                label="resampled frontiers" if b == 0 else None,
            )  # fmt: skip
    ax.plot(f.sd[eff] / div, f.mean[eff] / div, color=blue, lw=2.2, label="efficient frontier")
    if below.any():
        join = np.flatnonzero(eff)[:1]
        sel = np.concatenate([np.flatnonzero(below), join])
        ax.plot(f.sd[sel] / div, f.mean[sel] / div, color=blue, lw=1.2, ls="--", label="least risk below it")
    cur = f.portfolios["current"]
    efficient_today = on_frontier(f)
    for key in ("same_mean", "same_risk"):
        p = f.portfolios[key]
        if p is not None and cur is not None and np.hypot(p.sd - cur.sd, p.mean - cur.mean) > 1e-9 * div:
            ax.annotate(
                "",
                (p.sd / div, p.mean / div),
                (cur.sd / div, cur.mean / div),
                arrowprops={"arrowstyle": "->", "color": _MARKERS[key][1], "lw": 1.2, "shrinkA": 6, "shrinkB": 6},
            )
    for key, (marker, color) in _MARKERS.items():
        p = f.portfolios[key]
        if p is None or (efficient_today and key in ("same_mean", "same_risk")):
            continue
        size = 70 if key == "current" else 55
        if key == "current" and f.resamples:
            ax.errorbar(
                p.sd / div,
                p.mean / div,
                xerr=[[max(p.sd - p.sd_ci[0], 0) / div], [max(p.sd_ci[1] - p.sd, 0) / div]],
                yerr=[[max(p.mean - p.mean_ci[0], 0) / div], [max(p.mean_ci[1] - p.mean, 0) / div]],
                fmt="none",
                ecolor="black",
                elinewidth=0.9,
                capsize=3,
                zorder=4,
            )
        label = LABELS[key] + (f" ({f.level:.0%} intervals)" if key == "current" and f.resamples else "")
        ax.scatter(p.sd / div, p.mean / div, marker=marker, s=size, color=color, edgecolor="white", lw=0.6, zorder=5)
        ax.scatter([], [], marker=marker, s=size, color=color, label=label)
    ax.set_xlabel(f"standard deviation of value per customer ({unit})")
    ax.set_ylabel(f"mean value per customer ({unit})")
    shift = f"each share within ±{100 * f.max_shift:.3g} points of today's" if f.max_shift is not None else "as given"
    note = "; today's mix is efficient" if efficient_today else ""
    ax.set_title(f"Within the bounds ({shift}){note}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", frameon=True)

    sds = np.sqrt(np.diag(f.cov))
    ax2.plot(f.long_only_sd / div, f.long_only_mean / div, color="#8C8C8C", lw=1.4, label="any mix (shares 0-100%)")
    ax2.plot(f.sd[eff] / div, f.mean[eff] / div, color=blue, lw=2.2, label="efficient within the bounds")
    for i, n in enumerate(f.names):
        ax2.scatter(sds[i] / div, f.mu[i] / div, s=36, color=PALETTE[(i + 4) % len(PALETTE)], zorder=4)
        ax2.annotate(n, (sds[i] / div, f.mu[i] / div), xytext=(5, 3), textcoords="offset points", fontsize=8)
    if cur is not None:
        ax2.scatter(cur.sd / div, cur.mean / div, marker="o", s=50, color="black", zorder=5, label=LABELS["current"])
    ax2.set_xlabel(f"standard deviation ({unit})")
    ax2.set_ylabel(f"mean value per customer ({unit})")
    ax2.set_title("All mixes, and each segment alone", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8, loc="best", frameon=True)
    fig.suptitle(
        f"Segment risk-return frontier of {_short(f.source)}: {len(f.names)} segments, {f.replications} detail "
        "replications",
        fontsize=11,
    )
    return fig


def frontier_csv(f: Frontier) -> str:
    """The frontier's points: mean, sd, band, efficiency, position and the mix, one row each."""
    rows: list[list[Any]] = [
        ["point", "efficient", "position", "mean", "sd", "band_mean_low", "band_mean_high", "band_sd_low"]
        + ["band_sd_high"]
        + [f"share[{n}]" for n in f.names]
    ]
    for j in range(len(f.mean)):
        cells = [f.position[j], f.mean[j], f.sd[j], f.band_mean_low[j], f.band_mean_high[j], f.band_sd_low[j]]
        cells.append(f.band_sd_high[j])
        rows.append(
            [j, int(f.efficient[j])]
            + ["" if not np.isfinite(c) else repr(float(c)) for c in cells]
            + [repr(float(w)) for w in f.weights[j]]
        )
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_frontier(f: Frontier, target: str | Path, *, overwrite: bool = False, figures: bool = True) -> Path:
    """``target/``: frontier.txt (the printed tables), frontier.csv, frontier.nc and figures/frontier.png|svg,
    written atomically under the folder's lock; a previous one is replaced only with ``overwrite``."""
    what = "a segment frontier"
    if not str(target).strip():
        raise OutputError("--out '': must be a folder name, not empty")
    t = Path(target)
    check_target(t, overwrite, what)
    with claimed(t.parent, t.name, what):
        try:
            with atomic_dir(t, what, overwrite=overwrite) as tmp:
                write_file(tmp / "frontier.txt", frontier_text(f, rows=len(f.mean)) + "\n")
                write_file(tmp / "frontier.csv", frontier_csv(f))
                write_netcdf(frontier_dataset(f), tmp / "frontier.nc")
                if figures:
                    save(frontier_figure(f), tmp / "figures", "frontier")
        except WriteFailure:
            raise
        except OSError as exc:
            raise WriteFailure(
                f"cannot write {what} to {t}: {exc.strerror or exc}; nothing was written there"
            ) from None
    return t
