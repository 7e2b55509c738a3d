"""The result Dataset: dims, units, descriptions, provenance, atomic writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import tiny

import valuecapture as vc
from valuecapture.report.files import write_run
from valuecapture.run.load import open_run
from valuecapture.run.results import as_stored


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return vc.simulate(tiny(), replications=6, seed=21)


def test_schema(ds: xr.Dataset) -> None:
    assert ds["firm_value"].dims == ("replication",)
    for name in ("revenue", "economic_profit", "customers_active", "acquired", "churned"):
        assert ds[name].dims == ("replication", "period")
    assert ds["relationship_value"].dims == ("detail_replication", "customer")
    for name, var in ds.variables.items():
        assert var.attrs.get("description"), name
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units"), name
        assert not np.isnan(var.values).all(), name
    for key in ("scenario_toml", "seed", "root_entropy", "valuecapture_version", "replications"):
        assert key in ds.attrs
    assert ds.attrs["valuecapture_version"] == vc.__version__
    assert np.isfinite(ds["firm_value"].values).all()


def test_result_file_alone_reproduces_the_run(tmp_path: Path, ds: xr.Dataset) -> None:
    write_run(ds, tmp_path / "run", figures=False)
    back = open_run(tmp_path / "run")
    assert back.identical(as_stored(ds))  # the float32 variables rounded, nothing else changed
    again = vc.simulate(
        vc.scenario_of(back), replications=int(back.attrs["replications"]), seed=int(back.attrs["seed"])
    )
    assert again.identical(ds)


def test_failed_write_leaves_previous_result(tmp_path: Path, ds: xr.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run"
    write_run(ds, target, figures=False)
    before = (target / "result.nc").read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("valuecapture.report.files.run_figures", boom)
    with pytest.raises(RuntimeError):
        write_run(ds, target, figures=True, overwrite=True)
    assert (target / "result.nc").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_previous_result_is_replaced_only_when_asked(tmp_path: Path, ds: xr.Dataset) -> None:
    from valuecapture.run.outputs import OutputError

    target = tmp_path / "run"
    write_run(ds, target, figures=False)
    with pytest.raises(OutputError, match="--overwrite"):
        write_run(ds, target, figures=False)
    write_run(ds.isel(replication=slice(0, 3)), target, figures=False, overwrite=True)
    assert open_run(target).sizes["replication"] == 3
    (target / "notes.txt").write_text("mine")  # something valuecapture did not write
    with pytest.raises(OutputError, match="notes.txt"):
        write_run(ds, target, figures=False, overwrite=True)
    assert (target / "notes.txt").read_text() == "mine"


def test_summary_table(ds: xr.Dataset) -> None:
    st = vc.summary(ds)["firm_value"]
    x = ds["firm_value"].values
    assert st.n == 6 and st.mean == pytest.approx(x.mean()) and st.mcse == pytest.approx(x.std(ddof=1) / np.sqrt(6))
    assert st.p5 <= st.p50 <= st.p95
    text = vc.summary_text(ds)
    assert "Firm value" in text and "P(firm value < 0)" in text


def test_stored_compressed_with_float32_detail(tmp_path: Path, ds: xr.Dataset) -> None:
    """Every variable above SMALL_BYTES is deflated with the shuffle filter in chunks of whole replications;
    per-relationship detail and series of 0-1 means are float32, money totals and series float64."""
    import h5py

    from valuecapture.run.results import FLOAT32, SMALL_BYTES, chunk_shape

    write_run(ds, tmp_path / "run", figures=False)
    with h5py.File(tmp_path / "run" / "result.nc", "r") as f:
        for name in ("relationship_value", "wallet", "revenue", "firm_value", "mean_trust"):
            d = f[name]
            assert d.dtype == (np.float32 if name in FLOAT32 else np.float64), name
            if d.size * d.dtype.itemsize > SMALL_BYTES:
                assert (d.compression, d.shuffle, d.chunks) == ("gzip", True, chunk_shape(d.shape, d.dtype.itemsize))
        assert f["relationship_value"].chunks[1] == ds.sizes["customer"]  # a replication's customers in one chunk


def test_chunks_keep_inner_dimensions_whole() -> None:
    from valuecapture.run.results import chunk_shape

    assert chunk_shape((1000, 40), 8) == (1000, 40)  # 320 kB: one chunk
    assert chunk_shape((100_000, 40), 8) == (3276, 40)  # cut along replications to 1 MiB
    assert chunk_shape((5, 50, 21504), 4) == (1, 12, 21504)  # policy, then detail replications
    assert chunk_shape((2, 1_000_000), 4) == (1, 262144)  # one replication's customers, too long: cut too


def test_summaries_from_the_file_print_as_from_memory(tmp_path: Path) -> None:
    """float32 on disk changes no printed digit: the summary, and a comparison's, read back equal the in-memory ones."""
    from valuecapture.analysis.compare import compare, comparison_text

    run = vc.simulate(tiny(**{"outputs.relationship_detail": 6}), replications=30, seed=4)
    write_run(run, tmp_path / "run", figures=False)
    assert vc.summary_text(open_run(tmp_path / "run")) == vc.summary_text(run)
    cmp = compare(tiny(), ["single", "tiered"], 20, 4)
    write_run(cmp, tmp_path / "cmp", figures=False, summary="")
    assert comparison_text(open_run(tmp_path / "cmp")) == comparison_text(cmp)
