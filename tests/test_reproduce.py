"""valuecapture reproduce (issue 20): re-run into a new folder, compare every variable, say so.

The re-run never lands on the original (beside it as ``<name>-reproduced`` by default, or in
``--out``, never inside the original); "identical" and exit 0 when every variable and
coordinate matches bit for bit (NaN equal to NaN), else the variables that differ with their
largest absolute difference and exit 1.  The comparison itself is tested on small Datasets.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SCENARIOS, inproc

import valuecapture as vc
from valuecapture.analysis.reproduce import attribute_differences, differences, reproduction_text
from valuecapture.run.results import write_result

SMALL = ["--set", "customers.count=40", "--set", "horizon.periods=4", "-n", "3", "-j", "1", "--no-figures", "-q"]


def _digest(folder: Path) -> str:
    return hashlib.sha256((folder / "result.nc").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("reproduce")
    r = inproc("run", str(SCENARIOS / "classroom.toml"), *SMALL, "--out", "res", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd / "res" / "classroom"


def test_reproduce_writes_beside_the_original_and_says_identical(original: Path) -> None:
    cwd, before = original.parent.parent, _digest(original)
    r = inproc("reproduce", str(original), "--no-figures", "-q", cwd=cwd)
    assert r.returncode == 0, r.stderr
    again = original.parent / "classroom-reproduced"
    assert r.stdout.strip().splitlines() == [
        f"identical: {again}/ reproduces {original} bit for bit "
        f"({len(vc.open_run(original).variables)} variables and coordinates; NaN equals NaN)"
    ]
    assert vc.open_run(again).identical(vc.open_run(original))
    assert _digest(original) == before  # the original is never touched
    # a second reproduce finds the first one's folder: refused, unless --overwrite
    r = inproc("reproduce", str(original / "result.nc"), "--no-figures", "-q", cwd=cwd)
    assert r.returncode == 2 and "already holds a result; add --overwrite" in r.stderr, r.stderr
    r = inproc("reproduce", str(original / "result.nc"), "--no-figures", "-q", "--overwrite", cwd=cwd)
    assert r.returncode == 0 and r.stdout.startswith("identical: "), r.stderr


def test_reproduce_into_another_folder_but_never_into_the_original(original: Path, tmp_path: Path) -> None:
    r = inproc("reproduce", str(original), "--out", "elsewhere", "--no-figures", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Firm value" in r.stdout and r.stdout.strip().splitlines()[-1].startswith("identical: ")
    assert (tmp_path / "elsewhere" / "classroom" / "result.nc").is_file()
    for inside in (original, original / "sub"):
        r = inproc("reproduce", str(original), "--out", str(inside), "--no-figures", "-q", cwd=tmp_path)
        assert r.returncode == 2 and "is inside the original result" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (original / "sub").exists() and not (original / "classroom").exists()
    # --out naming the folder that holds the original: beside it, as for the default
    r = inproc(
        "reproduce", str(original), "--out", str(original.parent), "--no-figures", "-q", "--overwrite", cwd=tmp_path
    )
    assert r.returncode == 0 and f"{original.parent / 'classroom-reproduced'}/" in r.stdout, r.stderr


def test_a_result_that_does_not_reproduce_lists_its_variables_and_exits_1(original: Path, tmp_path: Path) -> None:
    ds = vc.open_run(original)
    changed = ds.copy(deep=True)
    changed["firm_value"].values[1] += 250.0
    changed["mean_trust"].values[0, 2] = np.nan
    folder = write_result(changed, tmp_path / "changed", "summary")
    r = inproc("reproduce", str(folder), "--no-figures", "-q", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(f"differs: {tmp_path / 'changed-reproduced'}/ differs from {folder} in 2 of ")
    (fv,) = [line for line in lines if line.split()[0] == "firm_value"]
    assert f"1 of 3 values differ, max |difference| 250 {ds['firm_value'].attrs['units']}" in fv
    (trust,) = [line for line in lines if line.split()[0] == "mean_trust"]
    assert "NaN in only one of them at 1 place" in trust


def test_compare_and_decompose_results_reproduce(tmp_path: Path) -> None:
    sc = str(SCENARIOS / "classroom.toml")
    r = inproc("compare", sc, "-p", "single,tiered", *SMALL, "--out", "res", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = inproc("decompose", sc, *SMALL, "--out", "res", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("classroom-compare", "classroom-decompose"):
        r = inproc("reproduce", f"res/{name}", "--no-figures", "-q", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout.startswith("identical: "), (name, r.stdout, r.stderr)
        assert vc.open_run(tmp_path / "res" / f"{name}-reproduced").identical(vc.open_run(tmp_path / "res" / name))


def test_differences_bit_for_bit_with_nan_equal_to_nan() -> None:
    a = xr.Dataset(
        {"x": ("t", [1.0, np.nan, 0.0]), "n": ("t", np.array([1, 2, 3], dtype=np.int32)), "s": ("k", ["a", "b"])},
        coords={"t": [0, 1, 2]},
        attrs={"valuecapture_version": "1"},
    )
    assert differences(a, a.copy(deep=True)) == []
    b = a.copy(deep=True)
    b["x"].values[2] = -0.0  # equal as numbers, not as bits
    assert [(d.name, d.count) for d in differences(a, b)] == [("x", 1)]
    b = a.copy(deep=True)
    b["x"].values[0] = 1.0 + 2**-52
    (d,) = differences(a, b)
    assert d.count == 1 and d.max_abs == pytest.approx(2**-52, rel=1e-9)
    b = a.assign(n=a["n"].astype(np.int64), s=("k", ["a", "c"]))
    got = {d.name: d for d in differences(a, b)}
    assert set(got) == {"n", "s"} and "stored as int32 in the original and int64" in got["n"].what
    assert got["s"].count == 1 and got["s"].max_abs is None
    b = a.drop_vars("s").assign(extra=("t", [1, 2, 3]), x=("u", [1.0, 2.0]))
    got = {d.name: d.what for d in differences(a, b)}
    assert got == {
        "x": "dimensions (t: 3) in the original, (u: 2) in the re-run",
        "s": "only in the original",
        "extra": "only in the re-run",
    }
    b = a.assign_coords(t=[0, 1, 5])
    assert [(d.name, d.role) for d in differences(a, b)] == [("t", "coordinate")]
    c = a.assign_attrs(valuecapture_version="2")
    assert differences(a, c) == [] and attribute_differences(a, c) == ["valuecapture_version"]
    text = reproduction_text(a, c, "orig", "new/")
    assert text.startswith("identical: new/ reproduces orig") and "valuecapture_version ('1' -> '2')" in text
