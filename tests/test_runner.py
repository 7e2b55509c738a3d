"""One runner for every command: simulate_variants, the executors, the store and resume.

Compare, decompose, sweep and run --precision all go through run.simulate.Runner; every one
of them must give the same bits whatever the executor, the worker count and the batch size,
and after an interruption resumed from its store."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SCENARIOS, tiny

import valuecapture as vc
from valuecapture.analysis.compare import compare
from valuecapture.analysis.decompose import decompose
from valuecapture.analysis.experiments import loads_experiment, sweep
from valuecapture.run.precision import StoppingRule, simulate_to_precision
from valuecapture.run.results import as_stored
from valuecapture.run.simulate import Plan, Runner, open_store
from valuecapture.run.store import StoreError

PY = sys.executable
CLASSROOM = str(SCENARIOS / "classroom.toml")
EXPERIMENT = f"""
[experiment]
name = "tiny"
scenario = "{CLASSROOM}"
design = "full_factorial"
replications = 6
seed = 5
[set]
customers.count = 40
horizon.periods = 6
[[factors]]
field = "demand.volatility"
levels = [0.1, 0.3]
[[factors]]
field = "heterogeneity.interdependence"
levels = [true, false]
"""


def _same(a: xr.Dataset, b: xr.Dataset) -> bool:
    """The same variables with the same values and coordinates (attributes aside)."""
    return set(a.variables) == set(b.variables) and all(a[v].equals(b[v]) for v in a.variables)


def test_simulate_variants_is_simulate_of_each_variant_joined() -> None:
    sc = tiny()
    variants = {"low": sc.with_values({"demand.volatility": 0.05}), "high": sc.with_values({"demand.volatility": 0.4})}
    joined = vc.simulate_variants(variants, "volatility", 6, 3, batch_size=4)
    assert list(joined["volatility"].values) == ["low", "high"]
    for label, scenario in variants.items():
        alone = vc.simulate(scenario, 6, 3, batch_size=5)
        part = joined.sel(volatility=label, drop=True)
        for name in alone.data_vars:
            np.testing.assert_array_equal(part[name].values, alone[name].values, err_msg=name)


def test_every_command_is_bit_identical_with_a_process_pool_threads_other_workers_and_batches() -> None:
    sc = tiny()
    rule = StoppingRule(0.3, chunk=4, min_replications=4, max_replications=16)
    pool = {"workers": 2, "executor": "process"}
    threads = {"workers": 2, "executor": "threads"}  # (one process pool start-up is enough for the suite's time)
    pairs = {
        "compare": (
            compare(sc, ["single", "tiered"], 5, 2, batch_size=3),
            compare(sc, ["single", "tiered"], 5, 2, batch_size=1, **pool),
        ),
        "decompose": (decompose(sc, 4, 2, batch_size=3), decompose(sc, 4, 2, batch_size=2, **threads)),  # type: ignore[arg-type]
        "precision": (
            simulate_to_precision(sc, rule, 2, batch_size=3),
            simulate_to_precision(sc, rule, 2, batch_size=1, **threads),
        ),  # type: ignore[arg-type]
    }
    for name, (serial, other) in pairs.items():
        assert _same(serial, other), name
        assert serial.attrs == other.attrs, name


def test_a_sweep_on_a_dask_local_cluster_is_bit_identical() -> None:
    exp = loads_experiment(EXPERIMENT)
    serial = sweep(exp, 3, 4, batch_size=2)
    dask = sweep(exp, 3, 4, workers=2, batch_size=3, executor="dask")
    assert _same(serial, dask) and serial.attrs == dask.attrs


def test_a_store_holds_every_batch_and_refuses_another_plan(tmp_path: Path) -> None:
    sc = tiny()
    store = tmp_path / "store"
    ds = vc.simulate_variants(
        {"a": sc, "b": sc.with_values({"choices.policy": "tiered"})}, "policy", 6, 1, batch_size=4, store=store
    )
    assert _same(open_store(store), ds)
    assert open_store(store).attrs["replications_done"] == 6
    plan = Plan((sc,), None, None, 1, 6, 4, 6)
    with pytest.raises(StoreError, match="different scenario"):
        Runner(plan, store=store, resume=True)
    again = vc.simulate_variants(
        {"a": sc, "b": sc.with_values({"choices.policy": "tiered"})}, "policy", 6, 1, store=store, resume=True
    )
    assert _same(again, ds)  # nothing left to run: read back from the store


def _wait_for_batches(store: Path, n: int, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (store / "batches").is_dir() and len(list((store / "batches").glob("*.h5"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.02)
    pytest.fail("no batches appeared")


def test_a_sweep_killed_with_sigkill_resumes_to_the_identical_result(tmp_path: Path) -> None:
    (tmp_path / "exp.toml").write_text(EXPERIMENT.replace("replications = 6", "replications = 40"))
    args = [
        "sweep",
        str(tmp_path / "exp.toml"),
        "--batch-size",
        "2",
        "-j",
        "1",
        "--no-figures",
        "-q",
        "--out",
        str(tmp_path / "out"),
    ]
    proc = subprocess.Popen(
        [PY, "-m", "valuecapture", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    store = tmp_path / "out" / ".tiny-sweep.inprogress"
    _wait_for_batches(store, 6, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    kept = open_store(store)
    assert 0 < kept.attrs["replications_done"] < 40
    again = subprocess.run([PY, "-m", "valuecapture", *args, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    result = vc.open_run(tmp_path / "out" / "tiny-sweep")
    reference = sweep(
        loads_experiment(EXPERIMENT.replace("replications = 6", "replications = 40")), 40, 5, batch_size=7
    )
    assert _same(result, reference)
    assert not store.exists()


def test_compare_and_decompose_resume_after_an_interrupt(tmp_path: Path) -> None:
    """SIGINT after a few batches: one line naming the resume command; --resume finishes identically."""
    for command, extra, name in (
        ("compare", ["-p", "single,tiered"], "classroom-compare"),
        ("decompose", [], "classroom-decompose"),
    ):
        size = [
            "-n",
            "120",
            "--batch-size",
            "5",
            "--set",
            "customers.count=60",
            "--set",
            "horizon.periods=8",
            "-j",
            "1",
        ]
        args = [command, CLASSROOM, *extra, *size, "--no-figures", "-q", "--out", str(tmp_path / "out")]
        proc = subprocess.Popen(
            [PY, "-m", "valuecapture", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        store = tmp_path / "out" / f".{name}.inprogress"
        _wait_for_batches(store, 3, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and err.count("\n") == 1 and "--resume" in err, err
        hint = err.split("continue with: ", 1)[1].strip()
        assert hint.startswith("valuecapture ") and hint.endswith("--resume")
        again = subprocess.run(
            [PY, "-m", "valuecapture", *args, "--resume"], capture_output=True, text=True, timeout=600
        )
        assert again.returncode == 0, again.stderr
        sc = vc.load_scenario(CLASSROOM).with_values({"customers.count": 60, "horizon.periods": 8})
        reference = (
            compare(sc, ["single", "tiered"], 120, batch_size=50)
            if command == "compare"
            else decompose(sc, 120, batch_size=50)
        )
        assert _same(vc.open_run(tmp_path / "out" / name), as_stored(reference)), command
