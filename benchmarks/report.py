"""Markdown summary and scaling figure of a benchmark result (see run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _floor_kind(floor: dict[str, Any], kind: str) -> str:
    """``normal 0.31 (compiled; numpy 0.55)``: the time counted, its method and the other's."""
    how = floor.get("how", {}).get(kind)
    if how is None:  # a result file from before the floor compared methods
        return f"{kind} {floor[kind]:.2f}"
    other = next(m for m in floor["by_method"] if m != how)
    return f"{kind} {floor[kind]:.2f} ({how}; {other} {floor['by_method'][other][kind]:.2f})"


def _rate(x: float) -> str:
    return f"{x / 1e6:,.2f} M/s" if x >= 1e6 else f"{x / 1e3:,.1f} k/s"


def markdown(res: dict[str, Any], figure: str | None) -> str:
    m = res["machine"]
    caches = ", ".join(f"{k} {v}" for k, v in sorted(m.get("caches_per_core", {}).items()))
    r = res["ratios"]
    w = r["workload"]
    e, lo, sp, fl = r["engine"], r["loop"], r["simpy"], r["floor"]
    tp, ra = r["throughput"], r["ratio"]
    h = res["headline"]
    hs = h["spec"]
    hm = h["memory"]
    out = [
        f"# Engine benchmark ({res['mode']})",
        "",
        f"Generated {res['generated']} by `{res['command']}`.",
        "",
        f"**Machine**: {m['cpu']} ({caches}), {m['cpus_usable']} usable CPUs, {m['memory_gb']} GB RAM; "
        f"{m['platform']}; Python {m['python']}, numpy {m['numpy']}, scipy {m['scipy']}, simpy {m['simpy']}, numba "
        f"{m.get('numba', '-')}; valuecapture {m['valuecapture']} at {m['git_commit']}. Load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}, at end "
        f"{', '.join(f'{x:.1f}' for x in m.get('load_average_at_end', []))} (the machine was shared: timings include "
        "interference from other processes).",
        "",
        "## Throughput and ratios (same run, one process each)",
        "",
        "Comparison workload (`workloads.comparison`: `scenarios/baseline.toml` reduced to the core model the "
        f"baselines implement), {w['customers']:,} customers, {w['periods']} periods, seed {w['seed']}. Throughput = "
        "customer-periods (a customer active in a period) per CPU-second of the one process that computes them; the "
        "ratios are ratios of these throughputs (CPU time, because the machine is shared; wall times are listed "
        "too). Every contender is timed as the best of repeated runs, so that the machine's noise does not favour "
        "one side; the engine's runs and the floor's alternate (each floor run: best of 3 per kind of number), so "
        "both are timed in the same stretches of the machine's load.",
        "",
        (
            "| implementation | replications | CPU (s) | wall (s) | customer-periods | throughput (per CPU-s) | "
            "engine is |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
        (
            f"| engine (`valuecapture.simulate`, 1 worker, batch {e['batch_size']}; best of "
            f"{e['spec'].get('repeat', 1)} runs) | {e['spec']['replications']} | {e['cpu_s']:.2f} | {e['wall_s']:.2f} "
            f"| {e['active_customer_periods']:,.0f} | {_rate(tp['engine'])} | |"
        ),
        (
            f"| per-customer Python loop (best of {lo['spec'].get('repeat', 1)} runs) | {lo['spec']['replications']} "
            f"| {lo['cpu_s']:.2f} | {lo['wall_s']:.2f} | {lo['active_customer_periods']:,.0f} | {_rate(tp['loop'])} | "
            f"**{ra['engine_vs_loop']:.0f}x faster** |"
        ),
        (
            f"| one simpy process per customer (best of {sp['spec'].get('repeat', 1)} runs) | "
            f"{sp['spec']['replications']} | {sp['cpu_s']:.2f} | {sp['wall_s']:.2f} | "
            f"{sp['active_customer_periods']:,.0f} | {_rate(tp['simpy'])} | **{ra['engine_vs_simpy']:.0f}x faster** |"
        ),
        (
            f"| random-number floor, minimal (the numbers the model needs) | {e['spec']['replications']} | "
            f"{fl['minimal']['total']:.2f} | | {e['active_customer_periods']:,.0f} | {_rate(tp['floor_minimal'])} | "
            f"**{ra['engine_vs_floor_minimal']:.2f}x slower** |"
        ),
        (
            "| random-number floor, keyed (the numbers the engine's keyed streams draw) | "
            f"{e['spec']['replications']} | {fl['keyed']['total']:.2f} | | {e['active_customer_periods']:,.0f} | "
            f"{_rate(tp['floor_keyed'])} | {ra['engine_vs_floor_keyed']:.2f}x slower |"
        ),
        "",
        (
            f"Mean firm value (replications of each): engine {e['firm_value_mean']:,.0f} (s.e. "
            f"{e['firm_value_se']:,.0f}), loop {lo['firm_value_mean']:,.0f}, simpy {sp['firm_value_mean']:,.0f}."
        ),
        "",
        "Engine against the minimal floor, run by run (each engine run against the floor run right after it): "
        + ", ".join(f"{x:.2f}x" for x in ra.get("engine_vs_floor_minimal_pairs", []))
        + f"; engine CPU per run (s): {', '.join(f'{x:.2f}' for x in e.get('cpu_s_runs', []))}.",
        "",
        "Floor by kind of number (s; each kind by the faster of numpy's bulk method and a compiled loop over the same "
        "Generator, which draw the same numbers): "
        + "; ".join(
            f"{v}: " + ", ".join(_floor_kind(fl[v], k) for k in ("normal", "uniform", "beta", "gamma", "integers"))
            for v in ("minimal", "keyed")
        )
        + ".",
        "",
        "## Headline workload",
        "",
        f"`scenarios/baseline.toml`, {hs['customers']:,} customers ({h['slots']:,} customer slots with acquisition "
        f"headroom), {hs['periods']} periods, {hs['replications']:,} replications, {hs['workers']} workers (batch "
        f"size {h['batch_size']}):",
        "",
        f"- wall time **{h['wall_s']:.1f} s** ({h['active_customer_periods'] / h['wall_s'] / 1e6:.2f} M "
        f"customer-periods/s, {hs['replications'] / h['wall_s']:.1f} replications/s); CPU time {h['cpu_s']:.1f} s "
        f"(workers {h['cpu_s_workers']:.1f} s), {h['active_customer_periods'] / h['cpu_s'] / 1e6:.2f} M "
        "customer-periods per CPU-second",
        f"- peak memory of the process tree (parent + workers, sampled every 0.1 s): **{hm['peak_rss_tree_mb']:.0f} "
        f"MB RSS**, {hm['peak_pss_tree_mb']:.0f} MB PSS (getrusage: parent {hm['self_max_rss_mb']:.0f} MB, largest "
        f"worker {hm['largest_child_max_rss_mb']:.0f} MB)",
        f"- mean firm value {h['firm_value_mean']:,.0f} (MC s.e. {h['firm_value_se']:,.0f})",
        "",
    ]
    s = res.get("scaling")
    if s:
        b = s["base"]
        out += [
            "## Scaling (2 workers)",
            "",
            (
                f"One dimension varied at a time from {b['customers']:,} customers, {b['periods']} periods, "
                f"{b['replications']} replications (`scenarios/baseline.toml`)."
            ),
            "",
            (
                "| varied | values | wall time (s) | time ratio last/first (size ratio) | line fit R^2 | peak memory, "
                "RSS (MB) |"
            ),
            "|---|---|---|---:|---:|---|",
        ]
        for dim, ser in s["series"].items():
            rows = ser["rows"]
            values = ", ".join(f"{r['x']:,}" for r in rows)
            walls = ", ".join(f"{r['wall_s']:.1f}" for r in rows)
            mems = ", ".join(f"{r['peak_rss_tree_mb']:.0f}" for r in rows)
            out.append(
                f"| {dim} | {values} | {walls} | {ser['time_ratio_last_first']:.2f} ({ser['x_ratio_last_first']:.0f}) "
                f"| {ser['time_fit']['r2']:.4f} | {mems} |"
            )
        out.append("")
        if figure:
            out += [f"![scaling]({figure})", ""]
    out += ["## Targets", ""]
    if res["mode"] == "quick":
        out += [
            (
                "Not evaluated in a quick run: its workloads are small, so fixed costs (worker start-up, per-batch "
                "overhead) dominate; the targets refer to the full run."
            ),
            "",
        ]
    out += ["| target | measured | met |", "|---|---:|:---:|"]
    for name, v in res["evaluation"].items():
        met = "n/a" if v["met"] is None else "yes" if v["met"] else "**no**"
        out.append(f"| {name} | {v['measured']:.3g} | {met} |")
    out.append("")
    return "\n".join(out)


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = res["scaling"]
    labels = {"customers": "customers (initial)", "periods": "periods (quarters)", "replications": "replications"}
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.8), layout="constrained")
    for ax, (dim, ser) in zip(axes, s["series"].items(), strict=True):
        xs = [r["x"] for r in ser["rows"]]
        ts = [r["wall_s"] for r in ser["rows"]]
        fit = ser["time_fit"]
        ax.plot(xs, ts, "o-", color="C0", lw=2, label="wall time")
        xx = [0, max(xs) * 1.05]
        ax.plot(
            xx,
            [fit["intercept"] + fit["slope"] * x for x in xx],
            ":",
            color="C0",
            lw=1,
            label=f"line fit, R² {fit['r2']:.3f}",
        )
        ax.set_xlim(0, max(xs) * 1.05)
        ax.set_ylim(0, max(ts) * 1.15)
        ax.set_xlabel(labels[dim])
        ax.set_ylabel("wall time (s)", color="C0")
        ax.tick_params(axis="y", colors="C0")
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        mem = [r["peak_rss_tree_mb"] for r in ser["rows"]]
        ax2.plot(xs, mem, "s--", color="C3", lw=1.5, label="peak memory (RSS, all processes)")
        ax2.set_ylim(0, max(1100.0, max(mem) * 1.15))
        ax2.axhline(1000, color="C3", lw=0.8, alpha=0.4)
        ax2.set_ylabel("peak memory (MB)", color="C3")
        ax2.tick_params(axis="y", colors="C3")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1[1:], [f"time: {l1[1]}"], loc="lower right", fontsize=8, framealpha=0.9)
        fixed = {k: v for k, v in s["base"].items() if k != dim}
        ax.set_title(f"vs {dim}  ({', '.join(f'{v:,} {k}' for k, v in fixed.items())})", fontsize=10)
    fig.legend(
        h1[:1] + h2,
        ["wall time (left axis)", "peak memory, RSS of parent + workers (right axis); faint line: 1 GB"],
        loc="outside lower center",
        ncol=2,
        fontsize=9,
        frameon=False,
    )
    m = res["machine"]
    fig.suptitle(
        f"valuecapture engine scaling, scenarios/baseline.toml, 2 workers; {m['cpu']}, {m['cpus_usable']} CPUs",
        fontsize=11,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)
