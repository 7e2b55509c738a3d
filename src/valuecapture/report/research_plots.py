"""Figures of the research workflow: convergence, heterogeneity curves, attribution, sensitivity.

Each ``*_figure`` function returns a matplotlib Figure; :func:`save` writes it
as PNG and SVG.  The helpers of :mod:`valuecapture.report.plots` (backend, money
scale, palette) are reused so the figures look like the run figures.
"""

from __future__ import annotations

import functools
import json
import math
import textwrap
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
from valuecapture.report.plots import PALETTE, _plt, no_detail

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
    """Running mean of ``var`` with its confidence band, and the relative CI half-width, against replications."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
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
    for i, (name, x) in enumerate(series):
        c = PALETTE[i % len(PALETTE)]
        conv = running_mean(x, level)
        n = conv.n
        low, high = (conv.mean - conv.half_width) / div, (conv.mean + conv.half_width) / div
        ax1.plot(n, conv.mean / div, color=c, lw=1.5, label=f"{name} (final {conv.mean[-1] / div:,.2f}{suf})")
        ax1.fill_between(n, low, high, color=c, alpha=0.2, lw=0)
        ax1.axhline(conv.mean[-1] / div, color=c, lw=0.7, ls=":")
        if relative:
            ax2.loglog(n[1:], conv.relative_half_width[1:] * 100, color=c, lw=1.5, label=name)
        else:
            ax2.loglog(n[1:], conv.half_width[1:] / div, color=c, lw=1.5, label=name)
        # the first few replications have enormous intervals: scale the axis to the rest
        start = min(len(n) - 1, max(1, len(n) // 20, 9))
        lo_lim = min(lo_lim, float(np.nanmin(low[start:])), float(np.nanmin(conv.mean[start:] / div)))
        hi_lim = max(hi_lim, float(np.nanmax(high[start:])), float(np.nanmax(conv.mean[start:] / div)))
    if np.isfinite(lo_lim) and np.isfinite(hi_lim) and hi_lim > lo_lim:
        pad = 0.08 * (hi_lim - lo_lim)
        ax1.set_ylim(lo_lim - pad, hi_lim + pad)
    ax1.set_xscale("log")
    ax1.set_xlabel("replications (log scale)")
    ax1.set_ylabel(f"running mean of {var.replace('_', ' ')} ({suf or 'currency'})")
    ax1.set_title(f"Running mean with {level:.0%} confidence band")
    ax1.grid(alpha=0.3)
    ax1.legend(frameon=False, fontsize=8)
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
    ax2.set_xlabel("replications (log scale)")
    ax2.set_ylabel(
        "CI half-width, % of |mean| (log scale)" if relative else f"CI half-width ({suf or 'currency'}, log scale)"
    )
    ax2.set_title("Precision of the mean" + (" (checked at chunk boundaries)" if target is not None else ""))
    ax2.grid(alpha=0.3)
    ax2.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Convergence: {_title(ds)}", fontsize=10)
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
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), constrained_layout=True)
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
    a3.text(
        0.03,
        0.95,
        f"Gini (median over replications) = {np.nanmedian(g):.3f}",
        transform=a3.transAxes,
        va="top",
        fontsize=9,
    )
    a3.set_xlabel("relationships, least valuable first (% of all)")
    a3.set_ylabel("cumulative value capture (% of total)")
    a3.set_title("Lorenz curve")
    a3.legend(frameon=False, loc="center left", fontsize=8)
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
    fig.suptitle(f"Heterogeneity of relationship value: {_title(ds)}", fontsize=10)
    return fig


def policy_heterogeneity_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Median Stobachoff curves of the policies of a comparison, overlaid."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
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
    """Shapley shares of each source (and the part left with all sources off), with confidence intervals."""
    plt = _plt()
    metrics = list(metrics or METRICS)
    atts = attributions or {m: attribution(ds, m) for m in metrics}

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.4 * len(metrics), 4.4), constrained_layout=True, squeeze=False)
    rows = list(SOURCES) + ["none"]
    for ax, m in zip(axes[0], metrics, strict=True):
        att = atts[m]
        est = [att.estimate[f"share_{s}"] * 100 if s != "none" else att.estimate["share_baseline"] * 100 for s in rows]
        lo = [att.low[f"share_{s}"] * 100 if s != "none" else att.low["share_baseline"] * 100 for s in rows]
        hi = [att.high[f"share_{s}"] * 100 if s != "none" else att.high["share_baseline"] * 100 for s in rows]
        pos = np.arange(len(rows))[::-1]
        ax.barh(pos, est, color=[SOURCE_COLOURS[s] for s in rows], alpha=0.85)
        err = np.array(
            [[e - lo_ for e, lo_ in zip(est, lo, strict=True)], [h - e for e, h in zip(est, hi, strict=True)]]
        )
        ax.errorbar(est, pos, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=4, lw=1)
        for y, e, h_ in zip(pos, est, hi, strict=True):
            ax.annotate(
                f"{e:.1f}%", (float(np.nanmax([e, h_, 0.0])), y), textcoords="offset points", xytext=(5, -3), fontsize=8
            )
        ax.axvline(0, color="black", lw=0.8)
        finite = [v for v in hi + est if np.isfinite(v)]  # an interval can be unavailable (NaN) with few replications
        ax.set_xlim(right=max(finite, default=0.0) * 1.15 + 2)
        ax.set_yticks(pos, ["customer", "relationship", "interdependence", "all three off"])
        ax.set_xlabel(f"% of the total (all sources on); bars: {att.level:.0%} CI")
        ax.set_title("\n".join(textwrap.wrap(att.metric.title, 42)), fontsize=10)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(f"Shapley attribution to the three sources of heterogeneity: {_title(ds)}", fontsize=10)
    return fig


def configurations_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Firm value in each of the eight switch configurations: distributions and standard deviations."""
    plt = _plt()
    labels = [str(c) for c in ds["configuration"].values]
    fv = ds["firm_value"]
    div, suf = money_scale(fv.values)
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(13, 4.8), constrained_layout=True, gridspec_kw={"width_ratios": [1.6, 1]}
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
    ax1.plot([d.mean() for d in data], pos, "D", color="#C44E52", ms=4, label="mean")
    short = [c.replace("customer", "C").replace("relationship", "R").replace("interdependence", "I") for c in labels]
    ax1.set_yticks(pos, short)
    ax1.set_xlabel(f"firm value ({suf or 'currency'}); boxes 25-75%, whiskers 1.5 IQR")
    ax1.set_title("Firm value by configuration (C customer, R relationship, I interdependence on)")
    ax1.legend(frameon=False, fontsize=8)
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
    ax2.set_xlabel(f"sd of firm value ({suf or 'currency'}), 95% CI")
    ax2.set_title("Risk: standard deviation of firm value")
    ax2.grid(alpha=0.3, axis="x")
    fig.suptitle(f"Counterfactual configurations under common random numbers: {_title(ds)}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------


def sensitivity_figure(ds: xr.Dataset, sens: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """First-order and total sensitivity indices of each response, with confidence intervals."""
    plt = _plt()
    resp = list(sens) if sens else json.loads(ds.attrs.get("responses", "[]"))
    sens = sens or {r: sensitivity(ds, r) for r in resp}
    fig, axes = plt.subplots(
        1,
        len(resp),
        figsize=(4.8 * len(resp), 1.6 + 0.55 * len(sens[resp[0]].indices)),
        constrained_layout=True,
        squeeze=False,
    )
    for ax, r in zip(axes[0], resp, strict=True):
        s = sens[r]
        names = [i.factor for i in s.indices]
        pos = np.arange(len(names))[::-1]
        h = 0.38
        for off, key, colour, lab in (
            (h / 2, "first", "#4C72B0", "first order"),
            (-h / 2, "total", "#DD8452", "total"),
        ):
            v = np.array([getattr(i, key) for i in s.indices])
            lo = np.array([getattr(i, f"{key}_low") for i in s.indices])
            hi = np.array([getattr(i, f"{key}_high") for i in s.indices])
            ax.barh(pos + off, v, height=h, color=colour, alpha=0.85, label=lab)
            ax.errorbar(
                v, pos + off, xerr=np.clip([v - lo, hi - v], 0, None), fmt="none", ecolor="black", capsize=3, lw=0.9
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(pos, names, fontsize=8)
        ax.set_xlabel(f"sensitivity index ({s.level:.0%} CI)")
        ax.set_title(r, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle(
        f"Global sensitivity: experiment {ds.attrs.get('experiment_name')!r}, {ds.attrs.get('design')} design, "
        f"{ds.attrs.get('design_points')} points x {ds.attrs.get('replications')} replications",
        fontsize=10,
    )
    return fig


def sweep_scatter_figure(ds: xr.Dataset, response: str):  # type: ignore[no-untyped-def]
    """The response of every design point against each factor, with the OLS line of the full regression's slope."""
    plt = _plt()
    r = RESPONSES[response]
    y = r.reduce(ds[r.variable].values.astype(float), axis=-1)
    money = r.units == "currency"
    div, suf = money_scale(y) if money else (1.0, "")
    names = factor_names(ds)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False, sharey=True, constrained_layout=True
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
            ax.plot(
                xs,
                (y.mean() + e.coef * (xs - xv.mean())) / div,
                color="#C44E52",
                lw=1.5,
                label=f"effect {e.effect / div:,.3g}{suf} over range, p = {e.p:.2g}",
            )
            ax.legend(frameon=False, fontsize=7, loc="best")
        if v.dtype == bool:
            ax.set_xticks([0, 1], ["false", "true"])
        ax.set_xlabel(f"{ds[f].attrs.get('field', f)}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_ylabel(f"{response} ({suf or r.units})" if money else f"{response} ({r.units})", fontsize=8)
    fig.suptitle(
        f"{r.title}: each dot a design point ({ds.attrs.get('replications')} replications each); red: the "
        "regression's average effect",
        fontsize=10,
    )
    return fig


def _response_scale(response: str, values: np.ndarray) -> tuple[float, str]:
    """Divisor and axis unit of a response: money in k/m/bn, other units as they are."""
    r = RESPONSES[response]
    if r.units != "currency":
        return 1.0, r.units
    div, suf = money_scale(values)
    return div, f"currency{', ' + suf if suf else ''}"


def morris_figure(ds: xr.Dataset, results: dict[str, Morris] | None = None):  # type: ignore[no-untyped-def]
    """Morris screening of each response: mu* sorted with its CI (top), and the mu*-sigma plane (bottom)."""
    plt = _plt()
    resp = list(results) if results else json.loads(ds.attrs.get("responses", "[]"))
    results = results or {r: morris(ds, r) for r in resp}
    d = len(results[resp[0]].indices)
    fig, axes = plt.subplots(
        2,
        len(resp),
        figsize=(5.2 * len(resp), 1.4 + 0.32 * d + 4.2),
        squeeze=False,
        constrained_layout=True,
        gridspec_kw={"height_ratios": [0.3 * d + 1.0, 4.0]},
    )
    for j, r in enumerate(resp):
        m = results[r]
        mu_star = np.array([i.mu_star for i in m.indices])
        div, unit = _response_scale(r, np.concatenate([mu_star, [i.mu_star_high for i in m.indices]]))
        lo = np.array([i.mu_star_low for i in m.indices]) / div
        hi = np.array([i.mu_star_high for i in m.indices]) / div
        v = mu_star / div
        sig = np.array([i.sigma for i in m.indices]) / div
        names = [i.factor for i in m.indices]
        pos = np.arange(d)[::-1]
        ax = axes[0, j]
        ax.barh(pos, v, height=0.6, color="#4C72B0", alpha=0.85, label="mu* (mean |elementary effect|)")
        err = np.nan_to_num(np.clip([v - lo, hi - v], 0, None))
        ax.errorbar(v, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=0.9, label=f"{m.level:.0%} CI")
        ax.plot(sig, pos, "D", color="#DD8452", ms=4, label="sigma (interactions, curvature)")
        ax.set_yticks(pos, names, fontsize=8)
        ax.set_xlim(left=0)
        ax.set_xlabel(f"effect across the factor's range ({unit})", fontsize=8)
        ax.set_title(r, fontsize=10)
        ax.grid(alpha=0.3, axis="x")
        ax.legend(frameon=False, fontsize=7, loc="lower right")
        ax = axes[1, j]
        ax.scatter(v, sig, s=22, color="#4C72B0", zorder=3)
        top = max(float(np.nanmax(v)) if v.size else 0.0, float(np.nanmax(sig)) if sig.size else 0.0) * 1.08 or 1.0
        xs = np.array([0.0, top])
        for ratio, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
            ax.plot(xs, ratio * xs, style, color="#8C8C8C", lw=0.8, label=f"sigma / mu* = {ratio:g}")
        for k in range(min(d, 6)):  # the most influential factors, labelled
            ax.annotate(names[k], (v[k], sig[k]), xytext=(4, 3), textcoords="offset points", fontsize=7)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel(f"mu* ({unit})", fontsize=8)
        ax.set_ylabel(f"sigma ({unit})", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=7, loc="upper left")
    fig.suptitle(
        f"Morris screening: experiment {ds.attrs.get('experiment_name')!r}, {results[resp[0]].trajectories} "
        f"trajectories x {d + 1} points x {ds.attrs.get('replications')} replications",
        fontsize=10,
    )
    return fig


def tornado_figure(ds: xr.Dataset, results: dict[str, Tornado] | None = None):  # type: ignore[no-untyped-def]
    """One-at-a-time swings of each response around the base scenario, widest on top, with CI whiskers."""
    plt = _plt()
    resp = list(results) if results else json.loads(ds.attrs.get("responses", "[]"))
    results = results or {r: tornado(ds, r) for r in resp}
    d = len(results[resp[0]].swings)
    fig, axes = plt.subplots(
        1, len(resp), figsize=(6.0 * len(resp), 1.8 + 0.5 * d), squeeze=False, constrained_layout=True
    )
    for ax, r in zip(axes[0], resp, strict=True):
        t = results[r]
        ends = np.array([[s.low, s.high] for s in t.swings] + [[t.base, t.base]])
        div, unit = _response_scale(r, ends)
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
        ax.legend(frameon=False, fontsize=7, loc="best")
    fig.suptitle(
        f"One-at-a-time swings: experiment {ds.attrs.get('experiment_name')!r}, each factor moved from the base "
        f"scenario to each end of its range ({ds.attrs.get('replications')} replications per point, one seed)",
        fontsize=10,
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
