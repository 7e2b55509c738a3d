"""Figures of the research workflow: convergence, heterogeneity curves, attribution, sensitivity.

Each ``*_figure`` function returns a matplotlib Figure; :func:`save` writes it
as PNG and SVG.  The helpers of :mod:`valuecapture.report.plots` (backend, palette,
legends, log ticks) and :mod:`valuecapture.report.money` (money axes in the result's
currency) are reused so the figures look like the run figures.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.decompose import METRICS, SOURCES, attribution
from valuecapture.analysis.experiments import (
    RESPONSES,
    Morris,
    Tornado,
    factor_names,
    morris,
    regress,
    sensitivity,
    tornado,
)
from valuecapture.analysis.experiments.spec import show_value
from valuecapture.analysis.heterogeneity import curve_bands, relationship_stats
from valuecapture.analysis.stats import bootstrap_ci, running_mean
from valuecapture.analysis.summary import money_scale
from valuecapture.report.money import currency_of, money, scaled, unit
from valuecapture.report.plots import PALETTE, _plt, legend_below, no_detail, plain_log_ticks, suptitle, wrapped

SOURCE_COLOURS = {"customer": "#4C72B0", "relationship": "#DD8452", "interdependence": "#55A868", "none": "#8C8C8C"}


def _horizontal() -> dict[str, Any]:
    """Keyword for horizontal box plots (``orientation`` from matplotlib 3.10, ``vert`` before)."""
    import matplotlib  # lazy: matplotlib loads with the first figure (the backend is chosen by plots._plt)

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def save(fig: Any, folder: str | Path, stem: str, dpi: int = 120) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg`` into ``folder`` and close it."""
    plt = _plt()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in ("png", "svg"):
        path = folder / f"{stem}.{ext}"
        fig.savefig(path, dpi=dpi, **({"metadata": {"Date": None}} if ext == "svg" else {}))
        out.append(path)
    plt.close(fig)
    return out


def _title(ds: xr.Dataset) -> str:
    a = ds.attrs
    return f"{a.get('scenario_name', '')}: seed {a.get('seed')}, {a.get('replications')} replications"


# ---------------------------------------------------------------------------
# Convergence
# ---------------------------------------------------------------------------


