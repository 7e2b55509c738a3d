"""The command line as a user runs it (in a subprocess, from a scratch directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
from conftest import SCENARIOS, inproc


def vc_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run(
        [sys.executable, "-m", "valuecapture", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


SMALL = ["--set", "customers.count=80", "--set", "horizon.periods=8", "--replications", "30"]


def test_run_show_reproduce(tmp_path: Path) -> None:
    r = vc_cli(
        "run", str(SCENARIOS / "classroom.toml"), *SMALL, "--seed", "4", "--workers", "2", "--executor", "threads",
        "--out", "out", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Firm value" in r.stdout and "± MC s.e." in r.stdout and "P(firm value < 0)" in r.stdout
    run = tmp_path / "out" / "classroom"
    assert (run / "result.nc").stat().st_size > 0
    for png in ("firm_value.png", "economic_profit_fan.png", "stobachoff.png"):
        assert (run / "figures" / png).stat().st_size > 10_000
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["classroom"]  # nothing half-written left behind
    shown = vc_cli("show", str(run), cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == (run / "summary.txt").read_text().strip()
    rep = vc_cli("reproduce", str(run), "--out", "again", "--no-figures", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    a = xr.open_dataset(run / "result.nc", engine="h5netcdf")
    b = xr.open_dataset(tmp_path / "again" / "classroom" / "result.nc", engine="h5netcdf")
    assert a.identical(b)
    a.close()
    b.close()


def test_validate_ok(tmp_path: Path) -> None:
    r = vc_cli("validate", str(SCENARIOS / "baseline.toml"), cwd=tmp_path)
    assert (r.returncode, r.stdout.splitlines()[0]) == (0, "ok")
    assert "memory for 1000 replications" in r.stdout and "available" in r.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "missing.toml"], "missing.toml: file not found"),
        (["run", "bad.toml"], "bad.toml: horizon.periods: must be an integer in [1, 2400], got 0"),
        (["run", "SCEN", "--set", "customers.count=-3"], "customers.count: must be an integer"),
        (["run", "SCEN", "--set", "economics.wacc=nan"], "economics.wacc: must be a finite number"),
        (["run", "SCEN", "--set", "custmers.count=3"], "did you mean 'customers'"),
        (["run", "SCEN", "--replications", "0"], "must be a positive integer"),
        (["validate", "bad.toml"], "horizon.periods"),
        (["show", "nowhere"], "no result.nc"),
    ],
)
def test_bad_input_exit_2_one_line_no_output(tmp_path: Path, args: list[str], fragment: str) -> None:
    (tmp_path / "bad.toml").write_text("[horizon]\nperiods = 0\n")
    args = [str(SCENARIOS / "classroom.toml") if a == "SCEN" else a for a in args]
    # in process (conftest.inproc): the same exit code and stderr, without an interpreter start-up per case
    r = inproc(*args, "--out", "out", cwd=tmp_path) if args[0] == "run" else inproc(*args, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2  # argparse adds a usage line; ours is one line
    assert not (tmp_path / "out").exists()


def test_unwritable_output_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file, not a folder")
    r = vc_cli("run", str(SCENARIOS / "classroom.toml"), *SMALL, "--out", "out", cwd=tmp_path)
    assert r.returncode == 2 and "not a folder" in r.stderr and "Traceback" not in r.stderr


def test_policies_lists_builtins(tmp_path: Path) -> None:
    r = vc_cli("policies", cwd=tmp_path)
    assert r.returncode == 0
    lines = [line for line in r.stdout.splitlines() if not line.startswith(" ")]
    names = [line.split()[0] for line in lines]
    assert names[:5] == ["single", "tiered", "matrix", "adaptive", "harvest"]
    assert all(line.endswith("[built-in]") for line in lines[:5])
    assert "               parameters: price_split=0.5, cost_split=0.5" in r.stdout.splitlines()
