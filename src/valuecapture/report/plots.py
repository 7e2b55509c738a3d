"""Figures of a run (firm-value distribution, economic-profit fan chart, Stobachoff curve, portfolio
matrix, alignment, class transitions) and of a policy comparison, and the helpers every figure of
:mod:`valuecapture.report` shares: the backend, the palette, money axes (:mod:`~valuecapture.report.money`),
legends beside the data and plain tick labels on log axes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.compare import PairedDifference, ranking
from valuecapture.analysis.summary import money_scale
from valuecapture.report.money import currency_of, money, scaled, unit
from valuecapture.report.network import network_figure
from valuecapture.report.stages import stage_figure
from valuecapture.report.style import (
    PALETTE,
    _plt,
    legend_below,
    legend_beside,
    plain_log_ticks,
    suptitle,
    wrapped,
)

__all__ = ["PALETTE", "_plt", "legend_below", "legend_beside", "plain_log_ticks", "suptitle", "wrapped"]


#: Display names of portfolio classes whose identifiers cannot hold an apostrophe.
CLASS_NAMES = {"tomorrows": "tomorrow's", "todays": "today's", "yesterdays": "yesterday's"}


def class_name(label: str) -> str:
    """The display name of a portfolio class ``model:class_id`` (or ``class_id``): spaces, apostrophes."""
    ident = label.split(":", 1)[-1]
    return CLASS_NAMES.get(ident, ident.replace("_", " "))


def no_detail(ax) -> None:  # type: ignore[no-untyped-def]
    """Say on an empty panel that the run kept no per-relationship detail."""
    ax.text(0.5, 0.5, "no per-relationship detail kept\n(outputs.relationship_detail = 0)", ha="center", va="center")
    ax.set_axis_off()


def ecdf(ax, x: np.ndarray, **style) -> None:  # type: ignore[no-untyped-def]
    """The empirical CDF of ``x`` as a step line (``style``: matplotlib line keywords)."""
    s = np.sort(x)
    ax.step(s, np.arange(1, s.size + 1) / s.size, where="post", **style)


def value_axes(axes, lo: float, hi: float, suffix: str, currency: str = "") -> None:  # type: ignore[no-untyped-def]
    """x-axes of firm-value panels spanning ``lo``..``hi``: zero marked when inside, label, grid."""
    for ax in axes:
        if lo < 0 < hi:
            ax.axvline(0, color="black", lw=0.8, ls=":")
        ax.set_xlabel(f"firm value ({unit(suffix, currency)})")
        ax.grid(alpha=0.3)


def firm_value_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Histogram and ECDF of firm value, with mean, 5/95% and zero marked."""
    plt = _plt()
    cur = currency_of(ds)
    x = ds["firm_value"].values
    div, suf = money_scale(x)
    xs = x / div
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    bins = min(60, max(10, int(np.sqrt(x.size))))
    counts, _, _ = ax1.hist(xs, bins=bins, color="#4C72B0", alpha=0.85, edgecolor="white", linewidth=0.5)
    mean = float(x.mean())
    p5, p95 = (float(q) for q in np.percentile(x, [5, 95]))
    ax1.axvline(mean / div, color="black", lw=1.5, label=f"mean {money(mean, cur)}")
    ax1.axvspan(
        p5 / div,
        p95 / div,
        color="#DD8452",
        alpha=0.15,
        zorder=0,
        label=f"5-95%: {money(p5, cur)} to {money(p95, cur)}",
    )
    if xs.min() < 0 < xs.max():
        ax1.axvline(0, color="#C44E52", lw=1, ls="--", label="zero")
    ax1.set_ylim(0, max(1.0, float(np.max(counts))) * 1.32)  # headroom: the legend sits above the bars
    ax1.set_xlabel(f"firm value ({unit(suf, cur)})")
    ax1.set_ylabel("replications")
    ax1.set_title("Distribution of firm value")
    ax1.legend(frameon=False, fontsize=8, loc="upper left", ncols=2)
    ecdf(ax2, xs, color="#4C72B0")
    ax2.axhline(0.05, color="grey", lw=0.6, ls=":")
    ax2.axhline(0.95, color="grey", lw=0.6, ls=":")
    p_neg = float((x < 0).mean())
    ax2.set_title(f"ECDF  (P(value < 0) = {p_neg:.3f})")
    ax2.set_xlabel(f"firm value ({unit(suf, cur)})")
    ax2.set_ylabel("cumulative probability")
    ax2.grid(alpha=0.3)
    suptitle(fig, f"{ds.attrs.get('scenario_name', '')}: {x.size} replications, seed {ds.attrs.get('seed')}")
    return fig


