"""The benchmark's per-customer baselines compute the same model as the engine.

benchmarks/run.py reports the engine's speed relative to a per-customer Python loop
and to one simpy process per customer; those ratios only mean something if the
baselines implement the same model.  Correctness only, no timing.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

import valuecapture as vc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import baselines  # noqa: E402
import rngfloor  # noqa: E402
import workloads  # noqa: E402


@pytest.fixture(scope="module")
def small() -> vc.Scenario:
    sc = workloads.comparison(150, 8)
    workloads.check_neutral(sc)
    return sc


def test_loop_baseline_reproduces_the_engines_mean_firm_value(small: vc.Scenario) -> None:
    """Fixed seed, 60 replications of the comparison scenario (150 customers, 8 quarters).
    Replication r of both starts from the same customers and network; the per-period draws
    differ, so the two firm values of a replication differ by Monte Carlo noise only.  The
    mean paired difference must lie within 4 standard errors of zero (its MC standard error
    is estimated from the 60 paired differences); the same for the number of customers won
    and lost."""
    reps, seed = 60, 7
    ds = vc.simulate(small, reps, seed)
    res = [baselines.run_loop(small, seed, r) for r in range(reps)]
    for engine, base in (
        (ds["firm_value"].values, np.array([r.firm_value for r in res])),
        (ds["acquired"].values.sum(axis=1), np.array([sum(r.acquired) for r in res])),
        (ds["churned"].values.sum(axis=1), np.array([sum(r.churned) for r in res])),
    ):
        d = engine - base
        se = d.std(ddof=1) / math.sqrt(reps)
        assert abs(d.mean()) < 4 * se, (engine.mean(), base.mean(), se)
    assert {r.customers_ever for r in res} != {small.get("customers.count")}  # acquisitions happened


def test_simpy_baseline_is_the_loop_baseline_scheduled_by_simpy(small: vc.Scenario) -> None:
    """Both baselines run the same per-customer code and draw in the same order: equal results."""
    for r in range(2):
        a, b = baselines.run_loop(small, 3, r), baselines.run_simpy(small, 3, r)
        assert a == b


def test_baselines_refuse_features_they_do_not_implement() -> None:
    with pytest.raises(ValueError, match="core model only"):
        workloads.check_neutral(workloads.headline(150, 8))


def test_floor_draws_the_same_numbers_by_either_method() -> None:
    """The floor times each kind of number by numpy's bulk method and by a compiled loop
    over the same Generator, and counts the faster: that is a floor of *the same numbers*
    only if both methods draw them bit for bit (four seeds, blocks of 5,000 numbers: enough
    to reach the rejection steps of the normal's, the gamma's and the beta's algorithms)."""
    for seed in range(4):
        a, b = np.random.Generator(np.random.SFC64(seed)), np.random.Generator(np.random.SFC64(seed))
        buf_a, buf_b = np.empty(5000), np.empty(5000)
        ibuf_b = np.empty(5000, dtype=np.int64)
        by_numpy, compiled = rngfloor._numpy_draws(a, buf_a), rngfloor._compiled_draws(b, buf_b, ibuf_b)
        for kind in rngfloor.KINDS:
            got = by_numpy[kind](5000)
            x = buf_a.copy() if got is None else np.asarray(got)
            compiled[kind](5000)
            y = ibuf_b.copy() if kind == "integers" else buf_b.copy()
            np.testing.assert_array_equal(x, y, err_msg=f"{kind}, seed {seed}")


def test_floor_takes_the_faster_method_per_kind() -> None:
    t = rngfloor.draw_time({"normal": 20_000, "uniform": 20_000}, block=4096, repeat=1)
    for kind in ("normal", "uniform"):  # numpy's bulk method, the compiled Generator loop, the counter-based numbers
        assert t[kind] == min(t["by_method"][m][kind] for m in ("numpy", "compiled", "counter")) > 0
        assert t["how"][kind] in ("numpy", "compiled", "counter")
    assert "beta" not in t["by_method"]["counter"]  # the set-up's kinds come from the Generator only
    assert t["beta"] == 0.0 and t["total"] == sum(t[k] for k in rngfloor.KINDS)


def test_revision_comparison_flags_any_changed_output() -> None:
    import revisions

    a = {"x": np.array([1.0, np.nan]), "k": np.array([1, 2])}
    assert revisions.different(a, {"x": np.array([1.0, np.nan]), "k": np.array([1, 2])}) == []  # NaN equals NaN
    assert revisions.different(a, {"x": np.array([1.0, np.nan]), "k": np.array([1, 3])}) == ["k"]
    assert revisions.different(a, {"x": np.array([1.0 + 2**-52, np.nan]), "k": np.array([1, 2])}) == ["x"]  # one bit
    assert revisions.different(a, {"x": np.array([1.0]), "k": np.array([1, 2])}) == ["x"]  # shape
    assert revisions.different(a, {"x": a["x"]}) == ["k"]  # missing


def test_revision_comparison_runs_another_revision_beside_the_working_tree() -> None:
    """benchmarks/revisions.py against HEAD: the other revision is imported under another
    name and both run the same batches; with no local change to the package the outputs
    must be bit-identical."""
    import subprocess

    import revisions

    root = Path(__file__).resolve().parents[1]
    try:
        git = subprocess.run(
            ["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "src/valuecapture"], capture_output=True
        )
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if git.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    res = revisions.compare("HEAD", rounds=2, customers=150, periods=6, batch=1)
    assert set(res["ms_per_replication"]) == {"working tree", "HEAD"} and min(res["ms_per_replication"].values()) > 0
    assert len(res["commit"]) == 40 and "vc_ref" not in sys.modules
    if git.returncode == 0:  # the package is as committed
        assert res["identical"], res["different"]
    with pytest.raises(SystemExit, match="not a commit"):
        revisions.compare("no-such-revision-xyz", rounds=1, customers=50, periods=2, batch=1)
