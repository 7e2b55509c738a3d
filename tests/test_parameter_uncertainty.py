"""Estimation uncertainty carried into the run (``[[estimates]]``, ``parameter_uncertainty``).

Statistical tests use fixed seeds and tolerances of four Monte Carlo standard errors, each
derived in the test from the sample it checks (so a correct implementation fails about
once in 15,000 runs, never by chance at a fixed seed once it passed).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from valuecapture.analysis.stats import variance_split
from valuecapture.analysis.summary import summary_text
from valuecapture.model.params import ModelParams, psd_cholesky
from valuecapture.model.population import draw_parameters
from valuecapture.run.seeds import batch_streams
from valuecapture.run.simulate import simulate, simulate_variants
from valuecapture.scenario.load import ScenarioError, loads

SMALL = """
[scenario]
name = "estimated"
[run]
replications = 24
seed = 11
[horizon]
periods = 6
[customers]
count = 200
[uncertainties.churn]
dist = "beta"
a = 2.0
b = 18.0
[uncertainties.growth]
dist = "norm"
loc = 0.02
scale = 0.04
"""
ESTIMATES = """
[[estimates]]
fields = ["uncertainties.churn.a", "uncertainties.churn.b"]
covariance = [{a}, {ab}, {ab}, {b}]
[[estimates]]
fields = ["uncertainties.growth.loc"]
covariance = [{g}]
"""
COV = {"a": 0.09, "ab": 0.6, "b": 6.0, "g": 0.0001}


def _scenario(cov: dict[str, float] = COV, *overrides: str):
    return loads(SMALL + ESTIMATES.format(**cov), "estimated.toml", list(overrides))


def test_the_variance_split_is_unbiased_for_nested_normal_data() -> None:
    """2,000 data sets of 50 groups x 4, sigma_between^2 = 4, sigma_within^2 = 9: the mean
    of each estimate is within 4 MC s.e. of the truth, and the reported s.e. matches the
    estimates' spread within 15% (normal theory is exact here)."""
    rng = np.random.default_rng(20261203)
    g, m, reps = 50, 4, 2000
    x = rng.normal(0.0, 2.0, (reps, g, 1)) + rng.normal(0.0, 3.0, (reps, g, m))
    splits = [variance_split(x[r].reshape(-1), m) for r in range(reps)]
    between = np.array([s.between for s in splits])
    within = np.array([s.within for s in splits])
    assert abs(between.mean() - 4.0) < 4 * between.std(ddof=1) / np.sqrt(reps)
    assert abs(within.mean() - 9.0) < 4 * within.std(ddof=1) / np.sqrt(reps)
    assert np.mean([s.between_se for s in splits]) == pytest.approx(between.std(ddof=1), rel=0.15)
    # unbiased, so not truncated at zero: groups with equal means give a negative estimate
    assert variance_split(np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]), 2).between == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="per_draw >= 2"):
        variance_split(np.arange(10.0), 1)


def test_drawn_parameters_follow_the_sampling_distribution_on_the_log_scale() -> None:
    """4,000 draws: log a, log b have the estimates' logs as mean and Cov(v) / v v' as
    covariance (delta method), loc is drawn on its own scale."""
    p = ModelParams.from_scenario(_scenario(COV, "parameter_uncertainty.enabled=true"))
    gens = batch_streams(3, range(4000))["parameters"]
    draws = np.array([draw_parameters(p, g)[1] for g in gens])
    n = draws.shape[0]
    x = np.column_stack([np.log(draws[:, 0]), np.log(draws[:, 1]), draws[:, 2]])
    center = np.array([np.log(2.0), np.log(18.0), 0.02])
    sd = np.array([0.3 / 2.0, np.sqrt(6.0) / 18.0, 0.01])
    assert np.all(np.abs(x.mean(axis=0) - center) < 4 * sd / np.sqrt(n))
    # variance within 4 s.e. of a normal sample variance, sqrt(2 / (n - 1)) sigma^2
    assert np.all(np.abs(x.var(axis=0, ddof=1) - sd**2) < 4 * sd**2 * np.sqrt(2 / (n - 1)))
    rho = 0.6 / np.sqrt(0.09 * 6.0)
    r = np.corrcoef(x[:, 0], x[:, 1])[0, 1]
    assert abs(r - rho) < 4 * (1 - rho**2) / np.sqrt(n)


