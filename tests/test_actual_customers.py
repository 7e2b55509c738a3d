"""Starting a run from a firm's actual customers (``[customers] source = "FILE"``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import inproc

from valuecapture.data.calibrate import mean_share_of_wallet
from valuecapture.model.params import ModelParams
from valuecapture.model.population import generate_customers
from valuecapture.run.seeds import batch_streams
from valuecapture.run.simulate import simulate
from valuecapture.scenario.load import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "customers.csv"
TOML = """
[scenario]
name = "firm"
[run]
replications = 8
seed = 3
[horizon]
periods = 6
[customers]
source = "{source}"
count = {count}
segments = ["machinery", "process", "construction"]
segment_weights = [0.5, 0.3, 0.2]
[uncertainties.churn]
dist = "beta"
a = 2.0
b = 18.0
"""


def _active(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["churned"].isna()].reset_index(drop=True)


@pytest.fixture()
def firm(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    shutil.copy(DATA, tmp_path / "customers.csv")
    active = _active(pd.read_csv(DATA))
    path = tmp_path / "firm.toml"
    path.write_text(TOML.format(source="customers.csv", count=len(active)))
    return path, active


def test_the_initial_customers_are_the_active_ones_with_their_own_attributes(firm: tuple[Path, pd.DataFrame]) -> None:
    path, active = firm
    sc = load_scenario(path)
    ds = simulate(sc, replications=4, seed=3, progress=False)
    n = len(active)
    assert list(ds["customer_id"].values[:n]) == list(active["customer_id"])
    assert not any(ds["customer_id"].values[n:])
    assert ds.attrs["customers_source"] == "customers.csv" and len(ds.attrs["customers_source_sha256"]) == 64
    segments = ["machinery", "process", "construction"]
    want_segment = [segments.index(s) for s in active["segment"]]
    as_of = pd.Timestamp(ds.attrs["customers_as_of"])
    tenure = (as_of - pd.to_datetime(active["acquired"])).dt.days.to_numpy()
    revenue = active["revenue"].to_numpy() * np.where(tenure >= 365.25, 1.0, 365.25 / np.maximum(tenure, 1))
    want_wallet = revenue / (active["net_price"].to_numpy() * mean_share_of_wallet(sc))
    for r in range(ds.sizes["detail_replication"]):  # the same customers in every replication
        np.testing.assert_array_equal(ds["segment"].values[r, :n], want_segment)
        have = np.isfinite(want_wallet)
        np.testing.assert_allclose(ds["wallet"].values[r, :n][have], want_wallet[have], rtol=1e-12)
        assert (ds["acquired_period"].values[r, :n] == 0).all()


def test_a_survivor_s_churn_propensity_is_its_posterior_given_its_tenure(firm: tuple[Path, pd.DataFrame]) -> None:
    """Beta(2, 18) prior; a customer with t years of tenure has mean churn 2 / (20 + t).  Over
    2,000 replications each customer's mean drawn propensity lies within 4 MC s.e. (the s.e.
    from Beta(2, 18 + t)'s own standard deviation)."""
    path, active = firm
    p = ModelParams.from_scenario(load_scenario(path))
    base = generate_customers(p, batch_streams(1, range(2000))["population"])
    assert p.initial_customers is not None
    t = p.initial_customers.age
    churn = base.churn[:, : len(t)]
    a, b = 2.0, 18.0 + t
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert np.all(np.abs(churn.mean(axis=0) - mean) < 4 * sd / np.sqrt(churn.shape[0]))
    np.testing.assert_allclose(base.initial_age[0], t)
    assert churn.mean(axis=0)[t > 5].mean() < churn.mean(axis=0)[t < 1].mean()


def test_results_do_not_depend_on_batches(firm: tuple[Path, pd.DataFrame]) -> None:
    sc = load_scenario(firm[0])
    a = simulate(sc, replications=6, seed=3, progress=False, batch_size=6)
    b = simulate(sc, replications=6, seed=3, progress=False, batch_size=4)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_bad_sources_get_one_line_and_exit_2(tmp_path: Path, firm: tuple[Path, pd.DataFrame]) -> None:
    path, active = firm
    folder = path.parent
    cases = {
        "outside.toml": (TOML.format(source="../customers.csv", count=len(active)), "leaves the scenario's folder"),
        "count.toml": (TOML.format(source="customers.csv", count=5), f"must equal the {len(active)} customers active"),
        "missing.toml": (TOML.format(source="nothere.csv", count=5), "nothere.csv"),
        "segments.toml": (
            TOML.format(source="customers.csv", count=len(active)).replace('"process"', '"process_industry"'),
            "segment 'process' is not in customers.segments",
        ),
    }
    for name, (text, message) in cases.items():
        (folder / name).write_text(text)
        r = inproc("run", name, "-n", "2", "-q", "--no-figures", "--out", "out", cwd=folder)
        assert r.returncode == 2, (name, r.stderr)
        assert message in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, (name, r.stderr)
        assert f"{name}: customers." in r.stderr
    assert not (folder / "out").exists()
    with pytest.raises(ScenarioError):
        ModelParams.from_scenario(load_scenario(folder / "count.toml"))


def test_reproduce_refuses_a_changed_customer_file(firm: tuple[Path, pd.DataFrame]) -> None:
    path, _ = firm
    folder = path.parent
    r = inproc("run", "firm.toml", "-n", "2", "-q", "--no-figures", "--out", "out", "-j", "1", cwd=folder)
    assert r.returncode == 0, r.stderr
    result = folder / "out" / "firm" / "result.nc"
    with xr.open_dataset(result) as ds:
        assert ds.attrs["customers_source_sha256"]
    with (folder / "customers.csv").open("a") as f:
        f.write("Cnew,2024-01-01,,machinery,1000,500,100,0.9,40\n")
    r = inproc("reproduce", str(result), "-q", "--no-figures", "--out", "again", cwd=folder)
    assert r.returncode == 2 and "has changed since the run" in r.stderr, r.stderr
