"""Figures of a run: firm-value distribution, economic-profit fan chart, Stobachoff curve."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.compare import PairedDifference, ranking
from valuecapture.analysis.summary import money_scale


def _plt():  # type: ignore[no-untyped-def]
    """pyplot, on the file-only Agg backend unless running inside Jupyter (where figures
    returned by the functions below then display inline)."""
    import matplotlib  # lazy: loaded with the first figure, which picks the backend before pyplot loads

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # lazy: only after the backend is chosen above

    return plt


def no_detail(ax) -> None:  # type: ignore[no-untyped-def]
    """Say on an empty panel that the run kept no per-relationship detail."""
    ax.text(0.5, 0.5, "no per-relationship detail kept\n(outputs.relationship_detail = 0)", ha="center", va="center")
    ax.set_axis_off()


def ecdf(ax, x: np.ndarray, **style) -> None:  # type: ignore[no-untyped-def]
    """The empirical CDF of ``x`` as a step line (``style``: matplotlib line keywords)."""
    s = np.sort(x)
    ax.step(s, np.arange(1, s.size + 1) / s.size, where="post", **style)


def value_axes(axes, lo: float, hi: float, suffix: str) -> None:  # type: ignore[no-untyped-def]
    """x-axes of firm-value panels spanning ``lo``..``hi``: zero marked when inside, label, grid."""
    for ax in axes:
        if lo < 0 < hi:
            ax.axvline(0, color="black", lw=0.8, ls=":")
        ax.set_xlabel(f"firm value ({suffix or 'currency'})")
        ax.grid(alpha=0.3)


def firm_value_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Histogram and ECDF of firm value, with mean, 5/95% and zero marked."""
    plt = _plt()
    x = ds["firm_value"].values
    div, suf = money_scale(x)
    xs = x / div
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    bins = min(60, max(10, int(np.sqrt(x.size))))
    ax1.hist(xs, bins=bins, color="#4C72B0", alpha=0.85, edgecolor="white", linewidth=0.5)
    mean, p5, p95 = xs.mean(), *np.percentile(xs, [5, 95])
    ax1.axvline(mean, color="black", lw=1.5, label=f"mean {mean:,.1f}{suf}")
    ax1.axvspan(p5, p95, color="#DD8452", alpha=0.15, zorder=0, label=f"5-95%: {p5:,.1f} to {p95:,.1f}{suf}")
    if xs.min() < 0 < xs.max():
        ax1.axvline(0, color="#C44E52", lw=1, ls="--", label="zero")
    ax1.set_xlabel(f"firm value ({suf or 'currency'})")
    ax1.set_ylabel("replications")
    ax1.set_title("Distribution of firm value")
    ax1.legend(frameon=False, fontsize=8)
    ecdf(ax2, xs, color="#4C72B0")
    ax2.axhline(0.05, color="grey", lw=0.6, ls=":")
    ax2.axhline(0.95, color="grey", lw=0.6, ls=":")
    p_neg = float((x < 0).mean())
    ax2.set_title(f"ECDF  (P(value < 0) = {p_neg:.3f})")
    ax2.set_xlabel(f"firm value ({suf or 'currency'})")
    ax2.set_ylabel("cumulative probability")
    ax2.grid(alpha=0.3)
    fig.suptitle(
        f"{ds.attrs.get('scenario_name', '')}: {x.size} replications, seed {ds.attrs.get('seed')}", fontsize=10
    )
    return fig


def fan_chart_figure(ds: xr.Dataset, var: str = "economic_profit"):  # type: ignore[no-untyped-def]
    """Percentile bands (5-95, 25-75) and median of a per-period series, annualised."""
    plt = _plt()
    ppy = int(ds.attrs.get("periods_per_year", 1))
    y = ds[var].values * ppy
    div, suf = money_scale(y)
    y = y / div
    t = ds["year"].values
    q = np.nanpercentile(y, [5, 25, 50, 75, 95], axis=0)
    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    ax.fill_between(t, q[0], q[4], color="#4C72B0", alpha=0.18, label="5-95%")
    ax.fill_between(t, q[1], q[3], color="#4C72B0", alpha=0.35, label="25-75%")
    ax.plot(t, q[2], color="#1f3b66", lw=2, label="median")
    ax.plot(t, np.nanmean(y, axis=0), color="black", lw=1, ls="--", label="mean")
    ax.axhline(0, color="#C44E52", lw=0.8)
    ax.set_xlabel("year")
    ax.set_ylabel(f"{var.replace('_', ' ')} ({suf or 'currency'} per year, annualised)")
    ax.set_title(f"Fan chart of firm {var.replace('_', ' ')}")
    ax.legend(frameon=False, loc="best")
    ax.grid(alpha=0.3)
    return fig


