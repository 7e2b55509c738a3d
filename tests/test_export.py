"""valuecapture export-customers: a simulated firm in calibrate's input format (issue 17, item 5).

The exported files are read back by calibrate's own reader; their rows agree with the result
they come from; a result without the revenue panel, a bad option, and a file in the way are
one line and exit code 2 with nothing written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import valuecapture as vc
from valuecapture.cli.main import main
from valuecapture.data.read import read_data
from valuecapture.report.customers import boundaries, customer_tables, parse_start
from valuecapture.run.results import write_result

ROOT = Path(__file__).resolve().parents[1]


def _result(tmp: Path, *overrides: str, name: str = "firm") -> tuple[Path, xr.Dataset]:
    sc = vc.load_scenario(ROOT / "scenarios" / "classroom.toml", ["outputs.relationship_detail=2", *overrides])
    ds = vc.simulate(sc, replications=2, seed=11, workers=1)
    return write_result(ds, tmp / name, "summary"), ds


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, xr.Dataset]:
    return _result(tmp_path_factory.mktemp("export"), "outputs.revenue_panel=true")


def test_the_export_is_calibrates_input_and_agrees_with_the_result(
    firm: tuple[Path, xr.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, ds = firm
    assert main(["export-customers", str(folder), "--out", str(tmp_path / "data"), "--replication", "1"]) == 0
    assert "calibrate them: valuecapture calibrate" in capsys.readouterr().out
    table, panel = read_data(tmp_path / "data" / "customers.csv", tmp_path / "data" / "revenue.csv")
    assert panel is not None
    d = ds.isel(detail_replication=1)
    ever = d["acquired_period"].values >= 0
    assert table.n == ever.sum()  # a whole-year horizon: every customer ever won
    assert str(table.as_of) == "2024-12-31"  # 5 years from the default start, 2020-01-01
    assert table.active.sum() == ds["customers_active"].values[1, -1]
    initial = d["acquired_period"].values[ever] == 0
    assert np.all(table.acquired[initial] == np.datetime64("2020-01-01"))
    # revenue: the last year's for the active customers; the panel sums to the firm's revenue by year
    rev = d["relationship_revenue"].values[ever]
    np.testing.assert_allclose(table.values["revenue"][table.active], rev[table.active, -1], atol=0.006)
    assert np.all(np.isnan(table.values["revenue"][~table.active]))
    frame = pd.read_csv(tmp_path / "data" / "revenue.csv")
    firm_by_year = ds["revenue"].values[1].reshape(5, -1).sum(axis=1)
    np.testing.assert_allclose(frame.groupby("year")["revenue"].sum().values, firm_by_year, rtol=1e-6)
    # the inverse of calibrate's mappings
    sc = vc.load_scenario(ROOT / "scenarios" / "classroom.toml")
    price = table.values["net_price"][table.active]
    np.testing.assert_allclose(
        table.values["cogs"][table.active] / table.values["revenue"][table.active] * price,
        sc.get("economics.cogs_ratio"),
        rtol=1e-3,
    )
    # a lost customer's churn date is the last day of its last active period
    lost = ~table.active
    first = np.maximum(d["acquired_period"].values[ever][lost], 1)
    last = first + d["periods_active"].values[ever][lost] - 1
    edge = boundaries(parse_start(None), 20, 4)
    np.testing.assert_array_equal(table.churned[lost], edge[last] - np.timedelta64(1, "D"))
    # ... which calibrate's period rule (ceil((days - 2) / 365.25 x periods_per_year)) maps back to its lifetime
    days = (table.churned[lost] - table.acquired[lost]) / np.timedelta64(1, "D")
    np.testing.assert_array_equal(np.ceil((days - 2) / 365.25 * 4), d["periods_active"].values[ever][lost])


def test_a_horizon_of_partial_years_is_cut_at_the_last_whole_year(tmp_path: Path) -> None:
    _, ds = _result(tmp_path, "outputs.revenue_panel=true", "horizon.periods=18")
    ex = customer_tables(ds, 0, "2015-01-01")
    assert ex.years == 4 and ex.as_of.isoformat() == "2018-12-31"
    acquired = pd.to_datetime(ex.customers["acquired"])
    assert acquired.max() <= pd.Timestamp("2018-12-31")
    assert ex.panel["year"].max() == 2018
    churned = pd.to_datetime(ex.customers["churned"].replace("", None))
    assert churned.max() <= pd.Timestamp("2018-12-31")


def test_drawn_tenure_dates_the_initial_customers_back(firm: tuple[Path, xr.Dataset]) -> None:
    _, ds = firm
    ex = customer_tables(ds, 0, drawn_tenure=True)
    initial = ds["acquired_period"].values[0] == 0
    acquired = pd.to_datetime(ex.customers["acquired"]).values[: initial.sum()]
    age = (np.datetime64("2020-01-01") - acquired) / np.timedelta64(1, "D") / 365.25
    np.testing.assert_allclose(age, ds["initial_age"].values[0][initial], atol=1 / 365)


def test_what_cannot_be_exported_is_one_line_and_nothing_is_written(
    firm: tuple[Path, xr.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = firm
    plain, _ = _result(tmp_path, name="plain")
    out = tmp_path / "out"
    cases = [
        ([str(plain)], "has no revenue panel; run it again with outputs.revenue_panel = true"),
        ([str(folder), "--replication", "2"], "--replication 2: "),
        ([str(folder), "--start", "2020-07-01"], "must be a 1 January"),
        ([str(folder), "--start", "1st of May"], "is not a date"),
        ([str(tmp_path / "nothing")], "no result.nc here"),
    ]
    for args, message in cases:
        assert main(["export-customers", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_files_in_the_way_are_replaced_only_when_an_export_wrote_them(
    firm: tuple[Path, xr.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = firm
    out = tmp_path / "data"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["export-customers", str(folder), "--out", str(out), "-q"]) == 0
    assert main(["export-customers", str(folder), "--out", str(out)]) == 2
    assert "add --overwrite" in capsys.readouterr().err
    assert main(["export-customers", str(folder), "--out", str(out), "--overwrite", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["customers.csv", "export.json", "notes.txt", "revenue.csv"]
    (out / "export.json").unlink()  # no longer known as ours
    before = (out / "customers.csv").read_bytes()
    assert main(["export-customers", str(folder), "--out", str(out), "--overwrite"]) == 2
    assert "was not written by valuecapture export-customers" in capsys.readouterr().err
    assert (out / "customers.csv").read_bytes() == before and (out / "notes.txt").read_text() == "mine"
