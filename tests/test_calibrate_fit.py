"""``valuecapture calibrate`` beyond the estimates: the ``[[estimates]]`` it writes (parameter
uncertainty in runs), ``--source`` (start from the actual customers), the churn matched to the
simulated survival, and the fit-check report.  On the example data (examples/data/, 600
customers), calibrated once per module in this process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import inproc

from valuecapture.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")
EXAMPLE = ROOT / "examples" / "data"


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
        "--no-check", cwd=folder,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    above = load_scenario(folder / "above.toml")
    assert above.get("customers.source") == "data/firm.csv" and above.get("customers.columns") == "acquired=Start"
    # the data outside the output's folder: one line, exit 2, nothing written
    r = inproc("calibrate", "../customers.csv", "--out", "x.toml", "--source", cwd=sub)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--source" in r.stderr, r.stderr
    assert not (sub / "x.toml").exists() and not (sub / "x.calibration.json").exists()


def test_churn_is_matched_to_the_survival_and_recorded(
    calibrated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, r = calibrated
    meta = json.loads((folder / "ours.calibration.json").read_text())
    churn = meta["estimates"]["uncertainties.churn"]
    m = churn["details"]["survival_match"]
    assert m["converged"] and m["years"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # the moment (mean survival at years 1-5) matched within the tolerance; the data's Kaplan-Meier mean is
    # 0.7013 with a standard error of about 0.02, the simulated one's Monte Carlo s.e. about 0.003 (16 replications)
    assert abs(m["moment_simulated"] - m["moment_data"]) <= m["tolerance"]
    # the baseline's trust dynamics lower the simulated hazard (0.86x at the start), so b must fall: the fitted
    # b = 8.51 (s.e. 6) becomes b x 0.89 with seed 20261123; bounds wide against the match's Monte Carlo error
    assert 0.8 < m["factor"] < 0.95 and m["moment_before"] > m["moment_data"] + 0.01
    sc = load_scenario(folder / "ours.toml")
    assert sc.get("uncertainties.churn").kwargs["b"] == pytest.approx(m["b"], rel=1e-5)
    text = (folder / "ours.toml").read_text()
    assert "survival matched by simulated moments" in text and "b x 0.8" in text
    assert "matches the data's Kaplan-Meier" in r.stdout


def test_match_survival_recovers_a_known_factor_without_trust_effects() -> None:
    """With churn_trust_effect = 0 and no contagion, referral or misalignment the engine's survival
    is the sBG's: data drawn from Beta(a, b) need factor 1, data drawn from Beta(a, b / 2) (the scenario
    told b) need about 1/2."""
    from valuecapture.analysis.calibration import match_survival
    from valuecapture.data.calibrate import Calibration, Estimate
    from valuecapture.data.churn import survival

    base = load_scenario(BASELINE).with_values(
        {"relationship.churn_trust_effect": 0.0, "horizon.periods": 24, "customers.count": 200}
    )
    a, b = 1.0, 6.0
    years = np.arange(0.0, 7.0)

    def calibration_for(true_b: float) -> Calibration:
        km = {"years": years.tolist(), "survival": survival(a, true_b, years).tolist(),
              "se": [0.0] * years.size, "at_risk": [1000] * years.size}  # fmt: skip
        e = Estimate("uncertainties.churn", {"dist": "beta", "a": a, "b": b}, {"a": 0.1, "b": 0.5}, "test", "",
                     {"pooled": {"a": a, "b": b, "cov": [[0.01, 0.0], [0.0, 0.25]]}, "kaplan_meier": km})  # fmt: skip
        return Calibration({"uncertainties.churn": e}, [], [], [], {})

    sc = base.with_values({"uncertainties.churn": {"dist": "beta", "a": a, "b": b}})
    same = match_survival(sc, calibration_for(b), replications=8, seed=5)
    # with no trust effect only referral and contagion (baseline) move the hazard: within 10% of 1
    assert 0.9 < same.factor < 1.1, same.describe()["note"]
    half = match_survival(sc, calibration_for(b / 2), replications=8, seed=5)
    assert half.converged and abs(half.after.moment - half.target_moment) <= 0.002
    assert 0.4 < half.factor / same.factor < 0.6, (half.factor, same.factor)


def test_the_fit_check_report_is_written_and_failures_are_printed(
    calibrated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, r = calibrated
    html = (folder / "ours.check.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # QQ, survival, Lorenz, segments: self-contained
    figures = {p.name for p in (folder / "ours.check").iterdir()}
    assert {"qq.png", "survival.png", "lorenz.png", "segments.png", "checks.csv", "manifest.json"} <= figures
    meta = json.loads((folder / "ours.calibration.json").read_text())
    checks = meta["fit_checks"]["checks"]
    groups = {c["group"] for c in checks}
    assert groups == {"marginal", "survival", "concentration", "segment churn"}
    for c in checks:
        assert ("pass" if c["passed"] else "FAIL") in html and c["low"] <= c["high"]
    failed = [c for c in checks if not c["passed"]]
    # each failed check: one warning line on stderr, never hidden (the example's tenure is cut at the 6 years
    # the data span, which the Weibull of initial_age does not follow: KS D = 0.081 > 0.066)
    assert r.stderr.count("fit check failed") == len(failed) >= 1
    assert any(c["name"] == "initial_age" for c in failed)
    # survival after the match, concentration: inside their 95% intervals on the example
    assert all(c["passed"] for c in checks if c["group"] in ("survival", "concentration"))
    # a foreign file in the report's place is never replaced; the report refuses before anything is written
    (folder / "foreign.check.html").write_text("<html>mine</html>")
    r2 = inproc("calibrate", "customers.csv", "--out", "foreign.toml", cwd=folder)
    assert r2.returncode == 2 and "never replaced" in r2.stderr and r2.stderr.count("\n") == 1, r2.stderr
    assert not (folder / "foreign.toml").exists()
    assert (folder / "foreign.check.html").read_text() == "<html>mine</html>"
    # --overwrite replaces our own report
    r3 = inproc(
        "calibrate", "customers.csv", "--out", "ours.toml", "--overwrite", "--no-match-survival",
        "--check-replications", "10", "-q", cwd=folder,
    )  # fmt: skip
    assert r3.returncode == 0, r3.stderr
    assert "10 replications" in (folder / "ours.check.html").read_text()
    assert "survival_match" not in json.loads((folder / "ours.calibration.json").read_text())["estimates"][
        "uncertainties.churn"]["details"]  # fmt: skip
