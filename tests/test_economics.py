"""Exact checks against hand computations and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import steady

import valuecapture as vc


def hand_economic_profit(sc: vc.Scenario) -> float:
    """Economic profit per period of one relationship of :func:`steady`, from the definitions."""
    g = sc.get
    bm = sc.business_models[0]
    dt = 1.0 / g("horizon.periods_per_year")
    trust = g("uncertainties.initial_trust").mean()
    adapt = g("uncertainties.initial_adaptation").mean()
    sow = 1.0 / (
        1.0
        + math.exp(
            -(
                g("relationship.sow_intercept")
                + g("relationship.sow_trust") * trust
                + g("relationship.sow_adaptation") * adapt
            )
        )
    )
    volume = g("uncertainties.wallet").mean() * dt * sow
    revenue = volume * g("uncertainties.price").mean() * bm["price_factor"]
    cogs = volume * g("economics.cogs_ratio")
    cts = (
        revenue
        * g("uncertainties.cost_to_serve").mean()
        * bm["cost_to_serve_factor"]
        * (1 + g("relationship.adaptation_cost") * adapt)
    )
    nopat = (revenue - cogs - cts - bm["service_cost"] * dt) * (1 - g("economics.tax_rate"))
    capital = (
        revenue / dt * (g("economics.dso_days") / 365 + g("relationship.dedicated_assets") * adapt)
        + cogs / dt * g("economics.inventory_days") / 365
    )
    i = (1 + g("economics.wacc")) ** dt - 1
    return nopat - i * capital


@pytest.mark.parametrize("ppy", [1, 4])
def test_no_volatility_is_deterministic_and_equals_hand_computation(ppy: int) -> None:
    sc = steady(**{"horizon.periods_per_year": ppy, "economics.terminal_value": "none"})
    a = vc.simulate(sc, replications=3, seed=1)
    b = vc.simulate(sc, replications=3, seed=999)
    np.testing.assert_array_equal(a["firm_value"].values, b["firm_value"].values)
    ep = hand_economic_profit(sc)
    i = (1 + sc.get("economics.wacc")) ** (1 / ppy) - 1
    T = sc.get("horizon.periods")
    annuity = (1 - (1 + i) ** -T) / i
    n = sc.get("customers.count")
    fixed = (sc.get("choices.fixed_cost") + sc.business_models[0]["fixed_cost"]) / ppy
    np.testing.assert_allclose(a["relationship_value"].values[0, :n], ep * annuity, rtol=1e-12)
    tax1 = 1 - sc.get("economics.tax_rate")  # fixed costs are deductible
    np.testing.assert_allclose(a["firm_value"].values, n * ep * annuity - tax1 * fixed * annuity, rtol=1e-12)
    np.testing.assert_allclose(a["relationship_economic_profit"].values, n * ep, rtol=1e-12)
    np.testing.assert_allclose(a["fixed_cost"].values, fixed, rtol=1e-12)


def test_runoff_terminal_value_of_a_steady_firm_is_a_perpetuity() -> None:
    sc = steady(**{"economics.terminal_value": "runoff"})
    ds = vc.simulate(sc, replications=2, seed=3)
    ep = hand_economic_profit(sc)
    i = sc.get("economics.wacc")
    n = sc.get("customers.count")
    fixed = sc.get("choices.fixed_cost") + sc.business_models[0]["fixed_cost"]
    # no churn: each relationship is worth EP / i; fixed costs run off with revenue, which never shrinks
    np.testing.assert_allclose(ds["relationship_value"].values[0, :n], ep / i, rtol=1e-10)
    np.testing.assert_allclose(
        ds["firm_value"].values, n * ep / i - (1 - sc.get("economics.tax_rate")) * fixed / i, rtol=1e-10
    )


@pytest.mark.parametrize("terminal", ["runoff", "none"])
def test_mean_relationship_value_matches_textbook_clv(terminal: str) -> None:
    """Constant margin m, retention r, discount i: E[VC] = m / (1 + i - r) (runoff) or its T-period truncation.

    Timing (docs/model.md): a customer alive at the start of period t earns m at its end and then
    stays with probability r, so E[VC] = sum_t r^(t-1) m / (1+i)^t.  Relationships are independent
    (no interdependence), so the standard error of the mean over all N x R relationships is
    sd / sqrt(N R); we allow 4 standard errors (two-sided false-alarm probability 6e-5).
    """
    churn = 0.2
    sc = steady(
        **{
            "uncertainties.churn": {"dist": "fixed", "value": churn},
            "economics.terminal_value": terminal,
            "customers.count": 400,
            "horizon.periods": 15,
        }
    )
    ds = vc.simulate(sc, replications=40, seed=11)
    m = hand_economic_profit(sc)
    r = 1 - churn
    i = sc.get("economics.wacc")
    T = sc.get("horizon.periods")
    expected = m / (1 + i - r)
    if terminal == "none":
        expected *= 1 - (r / (1 + i)) ** T
    values = ds["relationship_value"].values
    values = values[np.isfinite(values)]
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - expected) < 4 * se, (values.mean(), expected, se)
    assert se < 0.02 * expected  # the test has power: 4 s.e. is under 8% of the value


def test_expected_lifetime_is_one_over_one_minus_r() -> None:
    """Periods with profit of a customer alive at the start: geometric with mean 1/(1-r), truncated at T.

    E[min(L, T)] = (1 - r^T) / (1 - r); with r = 0.75 and T = 60 the truncation is below 1e-7.
    Tolerance: 4 Monte Carlo standard errors of the mean lifetime.
    """
    sc = steady(
        **{
            "uncertainties.churn": {"dist": "fixed", "value": 0.25},
            "customers.count": 500,
            "horizon.periods": 60,
            "economics.terminal_value": "none",
        }
    )
    ds = vc.simulate(sc, replications=20, seed=5)
    filled = ds["acquired_period"].values >= 0
    life = ds["periods_active"].values[filled].astype(float)
    assert life.size == 500 * 20
    r = 0.75
    expected = (1 - r**60) / (1 - r)
    se = life.std(ddof=1) / math.sqrt(life.size)
    assert abs(life.mean() - expected) < 4 * se, (life.mean(), expected, se)
    assert abs(expected - 1 / (1 - r)) < 1e-6


def test_churn_rate_is_converted_per_period() -> None:
    """Annual churn p gives per-period retention (1-p)^(1/ppy): quarterly survival over a year = 1-p.

    The fraction of 2,000 x 10 customers alive after 4 quarters is binomial; tolerance 4 s.e.
    """
    sc = steady(
        **{
            "uncertainties.churn": {"dist": "fixed", "value": 0.3},
            "customers.count": 2000,
            "horizon.periods": 4,
            "horizon.periods_per_year": 4,
        }
    )
    ds = vc.simulate(sc, replications=10, seed=2)
    alive = ds["customers_active"].isel(period=-1).values.sum() / (2000 * 10)
    se = math.sqrt(0.7 * 0.3 / 20000)
    assert abs(alive - 0.7) < 4 * se
