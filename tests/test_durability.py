"""Streaming store, resume after a crash, signals, full disks, and the Dask executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS, tiny

import valuecapture as vc
from valuecapture.report.files import run_to_folder
from valuecapture.run.folder import Interrupted
from valuecapture.run.results import as_stored
from valuecapture.run.simulate import open_store
from valuecapture.run.store import StoreError, store_dir

PY = sys.executable
CLASSROOM = str(SCENARIOS / "classroom.toml")
#: a run long enough to be interrupted: 60 batches of 10 replications of a small firm
LONG = [
    "-n",
    "600",
    "--batch-size",
    "10",
    "--set",
    "customers.count=100",
    "--set",
    "horizon.periods=12",
    "-j",
    "1",
    "--no-figures",
    "-q",
]


def _scenario() -> vc.Scenario:
    return vc.load_scenario(CLASSROOM).with_values({"customers.count": 100, "horizon.periods": 12})


def _start(out: Path, *extra: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PY, "-m", "valuecapture", "run", CLASSROOM, *LONG, "--out", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )  # type: ignore[call-overload]


def _wait_for_batches(store: Path, n: int, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (store / "batches").is_dir() and len(list((store / "batches").glob("*.h5"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail("no batches appeared")


def _same_data(a: object, b: object) -> bool:
    return all(a[v].equals(b[v]) for v in a.data_vars) and set(a.data_vars) == set(b.data_vars)  # type: ignore[index,attr-defined]


@pytest.fixture(scope="module")
def reference() -> object:
    """The uninterrupted result, computed in memory (same scenario, seed, replications)."""
    sc = _scenario()
    return vc.simulate(sc, 600, sc.get("run.seed"), batch_size=50)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_killed_run_keeps_its_batches_and_resumes_to_the_identical_result(
    tmp_path: Path, reference: object, how: str
) -> None:
    out = tmp_path / "out"
    store = store_dir(out, "classroom")
    proc = _start(out)
    _wait_for_batches(store, 3, proc)
    proc.send_signal(getattr(signal, how))
    _, err = proc.communicate(timeout=60)
    if how == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL
    else:  # Ctrl-C and SIGTERM: a clean exit, saying what is kept and how to resume
        assert proc.returncode == 130, err
        assert "Traceback" not in err and err.count("\n") == 1, err
        assert "replications (" in err and "are saved in" in err and "--resume" in err
    partial = open_store(store)  # readable with every finished batch
    done = partial.attrs["replications_done"]
    assert done >= 30 and done % 10 == 0
    reps = partial["replication"].values
    np.testing.assert_array_equal(partial["firm_value"].values, reference["firm_value"].values[reps])  # type: ignore[index]
    assert not (out / "classroom").exists()  # no half-written result under the final name
    again = subprocess.run(
        [PY, "-m", "valuecapture", "run", CLASSROOM, *LONG, "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    final = vc.open_run(out / "classroom")
    assert _same_data(final, as_stored(reference))  # type: ignore[arg-type]
    assert not store.exists()


def test_ctrl_c_with_a_process_pool_stops_the_workers(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group; workers leave it to the parent, which stops them."""
    out = tmp_path / "out"
    store = store_dir(out, "classroom")
    proc = subprocess.Popen(
        [PY, "-m", "valuecapture", "run", CLASSROOM, *LONG[:-4], "-j", "2", "--no-figures", "-q", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _wait_for_batches(store, 2, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "--resume" in err
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True)
    assert ps.stdout.strip() == ""  # no orphaned worker is left running


def test_an_existing_interrupted_run_needs_resume_or_fresh(tmp_path: Path) -> None:
    sc = tiny()
    out = tmp_path / "out"
    path = store_dir(out, sc.name)
    path.mkdir(parents=True)
    (path / "run.json").write_text("{}")
    with pytest.raises(StoreError, match="--resume, or start over with --fresh"):
        run_to_folder(sc, out, 6, 1, figures=False)
    ds, final = run_to_folder(sc, out, 6, 1, figures=False, fresh=True)
    assert final == out / sc.name and not path.exists()
    r = subprocess.run(
        [PY, "-m", "valuecapture", "run", CLASSROOM, "-n", "4", "--out", str(out), "--resume", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "no interrupted run" in r.stderr


def test_resume_refuses_a_different_scenario_or_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = tiny()
    _interrupt_after(monkeypatch, 1)
    with pytest.raises(Interrupted):
        run_to_folder(sc, tmp_path, 8, 3, batch_size=2, figures=False)
    monkeypatch.undo()
    with pytest.raises(StoreError, match="different scenario"):
        run_to_folder(sc.with_values({"customers.count": 61}), tmp_path, 8, 3, resume=True, figures=False)
    with pytest.raises(StoreError, match="seed 3"):
        run_to_folder(sc, tmp_path, 8, 4, resume=True, figures=False)
    meta_path = next(tmp_path.rglob("run.json"))
    meta = json.loads(meta_path.read_text())
    stored, meta["valuecapture_version"] = meta["valuecapture_version"], "0.1.0"  # before the counter-based numbers
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="started with valuecapture 0.1.0"):
        run_to_folder(sc, tmp_path, 8, 3, resume=True, figures=False)
    meta["valuecapture_version"] = stored
    meta_path.write_text(json.dumps(meta))
    ds, _ = run_to_folder(sc, tmp_path, 8, 3, resume=True, figures=False, batch_size=5)  # the stored batch size wins
    assert _same_data(ds, vc.simulate(sc, 8, 3))


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, n: int, exc: BaseException | None = None) -> None:
    """Make RunStore.write_batch raise ``exc`` (default KeyboardInterrupt) after ``n`` batches."""
    from valuecapture.run import store as st

    real = st.RunStore.write_batch
    count = {"n": 0}

    def write(self: st.RunStore, variant: int, start: int, out: dict) -> Path:  # type: ignore[type-arg]
        if count["n"] >= n:
            raise exc if exc is not None else KeyboardInterrupt
        count["n"] += 1
        return real(self, variant, start, out)

    monkeypatch.setattr(st.RunStore, "write_batch", write)


def test_a_full_disk_fails_clearly_and_loses_nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = tiny()
    _interrupt_after(monkeypatch, 2, OSError(28, "No space left on device"))
    with pytest.raises(OSError) as err:
        run_to_folder(sc, tmp_path, 10, 5, batch_size=2, figures=False, resume_hint="valuecapture run x --resume")
    msg = str(err.value)
    assert (
        "No space left on device" in msg
        and "4 replications already saved" in msg
        and "valuecapture run x --resume" in msg
    )
    assert "\n" not in msg
    kept = open_store(store_dir(tmp_path, sc.name))
    assert kept.attrs["replications_done"] == 4
    monkeypatch.undo()
    ds, _ = run_to_folder(sc, tmp_path, 10, 5, resume=True, figures=False)
    assert _same_data(ds, vc.simulate(sc, 10, 5))


def test_an_unwritable_output_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = subprocess.run(
        [PY, "-m", "valuecapture", "run", CLASSROOM, "-n", "2", "--out", str(blocker / "sub"), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cannot write results" in r.stderr, r.stderr


# ---------------------------------------------------------------- Dask


def test_dask_local_cluster_is_bit_identical_to_the_process_pool() -> None:
    sc = tiny(**{"choices.policy": "single"})
    pool = vc.simulate(sc, 10, 21, workers=2, batch_size=3, executor="process")
    dask = vc.simulate(sc, 10, 21, workers=2, batch_size=3, executor="dask")
    assert pool.identical(dask)


def test_cli_sends_batches_to_an_existing_dask_scheduler(tmp_path: Path) -> None:
    """A LocalCluster on loopback stands in for a remote cluster; the CLI connects with --scheduler."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        r = subprocess.run(
            [
                PY,
                "-m",
                "valuecapture",
                "run",
                CLASSROOM,
                "-n",
                "12",
                "--batch-size",
                "4",
                "--set",
                "customers.count=60",
                "--scheduler",
                cluster.scheduler_address,
                "--out",
                str(tmp_path),
                "--no-figures",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert r.returncode == 0, r.stderr
    sc = vc.load_scenario(CLASSROOM).with_values({"customers.count": 60})
    assert _same_data(vc.open_run(tmp_path / "classroom"), as_stored(vc.simulate(sc, 12, sc.get("run.seed"))))
    bad = subprocess.run(
        [
            PY,
            "-m",
            "valuecapture",
            "run",
            CLASSROOM,
            "-n",
            "2",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--out",
            str(tmp_path / "x"),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert (
        bad.returncode == 2
        and "cannot reach the Dask scheduler tcp://127.0.0.1:9" in bad.stderr
        and bad.stderr.count("\n") == 1
    )
    assert not (tmp_path / "x").exists()  # no store left to block the next run (docs/safety.md)


def test_an_interrupt_swallowed_by_a_callback_is_recorded_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM that arrives while a weakref callback runs: Python swallows the
    KeyboardInterrupt the handler raises there; the guard records it (the run stops at
    the next batch boundary) and keeps Python from printing it as "Exception ignored"."""
    import weakref

    from valuecapture.run.folder import _sigterm_as_interrupt

    class Thing:
        pass

    printed: list[object] = []  # what Python would print as "Exception ignored"
    monkeypatch.setattr(sys, "unraisablehook", lambda info: printed.append(info.exc_value))
    guard = _sigterm_as_interrupt()
    with guard:
        thing = Thing()
        ref = weakref.ref(thing, lambda _: os.kill(os.getpid(), signal.SIGTERM))
        del thing  # the callback runs now, and the handler raises inside it
        assert ref() is None
    assert guard.interrupted
    assert printed == []
