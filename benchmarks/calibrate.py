"""How calibration scales with the data: 10,000 and 100,000 customers with a 10-year panel, in one run.

    .venv/bin/python benchmarks/calibrate.py                  # 10,000 and 100,000 customers
    .venv/bin/python benchmarks/calibrate.py --sizes 20000 200000 --repeat 2

Each size is drawn by ``valuecapture.data.synthetic.draw`` (the generator behind
examples/data/make_example.py), written as CSV to a temporary folder, and calibrated by
``valuecapture.data.calibrate.calibrate`` (reading, checking, every estimator and the 200
bootstrap resamples of the panel; no files written) in a fresh interpreter per size, so
peak memory is the size's own.  The report gives wall and CPU seconds, peak RSS, and the
ratios the design promises: time and memory per customer at the largest size over the
smallest (about 1: they grow with the data, no more), and the largest size's time against
the issue's target (100,000 customers in under a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TAG = "@@CALIBRATE@@"
TARGET_S = 60.0


def child(folder: str) -> dict[str, float]:
    """Calibrate the files in ``folder`` in this process (nothing for ``-``: the interpreter with
    the package imported, the memory baseline); wall, CPU and peak RSS."""
    from valuecapture.data.calibrate import calibrate

    if folder == "-":
        return {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    d = Path(folder)
    t0, c0 = time.perf_counter(), time.process_time()
    calibrate(d / "customers.csv", panel=d / "revenue.csv", write=False)
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(folder: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--_child", folder], cwd=ROOT, capture_output=True, text=True, check=True
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith(TAG))
    return dict(json.loads(line[len(TAG) :]))


def measure(n: int, repeat: int) -> dict[str, float]:
    from valuecapture.data.synthetic import Truth, draw

    with tempfile.TemporaryDirectory() as tmp:
        table, panel = draw(Truth(customers=n, years=10), seed=1)
        table.to_csv(Path(tmp) / "customers.csv", index=False)
        assert panel is not None
        panel.to_csv(Path(tmp) / "revenue.csv", index=False)
        rows = len(panel)
        runs = [run_child(tmp) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["cpu_s"])
    return {"customers": n, "panel_rows": rows, **best}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the one with least CPU time counts")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        print(TAG + json.dumps(child(args._child)), flush=True)
        return 0
    base_mb = run_child("-")["peak_rss_mb"]
    results = [measure(n, args.repeat) for n in sorted(args.sizes)]
    print(f"{'customers':>10s}{'panel rows':>12s}{'wall s':>9s}{'CPU s':>8s}{'peak MB':>9s}{'us/customer':>13s}")
    for r in results:
        per = r["cpu_s"] / r["customers"] * 1e6
        print(
            f"{r['customers']:>10,d}{r['panel_rows']:>12,d}{r['wall_s']:>9.1f}{r['cpu_s']:>8.1f}"
            f"{r['peak_rss_mb']:>9.0f}{per:>13.1f}"
        )
    small, large = results[0], results[-1]
    k = large["customers"] / small["customers"]
    print(
        f"\nper customer, {large['customers']:,} over {small['customers']:,}: CPU time x"
        f"{large['cpu_s'] / small['cpu_s'] / k:.2f}, peak memory above the interpreter's {base_mb:.0f} MB x"
        f"{(large['peak_rss_mb'] - base_mb) / max(small['peak_rss_mb'] - base_mb, 1) / k:.2f}"
    )
    share = large["wall_s"] / TARGET_S
    print(f"{large['customers']:,} customers: {large['wall_s']:.1f} s wall, {share:.2f} of the 60 s target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