def fan_chart_figure(ds: xr.Dataset, var: str = "economic_profit"):  # type: ignore[no-untyped-def]
    """Percentile bands (5-95, 25-75) and median of a per-period series, annualised."""
    plt = _plt()
    ppy = int(ds.attrs.get("periods_per_year", 1))
    y = ds[var].values * ppy
    div, unit_text = scaled(y, currency_of(ds))
    y = y / div
    t = ds["year"].values
    q = np.nanpercentile(y, [5, 25, 50, 75, 95], axis=0)
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    ax.fill_between(t, q[0], q[4], color="#4C72B0", alpha=0.18, label="5-95%")
    ax.fill_between(t, q[1], q[3], color="#4C72B0", alpha=0.35, label="25-75%")
    ax.plot(t, q[2], color="#1f3b66", lw=2, label="median")
    ax.plot(t, np.nanmean(y, axis=0), color="black", lw=1, ls="--", label="mean")
    ax.axhline(0, color="#C44E52", lw=0.8)
    ax.set_xlabel("year")
    ax.set_ylabel(f"{var.replace('_', ' ')} ({unit_text} per year, annualised)")
    ax.set_title(f"{ds.attrs.get('scenario_name', '')}: fan chart of the firm's {var.replace('_', ' ')}")
    legend_beside(ax, title="across replications", title_fontsize=8)
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
    fig, ax = plt.subplots(figsize=(7.5, 5), layout="constrained")
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
    right = x[k] > 0.55  # the label on the side with room
    ax.annotate(
        f"peak {mid[k]:.0f}% at {x[k] * 100:.0f}% of customers",
        (x[k] * 100, mid[k]),
        textcoords="offset points",
        xytext=(-8, 8) if right else (8, 8),
        ha="right" if right else "left",
        fontsize=9,
    )
    ax.set_ylim(top=max(float(np.nanmax(hi)), 100.0) * 1.1)
    ax.set_xlabel("customers, most valuable first (% of all relationships)")
    ax.set_ylabel("cumulative value capture (% of total)")
    ax.set_title(f"{ds.attrs.get('scenario_name', '')}: Stobachoff curve ({curves.shape[0]} replications)")
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
    if "stage_share" in ds:
        makers.append(("stage_shares.png", stage_figure))
    if "tie_first" in ds and ds.sizes.get("detail_replication", 0) > 0:  # outputs.network
        makers.append(("network.png", network_figure))
    return save_figures(ds, makers, folder)


def policy_distributions_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Overlaid firm-value distributions (density outlines and ECDFs) of the policies compared."""
    plt = _plt()
    cur = currency_of(ds)
    labels = [str(p) for p in ds["policy"].values]
    fv = ds["firm_value"].values
    div, suf = money_scale(fv)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    lo, hi = np.nanpercentile(fv / div, [0.5, 99.5])
    bins = np.linspace(lo, hi, min(60, max(12, int(np.sqrt(fv.shape[1])))))
    handles = []
    for i, p in enumerate(labels):
        raw = ds["firm_value"].sel(policy=p).values
        x = raw / div
        c = PALETTE[i % len(PALETTE)]
        ax1.hist(x, bins=bins, histtype="step", lw=1.8, color=c, density=True)
        ax1.axvline(x.mean(), color=c, lw=1, ls="--")
        (line,) = ax2.step([], [], color=c, lw=1.5, label=f"{p} (mean {money(raw.mean(), cur)})")
        handles.append(line)
        ecdf(ax2, x, color=c, lw=1.5)
    value_axes((ax1, ax2), lo, hi, suf, cur)
    ax1.set_ylabel("density")
    ax1.set_title("Firm value by policy (dashed: means)")
    ax2.set_ylabel("cumulative probability")
    ax2.set_title("ECDF: further right is better")
    legend_below(fig, handles, [h.get_label() for h in handles])
    suptitle(
        fig,
        f"{ds.attrs.get('scenario_name', '')}: {fv.shape[1]} replications per policy, common random numbers, seed "
        f"{ds.attrs.get('seed')}",
    )
    return fig


def paired_differences_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Distributions of paired firm-value differences against the best policy, with 95% CIs of the mean."""
    plt = _plt()
    cur = currency_of(ds)
    rank = [p for p, _ in ranking(ds)]
    best = rank[0]
    others = rank[1:]
    fig, ax = plt.subplots(figsize=(9, 1.4 + 0.9 * max(1, len(others))), layout="constrained")
    if not others:
        ax.text(0.5, 0.5, "only one policy", ha="center", va="center")
        ax.set_axis_off()
        return fig
    diffs = [ds["firm_value"].sel(policy=best).values - ds["firm_value"].sel(policy=p).values for p in others]
    div, unit_text = scaled(np.concatenate(diffs), cur)
    pos = np.arange(len(others))[::-1]
    ticks = []
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
        ticks.append(f"{best} - {p}\nmean {money(pd_.mean, cur)}, P(better) {pd_.p_a_beats_b:.2f}")
    ax.axvline(0, color="black", lw=0.8, ls=":")
    ax.set_yticks(pos, ticks, fontsize=9)
    ax.set_xlabel(f"paired difference of firm value ({unit_text}); red: mean with 95% CI, blue line: 5-95%")
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
        rows, cols, figsize=(3.6 * cols, 2.9 * rows + 0.7), squeeze=False, sharey=True, layout="constrained"
    )
    t = ds["year"].values
    for ax, p in zip(axes.flat, labels, strict=False):
        ys = [share.sel(policy=p, business_model=m).values for m in ds["business_model"].values]
        ax.stackplot(t, np.nan_to_num(np.array(ys)), labels=models, colors=PALETTE[: len(models)], alpha=0.85)
        ax.set_title(p, fontsize=10)
        ax.set_xlabel("year")
        ax.set_xlim(float(t[0]), float(t[-1]))
        ax.set_ylim(0, 1)
    for ax in list(axes.flat)[len(labels) :]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_ylabel("share of active relationships")
    handles, names = axes[0, 0].get_legend_handles_labels()
    legend_below(fig, handles, names, ncols=min(len(models), 5), title="business model", title_fontsize=8)
    suptitle(
        fig, f"{ds.attrs.get('scenario_name', '')}: business-model mix over time (mean over replications)", fontsize=10
    )
    return fig


