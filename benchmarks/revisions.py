"""Compare the speed of the working tree's engine with another git revision's, in one process.

    .venv/bin/python benchmarks/revisions.py HEAD            # or a tag, a branch, a commit
    .venv/bin/python benchmarks/revisions.py HEAD~3 --rounds 12 --customers 5000

On a shared machine the same computation moves by 15-20% from one minute to the next,
so two runs made one after the other cannot tell a 10% change from noise.  This tool
puts both versions in one process: the other revision's ``src/valuecapture`` is
extracted (``git archive``) into a temporary folder as the package ``vc_ref`` (the
package imports itself only relatively, so it runs under another name), and both
run the same batches of the comparison workload (``workloads.comparison``) in
alternating order: round ``r`` runs this tree first when ``r`` is even and the other
revision first when it is odd.  Order matters: when one version always ran first it
was 10-15% faster than the same code run second.  Each version's time is the best
of its rounds (CPU time of ``run_batch``: set-up, engine and outputs), and
the tool reports whether the two versions' outputs were bit-identical.

Resolution: two identical trees measured 44.3 and 46.1 ms per replication in
alternating order (8 rounds), so differences under about 5% are not resolved.
Both versions compile their kernels on the first batch (not timed); the other
revision's numba cache lives in the temporary folder and goes with it.
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

import workloads  # noqa: E402

REF = "vc_ref"


def extract(revision: str, into: Path) -> str:
    """Write ``revision``'s ``src/valuecapture`` to ``into/vc_ref``; returns the full commit."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"], capture_output=True, text=True
        )
    except FileNotFoundError:
        raise SystemExit("revisions.py: needs git, which is not installed") from None
    if commit.returncode != 0:
        raise SystemExit(f"revisions.py: {revision!r} is not a commit of {ROOT} ({commit.stderr.strip()})")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit.stdout.strip(), "src/valuecapture"],
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))  # our own files
    (into / "src" / "valuecapture").rename(into / REF)
    for f in (into / REF).rglob("*.py"):  # absolute imports of the package name the copy, not the working tree
        text = f.read_text(encoding="utf-8")
        fixed = re.sub(r"\b(from|import) valuecapture(?=[ .])", rf"\1 {REF}", text)
        if fixed != text:
            f.write_text(fixed, encoding="utf-8")
    return commit.stdout.strip()


def batch_runner(
    package: str, customers: int, periods: int
) -> Callable[[int, int], tuple[float, dict[str, np.ndarray]]]:
    """``f(start, stop)``: CPU seconds and outputs of ``package``'s ``run_batch`` on the
    comparison workload (scenario loaded by that package)."""
    vc = importlib.import_module(package)
    runner = None
    for where in ("run.batch", "run.simulate", "runner"):  # run_batch's module across revisions of the package layout
        try:
            module = importlib.import_module(f"{package}.{where}")
        except ModuleNotFoundError:
            continue
        if hasattr(module, "run_batch"):
            runner = module
            break
    assert runner is not None, f"no run_batch in {package}"
    base = vc.load_scenario(workloads.BASELINE).with_values(
        {"customers.count": customers, "horizon.periods": periods, "outputs.relationship_detail": 0}
    )
    scenario = workloads.comparison(base=base)

    def run(start: int, stop: int) -> tuple[float, dict[str, np.ndarray]]:
        t = time.process_time()
        out = runner.run_batch(scenario, 1, start, stop)
        return time.process_time() - t, out

    return run


def different(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    """Names of the outputs that differ (in presence, shape or any bit; NaN equals NaN)."""
    names = sorted(set(a) | set(b))
    return [
        n
        for n in names
        if n not in a
        or n not in b
        or a[n].shape != b[n].shape
        or not np.array_equal(a[n], b[n], equal_nan=a[n].dtype.kind == "f")
    ]


def compare(
    revision: str, rounds: int = 8, customers: int = 10_000, periods: int = 40, batch: int = 8
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vc-revision-") as tmp:
        commit = extract(revision, Path(tmp))
        sys.path.insert(0, tmp)
        try:
            runs = {
                "working tree": batch_runner("valuecapture", customers, periods),
                revision: batch_runner(REF, customers, periods),
            }
            for run in runs.values():  # compile (or load) the kernels
                run(0, 1)
            best = dict.fromkeys(runs, float("inf"))
            diffs: set[str] = set()
            for r in range(rounds):
                start = batch * (r // 2)  # both versions run the same replications in a round pair
                order = list(runs) if r % 2 == 0 else list(runs)[::-1]
                outputs = []
                for name in order:
                    seconds, out = runs[name](start, start + batch)
                    best[name] = min(best[name], seconds)
                    outputs.append(out)
                diffs.update(different(*outputs))
        finally:
            sys.path.remove(tmp)
            for mod in [m for m in sys.modules if m == REF or m.startswith(REF + ".")]:
                del sys.modules[mod]
    ms = {name: 1000.0 * s / batch for name, s in best.items()}
    return {
        "revision": revision,
        "commit": commit,
        "ms_per_replication": ms,
        "ratio": ms["working tree"] / ms[revision],
        "identical": not diffs,
        "different": sorted(diffs),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("revision", help="git revision to compare with (HEAD, a tag, a branch, a commit)")
    ap.add_argument("--rounds", type=int, default=8, help="rounds; each version runs one batch per round (default 8)")
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--periods", type=int, default=40)
    ap.add_argument("--batch", type=int, default=8, help="replications per batch (default 8)")
    a = ap.parse_args(argv)
    if min(a.rounds, a.customers, a.periods, a.batch) < 1:
        ap.error("--rounds, --customers, --periods and --batch must be at least 1")
    res = compare(a.revision, a.rounds, a.customers, a.periods, a.batch)
    print(
        f"comparison workload, {a.customers:,} customers, {a.periods} periods, batches of {a.batch}, best of "
        f"{a.rounds} rounds (alternating order)"
    )
    for name, v in res["ms_per_replication"].items():
        print(f"  {name:>14s}: {v:8.2f} ms per replication (CPU)")
    print(
        f"  working tree / {a.revision}: {res['ratio']:.3f}  (differences under about 5% are noise on a shared machine)"
    )
    print("  outputs bit-identical" if res["identical"] else f"  outputs DIFFER: {', '.join(res['different'])}")


if __name__ == "__main__":
    main()
