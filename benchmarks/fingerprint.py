"""Fingerprints of every output of a fixed set of scenario variants, to show a change moves no number.

``python benchmarks/fingerprint.py --write FILE`` runs each variant (small versions of the
shipped scenarios under every built-in policy, with each source of heterogeneity off, every
network generator, alignment and portfolio tracking, capacity limits...) through the public
``valuecapture.simulate`` and stores a SHA-256 of every output array; ``--check FILE`` runs them
again and lists every output whose bits differ.  A refactoring that must not change results
is checked with ``--check`` against a file written before it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import valuecapture as vc

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SMALL = {"customers.count": 120, "horizon.periods": 12, "outputs.relationship_detail": 3}

#: name -> (scenario file, values set on top of SMALL)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "classroom": ("classroom.toml", {}),
    "classroom_no_customer": ("classroom.toml", {"heterogeneity.customer": False}),
    "classroom_no_relationship": ("classroom.toml", {"heterogeneity.relationship": False}),
    "classroom_no_interdependence": ("classroom.toml", {"heterogeneity.interdependence": False}),
    "classroom_random_network": ("classroom.toml", {"network.generator": "random"}),
    "classroom_small_world": ("classroom.toml", {"network.generator": "small_world"}),
    "classroom_barabasi": ("classroom.toml", {"network.generator": "barabasi_albert"}),
    "classroom_no_terminal": ("classroom.toml", {"economics.terminal_value": "none"}),
    "baseline_single": ("baseline.toml", {}),
    "baseline_tiered": (
        "baseline.toml",
        {"choices.policy": "tiered", "capabilities.account_managers": 2, "capabilities.accounts_per_manager": 5},
    ),
    "baseline_matrix": ("baseline.toml", {"choices.policy": "matrix"}),
    "baseline_adaptive": ("baseline.toml", {"choices.policy": "adaptive", "capabilities.review_interval": 2}),
    "baseline_harvest": ("baseline.toml", {"choices.policy": "harvest"}),
    "business_models_portfolio": ("classroom/business_models.toml", {"choices.policy": "portfolio"}),
    "alignment_tiered": ("alignment.toml", {}),
    "alignment_portfolio_internal": ("alignment.toml", {"choices.policy": "portfolio", "alignment.internal": True}),
    "alignment_classroom": ("classroom/alignment.toml", {}),
}


def fingerprints(replications: int = 6, seed: int = 11) -> dict[str, dict[str, str]]:
    """``{variant: {output: sha256 of its bytes, dtype and shape}}``."""
    out: dict[str, dict[str, str]] = {}
    for name, (path, values) in VARIANTS.items():
        sc = vc.load_scenario(SCENARIOS / path).with_values({**SMALL, **values})
        ds = vc.simulate(sc, replications, seed, batch_size=4)
        rows: dict[str, str] = {}
        for var in sorted(ds.variables):
            arr = np.asarray(ds[var].values)
            if arr.dtype == object:
                data = json.dumps([str(x) for x in arr.ravel()]).encode()
            else:
                data = np.ascontiguousarray(arr).tobytes()
            rows[str(var)] = hashlib.sha256(data + f"{arr.dtype.str}{arr.shape}".encode()).hexdigest()
        out[name] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", metavar="FILE", help="write the fingerprints to FILE (JSON)")
    group.add_argument("--check", metavar="FILE", help="compare with the fingerprints in FILE")
    args = ap.parse_args(argv)
    now = fingerprints()
    n = sum(len(v) for v in now.values())
    if args.write:
        Path(args.write).write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {n} fingerprints of {len(now)} variants to {args.write}")
        return 0
    before = json.loads(Path(args.check).read_text(encoding="utf-8"))
    diffs = []
    for variant in sorted(set(before) | set(now)):
        a, b = before.get(variant, {}), now.get(variant, {})
        for var in sorted(set(a) | set(b)):
            if a.get(var) != b.get(var):
                diffs.append(
                    f"{variant}: {var}: " + ("missing now" if var not in b else "new" if var not in a else "differs")
                )
    if diffs:
        print("\n".join(diffs))
        print(f"{len(diffs)} of {n} outputs differ", file=sys.stderr)
        return 1
    print(f"identical: all {n} outputs of {len(now)} variants")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
