"""The figure of a run's customer network: degrees, a drawing, and churn by neighbours lost.

:func:`network_figure` draws, from the outputs of model/network_outputs.py, the degree distribution
of the customers ever acquired (every replication) and, where the run kept its ties
(``outputs.network = true``), a drawing of one detail replication's network coloured by segment and
the churn rate per period by the number of neighbours lost in earlier periods
(:func:`churn_by_lost_neighbours`), which relates contagion to the structure.
"""

from __future__ import annotations

import tomllib
from typing import NamedTuple

import networkx as nx
import numpy as np
import xarray as xr

from valuecapture.report.style import PALETTE, _plt, suptitle

#: Most customers drawn in the network panel (a spring layout of thousands is slow and unreadable).
DRAWN = 300
#: Neighbours lost shown one by one; more are pooled in the last group.
LOST_GROUPS = 4
#: Fewest customer-periods at risk for a group's churn rate to be drawn.
MIN_AT_RISK = 100


class ChurnByNeighbours(NamedTuple):
    """Customer-periods at risk and relationships lost in them, by neighbours lost before the period
    (index ``n``: ``n`` neighbours; the last: that many or more)."""

    at_risk: np.ndarray
    lost: np.ndarray

    @property
    def rate(self) -> np.ndarray:
        """Relationships lost per customer-period at risk (NaN where none was at risk)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.at_risk > 0, self.lost / np.maximum(self.at_risk, 1), np.nan)

    def interval(self, z: float = 1.959963984540054) -> tuple[np.ndarray, np.ndarray]:
        """Wilson score interval of each rate (``z``: the normal quantile, 95% by default; it stays inside
        0..1 and is not empty with no loss, where the normal one is); NaN where none was at risk."""
        n = np.maximum(self.at_risk, 1).astype(float)
        p = self.lost / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        none = self.at_risk == 0
        return np.where(none, np.nan, centre - half), np.where(none, np.nan, centre + half)


def ties_of(ds: xr.Dataset, row: int) -> tuple[np.ndarray, np.ndarray]:
    """The ties (customer slots, first < second) of detail replication number ``row`` (padding dropped)."""
    first = np.asarray(ds["tie_first"].values[row])
    second = np.asarray(ds["tie_second"].values[row])
    keep = first >= 0
    return first[keep].astype(np.int64), second[keep].astype(np.int64)


def churn_by_lost_neighbours(ds: xr.Dataset, groups: int = LOST_GROUPS, window: int | None = None) -> ChurnByNeighbours:
    """Each detail replication's customer-periods at risk, and the relationships lost in them, by how
    many of the customer's neighbours were lost in earlier periods (``window``: in the ``window`` periods
    just before; None: in any earlier period; a tie drawn twice counts twice, as in contagion), pooled
    over the detail replications.

    A customer won at the start of period ``a`` (``acquired_period``; 0: at the start of the horizon) is
    at risk from period ``max(a, 1)`` for ``periods_active`` periods, and was lost at the end of the last
    of them when that is before the horizon.  A relationship whose last period is the horizon's may have
    ended at its end: with ``active_at_horizon`` (``outputs.revenue_panel``) that is known; without it the
    last period of the horizon is left out (censored)."""
    t_end = int(ds.sizes["period"])
    at_risk = np.zeros(groups + 1, dtype=np.int64)
    lost = np.zeros(groups + 1, dtype=np.int64)
    acquired_all = ds["acquired_period"].values
    active_all = ds["periods_active"].values
    known = "active_at_horizon" in ds
    for row in range(ds.sizes["detail_replication"]):
        acquired, active = acquired_all[row].astype(np.int64), active_all[row].astype(np.int64)
        ever = acquired >= 0
        start = np.maximum(acquired, 1)
        last = start + active - 1  # last period active
        gone = ever & (last < t_end)
        if known:
            gone |= ever & (ds["active_at_horizon"].values[row] == 0)
        until = np.where(ever, last if known else np.minimum(last, t_end - 1), -1)  # last period counted
        first, second = ties_of(ds, row)
        # neighbour j lost at the end of period last[j] counts for its neighbours from period last[j] + 1
        who = np.concatenate([first, second])
        other = np.concatenate([second, first])
        hit = gone[other]
        exposure = np.zeros((acquired.size, t_end + 2), dtype=np.int64)
        np.add.at(exposure, (who[hit], np.minimum(last[other[hit]] + 1, t_end + 1)), 1)
        if window is not None:  # ... and no longer from period last[j] + 1 + window
            np.add.at(exposure, (who[hit], np.minimum(last[other[hit]] + 1 + window, t_end + 1)), -1)
        exposure = np.cumsum(exposure, axis=1)[:, 1 : t_end + 1]  # periods 1..T
        t = np.arange(1, t_end + 1)
        risk = ever[:, None] & (t >= start[:, None]) & (t <= until[:, None])
        event = risk & gone[:, None] & (t == last[:, None])
        group = np.minimum(exposure, groups)
        at_risk += np.bincount(group[risk], minlength=groups + 1)
        lost += np.bincount(group[event], minlength=groups + 1)
    return ChurnByNeighbours(at_risk, lost)


def _neighbourhood(first: np.ndarray, second: np.ndarray, limit: int) -> nx.Graph:
    """The ties among at most ``limit`` customers found breadth-first from the customer with the most ties
    (the lowest slot among equals), continuing from the next such customer while room is left."""
    g = nx.Graph()
    g.add_edges_from(zip(first.tolist(), second.tolist(), strict=True))
    if g.number_of_nodes() <= limit:
        return g
    chosen: dict[int, None] = {}
    for root, _ in sorted(g.degree(), key=lambda nd: (-nd[1], nd[0])):
        if len(chosen) >= limit:
            break
        if root in chosen:
            continue
        for node in nx.bfs_tree(g, root):
            if len(chosen) >= limit:
                break
            chosen.setdefault(int(node), None)
    return g.subgraph(chosen).copy()


def _summary_line(ds: xr.Dataset, name: str, fmt: str) -> str:
    x = ds[name].values.astype(float)
    x = x[np.isfinite(x)]
    if not x.size:
        return "n/a"
    lo, hi = np.percentile(x, [5, 95])
    return f"{x.mean():{fmt}} (90%: {lo:{fmt}} to {hi:{fmt}})"


def network_figure(ds: xr.Dataset):  # type: ignore[no-untyped-def]
    """Left: the share of customers (ever acquired) by number of ties, mean over replications, with the
    replications' 5-95% range, and the network's mean degree, transitivity and share of ties within a
    segment.  With the ties kept: the network of the first detail replication around its best-connected
    customers (at most :data:`DRAWN`), coloured by segment; and the churn rate per period by neighbours
    lost before it, with 95% intervals."""
    plt = _plt()
    has_ties = "tie_first" in ds and ds.sizes.get("detail_replication", 0) > 0
    if has_ties:
        fig, axes = plt.subplots(1, 3, figsize=(15.5, 5.4), layout="constrained", width_ratios=(1.05, 1.15, 1))
    else:
        fig, ax = plt.subplots(figsize=(6.5, 4.6), layout="constrained")
        axes = [ax]
    counts = ds["network_degree_count"].values.astype(float)  # replication x degree
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)
    mean = np.nanmean(shares, axis=0) if np.isfinite(shares).any() else np.zeros(counts.shape[1])
    cap = counts.shape[1] - 1
    top = int(np.flatnonzero(mean > 0).max()) if (mean > 0).any() else 1
    k = np.arange(top + 1)
    ax = axes[0]
    ax.bar(k, mean[: top + 1], color=PALETTE[0], alpha=0.85, width=0.8, label="mean over replications")
    if shares.shape[0] > 1:
        lo, hi = np.nanpercentile(shares[:, : top + 1], [5, 95], axis=0)
        ax.errorbar(k, mean[: top + 1], yerr=[mean[: top + 1] - lo, hi - mean[: top + 1]], fmt="none",
                    ecolor="black", elinewidth=0.8, capsize=2, label="5-95% of replications")  # fmt: skip
    if top == cap:
        ax.annotate(f"{cap}+", (cap, mean[cap]), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xlabel("ties to other customers (degree)")
    ax.set_ylabel("share of customers")
    ax.set_title("Degree distribution", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.text(
        0.98, 0.72,
        "mean degree " + _summary_line(ds, "network_mean_degree", ".2f")
        + "\ntransitivity " + _summary_line(ds, "network_transitivity", ".3f")
        + "\nties within segment " + _summary_line(ds, "network_within_segment", ".2f"),
        transform=ax.transAxes, ha="right", va="top", fontsize=8,
    )  # fmt: skip
    if has_ties:
        _draw_network(ds, axes[1])
        _draw_churn(ds, axes[2])
    suptitle(
        fig,
        f"{ds.attrs.get('scenario_name', '')}: the network among the customers ever acquired, "
        f"{ds.sizes.get('replication', 0)} replications",
    )
    return fig


def _draw_network(ds: xr.Dataset, ax) -> None:  # type: ignore[no-untyped-def]
    first, second = ties_of(ds, 0)
    g = _neighbourhood(first, second, DRAWN)
    customers = int((ds["acquired_period"].values[0] >= 0).sum())
    ax.set_axis_off()
    if g.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no ties among the customers", ha="center", va="center", transform=ax.transAxes)
        return
    pos = nx.spring_layout(g, seed=1, k=1.6 / np.sqrt(g.number_of_nodes()))
    nodes = np.array(list(g.nodes()), dtype=np.int64)
    segment = ds["segment"].values[0][nodes].astype(np.int64)
    names = [str(s).replace("_", " ") for s in ds["segment_name"].values] if "segment_name" in ds.coords else []
    nx.draw_networkx_edges(g, pos, ax=ax, width=0.5, alpha=0.35, edge_color="#555555")
    for s in np.unique(segment):
        on = nodes[segment == s]
        label = names[s] if s < len(names) else f"segment {s}"
        nx.draw_networkx_nodes(
            g, pos, nodelist=on.tolist(), ax=ax, node_size=14, node_color=PALETTE[s % len(PALETTE)], label=label
        )
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncols=min(4, len(names)))
    shown = "all" if g.number_of_nodes() >= customers else f"{g.number_of_nodes()} of {customers:,}"
    ax.set_title(
        f"Replication 0: {shown} customers, breadth-first from the best connected\n"
        f"({g.number_of_edges():,} of {first.size:,} ties; spring layout)",
        fontsize=10,
    )


def _draw_churn(ds: xr.Dataset, ax) -> None:  # type: ignore[no-untyped-def]
    multiplier = _contagion_multiplier(ds)
    for i, (window, label) in enumerate([(1, "in the period before"), (None, "in any earlier period")]):
        table = churn_by_lost_neighbours(ds, window=window)
        rate = table.rate
        lo, hi = table.interval()
        n = np.arange(rate.size)
        ok = table.at_risk >= MIN_AT_RISK
        shift = 0.08 * (i - 0.5)
        ax.errorbar(n[ok] + shift, 100 * rate[ok], yerr=100 * np.stack([rate[ok] - lo[ok], hi[ok] - rate[ok]]),
                    fmt="o-", color=PALETTE[3 - 3 * i], capsize=3, lw=1.2, ms=4,
                    label=f"neighbours lost {label}")  # fmt: skip
        if window == 1 and multiplier is not None and ok[0]:
            ref = 100 * rate[0] * multiplier ** n[ok].astype(float)
            ax.plot(n[ok], ref, color=PALETTE[3], ls=":", lw=1,
                    label=f"rate at 0 x contagion.multiplier^n ({multiplier:g})")  # fmt: skip
    ax.set_xticks(n, [str(i) for i in n[:-1]] + [f"{n[-1]}+"])
    ax.set_xlim(-0.4, n[-1] + 0.6)
    top = ax.get_ylim()[1]
    ax.set_ylim(0, top)
    censored = "" if "active_at_horizon" in ds else " (the horizon's last period left out)"
    ax.set_xlabel("neighbours lost" + censored)
    ax.set_ylabel("relationships lost per period (%)")
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    ax.set_title(
        f"Churn by neighbours lost, {ds.sizes['detail_replication']} detail replications\n"
        f"(95% Wilson intervals; groups with {MIN_AT_RISK}+ periods at risk)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)


def _contagion_multiplier(ds: xr.Dataset) -> float | None:
    """The run's ``contagion.multiplier`` from its scenario (None when the result does not say)."""
    try:
        value = tomllib.loads(str(ds.attrs.get("scenario_toml", ""))).get("contagion", {}).get("multiplier")
    except tomllib.TOMLDecodeError:
        return None
    return float(value) if isinstance(value, int | float) else None
