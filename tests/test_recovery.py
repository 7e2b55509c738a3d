"""Recovery (issue 17, item 6): simulate a firm with known parameters, export it, calibrate it back.

The true firm is the classroom scenario made exactly shifted-beta-geometric in its realised
churn (``relationship.churn_trust_effect = 0``, ``heterogeneity.interdependence = false``: no
trust effect, contagion or referrals, so every customer keeps its drawn Beta(2, 18) annual churn
probability) and stationary in what the data map onto the scenario: no growth, trust and
adaptation fixed (so share of wallet is the same for every relationship and every year, the one
calibrate divides revenue by) and no internal-fit penalty on cost to serve (calibrate keeps the
business model's factors in the estimate, docs/calibration.md, so a penalty would be counted
twice).  Its export (``valuecapture export-customers``: 10 years, about 1,800 customers of whom
half are still active) is calibrated with the true scenario as the base.

(a) Over 40 seeds, the reported 95% intervals (estimate +- 1.96 standard errors, the observed
    information's) of the churn Beta's a and b, of the wallet's and of the cost to serve's
    lognormal s and scale hold the true value in a number of seeds that is Binomial(40, 0.95)
    if the intervals are right: each count must lie in that binomial's central 99.9% range
    (32 to 40), so a correct estimator fails a parameter one run in a thousand.  The net price
    is left out: its true lognormal (s = 0.08) and a gamma are too close for AIC to tell apart
    on a thousand customers, so which family's parameters to compare is not defined.
(b) The calibrated firm's value, run with its estimation uncertainty (``--parameter-uncertainty``,
    groups of 2 replications sharing a parameter draw), gives the interval for the firm's mean
    value mean +- 1.96 sqrt(between + MSB / (2 G)): the spread of E[V | theta] over the
    estimates' sampling distribution (the between-draw variance, unbiased by the design of
    docs/calibration.md) plus the Monte Carlo error of the mean.  It must cover the true
    firm's mean value: the true scenario with the same number of customers at the start as the
    calibrated one (the customers active at the end of observation), whose mean is known to
    within its Monte Carlo standard error.  Both are valued as the customer base they have, with
    no customers won later (``acquisition.prospects_per_year = 0``): the acquisition rate's
    estimate (wins per year, Poisson standard error about 6% here) is not among the
    ``[[estimates]]`` that a run draws, so with acquisition the interval leaves out a part of the
    estimation uncertainty and is too narrow (it missed the true mean in 2 of seeds 2-7; valuing
    the customer base alone it covered it in 8 of 8, seeds 1-8).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import valuecapture as vc
from valuecapture.analysis.stats import variance_split
from valuecapture.data.calibrate import Result, calibrate
from valuecapture.report.customers import CUSTOMERS_FILE, PANEL_FILE, customer_tables, write_export
from valuecapture.scenario.load import Scenario

ROOT = Path(__file__).resolve().parents[1]
TRUE_OVERRIDES = [
    "customers.count=1000",
    "horizon.periods=40",
    "acquisition.prospects_per_year=80",
    "relationship.churn_trust_effect=0",
    "heterogeneity.interdependence=false",
    "heterogeneity.relationship=false",
    "relationship.trust_up=0",
    "relationship.trust_down=0",
    "relationship.adaptation_rate=0",
    "relationship.new_trust=0.6",  # the mean initial trust: new relationships have the same share of wallet
    "relationship.adaptation_cost=0",
    "business.fit_cost=0",
    "outputs.revenue_panel=true",
    "outputs.relationship_detail=1",
]
#: The true values of the parameters checked (classroom.toml and the schema's defaults).
TRUTH = {
    ("uncertainties.churn", "a"): 2.0,
    ("uncertainties.churn", "b"): 18.0,
    ("uncertainties.wallet", "s"): 1.2,
    ("uncertainties.wallet", "scale"): 100_000.0,
    ("uncertainties.cost_to_serve", "s"): 0.5,
    ("uncertainties.cost_to_serve", "scale"): 0.14,
}
SEEDS = 40


def true_scenario() -> Scenario:
    sc = vc.load_scenario(ROOT / "scenarios" / "classroom.toml", TRUE_OVERRIDES)
    return sc.with_values(
        {
            "uncertainties.growth": {"dist": "fixed", "value": 0.0},
            "uncertainties.initial_adaptation": {"dist": "fixed", "value": 0.0},
        }
    )


def simulated_and_calibrated(sc: Scenario, seed: int, folder: Path, panel: bool) -> Result:
    """Simulate one firm, export it into ``folder`` and calibrate the export (with the panel or not)."""
    ds = vc.simulate(sc, replications=1, seed=seed, workers=1)
    export = customer_tables(ds, 0)
    write_export(export, folder)
    return calibrate(
        folder / CUSTOMERS_FILE,
        panel=folder / PANEL_FILE if panel else None,
        base=sc,
        as_of=export.as_of,
        write=False,
        bootstrap=50,
    )


def covers(result: Result, field: str, name: str, truth: float) -> bool:
    e = result.calibration.estimates[field]
    if field != "uncertainties.churn" and e.value["dist"] != "lognorm":
        return False  # another family won on AIC: its parameters are not the true ones
    est, se = float(e.value[name]), float(e.se[name])
    return abs(est - truth) <= 1.96 * se


@pytest.mark.slow
def test_the_95_percent_intervals_hold_the_true_parameters_at_the_nominal_rate(tmp_path: Path) -> None:
    sc = true_scenario()
    t0 = time.perf_counter()
    counts = dict.fromkeys(TRUTH, 0)
    for seed in range(SEEDS):
        result = simulated_and_calibrated(sc, 1000 + seed, tmp_path / f"s{seed}", panel=False)
        for (field, name), truth in TRUTH.items():
            counts[field, name] += covers(result, field, name, truth)
    lo, hi = stats.binom.interval(0.999, SEEDS, 0.95)
    assert (lo, hi) == (32, 40)
    print(f"{SEEDS} firms simulated, exported and calibrated in {time.perf_counter() - t0:.0f} s; covered: {counts}")
    for key, n in counts.items():
        assert lo <= n <= hi, f"{key}: the 95% interval held the true value in {n} of {SEEDS} seeds"


def test_the_calibrated_firm_value_interval_covers_the_true_firms_mean_value(tmp_path: Path) -> None:
    sc = true_scenario()
    result = simulated_and_calibrated(sc, 1, tmp_path / "firm", panel=True)
    n = int(result.scenario.get("customers.count"))
    assert 800 < n < 1400  # the customers active at the end of observation
    # the value of the customer base: no customers won later (the acquisition estimate is not drawn)
    plain = {"outputs.revenue_panel": False, "outputs.relationship_detail": 0, "acquisition.prospects_per_year": 0.0}
    true = vc.simulate(sc.with_values({**plain, "customers.count": n}), replications=400, seed=2, workers=1)
    v = true["firm_value"].values
    true_mean, true_se = v.mean(), v.std(ddof=1) / np.sqrt(v.size)
    cal = result.scenario.with_values(
        {**plain, "parameter_uncertainty.enabled": True, "parameter_uncertainty.per_draw": 2}
    )
    x = vc.simulate(cal, replications=400, seed=3, workers=1)["firm_value"].values
    split = variance_split(x, 2)
    msb = 2 * split.between + split.within
    half = 1.96 * np.sqrt(max(split.between, 0.0) + msb / (2 * split.groups))
    assert split.between > 0  # the estimates' uncertainty is visible in firm value
    lo, hi = x.mean() - half, x.mean() + half
    print(f"true mean firm value {true_mean:.4g} +- {true_se:.2g}; calibrated 95% interval [{lo:.4g}, {hi:.4g}]")
    assert lo < true_mean < hi
    assert half > 10 * true_se  # the true mean is known far better than the interval is wide


def test_the_first_business_model_s_factors_are_not_counted_twice(tmp_path: Path) -> None:
    """classroom.toml's first business model raises cost to serve by its internal-fit penalty
    (x 1.064); calibration divides it out, so the true scale 0.14 lies within 2.5 s.e. of the
    estimate (pooled over 3 seeds, s.e. / sqrt(3)); counted twice it would sit about 5 pooled
    s.e. above."""
    sc = true_scenario().with_values(
        {"business.fit_cost": vc.load_scenario(ROOT / "scenarios" / "classroom.toml").get("business.fit_cost")}
    )
    est, se = [], []
    for seed in range(3):
        e = simulated_and_calibrated(sc, 2000 + seed, tmp_path / f"f{seed}", panel=False).calibration.estimates[
            "uncertainties.cost_to_serve"
        ]
        if e.value["dist"] == "lognorm":
            est.append(float(e.value["scale"]))
            se.append(float(e.se["scale"]))
    assert est, "lognorm never won on AIC"
    pooled = float(np.mean(est)), float(np.sqrt(np.mean(np.square(se)) / len(se)))
    assert abs(pooled[0] - 0.14) <= 2.5 * pooled[1], pooled