def comparison_figures(ds: xr.Dataset, folder: str | Path) -> list[Path]:
    """Write the figures of a policy comparison as PNG into ``folder``."""
    makers = [
        ("firm_value_by_policy.png", policy_distributions_figure),
        ("paired_differences.png", paired_differences_figure),
        ("business_model_mix.png", model_shares_figure),
    ]
    return save_figures(ds, makers, folder)


#: Marker of each business model in the portfolio matrix (colour is the sign of the value).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
CREATES, DESTROYS = "#4C72B0", "#C44E52"
#: The portfolio matrix's axes span these quantiles of each axis (a note counts the points beyond).
MATRIX_QUANTILES = (0.005, 0.995)


def portfolio_matrix_figure(ds: xr.Dataset, replication: int = 0):  # type: ignore[no-untyped-def]
    """Shapiro et al. (1987) portfolio matrix: net price x cost to serve, one dot per relationship of
    one detail replication; colour = sign of its value (blue creates, red destroys), dot area
    proportional to |value| (capped at its 99th percentile), marker = final business model,
    transparency scaled to the number of dots.  The axes span the 0.5-99.5% quantiles of each axis;
    a note counts the relationships outside them.  Each quadrant (split at the medians) is labelled
    with its share of the relationships and their summed value."""
    plt = _plt()
    from matplotlib.colors import to_rgba  # lazy: see _plt
    from matplotlib.lines import Line2D  # lazy: see _plt

    cur = currency_of(ds)
    fig, ax = plt.subplots(figsize=(9, 6.4), layout="constrained")
    if "net_price" not in ds:
        no_detail(ax)
        return fig
    sel = ds.isel(detail_replication=replication)
    price = sel["net_price"].values
    cost = sel["cost_to_serve"].values * 100
    value = sel["relationship_value"].values
    bm = sel["final_business_model"].values
    ok = np.isfinite(price) & np.isfinite(cost) & np.isfinite(value)
    n = int(ok.sum())
    name = ds.attrs.get("scenario_name", "")
    ax.set_title(
        f"{name}: portfolio matrix (Shapiro et al. 1987)\nreplication {int(sel['detail_replication'])}, {n:,} "
        "relationships; dot area proportional to |relationship value|",
    )
    if n == 0:
        ax.text(0.5, 0.5, "no relationships with a price and a value", ha="center", va="center", transform=ax.transAxes)
        return fig
    big = float(np.percentile(np.abs(value[ok]), 99)) or 1.0
    size = 3 + 110 * np.minimum(np.abs(value) / big, 1.0)
    alpha = float(np.clip(1000 / n, 0.25, 0.8))
    models = [str(m) for m in ds["business_model"].values]
    present = [k for k in range(len(models)) if (ok & (bm == k)).any()]
    present.sort(key=lambda k: -int((ok & (bm == k)).sum()))  # the largest group first, the smaller ones on top
    for k in present:
        idx = np.flatnonzero(ok & (bm == k))
        idx = idx[np.argsort(-np.abs(value[idx]), kind="stable")]  # small dots drawn over large ones
        colours = np.array([to_rgba(CREATES if v >= 0 else DESTROYS, alpha) for v in value[idx]])
        ax.scatter(price[idx], cost[idx], s=size[idx], c=colours, marker=MARKERS[k % len(MARKERS)], lw=0)
    (x0, x1), (y0, y1) = (np.quantile(a[ok], MATRIX_QUANTILES) for a in (price, cost))
    px, py = 0.04 * (x1 - x0 or 1.0), 0.04 * (y1 - y0 or 1.0)
    ax.set_xlim(x0 - px, x1 + px)
    ax.set_ylim(min(0.0, y0 - py), y1 + py)
    xl, yl = ax.get_xlim(), ax.get_ylim()
    outside = int((ok & ((price < xl[0]) | (price > xl[1]) | (cost < yl[0]) | (cost > yl[1]))).sum())
    mp, mc = np.median(price[ok]), np.median(cost[ok])
    ax.axvline(mp, color="grey", lw=0.8, ls="--")
    ax.axhline(mc, color="grey", lw=0.8, ls="--")
    for x, y, text, hp, hc in (
        (0.98, 0.98, "carriage trade", True, True),
        (0.02, 0.98, "aggressive", False, True),
        (0.98, 0.02, "passive", True, False),
        (0.02, 0.02, "bargain basement", False, False),
    ):
        q = ok & ((price > mp) == hp) & ((cost > mc) == hc)
        ax.text(
            x,
            y,
            f"{text}\n{q.sum() / n:.0%} of relationships, {money(float(value[q].sum()), cur)}",
            transform=ax.transAxes,
            ha="right" if x > 0.5 else "left",
            va="top" if y > 0.5 else "bottom",
            fontsize=8.5,
            color="#333333",
            style="italic",
            bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 1.5},
            zorder=5,
        )
    ax.set_xlabel("net price (fraction of list price)")
    ax.set_ylabel("cost to serve (% of revenue)")
    handles = [
        Line2D([], [], ls="", marker="o", ms=7, color=CREATES, label="creates value"),
        Line2D([], [], ls="", marker="o", ms=7, color=DESTROYS, label="destroys value"),
    ]
    if len(present) > 1:
        handles += [
            Line2D([], [], ls="", marker=MARKERS[k % len(MARKERS)], ms=7, color="#666666", label=models[k])
            for k in sorted(present)
        ]
    legend_beside(
        ax,
        handles=handles,
        title="colour: value\nmarker: business model" if len(present) > 1 else None,
        title_fontsize=8,
    )
    if outside:
        ax.text(
            1.01,
            0.0,
            f"{outside:,} of {n:,} relationships\noutside the axes\n(0.5-99.5% quantiles\nof each axis)",
            transform=ax.transAxes,
            ha="left",
            va="bottom",
            fontsize=8,
            color="#555555",
        )
    ax.grid(alpha=0.25)
    return fig