def stobachoff_curves(values: np.ndarray, grid: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """Stobachoff curves of relationship values (replications x customers, NaN = none).

    Returns the share-of-customers grid and, per replication, cumulative value
    (most valuable first) as a fraction of total value at each grid point.
    """
    x = np.linspace(0.0, 1.0, grid)
    curves = np.full((values.shape[0], grid), np.nan)
    for r, row in enumerate(values):  # one curve per replication (not per customer)
        v = np.sort(row[np.isfinite(row)])[::-1]
        if v.size == 0 or v.sum() == 0:
            continue
        cum = np.concatenate(([0.0], np.cumsum(v))) / v.sum()
        curves[r] = np.interp(x * v.size, np.arange(v.size + 1), cum)
    return x, curves


def stobachoff_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Stobachoff curve: cumulative relationship value, most valuable first, % of total."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    if "relationship_value" not in ds:
        no_detail(ax)
        return fig
    x, curves = stobachoff_curves(ds["relationship_value"].values)
    pct = curves * 100
    lo, mid, hi = np.nanpercentile(pct, [5, 50, 95], axis=0)
    ax.fill_between(x * 100, lo, hi, color="#55A868", alpha=0.25, label="5-95% across replications")
    ax.plot(x * 100, mid, color="#2d6b3c", lw=2, label="median curve")
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    k = int(np.nanargmax(mid))
    ax.plot(x[k] * 100, mid[k], "o", color="#C44E52")
    ax.annotate(
        f"peak {mid[k]:.0f}% at {x[k] * 100:.0f}% of customers",
        (x[k] * 100, mid[k]),
        textcoords="offset points",
        xytext=(8, 8),
        fontsize=9,
    )
    ax.set_xlabel("customers, most valuable first (% of all relationships)")
    ax.set_ylabel("cumulative value capture (% of total)")
    ax.set_title(f"Stobachoff curve ({curves.shape[0]} replications)")
    ax.legend(frameon=False, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def save_figures(
    ds: xr.Dataset, makers: Sequence[tuple[str, Callable[[xr.Dataset], Any]]], folder: str | Path
) -> list[Path]:
    """Draw ``make(ds)`` for each ``(file name, make)`` and save it as PNG in ``folder``."""
    plt = _plt()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in makers:
        fig = make(ds)
        path = folder / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def run_figures(ds: xr.Dataset, folder: str | Path) -> list[Path]:
    """Write the standard figures of a run as PNG into ``folder``."""
    makers: list[tuple[str, Callable[[xr.Dataset], Any]]] = [
        ("firm_value.png", firm_value_figure),
        ("economic_profit_fan.png", fan_chart_figure),
        ("stobachoff.png", stobachoff_figure),
    ]
    if "net_price" in ds:
        makers.append(("portfolio_matrix.png", portfolio_matrix_figure))
    if "aligned_share" in ds:
        makers.append(("alignment.png", alignment_figure))
    if "portfolio_transitions" in ds:
        for model in dict.fromkeys(str(m) for m in ds["portfolio_model"].values):
            makers.append((f"transitions_{model}.png", functools.partial(transition_figure, model=model)))
    return save_figures(ds, makers, folder)


PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")


def policy_distributions_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Overlaid firm-value distributions (density outlines and ECDFs) of the policies compared."""
    plt = _plt()
    labels = [str(p) for p in ds["policy"].values]
    fv = ds["firm_value"].values
    div, suf = money_scale(fv)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    lo, hi = np.nanpercentile(fv / div, [0.5, 99.5])
    bins = np.linspace(lo, hi, min(60, max(12, int(np.sqrt(fv.shape[1])))))
    for i, p in enumerate(labels):
        x = ds["firm_value"].sel(policy=p).values / div
        c = PALETTE[i % len(PALETTE)]
        ax1.hist(x, bins=bins, histtype="step", lw=1.8, color=c, density=True, label=f"{p} (mean {x.mean():,.1f}{suf})")
        ax1.axvline(x.mean(), color=c, lw=1, ls="--")
        ecdf(ax2, x, color=c, lw=1.5, label=p)
    value_axes((ax1, ax2), lo, hi, suf)
    ax1.set_ylabel("density")
    ax1.set_title("Firm value by policy (dashed: means)")
    ax1.legend(frameon=False, fontsize=8)
    ax2.set_ylabel("cumulative probability")
    ax2.set_title("ECDF: further right is better")
    ax2.legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle(
        f"{ds.attrs.get('scenario_name', '')}: {fv.shape[1]} replications per policy, common random numbers, seed "
        f"{ds.attrs.get('seed')}",
        fontsize=10,
    )
    return fig


def paired_differences_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Distributions of paired firm-value differences against the best policy, with 95% CIs of the mean."""
    plt = _plt()
    rank = [p for p, _ in ranking(ds)]
    best = rank[0]
    others = rank[1:]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.9 * max(1, len(others))), constrained_layout=True)
    if not others:
        ax.text(0.5, 0.5, "only one policy", ha="center", va="center")
        ax.set_axis_off()
        return fig
    diffs = [ds["firm_value"].sel(policy=best).values - ds["firm_value"].sel(policy=p).values for p in others]
    div, suf = money_scale(np.concatenate(diffs))
    pos = np.arange(len(others))[::-1]
    for y, p, d in zip(pos, others, diffs, strict=True):
        pd_ = PairedDifference.of(
            best, p, ds["firm_value"].sel(policy=best).values, ds["firm_value"].sel(policy=p).values
        )
        if np.ptp(d) > 0:
            try:  # matplotlib >= 3.10
                parts = ax.violinplot(d / div, positions=[y], orientation="horizontal", widths=0.8, showextrema=False)
            except TypeError:
                parts = ax.violinplot(d / div, positions=[y], vert=False, widths=0.8, showextrema=False)
            for body in parts["bodies"]:
                body.set_facecolor("#4C72B0")
                body.set_alpha(0.35)
        q5, q50, q95 = np.percentile(d / div, [5, 50, 95])
        ax.plot([q5, q95], [y, y], color="#4C72B0", lw=1)
        ax.plot(q50, y, "|", color="#4C72B0", ms=12)
        ax.errorbar(
            pd_.mean / div,
            y,
            xerr=[[(pd_.mean - pd_.ci_low) / div], [(pd_.ci_high - pd_.mean) / div]],
            fmt="o",
            color="#C44E52",
            capsize=4,
            ms=5,
        )
        ax.annotate(
            f"mean {pd_.mean / div:,.2f}{suf}, P(better) {pd_.p_a_beats_b:.2f}",
            (pd_.mean / div, y),
            textcoords="offset points",
            xytext=(0, 12),
            ha="center",
            fontsize=8,
        )
    ax.axvline(0, color="black", lw=0.8, ls=":")
    ax.set_yticks(pos, [f"{best} - {p}" for p in others])
    ax.set_xlabel(f"paired difference of firm value ({suf or 'currency'}); red: mean with 95% CI, blue line: 5-95%")
    ax.set_title(f"How much better is {best}? Paired differences, replication by replication")
    ax.grid(alpha=0.3, axis="x")
    return fig


