"""Calibration from a firm's own data (issue 17, first part): the estimators and the calibrated scenario.

- the shifted-beta-geometric fit against Fader & Hardie's published cohorts;
- recovery of known parameters from data drawn with numpy (fixed seeds).  Every tolerance is a
  multiple of the estimator's own standard error (4 s.e.: a correct estimator fails such a check
  with probability about 6e-5), so a check fails when the estimate is biased, or when its
  standard error is too small;
- right-censoring (a fit that ignores it fails the same check), AIC choosing the true family,
  the copula's rho and the nearest correlation matrix;
- the calibrated scenario loads, runs, and writes its TOML and sidecar.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

import valuecapture as vc
from valuecapture.data import churn as sbg
from valuecapture.data.calibrate import calibrate, default_base, mean_share_of_wallet
from valuecapture.data.copula import nearest_correlation, normal_scores, score_correlation
from valuecapture.data.marginals import fit_family, fit_marginal
from valuecapture.data.panel import PanelData, fit_demand
from valuecapture.data.synthetic import Truth, draw

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.toml"
K = 4.0  # tolerance in standard errors


def within(estimate: float, truth: float, se: float, k: float = K) -> bool:
    return bool(np.isfinite(se) and se > 0 and abs(estimate - truth) <= k * se)


# ---------------------------------------------------------------------------- churn


# Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention", Journal of
# Interactive Marketing 21(1), 76-90: customers still active at the start of years 0..7 of
# two cohorts of 1,000, and the maximum-likelihood estimates the paper reports (fit on years 1-7).
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(("survivors", "alpha", "beta"), [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)])
def test_sbg_reproduces_the_published_fits(survivors: list[int], alpha: float, beta: float) -> None:
    fit = sbg.fit_sbg(sbg.from_survivors(np.array(survivors)))
    assert fit.converged
    assert abs(fit.a - alpha) < 6e-4 and abs(fit.b - beta) < 6e-4, (fit.a, fit.b)  # the paper rounds to 3 decimals
    # the fitted survival follows the cohort within 2% of it in every year, as the paper shows
    fitted = 1000 * sbg.survival(fit.a, fit.b, np.arange(8))
    assert np.max(np.abs(fitted - np.array(survivors))) < 20
    assert all(math.isfinite(s) and s > 0 for s in fit.se)


def _lifetime_dates(n: int, a: float, b: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.datetime64]:
    """Customers won at quarter starts over 8 years before as_of, lost at the end of a quarter after a
    geometric number of quarters (per-quarter churn 1 - (1 - p)^(1/4), p ~ Beta(a, b)), as dates."""
    rng = np.random.default_rng(seed)
    as_of = np.datetime64("2024-12-31")
    quarter = 365.25 / 4
    start = rng.integers(0, 32, n)
    p = rng.beta(a, b, n)
    life = rng.geometric(-np.expm1(0.25 * np.log1p(-p)))
    acquired = as_of - np.round((32 - start) * quarter).astype("timedelta64[D]")
    lost = start + life <= 32
    churned = np.where(
        lost, as_of - np.round((32 - start - life) * quarter).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    return acquired, churned.astype("datetime64[D]"), as_of


def test_sbg_recovers_known_parameters_from_censored_dates_and_ignoring_censoring_fails() -> None:
    a, b = 0.9, 4.0
    acquired, churned, as_of = _lifetime_dates(20_000, a, b, seed=11)
    lt, lost = sbg.lifetimes(acquired, churned, as_of, periods_per_year=4)
    assert 0.3 < lt.events / lt.n < 0.7  # heavily censored
    fit = sbg.fit_sbg(lt)
    sa, sb = fit.se
    assert within(fit.a, a, sa) and within(fit.b, b, sb), (fit.a, sa, fit.b, sb)
    mean_se = (
        math.sqrt(np.array([b, -a]) @ fit.cov @ np.array([b, -a])) / (fit.a + fit.b) ** 2
    )  # delta method for a/(a+b)
    assert within(fit.mean, a / (a + b), mean_se)
    # the same data without the censored customers (the lost ones only), or with every censored
    # customer counted as lost at its censoring time: both miss the truth by far more than 4 s.e.
    lost_only = sbg.fit_sbg(sbg.Lifetimes(lt.lost_from, lt.lost_by, np.empty(0)))
    as_lost = sbg.fit_sbg(
        sbg.Lifetimes(
            np.r_[lt.lost_from, np.floor(lt.censored * 4) / 4],
            np.r_[lt.lost_by, np.floor(lt.censored * 4) / 4 + 0.25],
            np.empty(0),
        )
    )
    for naive in (lost_only, as_lost):
        assert not within(naive.mean, a / (a + b), mean_se), naive.mean


def test_lifetimes_use_the_period_grid_and_left_truncation() -> None:
    as_of = np.datetime64("2024-12-31")
    acquired = np.array(["2024-01-01", "2024-01-01", "2023-12-31"], dtype="datetime64[D]")
    churned = np.array(["2024-04-01", "2024-04-03", "NaT"], dtype="datetime64[D]")
    lt, lost = sbg.lifetimes(acquired, churned, as_of, periods_per_year=4)
    assert lost.tolist() == [True, True, False]
    # 91 days = the end of the first quarter; 93 days also (2 days of date rounding), the censored one at 1 year
    assert lt.lost_from.tolist() == [0.0, 0.0] and lt.lost_by.tolist() == [0.25, 0.25]
    assert lt.censored[0] == pytest.approx(366 / 365.25)
    truncated, _ = sbg.lifetimes(acquired, churned, as_of, 4, observed_from=np.datetime64("2024-03-01"))
    assert truncated.entry_lost is not None and truncated.entry_lost[0] == pytest.approx(60 / 365.25)
    # left truncation: a customer known from year 1 on that is lost in year 2 has likelihood (S(1) - S(2)) / S(1)
    one = sbg.Lifetimes(np.array([1.0]), np.array([2.0]), np.empty(0), np.array([1.0]), np.empty(0))
    s1, s2 = sbg.survival(0.7, 1.2, 1.0), sbg.survival(0.7, 1.2, 2.0)
    assert sbg.loglik(0.7, 1.2, one) == pytest.approx(math.log((s1 - s2) / s1))


def test_no_churn_cannot_be_fitted() -> None:
    with pytest.raises(ValueError, match="no customer was lost"):
        sbg.fit_sbg(sbg.Lifetimes(np.empty(0), np.empty(0), np.ones(10)))


# ---------------------------------------------------------------------------- marginals


@pytest.mark.parametrize(
    ("family", "params", "draw_"),
    [
        ("lognorm", {"s": 1.2, "scale": 1e5}, lambda g, n: 1e5 * np.exp(1.2 * g.standard_normal(n))),
        ("gamma", {"a": 4.0, "scale": 0.04}, lambda g, n: g.gamma(4.0, 0.04, n)),
        ("weibull_min", {"c": 1.5, "scale": 3.0}, lambda g, n: 3.0 * g.weibull(1.5, n)),
    ],
)
def test_aic_picks_the_true_family_and_the_estimates_lie_within_their_standard_errors(
    family: str, params: dict[str, float], draw_: object
) -> None:
    x = draw_(np.random.default_rng(5), 20_000)  # type: ignore[operator]
    choice = fit_marginal(x, lo=0.0)
    assert choice is not None and choice.best.family == family, [(f.family, f.aic) for f in choice.fits]
    assert choice.fits[1].aic - choice.best.aic > 10  # not a close call on 20,000 customers
    for key, value in params.items():
        assert within(choice.best.params[key], value, choice.best.se[key]), (key, choice.best.params, choice.best.se)
    assert choice.best.ks_pvalue > 1e-3 and choice.best.ks_statistic < 0.02


def test_observed_information_matches_the_analytic_standard_errors() -> None:
    # lognormal with loc 0: se(s) = s / sqrt(2n), se(scale) = scale s / sqrt(n) (the MLE's exact information)
    x = np.random.default_rng(2).lognormal(np.log(50.0), 0.8, 4000)
    fit = fit_family(x, "lognorm")
    assert fit is not None
    s, scale = fit.params["s"], fit.params["scale"]
    assert fit.se["s"] == pytest.approx(s / math.sqrt(2 * x.size), rel=0.02)
    assert fit.se["scale"] == pytest.approx(scale * s / math.sqrt(x.size), rel=0.02)


def test_fractions_get_beta_and_candidates_stay_inside_the_field_bounds() -> None:
    x = np.random.default_rng(3).beta(30.0, 3.0, 5000)
    choice = fit_marginal(x, lo=0.0, hi=1.0)
    assert choice is not None and choice.best.family == "beta"
    assert all(f.family != "norm" for f in choice.fits)  # its support leaves [0, 1]
    zeros = np.r_[np.zeros(10), np.random.default_rng(4).gamma(2.0, 1.0, 500)]
    with_zeros = fit_marginal(zeros, lo=0.0)
    assert with_zeros is not None and with_zeros.excluded == 10  # left out of the families on (0, inf), counted


# ---------------------------------------------------------------------------- copula


def test_copula_recovers_rho_whatever_the_marginals() -> None:
    rng = np.random.default_rng(8)
    rho = -0.4
    z = rng.standard_normal((5000, 2)) @ np.linalg.cholesky(np.array([[1, rho], [rho, 1]])).T
    wallet = np.exp(1.3 * z[:, 0]) * 1e5  # lognormal
    cts = stats.gamma.ppf(special.ndtr(z[:, 1]), 2.0)  # gamma, through the copula
    cts[rng.random(5000) < 0.1] = np.nan  # missing values: the pair uses the customers having both
    fit = score_correlation({"wallet": wallet, "cost_to_serve": cts})
    (a, b, r, se, n) = fit.pairs()[0]
    assert (a, b) == ("wallet", "cost_to_serve") and 4000 < n < 5000
    assert within(r, rho, se)
    assert se == pytest.approx((1 - rho**2) / math.sqrt(n), rel=0.05)
    assert not fit.repaired
    scores = normal_scores(np.array([3.0, 1.0, 2.0, np.nan]))
    assert np.isnan(scores[3]) and scores[1] < scores[2] < scores[0] and scores[2] == pytest.approx(0.0)


def test_nearest_correlation_matrix_matches_highams_example() -> None:
    # Higham (2002), IMA J. Numerical Analysis 22(3), 329-343, section 4: the nearest correlation matrix to
    # [[1, 1, 0], [1, 1, 1], [0, 1, 1]] has off-diagonal entries 0.7607 and 0.1573
    c = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    x, changed = nearest_correlation(c, min_eig=1e-9, tol=1e-12, max_iter=10_000)
    assert changed
    assert x[0, 1] == pytest.approx(0.7607, abs=2e-4) and x[0, 2] == pytest.approx(0.1573, abs=2e-4)
    assert np.allclose(np.diag(x), 1.0) and np.linalg.eigvalsh(x).min() > 0
    y, again = nearest_correlation(np.eye(3))
    assert not again and np.array_equal(y, np.eye(3))


# ---------------------------------------------------------------------------- demand from a panel


def _panel(n: int, years: int, phi: float, vol: float, rho_w: float, rho_a: float, seed: int) -> PanelData:
    """Yearly log revenue growth of customers whose quarterly log demand follows the engine's model."""
    rng = np.random.default_rng(seed)
    m, dt, k = 4, 0.25, 4
    sd = vol * math.sqrt(dt)
    stat = 1 / math.sqrt(1 - phi * phi)
    seg = rng.integers(0, k, n)
    g = rng.normal(0.03, 0.05, n)
    s = (sd * math.sqrt(rho_a), sd * math.sqrt(rho_w - rho_a), sd * math.sqrt(1 - rho_w))
    lm, ls, le = (
        s[0] * stat * rng.standard_normal(),
        s[1] * stat * rng.standard_normal(k),
        s[2] * stat * rng.standard_normal(n),
    )
    quarters = np.empty((years * m, n))
    for q in range(years * m):
        if q:
            lm, ls, le = (
                phi * lm + s[0] * rng.standard_normal(),
                phi * ls + s[1] * rng.standard_normal(k),
                phi * le + s[2] * rng.standard_normal(n),
            )
        quarters[q] = lm + ls[seg] + le + (q + 1) * dt * np.log1p(g)
    revenue = np.exp(quarters).reshape(years, m, n).sum(axis=1)
    return PanelData(np.diff(np.log(revenue), axis=0).T, seg, m, dt)