def alignment_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Share of aligned relationships and mean misalignment over time (median and 5-95% band)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
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
        top, bottom = float(np.nanmax(hi)), float(np.nanmin(lo))
        if ax is ax2:
            ax.set_ylim(
                bottom - 0.05 * (top - bottom or 1.0), top + 0.45 * (top - bottom or 1.0)
            )  # room for the legend
        ax.legend(frameon=False, fontsize=8, loc="upper left", ncols=2)
    ax1.set_ylim(0, 1.22)  # a share is at most 1: the legend sits above it
    ax1.set_yticks(np.linspace(0, 1, 6))
    ax1.set_title("Alignment of the firm's and the customers' views", fontsize=10)
    spaces = ds.attrs.get("interaction_spaces", "")
    ax2.set_title(
        "Misalignment |treatment - expected treatment|"
        + (f"\ninteraction spaces: {spaces}" if spaces else "\nno interaction spaces"),
        fontsize=10,
    )
    suptitle(
        fig, f"{ds.attrs.get('scenario_name', '')}: alignment over time, {ds.sizes.get('replication', 0)} replications"
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
    names = [class_name(c) for c in labels]
    k = len(labels)
    fig, ax = plt.subplots(figsize=(max(5.6, 2.4 + 1.0 * k), 1.9 + 0.8 * k), layout="constrained")
    im = ax.imshow(np.nan_to_num(probs), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
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
    ax.set_xticks(range(k), names, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("class one year later")
    ax.set_ylabel("class at the end of a year")
    ax.set_title(
        f"{model}: year-to-year transitions\n({int(counts.sum()):,} relationship-years, rows sum to 1)", fontsize=10
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="probability")
    return fig