def model_shares_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Share of active relationships in each business model over time, one panel per policy."""
    plt = _plt()
    labels = [str(p) for p in ds["policy"].values]
    models = [str(m) for m in ds["business_model"].values]
    counts = ds["customers_by_model"].astype(float)
    total = counts.sum("business_model")
    share = (counts / total.where(total > 0)).mean("replication")
    cols = min(3, len(labels))
    rows = -(-len(labels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharey=True, constrained_layout=True
    )
    t = ds["year"].values
    for ax, p in zip(axes.flat, labels, strict=False):
        ys = [share.sel(policy=p, business_model=m).values for m in ds["business_model"].values]
        ax.stackplot(t, np.nan_to_num(np.array(ys)), labels=models, colors=PALETTE[: len(models)], alpha=0.85)
        ax.set_title(p)
        ax.set_xlabel("year")
        ax.set_ylim(0, 1)
    for ax in list(axes.flat)[len(labels) :]:
        ax.set_axis_off()
    axes[0, 0].set_ylabel("share of active relationships")
    axes[0, -1].legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle("Business-model mix over time (mean over replications)", fontsize=10)
    return fig


def comparison_figures(ds: xr.Dataset, folder: str | Path) -> list[Path]:
    """Write the figures of a policy comparison as PNG into ``folder``."""
    makers = [
        ("firm_value_by_policy.png", policy_distributions_figure),
        ("paired_differences.png", paired_differences_figure),
        ("business_model_mix.png", model_shares_figure),
    ]
    return save_figures(ds, makers, folder)


def portfolio_matrix_figure(ds: xr.Dataset, replication: int = 0):  # type: ignore[no-untyped-def]
    """Shapiro et al. (1987) portfolio matrix: net price x cost to serve, one dot per
    relationship of one replication, area proportional to |value capture|, colour = business model,
    hollow = value-destroying."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.5, 6.2), constrained_layout=True)
    if "net_price" not in ds:
        no_detail(ax)
        return fig
    sel = ds.isel(detail_replication=replication)
    price = sel["net_price"].values
    cost = sel["cost_to_serve"].values * 100
    value = sel["relationship_value"].values
    bm = sel["final_business_model"].values
    ok = np.isfinite(price) & np.isfinite(value)
    scale = np.nanmax(np.abs(value[ok])) if ok.any() else 1.0
    size = 4 + 400 * np.abs(value) / scale
    models = [str(m) for m in ds["business_model"].values]
    for k, name in enumerate(models):
        for positive in (True, False):
            m = ok & (bm == k) & ((value >= 0) == positive)
            if not m.any():
                continue
            c = PALETTE[k % len(PALETTE)]
            ax.scatter(
                price[m],
                cost[m],
                s=size[m],
                facecolors=c if positive else "none",
                edgecolors=c,
                alpha=0.55 if positive else 0.9,
                lw=0.8,
                label=f"{name}" + ("" if positive else " (destroys value)"),
            )
    mp, mc = np.nanmedian(price[ok]), np.nanmedian(cost[ok])
    ax.axvline(mp, color="grey", lw=0.8, ls="--")
    ax.axhline(mc, color="grey", lw=0.8, ls="--")
    for x, y, text in (
        (0.98, 0.98, "carriage trade"),
        (0.02, 0.98, "aggressive"),
        (0.98, 0.02, "passive"),
        (0.02, 0.02, "bargain basement"),
    ):
        ax.text(
            x,
            y,
            text,
            transform=ax.transAxes,
            ha="right" if x > 0.5 else "left",
            va="top" if y > 0.5 else "bottom",
            fontsize=10,
            color="#444444",
            style="italic",
        )
    ax.set_xlabel("net price (fraction of list price)")
    ax.set_ylabel("cost to serve (% of revenue)")
    ax.set_title(
        f"Portfolio matrix (Shapiro et al. 1987), replication {int(sel['detail_replication'])}: dot area = "
        "|relationship value|"
    )
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=0.6)
    ax.grid(alpha=0.25)
    return fig


