"""The figure of a run with relationship stages: stage shares over time and the estimated moves."""

from __future__ import annotations

import numpy as np
import xarray as xr

from valuecapture.report.style import PALETTE, _plt, legend_beside, suptitle


def stage_names(ds: xr.Dataset) -> list[str]:
    """The stage names of a result, for labels (``_`` as spaces)."""
    return [str(s).replace("_", " ") for s in ds["stage"].values]


def stage_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Left: the mean share of each stage among the active relationships at the end of each period
    (stacked; a band would hide the others). Right: the transition probabilities estimated from
    every end-of-period move of the run (rows sum to 1; 'ended': the relationship ended)."""
    plt = _plt()
    names = stage_names(ds)
    k = len(names)
    to = [str(s).replace("_", " ") for s in ds["stage_to"].values]
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(11.5, 2.6 + 0.45 * max(k, 4)), layout="constrained", width_ratios=(1.25, 1)
    )
    t = ds["year"].values
    shares = np.nan_to_num(ds["stage_share"].mean("replication", skipna=True).values)  # period x stage
    colours = [PALETTE[i % len(PALETTE)] for i in range(k)]
    ax1.stackplot(t, shares.T, labels=names, colors=colours, alpha=0.85)
    ax1.set_xlim(t[0], t[-1])
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("year (end of period)")
    ax1.set_ylabel("share of active relationships")
    ax1.set_title("Stage shares (mean over replications)", fontsize=10)
    ax1.grid(alpha=0.3)
    handles, labels = ax1.get_legend_handles_labels()
    legend_beside(ax1, handles=handles[::-1], labels=labels[::-1])  # top of the stack first

    counts = ds["stage_transitions"].sum("replication").values.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = counts / counts.sum(axis=1, keepdims=True)
    im = ax2.imshow(np.nan_to_num(probs), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(k):
        for j in range(len(to)):
            if np.isfinite(probs[i, j]):
                ax2.text(
                    j, i, f"{probs[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if probs[i, j] > 0.55 else "black",
                )  # fmt: skip
    ax2.set_xticks(range(len(to)), to, rotation=30, ha="right", fontsize=8)
    ax2.set_yticks(range(k), names, fontsize=8)
    ax2.set_xlabel("stage next period")
    ax2.set_ylabel("stage during the period")
    ax2.set_title(f"Estimated transitions ({int(counts.sum()):,} moves, rows sum to 1)", fontsize=10)
    fig.colorbar(im, ax=ax2, shrink=0.8, label="probability")
    suptitle(
        fig,
        f"{ds.attrs.get('scenario_name', '')}: relationship stages, {ds.sizes.get('replication', 0)} replications",
    )
    return fig
