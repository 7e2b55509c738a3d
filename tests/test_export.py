"""valuecapture export-customers: a simulated firm in calibrate's input format (issue 17, item 5);
valuecapture export: any result as tidy CSV or Parquet tables with their provenance (issue 20).

The exported files are read back by calibrate's own reader; their rows agree with the result
they come from; a result without the revenue panel, a bad option, and a file in the way are
one line and exit code 2 with nothing written.  The tidy tables read back (pandas) to every
variable and coordinate of the result, value for value, one table per set of dimensions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import inproc, tiny

import valuecapture as vc
from valuecapture.analysis.compare import compare
from valuecapture.analysis.decompose import decompose
from valuecapture.cli.main import main
from valuecapture.data.read import read_data
from valuecapture.report.customers import boundaries, customer_tables, parse_start
from valuecapture.report.tidy import tidy_tables
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


# ---------------------------------------------------------------- valuecapture export (tidy tables)


def _read_back(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _check_tables_hold_the_result(ds: xr.Dataset, out: Path, fmt: str) -> dict[str, Any]:
    """Every variable and coordinate of ``ds`` is in the table over its dimensions, value for value (NaN
    as NaN, floats bit for bit), row by row in the order of the dimensions; provenance.json holds the
    result's attributes and each file's SHA-256, columns.csv a row per column."""
    meta = json.loads((out / "provenance.json").read_text())
    assert meta["written_by"] == "valuecapture export" and meta["format"] == fmt
    assert set(meta["attrs"]) == set(ds.attrs)
    assert meta["attrs"]["seed"] == ds.attrs["seed"] and meta["attrs"]["scenario_toml"] == ds.attrs["scenario_toml"]
    for name, digest in meta["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    seen: set[str] = set()
    for table in meta["tables"].values():
        frame = _read_back(out / table["file"])
        dims = table["dims"]
        assert list(frame.columns[: len(dims)]) == dims
        assert len(frame) == table["rows"] == int(np.prod([ds.sizes[d] for d in dims]))
        positions = np.indices([ds.sizes[d] for d in dims]).reshape(len(dims), -1)
        for col, info in table["columns"].items():
            if col in dims and col not in ds.coords:  # a dimension without coordinate: its positions
                expected = positions[dims.index(col)]
            else:
                var = ds[col]
                own = [d for d in dims if d in var.dims]
                assert set(own) == set(var.dims), col
                expected = var.transpose(*own).values[tuple(positions[dims.index(d)] for d in own)]
                assert info.get("units") == var.attrs.get("units"), col
                assert info.get("description") == var.attrs.get("description"), col
                seen.add(col)
            # read back at the stored precision (a float32 is written as the shortest text of that float32); NaN
            # where NaN
            np.testing.assert_array_equal(frame[col].to_numpy().astype(expected.dtype), expected, err_msg=col)
    assert seen >= {str(v) for v in ds.variables if v not in ds.dims} | set(map(str, ds.data_vars))
    dictionary = pd.read_csv(out / "columns.csv", keep_default_na=False)
    assert len(dictionary) == sum(len(t["columns"]) for t in meta["tables"].values())
    assert set(dictionary["table"]) == set(meta["tables"])
    return meta


def test_export_writes_one_tidy_table_per_set_of_dimensions(
    firm: tuple[Path, xr.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = firm
    ds = vc.open_run(folder)
    assert main(["export", str(folder), "--out", str(tmp_path / "tables")]) == 0
    printed = capsys.readouterr().out
    assert "replication_x_period.csv" in printed and "provenance.json" in printed
    meta = _check_tables_hold_the_result(ds, tmp_path / "tables", "csv")
    sets = {frozenset(v.dims) for v in ds.data_vars.values()}
    # a table per set of dimensions of the variables, and one per set of a coordinate no such table holds (the
    # segment names over segment_index)
    alone = {
        frozenset(c.dims) for n, c in ds.coords.items() if n not in ds.dims and not any(set(c.dims) <= s for s in sets)
    }
    assert {frozenset(t["dims"]) for t in meta["tables"].values()} == sets | alone
    assert len(meta["tables"]) == len(sets | alone) and frozenset({"segment_index"}) in alone
    assert meta["tables"]["replication"]["columns"]["firm_value"]["units"] == ds["firm_value"].attrs["units"]
    assert meta["tables"]["segment_index"]["dims"] == ["segment_index"]
    period = pd.read_csv(tmp_path / "tables" / "replication_x_period.csv")
    assert list(period.columns[:3]) == ["replication", "period", "year"]  # a dimension's coordinates beside it
    assert meta["source"]["result_sha256"] == hashlib.sha256((folder / "result.nc").read_bytes()).hexdigest()


def test_export_reads_compare_and_decompose_results(tmp_path: Path) -> None:
    sc = tiny()
    cmp_ = write_result(compare(sc, ["single", "tiered"], 2, 3), tmp_path / "cmp", "summary")
    dec = write_result(decompose(sc, 2, 3), tmp_path / "dec", "summary")
    for result, table in ((cmp_, "policy_x_replication"), (dec, "configuration_x_replication")):
        out = tmp_path / f"{result.name}-tables"
        assert inproc("export", str(result), "--out", str(out), "-q", cwd=tmp_path).returncode == 0
        meta = _check_tables_hold_the_result(vc.open_run(result), out, "csv")
        assert table in meta["tables"]
    frame = pd.read_csv(tmp_path / "dec-tables" / "configuration_x_replication.csv")
    # the configuration's switches hang on it: a boolean column per source
    assert frame[["customer", "relationship", "interdependence"]].dtypes.tolist() == [bool] * 3


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None, reason="pyarrow is optional (valuecapture[parquet])")
def test_parquet_tables_carry_units_in_their_schema(firm: tuple[Path, xr.Dataset], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    folder, _ = firm
    assert main(["export", str(folder), "--out", str(tmp_path / "pq"), "--format", "parquet", "-q"]) == 0
    ds = vc.open_run(folder)
    _check_tables_hold_the_result(ds, tmp_path / "pq", "parquet")
    schema = pq.read_schema(tmp_path / "pq" / "replication.parquet")
    assert schema.field("firm_value").metadata[b"units"].decode() == ds["firm_value"].attrs["units"]
    assert json.loads(schema.metadata[b"valuecapture"])["attrs"]["seed"] == 11


def test_parquet_without_pyarrow_is_one_line_naming_the_extra(
    firm: tuple[Path, xr.Dataset], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = firm
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    assert main(["export", str(folder), "--out", str(tmp_path / "pq"), "--format", "parquet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'valuecapture[parquet]'" in err, err
    assert not (tmp_path / "pq").exists()


def test_export_replaces_only_its_own_files(
    firm: tuple[Path, xr.Dataset], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = firm
    out = tmp_path / "tables"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["export", str(folder), "--out", str(out), "-q"]) == 0
    first = sorted(p.name for p in out.iterdir())
    before = (out / "replication.csv").read_bytes()
    assert main(["export", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "add --overwrite" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == first and (out / "replication.csv").read_bytes() == before
    assert main(["export", str(folder), "--out", str(out), "--overwrite", "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == first
    # another result's export replaces the previous one whole: no table of the old one stays behind
    plain, _ = _result(tmp_path, name="plain")
    assert main(["export", str(plain), "--out", str(out), "--overwrite", "-q"]) == 0
    names = {p.name for p in out.iterdir()}
    assert "detail_replication_x_customer_x_horizon_year.csv" not in names and "notes.txt" in names
    assert set(json.loads((out / "provenance.json").read_text())["files"]) | {"provenance.json", "notes.txt"} == names
    # a file of that name that no export wrote is never replaced
    (out / "provenance.json").unlink()
    assert main(["export", str(folder), "--out", str(out), "--overwrite"]) == 2
    assert "was not written by valuecapture export" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"


def test_a_result_export_cannot_read_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "foreign.nc").write_bytes(b"CDF\x01 not a valuecapture result")
    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(tmp_path / "other.nc", engine="h5netcdf")
    cases = [
        ("foreign.nc", "not a readable NetCDF4 file"),
        ("other.nc", "not a valuecapture result"),
        ("nowhere", "no result.nc here"),
    ]
    for name, fragment in cases:
        r = inproc("export", name, "--out", "tables", cwd=tmp_path)
        assert r.returncode == 2 and fragment in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (tmp_path / "tables").exists()
    r = inproc("export", "nowhere", "--out", "tables", "--format", "xlsx", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice: 'xlsx'" in r.stderr


def test_tidy_tables_of_coordinates_without_dimensions_and_dimensions_without_coordinates() -> None:
    ds = xr.Dataset(
        {"a": (("x", "y"), np.arange(6.0).reshape(2, 3)), "b": ("y", [1, 2, 3]), "c": ((), 4.5)},
        coords={"x": ["p", "q"], "label": ("z", ["u", "v"])},
    )
    tables = {t.name: t for t in tidy_tables(ds)}
    assert set(tables) == {"x_x_y", "y", "scalars", "z"}
    t = tables["x_x_y"]
    assert t.frame.columns.tolist() == ["x", "y", "a"] and t.frame["y"].tolist() == [0, 1, 2, 0, 1, 2]
    assert t.frame["x"].tolist() == ["p", "p", "p", "q", "q", "q"] and t.frame["a"].tolist() == list(range(6))
    assert tables["scalars"].frame.to_dict("list") == {"c": [4.5]}
    assert tables["z"].frame.to_dict("list") == {"z": [0, 1], "label": ["u", "v"]}