def convergence_figure(ds: xr.Dataset, var: str = "firm_value", level: float = 0.95):  # type: ignore[no-untyped-def]
    """Running mean of ``var`` with its confidence band, and the CI half-width, against replications.

    The left panel's y-axis holds the whole running mean, from the first replication on; the band,
    enormous over the first few replications, is cut where it leaves the axis (the title says so)."""
    plt = _plt()
    cur = currency_of(ds)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    series: list[tuple[str, np.ndarray]] = []
    if "policy" in ds[var].dims:
        series = [(str(p), ds[var].sel(policy=p).values) for p in ds["policy"].values]
    elif "configuration" in ds[var].dims:
        series = [(str(c), ds[var].sel(configuration=c).values) for c in ds["configuration"].values[:1]]
    else:
        series = [(var.replace("_", " "), ds[var].values)]
    div, suf = money_scale(np.concatenate([s for _, s in series]))
    # one series: precision relative to |mean| (the --precision criterion); several (policies, whose means
    # may be near 0): the absolute half-width
    relative = len(series) == 1
    lo_lim, hi_lim = np.inf, -np.inf
    band_lo, band_hi = np.inf, -np.inf
    handles = []
    for i, (name, x) in enumerate(series):
        c = PALETTE[i % len(PALETTE)]
        conv = running_mean(x, level)
        n = conv.n
        low, high = (conv.mean - conv.half_width) / div, (conv.mean + conv.half_width) / div
        (line,) = ax1.plot(n, conv.mean / div, color=c, lw=1.5, label=f"{name} (final {money(conv.mean[-1], cur)})")
        handles.append(line)
        ax1.fill_between(n, low, high, color=c, alpha=0.2, lw=0)
        ax1.axhline(conv.mean[-1] / div, color=c, lw=0.7, ls=":")
        if relative:
            ax2.loglog(n[1:], conv.relative_half_width[1:] * 100, color=c, lw=1.5)
        else:
            ax2.loglog(n[1:], conv.half_width[1:] / div, color=c, lw=1.5)
        # the first few replications have enormous intervals: the axis holds the band from the tenth or so
        # replication on, and the running mean from the first
        start = min(len(n) - 1, max(1, len(n) // 20, 9))
        lo_lim = min(lo_lim, float(np.nanmin(low[start:])), float(np.nanmin(conv.mean / div)))
        hi_lim = max(hi_lim, float(np.nanmax(high[start:])), float(np.nanmax(conv.mean / div)))
        band_lo, band_hi = min(band_lo, float(np.nanmin(low))), max(band_hi, float(np.nanmax(high)))
    clipped = False
    if np.isfinite(lo_lim) and np.isfinite(hi_lim) and hi_lim > lo_lim:
        pad = 0.08 * (hi_lim - lo_lim)
        ax1.set_ylim(lo_lim - pad, hi_lim + pad)
        clipped = band_lo < lo_lim - pad or band_hi > hi_lim + pad
    ax1.set_xscale("log")
    plain_log_ticks(ax1, "x")
    ax1.set_xlabel("replications (log scale)")
    ax1.set_ylabel(f"running mean of {var.replace('_', ' ')} ({unit(suf, cur)})")
    ax1.set_title(f"Running mean with {level:.0%} confidence band" + (" (cut at small n)" if clipped else ""))
    ax1.grid(alpha=0.3)
    n_all = len(series[0][1])
    if n_all > 2:
        ref_n = np.array([2, n_all])
        last = running_mean(series[0][1], level)
        end = float(last.relative_half_width[-1] * 100 if relative else last.half_width[-1] / div)
        if math.isfinite(end) and end > 0:
            ax2.loglog(ref_n, end * np.sqrt(n_all / ref_n), color="grey", lw=0.8, ls=":", label=r"$\propto 1/\sqrt{n}$")
    target = ds.attrs.get("precision")
    if target is not None:
        ax2.axhline(float(target) * 100, color="#C44E52", lw=1.2, ls="--", label=f"target {float(target):.2%}")
        chunk = int(ds.attrs.get("precision_chunk", 0) or 0)
        if chunk:
            for b in range(chunk, n_all + 1, chunk):
                ax2.axvline(b, color="#C44E52", lw=0.4, alpha=0.25)
    plain_log_ticks(ax2)
    ax2.set_xlabel("replications (log scale)")
    ax2.set_ylabel(
        "CI half-width, % of |mean| (log scale)" if relative else f"CI half-width ({unit(suf, cur)}, log scale)"
    )
    ax2.set_title("Precision of the mean" + (" (checked at chunk boundaries)" if target is not None else ""))
    ax2.grid(alpha=0.3)
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(frameon=False, fontsize=8, loc="lower left")
    legend_below(fig, handles, [h.get_label() for h in handles], ncols=min(len(handles), 3))
    suptitle(fig, f"Convergence: {_title(ds)}")
    return fig


# ---------------------------------------------------------------------------
# Heterogeneity of relationship value
# ---------------------------------------------------------------------------


def _bands(ax: Any, x: np.ndarray, curves: np.ndarray, colour: str, label: str) -> np.ndarray | None:
    ok = np.isfinite(curves).all(axis=1)
    if not ok.any():
        return None
    c = curves[ok] * 100
    lo, mid, hi = np.percentile(c, [5, 50, 95], axis=0)
    ax.fill_between(x * 100, lo, hi, color=colour, alpha=0.22, lw=0, label="5-95% across replications")
    ax.plot(x * 100, mid, color=colour, lw=2, label=label)
    return mid


def heterogeneity_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Stobachoff, whale and Lorenz curves of relationship value (median and 5-95% band) and their summaries' spread."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.6), layout="constrained")
    (a1, a2), (a3, a4) = axes
    if "relationship_value" not in ds:
        for ax in axes.flat:
            no_detail(ax)
        return fig
    vals = ds["relationship_value"].values
    n_rep = vals.shape[0]
    x, st = curve_bands(vals, kind="stobachoff")
    mid = _bands(a1, x, st, "#55A868", "median curve")
    a1.axhline(100, color="grey", lw=0.8, ls="--")
    if mid is not None:
        k = int(np.nanargmax(mid))
        a1.plot(x[k] * 100, mid[k], "o", color="#C44E52")
        a1.annotate(
            f"peak {mid[k]:.0f}% of total\nat {x[k] * 100:.0f}% of relationships",
            (x[k] * 100, mid[k]),
            textcoords="offset points",
            xytext=(10, -32),
            fontsize=9,
        )
    a1.set_xlabel("relationships, most valuable first (% of all)")
    a1.set_ylabel("cumulative value capture (% of total)")
    a1.set_title("Stobachoff curve")
    a1.legend(frameon=False, loc="lower right", fontsize=8)
    a1.grid(alpha=0.3)

    if "wallet" in ds:
        xw, wh = curve_bands(vals, kind="whale", size=ds["wallet"].values)
        _bands(a2, xw, wh, "#4C72B0", "median curve")
        a2.axhline(100, color="grey", lw=0.8, ls="--")
        a2.set_xlabel("cumulative % of customer wallet (most valuable relationships first)")
        a2.set_ylabel("cumulative value capture (% of total)")
        a2.set_title("Whale curve against customer size")
        a2.legend(frameon=False, loc="lower right", fontsize=8)
        a2.grid(alpha=0.3)
    else:
        a2.set_axis_off()

    xl, lz = curve_bands(vals, kind="lorenz")
    _bands(a3, xl, lz, "#8172B3", "median Lorenz curve")
    a3.plot([0, 100], [0, 100], color="grey", lw=0.8, ls="--", label="equal value")
    st_rep = relationship_stats(vals)
    g = st_rep["relationship_value_gini"]
    a3.set_xlabel("relationships, least valuable first (% of all)")
    a3.set_ylabel("cumulative value capture (% of total)")
    a3.set_title(f"Lorenz curve (Gini, median over replications: {np.nanmedian(g):.3f})")
    # the legend goes above the diagonal at the left, where no Lorenz curve reaches, with headroom above
    # 100% so that it clears the curves whatever their depth
    bottom = min(float(np.nanmin(lz)) * 100 if np.isfinite(lz).any() else 0.0, 0.0)
    a3.set_ylim(bottom - 0.03 * (100 - bottom), 100 + 0.3 * (100 - bottom))
    a3.legend(frameon=False, loc="upper left", fontsize=8)
    a3.grid(alpha=0.3)

    metrics = [
        ("Gini", g),
        ("top-20% share (x total)", st_rep["relationship_value_top20"]),
        ("share destroying value", st_rep["relationship_value_negative_share"]),
    ]
    for name, label in (("stobachoff_peak", "Stobachoff peak (x total)"), ("stobachoff_index", "Stobachoff index")):
        if name in ds:
            metrics.append((label + " *", ds[name].values))
    data = [np.asarray(v, dtype=float)[np.isfinite(v)] for _, v in metrics]
    pos = np.arange(len(metrics))[::-1]
    a4.boxplot(
        data,
        positions=pos,
        widths=0.6,
        **_horizontal(),
        showfliers=False,
        patch_artist=True,
        boxprops={"facecolor": "#4C72B0", "alpha": 0.35},
        medianprops={"color": "black"},
    )
    for y, d in zip(pos, data, strict=True):
        if d.size:
            q75, q25 = np.percentile(d, [75, 25])
            top = min(d.max(), q75 + 1.5 * (q75 - q25))
            a4.annotate(
                f"median {np.median(d):.2f}",
                (top, y),
                textcoords="offset points",
                xytext=(6, -3),
                ha="left",
                fontsize=8,
            )
    a4.set_yticks(pos, [m for m, _ in metrics])
    a4.set_xlabel("value (boxes: 25-75%, whiskers: 1.5 IQR)")
    a4.set_title("Spread across replications")
    a4.grid(alpha=0.3, axis="x")
    n_all = ds.sizes.get("replication", n_rep)
    a4.text(
        0.99,
        0.01,
        f"curves and unstarred rows: {n_rep} detail replications; * all {n_all}",
        transform=a4.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="grey",
    )
    suptitle(fig, f"Heterogeneity of relationship value: {_title(ds)}")
    return fig


def policy_heterogeneity_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Median Stobachoff curves of the policies of a comparison, overlaid."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    if "relationship_value" not in ds:
        no_detail(ax)
        return fig
    for i, p in enumerate(ds["policy"].values):
        x, c = curve_bands(ds["relationship_value"].sel(policy=p).values, kind="stobachoff")
        ok = np.isfinite(c).all(axis=1)
        if ok.any():
            mid = np.median(c[ok], axis=0) * 100
            ax.plot(x * 100, mid, color=PALETTE[i % len(PALETTE)], lw=2, label=f"{p} (peak {mid.max():.0f}%)")
    ax.axhline(100, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("relationships, most valuable first (% of all)")
    ax.set_ylabel("cumulative value capture (% of total)")
    ax.set_title("Stobachoff curves by policy (median over replications)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------------------
# Decomposition
# ---------------------------------------------------------------------------


def shapley_figure(ds: xr.Dataset, metrics: Sequence[str] | None = None, attributions: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """Shapley shares of the three sources of each statistic, with confidence intervals; one panel per
    statistic.  What remains with all three sources off is not a source: each panel's title states it."""
    plt = _plt()
    metrics = list(metrics or METRICS)
    atts = attributions or {m: attribution(ds, m) for m in metrics}
    fig, axes = plt.subplots(
        len(metrics), 1, figsize=(9, 1.0 + 2.1 * len(metrics)), layout="constrained", squeeze=False
    )
    pos = np.arange(len(SOURCES))[::-1]
    level = 0.95
    for ax, m in zip(axes[:, 0], metrics, strict=True):
        att = atts[m]
        level = att.level
        est = np.array([att.estimate[f"share_{s}"] for s in SOURCES]) * 100
        lo = np.array([att.low[f"share_{s}"] for s in SOURCES]) * 100
        hi = np.array([att.high[f"share_{s}"] for s in SOURCES]) * 100
        ax.barh(pos, est, height=0.6, color=[SOURCE_COLOURS[s] for s in SOURCES], alpha=0.85)
        err = np.nan_to_num(np.clip([est - lo, hi - est], 0, None))
        ax.errorbar(est, pos, xerr=err, fmt="none", ecolor="black", capsize=4, lw=1)
        right = np.nanmax(np.vstack([est, hi, np.zeros_like(est)]), axis=0)
        for y, e, r, a, b in zip(pos, est, right, lo, hi, strict=True):
            ci = f" [{a:.1f}, {b:.1f}]" if np.isfinite(a) and np.isfinite(b) else ""
            ax.annotate(f"{e:.1f}%{ci}", (float(r), y), textcoords="offset points", xytext=(5, -3), fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        finite = [v for v in np.concatenate([lo, hi, est]) if np.isfinite(v)]  # an interval can be NaN
        left, top = min(min(finite, default=0.0), 0.0), max(max(finite, default=0.0), 0.0)
        span = (top - left) or 1.0
        ax.set_xlim(left - 0.04 * span, top + 0.32 * span)  # room for the labels
        ax.set_yticks(pos, list(SOURCES))
        base, b_lo, b_hi = (100 * d["share_baseline"] for d in (att.estimate, att.low, att.high))
        ci = f" [{b_lo:.1f}%, {b_hi:.1f}%]" if np.isfinite(b_lo) and np.isfinite(b_hi) else ""
        ax.set_title(
            f"{att.metric.title}\nwith all three off: {base:.1f}% of the total{ci}; "
            f"the sources add {np.nansum(est):.1f}%",
            loc="left",
            fontsize=9.5,
        )
        ax.grid(alpha=0.3, axis="x")
    axes[-1, 0].set_xlabel(f"Shapley value as % of the total with all sources on (brackets, whiskers: {level:.0%} CI)")
    suptitle(fig, f"Shapley attribution to the three sources of heterogeneity\n{_title(ds)}")
    return fig


def configurations_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Firm value in each of the eight switch configurations: distributions and standard deviations."""
    plt = _plt()
    labels = [str(c) for c in ds["configuration"].values]
    fv = ds["firm_value"]
    div, unit_text = scaled(fv.values, currency_of(ds))
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(11.5, 4.8), layout="constrained", gridspec_kw={"width_ratios": [1.6, 1]}
    )
    pos = np.arange(len(labels))[::-1]
    data = [fv.sel(configuration=c).values / div for c in labels]
    ax1.boxplot(
        data,
        positions=pos,
        widths=0.6,
        **_horizontal(),
        showfliers=False,
        patch_artist=True,
        boxprops={"facecolor": "#4C72B0", "alpha": 0.35},
        medianprops={"color": "black"},
    )
    ax1.plot([d.mean() for d in data], pos, "D", color="#C44E52", ms=4)
    short = [c.replace("customer", "C").replace("relationship", "R").replace("interdependence", "I") for c in labels]
    ax1.set_yticks(pos, short)
    ax1.set_xlabel(f"firm value ({unit_text}); boxes 25-75%, whiskers 1.5 IQR, red diamonds: means")
    ax1.set_title("Firm value by configuration (C customer, R relationship, I interdependence on)", fontsize=10)
    ax1.grid(alpha=0.3, axis="x")
    seed = int(ds.attrs.get("seed", 0))
    sds, los, his = [], [], []
    for d in data:
        sds.append(d.std(ddof=1))
        lo, hi = bootstrap_ci((d,), lambda x, axis=-1: np.std(x, axis=axis, ddof=1), seed=seed, n_resamples=1000)
        los.append(float(lo))
        his.append(float(hi))
    ax2.barh(pos, sds, color="#4C72B0", alpha=0.7)
    ax2.errorbar(
        sds,
        pos,
        xerr=np.clip([np.subtract(sds, los), np.subtract(his, sds)], 0, None),
        fmt="none",
        ecolor="black",
        capsize=3,
        lw=1,
    )
    ax2.set_yticks(pos, short)
    ax2.set_xlabel(f"sd of firm value ({unit_text}), 95% CI")
    ax2.set_title("Risk: standard deviation of firm value", fontsize=10)
    ax2.grid(alpha=0.3, axis="x")
    suptitle(fig, f"Counterfactual configurations under common random numbers: {_title(ds)}")
    return fig


# ---------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------


#: Sensitivity indices are shares of variance: an estimate outside this range is Monte Carlo error.
INDEX_RANGE = (0.0, 1.0)


def sensitivity_figure(ds: xr.Dataset, sens: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """First-order and total sensitivity indices of each response with confidence intervals, one panel per
    response (two columns), every estimate marked and labelled so that small ones stay visible; the range an
    index cannot take (outside [0, 1]) is shaded, and a note says so when an estimate or interval reaches it."""
    plt = _plt()
    from matplotlib.patches import Patch  # lazy: see _plt

    resp = list(sens) if sens else json.loads(ds.attrs.get("responses", "[]"))
    sens = sens or {r: sensitivity(ds, r) for r in resp}
    d = len(sens[resp[0]].indices)
    cols = 1 if len(resp) == 1 else 2
    rows = -(-len(resp) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.3 * cols, 1.8 + (0.8 + 0.5 * d) * rows), squeeze=False, layout="constrained"
    )
    beyond = False
    colours = (("first", "#4C72B0", "first order"), ("total", "#DD8452", "total"))
    for ax, r in zip(axes.flat, resp, strict=False):
        s = sens[r]
        names = [i.factor for i in s.indices]
        pos = np.arange(len(names))[::-1]
        h = 0.38
        values = []
        for off, (key, colour, _) in zip((h / 2, -h / 2), colours, strict=True):
            v = np.array([getattr(i, key) for i in s.indices], dtype=float)
            lo = np.array([getattr(i, f"{key}_low") for i in s.indices], dtype=float)
            hi = np.array([getattr(i, f"{key}_high") for i in s.indices], dtype=float)
            values.append((off, v, lo, hi))
            ax.barh(pos + off, v, height=h, color=colour, alpha=0.85)
            ax.plot(v, pos + off, "o", color=colour, ms=3.5, mec="black", mew=0.4, zorder=4)  # visible when tiny
            err = np.nan_to_num(np.clip([v - lo, hi - v], 0, None))
            ax.errorbar(v, pos + off, xerr=err, fmt="none", ecolor="black", capsize=2.5, lw=0.9)
        every = np.concatenate([np.concatenate([v, lo, hi]) for _, v, lo, hi in values])
        every = every[np.isfinite(every)]
        left = min(-0.05, float(every.min(initial=0.0)) - 0.03)
        top = max(1.05, float(every.max(initial=0.0)))
        span = top - left
        right = top + 0.16 * span  # room for the labels
        beyond |= bool(every.size and (every.min() < INDEX_RANGE[0] - 1e-9 or every.max() > INDEX_RANGE[1] + 1e-9))
        for off, v, _, hi in values:
            for y, e, u in zip(pos + off, v, hi, strict=True):
                x = max(e, u if np.isfinite(u) else e, 0.0)
                ax.text(x + 0.01 * span, y, f"{e + 0.0:.2f}".replace("-0.00", "0.00"), va="center", fontsize=7)
        ax.axvspan(left - span, INDEX_RANGE[0], color="#8C8C8C", alpha=0.15, lw=0, zorder=0)
        ax.axvspan(INDEX_RANGE[1], right + span, color="#8C8C8C", alpha=0.15, lw=0, zorder=0)
        ax.set_xlim(left, right)
        ax.set_ylim(-0.7, len(names) - 0.3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(pos, names, fontsize=9)
        ax.set_xlabel(f"sensitivity index ({s.level:.0%} CI)", fontsize=9)
        ax.set_title(wrapped(f"{RESPONSES[r].title} ({r})", 4.6, 9.5), fontsize=9.5)
        ax.grid(alpha=0.3, axis="x")
    for ax in list(axes.flat)[len(resp) :]:
        ax.set_axis_off()
    handles = [Patch(color=c, alpha=0.85, label=lab) for _, c, lab in colours]
    handles.append(Patch(color="#8C8C8C", alpha=0.3, label="outside [0, 1]: no variance share lies there"))
    legend_below(fig, handles, [hd.get_label() for hd in handles], ncols=3)
    title = (
        f"Global sensitivity: experiment {ds.attrs.get('experiment_name')!r}, {ds.attrs.get('design')} design, "
        f"{ds.attrs.get('design_points')} points x {ds.attrs.get('replications')} replications"
    )
    if beyond:
        title += "\nwhat reaches the shaded range is Monte Carlo error of a small design: more points narrow it"
    suptitle(fig, title)
    return fig


def sweep_scatter_figure(ds: xr.Dataset, response: str):  # type: ignore[no-untyped-def]
    """The response of every design point against each factor, with the OLS line of the full regression's
    slope; each panel's title gives the factor's effect over its range and its p-value."""
    plt = _plt()
    r = RESPONSES[response]
    y = r.reduce(ds[r.variable].values.astype(float), axis=-1)
    cur = currency_of(ds)
    is_money = r.units == "currency"
    div, unit_text = scaled(y, cur) if is_money else (1.0, r.units)
    names = factor_names(ds)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3.2 * rows + 0.5), squeeze=False, sharey=True, layout="constrained"
    )
    reg = regress(ds, response)
    for ax, f in zip(axes.flat, names, strict=False):
        v = ds[f].values
        if v.dtype == object:
            levels = list(dict.fromkeys(v.tolist()))
            xv = np.array([levels.index(a) for a in v.tolist()], dtype=float)
            ax.set_xticks(range(len(levels)), levels, fontsize=7)
        else:
            xv = v.astype(float)
        jitter = 0.12 * (np.arange(xv.size) % 7 - 3) / 3 if (v.dtype == bool or v.dtype == object) else 0.0
        ax.scatter(xv + jitter, y / div, s=10, alpha=0.55, color="#4C72B0", edgecolor="none")
        e = next((x for x in reg.effects if x.factor == f), None)
        if e is not None and v.dtype != object:
            xs = np.linspace(xv.min(), xv.max(), 2)
            ax.plot(xs, (y.mean() + e.coef * (xs - xv.mean())) / div, color="#C44E52", lw=1.5)
            shown = money(e.effect, cur) if is_money else f"{e.effect:,.3g}"
            ax.set_title(f"effect {shown} over the range\np = {e.p:.2g}", fontsize=8)
        if v.dtype == bool:
            ax.set_xticks([0, 1], ["false", "true"])
        ax.set_xlabel(f"{ds[f].attrs.get('field', f)}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_ylabel(f"{response} ({unit_text})", fontsize=8)
    suptitle(
        fig,
        f"{r.title}: each dot a design point ({ds.attrs.get('replications')} replications each); red: the "
        "regression's average effect",
    )
    return fig


def _response_scale(response: str, values: np.ndarray, currency: str = "") -> tuple[float, str]:
    """Divisor and axis unit of a response: money in k/m/bn and the currency, other units as they are."""
    r = RESPONSES[response]
    if r.units != "currency":
        return 1.0, r.units
    return scaled(values, currency)


def _label_points(ax: Any, x: np.ndarray, y: np.ndarray, names: Sequence[str], width_in: float, top: float) -> None:
    """Label the points (x, y) of a square plot of side ``top`` in data units and about ``width_in``
    inches, each beside its point where it does not cover a label already placed (else unlabelled)."""
    char, height = 0.058 / width_in, 0.04  # axes fractions of one 7-point character and of a line
    placed: list[tuple[float, float, float, float]] = []
    for name, px, py in zip(names, x / top, y / top, strict=True):
        w = char * len(name)
        for dx, dy, ha in (
            (0.012, 0.008, "left"),
            (0.012, -0.045, "left"),
            (-0.012, 0.008, "right"),
            (-0.012, -0.045, "right"),
        ):
            x0 = px + dx if ha == "left" else px + dx - w
            box = (x0, py + dy, x0 + w, py + dy + height)
            if box[2] > 1.0 or box[0] < 0.0 or box[3] > 1.0 or box[1] < 0.0:
                continue
            if all(box[2] < o[0] or box[0] > o[2] or box[3] < o[1] or box[1] > o[3] for o in placed):
                placed.append(box)
                ax.text(
                    x0 if ha == "left" else x0 + w,
                    py + dy,
                    name,
                    transform=ax.transAxes,
                    ha=ha,
                    va="bottom",
                    fontsize=7,
                )
                break


def morris_figure(ds: xr.Dataset, results: dict[str, Morris] | None = None):  # type: ignore[no-untyped-def]
    """Morris screening, one row per response: mu* sorted with its CI and sigma (left), and the
    mu*-sigma plane with the most influential factors labelled (right)."""
    plt = _plt()
    resp = list(results) if results else json.loads(ds.attrs.get("responses", "[]"))
    results = results or {r: morris(ds, r) for r in resp}
    d = len(results[resp[0]].indices)
    row_h = max(3.8, 1.3 + 0.3 * d)
    fig, axes = plt.subplots(
        len(resp),
        2,
        figsize=(10.5, 0.8 + row_h * len(resp)),
        squeeze=False,
        layout="constrained",
        gridspec_kw={"width_ratios": [1.15, 1]},
    )
    for j, r in enumerate(resp):
        m = results[r]
        mu_star = np.array([i.mu_star for i in m.indices])
        div, unit = _response_scale(r, np.concatenate([mu_star, [i.mu_star_high for i in m.indices]]), currency_of(ds))
        lo = np.array([i.mu_star_low for i in m.indices]) / div
        hi = np.array([i.mu_star_high for i in m.indices]) / div
        v = mu_star / div
        sig = np.array([i.sigma for i in m.indices]) / div
        names = [i.factor for i in m.indices]
        pos = np.arange(d)[::-1]
        ax = axes[j, 0]
        ax.barh(pos, v, height=0.6, color="#4C72B0", alpha=0.85, label="mu* (mean |elementary effect|)")
        err = np.nan_to_num(np.clip([v - lo, hi - v], 0, None))
        ax.errorbar(v, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=0.9, label=f"{m.level:.0%} CI")
        ax.plot(sig, pos, "D", color="#DD8452", ms=4, label="sigma (interactions, curvature)")
        ax.set_yticks(pos, names, fontsize=8)
        ax.set_xlim(left=0)
        ax.set_xlabel(f"effect across the factor's range ({unit})", fontsize=8)
        ax.set_title(f"{r}: {RESPONSES[r].title}" if len(RESPONSES[r].title) < 40 else r, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(frameon=False, fontsize=7, loc="lower right")
        ax = axes[j, 1]
        ax.scatter(v, sig, s=22, color="#4C72B0", zorder=3)
        top = max(float(np.nanmax(v)) if v.size else 0.0, float(np.nanmax(sig)) if sig.size else 0.0) * 1.08 or 1.0
        xs = np.array([0.0, top])
        for ratio, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
            ax.plot(xs, ratio * xs, style, color="#8C8C8C", lw=0.8, label=f"sigma / mu* = {ratio:g}")
        k = min(d, 6)  # the most influential factors, labelled
        _label_points(ax, v[:k], sig[:k], names[:k], 4.3, top)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel(f"mu* ({unit})", fontsize=8)
        ax.set_ylabel(f"sigma ({unit})", fontsize=8)
        ax.set_title("the mu*-sigma plane", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    suptitle(
        fig,
        f"Morris screening: experiment {ds.attrs.get('experiment_name')!r}, {results[resp[0]].trajectories} "
        f"trajectories x {d + 1} points x {ds.attrs.get('replications')} replications",
    )
    return fig


def tornado_figure(ds: xr.Dataset, results: dict[str, Tornado] | None = None):  # type: ignore[no-untyped-def]
    """One-at-a-time swings of each response around the base scenario, widest on top, with CI whiskers."""
    plt = _plt()
    resp = list(results) if results else json.loads(ds.attrs.get("responses", "[]"))
    results = results or {r: tornado(ds, r) for r in resp}
    d = len(results[resp[0]].swings)
    fig, axes = plt.subplots(
        1, len(resp), figsize=(5.4 * len(resp), 2.3 + 0.5 * d), squeeze=False, layout="constrained"
    )
    for ax, r in zip(axes[0], resp, strict=True):
        t = results[r]
        ends = np.array([[s.low, s.high] for s in t.swings] + [[t.base, t.base]])
        div, unit = _response_scale(r, ends, currency_of(ds))
        base = t.base / div
        pos = np.arange(d)[::-1]
        ax.axvspan(t.base_ci[0] / div, t.base_ci[1] / div, color="#8C8C8C", alpha=0.2, lw=0)
        ax.axvline(base, color="black", lw=0.9, label=f"base scenario ({t.level:.0%} CI shaded)")
        for end, colour, lab in (("low", "#4C72B0", "factor at its low end"), ("high", "#DD8452", "at its high end")):
            v = np.array([getattr(s, end) for s in t.swings]) / div
            ci = np.array([getattr(s, f"{end}_ci") for s in t.swings]) / div
            ax.barh(pos, v - base, left=base, height=0.6, color=colour, alpha=0.8, label=lab)
            err = np.nan_to_num(np.clip([v - ci[:, 0], ci[:, 1] - v], 0, None))
            ax.errorbar(v, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=0.9)
        labels = [
            f"{s.factor}\n{show_value(s.low_value)} → {show_value(s.high_value)} (base {show_value(s.base_value)})"
            for s in t.swings
        ]
        ax.set_yticks(pos, labels, fontsize=8)
        ax.set_xlabel(f"{r} ({unit}); whiskers: {t.level:.0%} CI of each end", fontsize=8)
        ax.set_title(RESPONSES[r].title if len(RESPONSES[r].title) < 60 else r, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    legend_below(fig, handles, labels, ncols=3)
    suptitle(
        fig,
        f"One-at-a-time swings: experiment {ds.attrs.get('experiment_name')!r}, each factor moved from the base "
        f"scenario to each end of its range ({ds.attrs.get('replications')} replications per point, one seed)",
    )
    return fig


def sweep_figures(ds: xr.Dataset) -> list[tuple[str, Callable[[], Any]]]:
    """The figures of a sweep by stem: screening figures for morris and oat designs, else sensitivity and scatters."""
    kind = ds.attrs.get("design")
    if kind == "morris":
        return [("morris", functools.partial(morris_figure, ds))]
    if kind == "oat":
        return [("tornado", functools.partial(tornado_figure, ds))]
    out: list[tuple[str, Callable[[], Any]]] = [("sensitivity", functools.partial(sensitivity_figure, ds))]
    for r in json.loads(ds.attrs.get("responses", "[]")):
        out.append((f"scatter_{r}", functools.partial(sweep_scatter_figure, ds, r)))
    return out


FigureMaker = Callable[[xr.Dataset], Any]
