"""outputs.revenue_panel: each relationship's revenue by year, initial ages and the active flag.

Opt-in outputs for ``valuecapture export-customers``: switched on they add three detail
variables and change no other output; their values agree with the firm's own series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import valuecapture as vc
from valuecapture.run.budget import result_bytes

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["outputs.relationship_detail=3", "horizon.periods=18"]  # 4.5 years: the last one partial


@pytest.fixture(scope="module")
def pair() -> tuple[xr.Dataset, xr.Dataset]:
    sc = vc.load_scenario(ROOT / "scenarios" / "classroom.toml", SMALL)
    off = vc.simulate(sc, replications=5, seed=3, workers=1)
    on = vc.simulate(sc.with_values({"outputs.revenue_panel": True}), replications=5, seed=3, workers=1)
    return off, on


def test_the_panel_is_opt_in_and_changes_no_other_output(pair: tuple[xr.Dataset, xr.Dataset]) -> None:
    off, on = pair
    added = {"relationship_revenue", "initial_age", "active_at_horizon"}
    assert not added & set(off.data_vars)
    assert set(on.data_vars) == set(off.data_vars) | added
    for name in off.data_vars:
        np.testing.assert_array_equal(on[name].values, off[name].values, err_msg=name)
    assert on["relationship_revenue"].dims == ("detail_replication", "customer", "horizon_year")
    assert on["horizon_year"].values.tolist() == [1, 2, 3, 4, 5]
    for name in added:
        assert on[name].attrs["units"] and on[name].attrs["description"]


def test_the_panel_adds_up_to_the_firms_revenue_and_agrees_with_the_detail(pair: tuple[xr.Dataset, xr.Dataset]) -> None:
    _, ds = pair
    ppy = ds.attrs["periods_per_year"]
    panel = ds["relationship_revenue"].values
    ever = ds["acquired_period"].values >= 0
    assert np.all(np.isnan(panel[~ever])) and np.all(panel[ever] >= 0)
    for r in range(3):
        firm = ds["revenue"].isel(replication=r).values
        by_year = [firm[y * ppy : (y + 1) * ppy].sum() for y in range(panel.shape[2])]
        np.testing.assert_allclose(np.nansum(panel[r], axis=0), by_year, rtol=1e-12)
    # revenue only in the years a relationship was active
    first = np.maximum(ds["acquired_period"].values, 1)
    last = first + ds["periods_active"].values - 1
    years = ds["horizon_year"].values
    start_year, end_year = (first - 1) // ppy + 1, (last - 1) // ppy + 1
    outside = (years < start_year[..., None]) | (years > end_year[..., None])
    assert np.all(panel[ever[..., None] & outside] == 0)
    # active at the horizon: never filled -1; active ones earned in the last period; the count matches the series
    active = ds["active_at_horizon"].values
    assert np.all(active[~ever] == -1) and set(np.unique(active[ever])) <= {0, 1}
    assert np.all(last[active == 1] == ds.sizes["period"])
    np.testing.assert_array_equal((active == 1).sum(axis=1), ds["customers_active"].values[:3, -1])
    # initial ages: the initial customers' only
    age = ds["initial_age"].values
    initial = ds["acquired_period"].values == 0
    assert np.all(np.isfinite(age[initial]) & (age[initial] >= 0)) and np.all(np.isnan(age[~initial]))


def test_the_memory_estimate_counts_the_panel() -> None:
    sc = vc.load_scenario(ROOT / "scenarios" / "classroom.toml", SMALL)
    on = sc.with_values({"outputs.revenue_panel": True})
    assert result_bytes(on, 100) > result_bytes(sc, 100)
