"""Speed and memory benchmark of the vectorized engine (see benchmarks/README.md).

    .venv/bin/python benchmarks/run.py            # full run, about 8 minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick    # smoke run, about a minute

Measured in one run, on one machine:

1. **Throughput and ratios** on the comparison workload (``workloads.comparison``:
   the baseline firm reduced to the core model that the baselines implement),
   customer-periods per second of wall time in one process:
   the engine (``valuecapture.simulate``, 1 worker), the per-customer Python loop and
   the simpy-process-per-customer baseline (``baselines.py``), and the random-number
   floor (``rngfloor.py``: drawing just the numbers the engine's replications needed).
2. **Headline**: ``scenarios/baseline.toml`` with 10,000 customers, 40 periods,
   1,000 replications, 2 workers: wall time and peak memory of the process tree.
3. **Scaling**: wall time and peak memory against customers, periods and
   replications (2 workers), with linear fits.

Results go to ``benchmarks/results/benchmark.{json,md,png}``
(``--quick``: ``benchmark-quick.*``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import measure  # noqa: E402
from workloads import HEADLINE  # noqa: E402

TARGETS = {  # issue 19
    "vs_simpy_min": 200.0,
    "vs_floor_max": 2.0,
    "headline_wall_s_max": 10.0,
    "headline_peak_memory_mb_max": 500.0,
}

FULL = {
    "ratio": {
        "customers": 10_000,
        "periods": 40,
        "engine_replications": 64,
        "baseline_replications": 4,
        "repeat": 4,
        "baseline_repeat": 2,
    },
    "headline": dict(HEADLINE),
    "scaling": {
        "customers": [2_500, 5_000, 10_000, 20_000],
        "periods": [10, 20, 40, 80],
        "replications": [125, 250, 500, 1_000],
        "base": {"customers": 10_000, "periods": 40, "replications": 256},
    },
}
QUICK = {
    "ratio": {
        "customers": 2_000,
        "periods": 20,
        "engine_replications": 32,
        "baseline_replications": 1,
        "repeat": 2,
        "baseline_repeat": 1,
    },
    "headline": {"customers": 2_000, "periods": 20, "replications": 100, "workers": 2},
    "scaling": {
        "customers": [500, 1_000, 2_000],
        "periods": [10, 20, 40],
        "replications": [25, 50, 100],
        "base": {"customers": 2_000, "periods": 20, "replications": 16},
    },
}


# ---- children: one measurement each, in a fresh interpreter ------------------------------------


def child_engine(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import workloads

    import valuecapture as vc
    from valuecapture.model.params import ModelParams
    from valuecapture.run.simulate import default_batch_size

    make = workloads.comparison if spec["scenario"] == "comparison" else workloads.headline
    sc = make(spec["customers"], spec["periods"])
    p = ModelParams.from_scenario(sc)
    reps, workers = spec["replications"], spec["workers"]
    if workers == 1:
        # Load the compiled sub-models (numba's cache; compiles them if there is none)
        # before timing, as imports are not timed. With a worker pool, each worker's
        # start-up, loading included, is part of the measured wall time.
        vc.simulate(make(50, 2), 1, 0, workers=1)
    sampler = measure.TreeMemorySampler()
    sampler.start()
    # best of ``repeat`` runs, as the floor takes the best of its repeats
    sw, ds, cpu_runs = measure.best_of(
        spec.get("repeat", 1), lambda: vc.simulate(sc, reps, spec["seed"], workers=workers)
    )
    sampler.stop()
    fv = ds["firm_value"].values
    active = float((ds["customers_active"] + ds["churned"]).sum())
    out = {
        "spec": spec,
        "slots": p.n_slots,
        "batch_size": default_batch_size(p.n_slots, reps, workers),
        "wall_s": sw.wall,
        "cpu_s": sw.cpu + sw.cpu_children,
        "cpu_s_workers": sw.cpu_children,
        "cpu_s_runs": cpu_runs,
        "active_customer_periods": active,
        "filled_slot_periods": float((p.n_initial + np.cumsum(ds["acquired"].values, axis=1)).sum()),
        "throughput": active / sw.wall,
        "throughput_cpu": active / (sw.cpu + sw.cpu_children),
        "firm_value_mean": float(fv.mean()),
        "firm_value_se": float(fv.std(ddof=1) / math.sqrt(fv.size)) if fv.size > 1 else None,
        "memory": {
            "peak_rss_tree_mb": sampler.peak_rss / 1e6 if sampler.available else None,
            "peak_pss_tree_mb": sampler.peak_pss / 1e6 if sampler.available else None,
            "processes": sampler.peak_processes,
            "samples": sampler.samples,
            **measure.rusage_mb(),
        },
    }
    if spec.get("counts"):
        import rngfloor

        out["floor_counts"] = {v: rngfloor.counts_from_dataset(ds, p, v) for v in ("minimal", "keyed")}
    return out


def child_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    import baselines
    import workloads

    from valuecapture.model.params import ModelParams

    sc = workloads.comparison(spec["customers"], spec["periods"])
    workloads.check_neutral(sc)
    p = ModelParams.from_scenario(sc)
    run = {"loop": baselines.run_loop, "simpy": baselines.run_simpy}[spec["kind"]]
    sw, res, cpu_runs = measure.best_of(
        spec.get("repeat", 1), lambda: [run(sc, spec["seed"], r, p) for r in range(spec["replications"])]
    )
    active = float(sum(r.active_customer_periods for r in res))
    return {
        "spec": spec,
        "wall_s": sw.wall,
        "cpu_s": sw.cpu,
        "cpu_s_runs": cpu_runs,
        "active_customer_periods": active,
        "throughput": active / sw.wall,
        "throughput_cpu": active / sw.cpu,
        "firm_value_mean": sum(r.firm_value for r in res) / len(res),
        "note": "each replication's time includes its set-up (customers and network by the package's generators)",
    }


def child_floor(spec: dict[str, Any]) -> dict[str, Any]:
    import rngfloor

    return {
        variant: rngfloor.draw_time(counts, clock=spec.get("clock", "cpu"))
        for variant, counts in spec["counts"].items()
    }


CHILDREN = {"engine": child_engine, "baseline": child_baseline, "floor": child_floor}


# ---- the benchmark -------------------------------------------------------------------------------


def _say(msg: str) -> None:
    print(msg, flush=True)


def ratios(cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    c, t = cfg["customers"], cfg["periods"]
    _say(f"[ratios] comparison workload: {c:,} customers, {t} periods")
    # The engine and the floor alternate, run by run, so that both are timed in the same
    # stretches of the shared machine's load; each side's best run is compared.
    spec = {
        "scenario": "comparison",
        "customers": c,
        "periods": t,
        "replications": cfg["engine_replications"],
        "workers": 1,
        "seed": seed,
    }
    runs: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    for k in range(cfg["repeat"]):
        runs.append(measure.in_child("engine", dict(spec, counts=k == 0)))
        floors.append(measure.in_child("floor", {"counts": runs[0]["floor_counts"]}))
        _say(
            f"  pair {k + 1}: engine {runs[-1]['cpu_s']:.2f} s CPU, minimal floor "
            f"{floors[-1]['minimal']['total']:.2f} s CPU ({runs[-1]['cpu_s'] / floors[-1]['minimal']['total']:.2f}x)"
        )
    eng = dict(
        min(runs, key=lambda r: r["cpu_s"]), floor_counts=runs[0]["floor_counts"], cpu_s_runs=[r["cpu_s"] for r in runs]
    )
    eng["spec"] = dict(spec, repeat=cfg["repeat"])
    floor = {v: min((f[v] for f in floors), key=lambda d: d["total"]) for v in ("minimal", "keyed")}
    pair_ratios = [r["cpu_s"] / f["minimal"]["total"] for r, f in zip(runs, floors, strict=True)]
    _say(
        f"  engine, 1 worker, {cfg['engine_replications']} replications, best of {cfg['repeat']}: {eng['cpu_s']:.1f} "
        f"s CPU ({eng['wall_s']:.1f} s wall), {eng['throughput_cpu'] / 1e6:.2f} M customer-periods per CPU-second"
    )
    for v in ("minimal", "keyed"):
        _say(
            f"  random-number floor ({v}), best of {cfg['repeat']}: {floor[v]['total']:.2f} s CPU for the same "
            "replications"
        )
    base = {}
    for kind in ("loop", "simpy"):
        base[kind] = measure.in_child(
            "baseline",
            {
                "kind": kind,
                "customers": c,
                "periods": t,
                "replications": cfg["baseline_replications"],
                "seed": seed,
                "repeat": cfg["baseline_repeat"],
            },
        )
        _say(
            f"  {kind} baseline, {cfg['baseline_replications']} replication(s), best of {cfg['baseline_repeat']}: "
            f"{base[kind]['cpu_s']:.1f} s CPU ({base[kind]['wall_s']:.1f} s wall), "
            f"{base[kind]['throughput_cpu'] / 1e3:.1f} k customer-periods per CPU-second"
        )
    floor_tp = {v: eng["active_customer_periods"] / floor[v]["total"] for v in floor}
    # Ratios of CPU-time throughputs: every contender runs in one process, so CPU time
    # measures its work and is far less disturbed than wall time by other processes
    # sharing the machine (wall times are reported as well).
    return {
        "workload": {"scenario": "comparison", "customers": c, "periods": t, "seed": seed},
        "engine": eng,
        "loop": base["loop"],
        "simpy": base["simpy"],
        "floor": floor,
        "throughput": {
            "engine": eng["throughput_cpu"],
            "loop": base["loop"]["throughput_cpu"],
            "simpy": base["simpy"]["throughput_cpu"],
            "floor_minimal": floor_tp["minimal"],
            "floor_keyed": floor_tp["keyed"],
        },
        "ratio": {
            "engine_vs_loop": eng["throughput_cpu"] / base["loop"]["throughput_cpu"],
            "engine_vs_simpy": eng["throughput_cpu"] / base["simpy"]["throughput_cpu"],
            "engine_vs_floor_minimal": eng["cpu_s"] / floor["minimal"]["total"],
            "engine_vs_floor_keyed": eng["cpu_s"] / floor["keyed"]["total"],
            "engine_vs_floor_minimal_pairs": pair_ratios,
        },
    }


def headline_run(cfg: dict[str, Any], seed: int) -> dict[str, Any]:
    _say(
        f"[headline] scenarios/baseline.toml, {cfg['customers']:,} customers, {cfg['periods']} periods, "
        f"{cfg['replications']:,} replications, {cfg['workers']} workers"
    )
    res = measure.in_child(
        "engine",
        {
            "scenario": "headline",
            "customers": cfg["customers"],
            "periods": cfg["periods"],
            "replications": cfg["replications"],
            "workers": cfg["workers"],
            "seed": seed,
        },
    )
    _say(
        f"  {res['wall_s']:.1f} s, peak memory {res['memory']['peak_rss_tree_mb']:.0f} MB (RSS, process tree), "
        f"{res['memory']['peak_pss_tree_mb']:.0f} MB (PSS)"
    )
    return res


def _fit(xs: list[float], ys: list[float]) -> dict[str, float]:
    """Least-squares line y = a + b x and its R^2."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys)
    r2 = 1.0 - sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / ss if ss > 0 else 1.0
    return {"intercept": a, "slope": b, "r2": r2}


