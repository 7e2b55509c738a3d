"""``valuecapture calibrate`` beyond the estimates: the ``[[estimates]]`` it writes (parameter
uncertainty in runs), ``--source`` (start from the actual customers), the churn matched to the
simulated survival, and the fit-check report.  On the example data (examples/data/, 600
customers), calibrated once per module in this process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from valuecapture.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
EXAMPLE = ROOT / "examples" / "data"


def inproc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``valuecapture ARGS`` in this process from ``cwd``: exit code, stdout and stderr."""
    from valuecapture import cli as vc_cli

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = vc_cli.main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The example data copied to a folder and calibrated there with --source (the defaults otherwise)."""
    folder = tmp_path_factory.mktemp("calibrated")
    for name in ("customers.csv", "revenue.csv"):
        shutil.copy(EXAMPLE / name, folder / name)
    r = inproc(
        "calibrate", "customers.csv", "--panel", "revenue.csv", "--base", BASELINE, "--out", "ours.toml", "--source",
        cwd=folder,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return folder, r


def test_estimates_entries_hold_every_fitted_input_with_its_covariance(
    calibrated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, _ = calibrated
    sc = load_scenario(folder / "ours.toml")
    meta = json.loads((folder / "ours.calibration.json").read_text())
    entries = sc.to_dict()["estimates"]
    by_input = {e["fields"][0].split(".")[1]: e for e in entries}
    assert set(by_input) == {"wallet", "price", "cost_to_serve", "growth", "churn"}
    for name, e in by_input.items():
        dist = sc.get(f"uncertainties.{name}")
        params = [f.split(".")[2] for f in e["fields"]]
        assert all(p in dist.kwargs for p in params), (name, params, dist.kwargs)
        k = len(params)
        cov = np.asarray(e["covariance"]).reshape(k, k)
        assert np.array_equal(cov, cov.T) and np.linalg.eigvalsh(cov).min() > 0
        assert e["method"]
        if name == "churn":
            details = meta["estimates"]["uncertainties.churn"]["details"]
            fitted = np.asarray(details["pooled"]["cov"])
            factor = details["survival_match"]["factor"] if details.get("survival_match") else 1.0
            jac = np.diag([1.0, factor])  # b scaled by the survival match
            np.testing.assert_allclose(cov, jac @ fitted @ jac, rtol=1e-9)
        elif name != "growth":  # the marginals: the inverse observed information of the fit
            fitted = np.asarray(meta["estimates"][f"uncertainties.{name}"]["details"]["cov"])
            np.testing.assert_allclose(cov, fitted, rtol=1e-6)
    text = (folder / "ours.toml").read_text()
    assert "--parameter-uncertainty" in text  # the comment above [[estimates]]


def test_the_calibrated_scenario_runs_with_parameter_uncertainty(
    calibrated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, _ = calibrated
    r = inproc(
        "run", "ours.toml", "--parameter-uncertainty", "-n", "8", "--out", "res", "--no-figures", cwd=folder
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Parameter uncertainty: 10 estimated parameters drawn once per 2 replication(s) (4 draws)" in r.stdout
    import xarray as xr

    with xr.open_dataset(folder / "res" / "ours" / "result.nc") as ds:
        ids = ds["customer_id"].values
        assert set(ids[ids != ""]) <= {f"C{i:06d}" for i in range(600)} and (ids != "").sum() == 423


def test_source_writes_the_data_file_relative_to_the_scenario(
    calibrated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, _ = calibrated
    sc = load_scenario(folder / "ours.toml")
    assert sc.get("customers.source") == "customers.csv"
    assert sc.get("customers.as_of") == "2024-12-31" and sc.get("customers.count") == 423
    # a scenario above the data: the path goes down into the data's folder; a mapping is carried
    sub = folder / "data"
    sub.mkdir()
    text = (folder / "customers.csv").read_text().replace("acquired", "Start", 1)
    (sub / "firm.csv").write_text(text)
    r = inproc(
        "calibrate", "data/firm.csv", "--column", "acquired=Start", "--out", "above.toml", "--source", "-q",
        cwd=folder,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    above = load_scenario(folder / "above.toml")
    assert above.get("customers.source") == "data/firm.csv" and above.get("customers.columns") == "acquired=Start"
    # the data outside the output's folder: one line, exit 2, nothing written
    r = inproc("calibrate", "../customers.csv", "--out", "x.toml", "--source", cwd=sub)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--source" in r.stderr, r.stderr
    assert not (sub / "x.toml").exists() and not (sub / "x.calibration.json").exists()