def test_psd_cholesky_factors_singular_covariances() -> None:
    c = np.array([[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # rank 1
    low = psd_cholesky(c)
    np.testing.assert_allclose(low @ low.T, c, atol=1e-12)
    full = np.array([[2.0, 0.3], [0.3, 1.0]])
    np.testing.assert_allclose(psd_cholesky(full), np.linalg.cholesky(full), rtol=1e-14)


def test_a_zero_covariance_changes_no_number() -> None:
    zero = dict.fromkeys(COV, 0.0)
    off = simulate(_scenario(zero), replications=8, seed=5, progress=False)
    on = simulate(_scenario(zero, "parameter_uncertainty.enabled=true"), replications=8, seed=5, progress=False)
    assert "estimated_parameters" in on and "estimated_parameters" not in off
    for name in off.data_vars:
        np.testing.assert_array_equal(on[name].values, off[name].values, err_msg=name)


def test_groups_share_a_draw_whatever_the_batches_and_policies_share_them_too() -> None:
    sc = _scenario(COV, "parameter_uncertainty.enabled=true", "parameter_uncertainty.per_draw=3")
    a = simulate(sc, replications=12, seed=9, progress=False, batch_size=12)
    b = simulate(sc, replications=12, seed=9, progress=False, batch_size=5)  # batches cut across groups
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    draws = a["estimated_parameters"].values
    assert np.array_equal(draws[0], draws[2]) and not np.array_equal(draws[2], draws[3])
    assert len({tuple(row) for row in draws}) == 4
    both = simulate_variants(
        {
            "single": sc.with_values({"choices.policy": "single"}),
            "tiered": sc.with_values({"choices.policy": "tiered"}),
        },
        dim="policy",
        replications=6,
        seed=9,
        progress=False,
    )
    ep = both["estimated_parameters"].values
    np.testing.assert_array_equal(ep[0], ep[1])  # common random numbers: the same draws for every policy
    np.testing.assert_array_equal(ep[0], draws[:6])


def test_the_summary_splits_the_variance_and_the_command_line_turns_it_on(tmp_path: Path) -> None:
    sc = _scenario(COV, "parameter_uncertainty.enabled=true")
    text = summary_text(simulate(sc, replications=8, seed=2, progress=False))
    assert "Parameter uncertainty: 3 estimated parameters drawn once per 2 replication(s) (4 draws)" in text
    assert "stochastic variation" in text
    path = tmp_path / "estimated.toml"
    path.write_text(SMALL + ESTIMATES.format(**COV))
    cmd = [sys.executable, "-m", "valuecapture", "run", str(path), "-n", "8", "-j", "1", "-q", "--no-figures"]
    r = subprocess.run(
        [*cmd, "--out", str(tmp_path / "out"), "--parameter-uncertainty"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert (
        "Parameter uncertainty: 3 estimated parameters" in (tmp_path / "out" / "estimated" / "summary.txt").read_text()
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('fields = ["uncertainties.churn.q"]\ncovariance = [1.0]', "has no parameter 'q'"),
        ('fields = ["economics.wacc"]\ncovariance = [1.0]', "not a distribution parameter of an estimable input"),
        ('fields = ["uncertainties.churn.a"]\ncovariance = [1.0, 0.0]', "len(fields)^2 = 1 numbers"),
        ('fields = ["uncertainties.churn.a", "uncertainties.churn.b"]\ncovariance = [1, 2, 2, 1]', "semi-definite"),
        ('fields = ["uncertainties.churn.a", "uncertainties.churn.b"]\ncovariance = [1, 0.5, 0, 1]', "symmetric"),
        ("fields = []\ncovariance = []", "must be a non-empty list"),
    ],
)
def test_bad_estimates_get_one_line_naming_the_entry(entry: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=r"estimated\.toml: estimates\[0\]\.(fields|covariance): ") as err:
        loads(SMALL + "[[estimates]]\n" + entry, "estimated.toml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_parameter_uncertainty_needs_estimates() -> None:
    with pytest.raises(ScenarioError, match="parameter_uncertainty.enabled: needs \\[\\[estimates\\]\\]"):
        loads(SMALL, "estimated.toml", ["parameter_uncertainty.enabled=true"])