def test_demand_dynamics_and_growth_are_recovered_from_a_yearly_panel() -> None:
    data = _panel(4000, 10, phi=0.6, vol=0.2, rho_w=0.0, rho_a=0.0, seed=21)
    fit = fit_demand(data, bootstrap=100)
    assert within(fit.persistence, 0.6, fit.se["persistence"]), (fit.persistence, fit.se)
    assert within(fit.volatility, 0.2, fit.se["volatility"]), (fit.volatility, fit.se)
    assert within(fit.growth_log_sd, 0.05 / 1.03, fit.se["growth_log_sd"]), (fit.growth_log_sd, fit.se)
    assert within(fit.growth_log_mean, math.log1p(0.03) - 0.05**2 / 2 / 1.03**2, fit.se["growth_log_mean"])
    assert fit.rho_within < 0.05 and fit.rho_across < 0.05


def test_a_panel_by_period_needs_no_temporal_aggregation() -> None:
    rng = np.random.default_rng(6)
    n, quarters, phi, sd = 3000, 24, 0.7, 0.2 * math.sqrt(0.25)
    x = np.empty((quarters, n))
    x[0] = sd / math.sqrt(1 - phi * phi) * rng.standard_normal(n)
    for q in range(1, quarters):
        x[q] = phi * x[q - 1] + sd * rng.standard_normal(n)
    fit = fit_demand(PanelData(np.diff(x, axis=0).T, np.zeros(n, dtype=np.int64), 1, 0.25), bootstrap=50)
    assert within(fit.persistence, phi, fit.se["persistence"]) and within(fit.volatility, 0.2, fit.se["volatility"])
    assert fit.growth_log_sd < 3 * fit.se["growth_log_sd"] + 1e-3  # no growth heterogeneity in these data