def scaling(cfg: dict[str, Any], seed: int, headline: dict[str, Any] | None) -> dict[str, Any]:
    base = cfg["base"]
    out: dict[str, Any] = {"base": base, "workers": 2, "series": {}}
    for dim in ("customers", "periods", "replications"):
        rows = []
        for x in cfg[dim]:
            spec = {
                "scenario": "headline",
                "customers": base["customers"],
                "periods": base["periods"],
                "replications": base["replications"],
                "workers": 2,
                "seed": seed,
            }
            spec[dim] = x
            same = headline is not None and all(
                headline["spec"][k] == spec[k] for k in ("customers", "periods", "replications", "workers")
            )
            res = headline if same else measure.in_child("engine", spec)
            rows.append(
                {
                    "x": x,
                    "wall_s": res["wall_s"],
                    "peak_rss_tree_mb": res["memory"]["peak_rss_tree_mb"],
                    "peak_pss_tree_mb": res["memory"]["peak_pss_tree_mb"],
                    "active_customer_periods": res["active_customer_periods"],
                    "slots": res["slots"],
                }
            )
            _say(
                f"[scaling] {dim} = {x:>6,}: {res['wall_s']:6.1f} s, peak memory "
                f"{res['memory']['peak_rss_tree_mb']:.0f} MB"
            )
        xs = [r["x"] for r in rows]
        fit = _fit(xs, [r["wall_s"] for r in rows])
        mem = [r["peak_rss_tree_mb"] for r in rows]
        out["series"][dim] = {
            "rows": rows,
            "time_fit": fit,
            "time_ratio_last_first": rows[-1]["wall_s"] / rows[0]["wall_s"],
            "x_ratio_last_first": xs[-1] / xs[0],
            "memory_ratio_last_first": mem[-1] / mem[0],
        }
    return out


