"""Hypothesis property tests of model invariants (small scenarios, few examples each)."""

from __future__ import annotations

import numpy as np
from conftest import tiny
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import valuecapture as vc
from valuecapture.run.results import currency_of, is_money

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

worlds = st.fixed_dictionaries(
    {
        "customers.count": st.integers(5, 80),
        "horizon.periods": st.integers(1, 10),
        "horizon.periods_per_year": st.sampled_from([1, 4, 12]),
        "acquisition.prospects_per_year": st.floats(0, 40),
        "acquisition.referral_rate": st.floats(0, 1.0),
        "contagion.multiplier": st.floats(1, 5),
        "demand.volatility": st.floats(0, 0.8),
        "network.generator": st.sampled_from(["none", "random", "segment_clusters", "small_world"]),
        "uncertainties.churn": st.builds(
            lambda a, b: {"dist": "beta", "a": a, "b": b}, st.floats(0.5, 5), st.floats(0.5, 20)
        ),
    }
)


@PROPERTY
@given(values=worlds, k=st.sampled_from([0.001, 3.0, 1000.0]), seed=st.integers(0, 2**32))
def test_money_scales(values: dict, k: float, seed: int) -> None:
    """Every monetary input x k => every monetary output x k; everything else unchanged."""
    sc = tiny(**values)
    a = vc.simulate(sc, replications=3, seed=seed)
    b = vc.simulate(sc.scale_money(k), replications=3, seed=seed)
    currency = currency_of(a)
    for name, var in a.data_vars.items():
        units = var.attrs["units"]
        x, y = var.values, b[name].values
        if is_money(var, currency):
            scale = np.nanmax(np.abs(x)) if np.isfinite(x).any() else 1.0
            np.testing.assert_allclose(y, k * x, rtol=1e-9, atol=1e-9 * k * scale, err_msg=name)
        elif np.issubdtype(var.dtype, np.floating) and units in (
            "1",
            "fraction of total",
            "ratio",
            "fraction of customers",
        ):
            # ratios of money (CF dimensionless "1"): equal up to rounding
            np.testing.assert_allclose(y, x, rtol=1e-7, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(y, x, err_msg=name)


@PROPERTY
@given(values=worlds, seed=st.integers(0, 2**32))
def test_customer_counts_are_conserved(values: dict, seed: int) -> None:
    """start + acquired - churned = active, at every period of every replication."""
    sc = tiny(**values)
    ds = vc.simulate(sc, replications=3, seed=seed)
    start = sc.get("customers.count")
    balance = start + ds["acquired"].cumsum("period") - ds["churned"].cumsum("period")
    np.testing.assert_array_equal(balance.values, ds["customers_active"].values)
    assert (ds["customers_active"] >= 0).all()
    np.testing.assert_array_equal(ds["customers_ever"].values, start + ds["acquired"].sum("period").values)


@PROPERTY
@given(values=worlds, low=st.floats(0.01, 0.3), step=st.floats(0.001, 0.3), seed=st.integers(0, 2**32))
def test_higher_wacc_never_raises_a_positive_profit_relationship(
    values: dict, low: float, step: float, seed: int
) -> None:
    """Same world, higher WACC: every relationship with positive economic profit is worth less.

    Margins are made positive in every period (cheap goods, low cost to serve, no service
    cost, no acquisition cost), so every relationship earns positive economic profit.
    """
    positive = {
        "economics.cogs_ratio": 0.3,
        "uncertainties.cost_to_serve": {"dist": "fixed", "value": 0.05},
        "acquisition.acquisition_cost": 0.0,
        "choices.business_models": [{"name": "standard", "service_cost": 0.0}],
    }
    lo = tiny(**values, **positive, **{"economics.wacc": low})
    hi = lo.with_values({"economics.wacc": min(1.0, low + step)})
    a = vc.simulate(lo, replications=2, seed=seed)["relationship_value"].values
    b = vc.simulate(hi, replications=2, seed=seed)["relationship_value"].values
    filled = np.isfinite(a)
    np.testing.assert_array_equal(filled, np.isfinite(b))
    assert (a[filled] > 0).all()
    assert (b[filled] <= a[filled]).all()