def test_the_common_factors_are_recovered_from_a_long_panel() -> None:
    # the correlations rest on the common shocks of the observed years: 40 years give enough of them
    data = _panel(1500, 40, phi=0.5, vol=0.2, rho_w=0.45, rho_a=0.15, seed=4)
    fit = fit_demand(data, bootstrap=50)
    assert within(fit.rho_within, 0.45, fit.se["rho_within"]), (fit.rho_within, fit.se)
    assert within(fit.rho_across, 0.15, fit.se["rho_across"]), (fit.rho_across, fit.se)
    assert within(fit.persistence, 0.5, fit.se["persistence"]), (fit.persistence, fit.se)
    assert within(fit.volatility, 0.2, fit.se["volatility"]), (fit.volatility, fit.se)


# ---------------------------------------------------------------------------- the calibrated scenario


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Truth]:
    """A synthetic firm of 3,000 customers (8 years of acquisitions, yearly panel) in CSV files."""
    base = vc.load_scenario(BASELINE)
    adapt = 1 + base.get("relationship.adaptation_cost") * base.get("uncertainties.initial_adaptation").mean()
    truth = Truth(customers=3000, share_of_wallet=mean_share_of_wallet(base), cost_factor=adapt)
    table, panel = draw(truth, seed=3)
    folder = tmp_path_factory.mktemp("firm")
    table.to_csv(folder / "customers.csv", index=False)
    assert panel is not None
    panel.to_csv(folder / "revenue.csv", index=False)
    return folder / "customers.csv", folder / "revenue.csv", truth