def evaluate(res: dict[str, Any], headline_is_target: bool) -> dict[str, Any]:
    r = res["ratios"]["ratio"]
    t: dict[str, Any] = {
        "engine >= 200x the simpy baseline": {
            "measured": r["engine_vs_simpy"],
            "target": TARGETS["vs_simpy_min"],
            "met": r["engine_vs_simpy"] >= TARGETS["vs_simpy_min"],
        },
        "engine within 2x of the random-number floor (minimal)": {
            "measured": r["engine_vs_floor_minimal"],
            "target": TARGETS["vs_floor_max"],
            "met": r["engine_vs_floor_minimal"] <= TARGETS["vs_floor_max"],
        },
    }
    h = res["headline"]
    if headline_is_target:
        t["headline wall time at most 10 s"] = {
            "measured": h["wall_s"],
            "target": TARGETS["headline_wall_s_max"],
            "met": h["wall_s"] <= TARGETS["headline_wall_s_max"],
        }
        mem = h["memory"]["peak_rss_tree_mb"]
        t["headline peak memory at most 500 MB"] = {
            "measured": mem,
            "target": TARGETS["headline_peak_memory_mb_max"],
            "met": mem <= TARGETS["headline_peak_memory_mb_max"],
        }
    s = res.get("scaling")
    if s:
        for dim, ser in s["series"].items():
            t[f"time linear in {dim} (R^2 of a line >= 0.99)"] = {
                "measured": ser["time_fit"]["r2"],
                "target": 0.99,
                "met": ser["time_fit"]["r2"] >= 0.99,
            }
        mr = s["series"]["replications"]["memory_ratio_last_first"]
        t["peak memory independent of replications (last/first <= 1.15)"] = {
            "measured": mr,
            "target": 1.15,
            "met": mr <= 1.15,
        }
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark the vectorized engine (see benchmarks/README.md).")
    ap.add_argument("--quick", action="store_true", help="small workloads: a smoke run of every measurement")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--skip-scaling", action="store_true", help="leave out the scaling series")
    ap.add_argument("--out", default=None, help="results file stem (default benchmarks/results/benchmark[-quick])")
    ap.add_argument("--_child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        measure.report_child(CHILDREN[args._child[0]](json.loads(args._child[1])))
        return 0

    import report

    cfg = QUICK if args.quick else FULL
    mach = measure.machine()
    _say(
        f"machine: {mach['cpu']}, {mach['cpus_usable']} CPUs, {mach['memory_gb']} GB; Python {mach['python']}, numpy "
        f"{mach['numpy']}; valuecapture at {mach['git_commit']}"
    )
    res: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/run.py" + (" --quick" if args.quick else ""),
        "machine": mach,
        "targets": TARGETS,
    }
    res["ratios"] = ratios(cfg["ratio"], args.seed)
    res["headline"] = headline_run(cfg["headline"], args.seed)
    if not args.skip_scaling:
        res["scaling"] = scaling(cfg["scaling"], args.seed, res["headline"])
    headline_is_target = {k: cfg["headline"][k] for k in HEADLINE} == HEADLINE
    res["evaluation"] = evaluate(res, headline_is_target)
    if args.quick:  # small workloads: fixed costs (worker start-up, per-batch overhead) dominate
        for v in res["evaluation"].values():
            v["met"] = None
    res["machine"]["load_average_at_end"] = list(__import__("os").getloadavg())

    stem = Path(args.out) if args.out else HERE / "results" / ("benchmark-quick" if args.quick else "benchmark")
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    if "scaling" in res:
        report.plot(res, stem.with_suffix(".png"))
    stem.with_suffix(".md").write_text(
        report.markdown(res, stem.with_suffix(".png").name if "scaling" in res else None)
    )
    _say("")
    _say(stem.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