def alignment_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Share of aligned relationships and mean misalignment over time (median and 5-95% band)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    t = ds["year"].values
    for ax, var, label, colour in (
        (ax1, "aligned_share", "share of aligned relationships", "#55A868"),
        (ax2, "mean_misalignment", "mean misalignment (0-1)", "#C44E52"),
    ):
        y = ds[var].values
        lo, mid, hi = np.nanpercentile(y, [5, 50, 95], axis=0)
        ax.fill_between(t, lo, hi, color=colour, alpha=0.2, label="5-95% across replications")
        ax.plot(t, mid, color=colour, lw=2, label="median")
        ax.set_xlabel("year")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
    ax1.set_ylim(0, 1)
    ax1.set_title("Alignment of the firm's and the customers' views")
    spaces = ds.attrs.get("interaction_spaces", "")
    ax2.set_title(
        "Misalignment |treatment - expected treatment|"
        + (f"\ninteraction spaces: {spaces}" if spaces else "\nno interaction spaces"),
        fontsize=10,
    )
    return fig


def transition_figure(ds: xr.Dataset, model: str | None = None):  # type: ignore[no-untyped-def]
    """Year-to-year class transition probabilities of one portfolio model (rows sum to 1)."""
    plt = _plt()
    models = list(dict.fromkeys(str(m) for m in ds["portfolio_model"].values))
    model = model or models[0]
    labels = [str(c) for c in ds["portfolio_class"].values if str(c).startswith(model + ":")]
    counts = (
        ds["portfolio_transitions"]
        .sum("replication")
        .sel(portfolio_class=labels, portfolio_class_to=labels)
        .values.astype(float)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = counts / counts.sum(axis=1, keepdims=True)
    names = [c.split(":", 1)[1].replace("_", " ") for c in labels]
    fig, ax = plt.subplots(figsize=(1.6 + 1.0 * len(labels), 1.2 + 0.8 * len(labels)), constrained_layout=True)
    im = ax.imshow(np.nan_to_num(probs), cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if np.isfinite(probs[i, j]):
                ax.text(
                    j,
                    i,
                    f"{probs[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if probs[i, j] > 0.55 else "black",
                )
    ax.set_xticks(range(len(labels)), names, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), names, fontsize=8)
    ax.set_xlabel("class one year later")
    ax.set_ylabel("class at the end of a year")
    ax.set_title(f"{model}: year-to-year transitions ({int(counts.sum()):,} relationship-years)", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="probability")
    return fig