def test_a_calibrated_scenario_recovers_the_firm_loads_and_runs(firm: tuple[Path, Path, Truth], tmp_path: Path) -> None:
    customers, revenue, truth = firm
    out = tmp_path / "ours.toml"
    result = calibrate(customers, revenue, base=BASELINE, out=out, bootstrap=50)
    assert result.paths == (out, tmp_path / "ours.calibration.json")
    sc = vc.load_scenario(out)
    assert sc.name == "ours" and sc.business_models == vc.load_scenario(BASELINE).business_models
    e = result.calibration.estimates
    churn = e["uncertainties.churn"]
    assert within(churn.value["a"], truth.churn_a, churn.se["a"]) and within(
        churn.value["b"], truth.churn_b, churn.se["b"]
    )
    wallet = e["uncertainties.wallet"]
    assert wallet.value["dist"] == "lognorm"
    # the revenue of the last year also carries that year's demand shock and a little growth: 1% allowance
    assert abs(wallet.value["scale"] / truth.wallet_scale - 1) < K * wallet.se["scale"] / truth.wallet_scale + 0.01
    assert within(wallet.value["s"], truth.wallet_s, wallet.se["s"] + 0.01)
    cts = e["uncertainties.cost_to_serve"]
    assert cts.value["dist"] == "gamma" and within(cts.value["a"], truth.cts_a, cts.se["a"])
    assert e["economics.cogs_ratio"].value == pytest.approx(truth.cogs_ratio, rel=1e-4)
    assert within(e["economics.dso_days"].value, truth.dso_mean, e["economics.dso_days"].se)
    pairs = {tuple(p["between"]): p for p in result.calibration.correlation_details}
    for key, rho in (
        (("wallet", "price"), truth.rho_wallet_price),
        (("wallet", "cost_to_serve"), truth.rho_wallet_cts),
    ):
        assert within(pairs[key]["rho"], rho, pairs[key]["se"]), (key, pairs[key])
    assert sc.get("customers.count") == int(result.calibration.data["active"])
    assert sc.get("customers.segments") == list(truth.segments)
    growth = e["uncertainties.growth"]
    assert within(growth.value["loc"], truth.growth_loc, growth.se["loc"])
    # every estimated field has its comment in the file, and the sidecar has it machine-readable
    text = out.read_text()
    assert text.startswith("# Calibrated by valuecapture calibrate")
    assert text.count("# estimated:") >= len(e) - 1
    meta = json.loads((tmp_path / "ours.calibration.json").read_text())
    assert meta["data"]["customers"]["rows"] == truth.customers
    assert len(meta["data"]["customers"]["sha256"]) == 64 and meta["data"]["panel"]["unit"] == "year"
    assert set(meta["estimates"]) == set(e)
    assert meta["estimates"]["uncertainties.churn"]["details"]["pooled"]["cov"]  # for parameter uncertainty later
    ds = vc.simulate(sc.with_values({"horizon.periods": 4, "customers.count": 200}), replications=3, seed=1)
    assert np.isfinite(ds["firm_value"].values).all()


def test_gross_margin_gives_the_same_cogs_ratio_as_cogs(firm: tuple[Path, Path, Truth], tmp_path: Path) -> None:
    import pandas as pd

    customers, _, truth = firm
    table = pd.read_csv(customers, dtype=str, keep_default_na=False)
    revenue = pd.to_numeric(table["revenue"], errors="coerce")
    table["gross_margin"] = (1 - pd.to_numeric(table["cogs"], errors="coerce") / revenue).round(8).astype(str)
    table = table.drop(columns=["cogs"]).replace("nan", "")
    table.to_csv(tmp_path / "gm.csv", index=False)
    result = calibrate(tmp_path / "gm.csv", out=tmp_path / "gm.toml", bootstrap=10)
    assert result.calibration.estimates["economics.cogs_ratio"].value == pytest.approx(truth.cogs_ratio, rel=1e-4)


def test_without_a_base_the_documented_defaults_are_kept(firm: tuple[Path, Path, Truth], tmp_path: Path) -> None:
    customers, _, _ = firm
    result = calibrate(customers, out=tmp_path / "plain.toml", bootstrap=10)
    sc = vc.load_scenario(tmp_path / "plain.toml")
    assert sc.business_models == default_base().business_models
    assert sc.get("demand.persistence") == default_base().get("demand.persistence")  # no panel: nothing to say
    assert "demand.persistence" not in result.calibration.estimates
    assert "uncertainties.growth" not in result.calibration.estimates
