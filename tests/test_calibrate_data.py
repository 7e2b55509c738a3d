"""``valuecapture calibrate`` on the command line: the input formats, column mapping and as-of, and
bad data.  Every bad input is one line on stderr naming file, row and column and what is allowed,
exit code 2, and nothing written (docs/data.md).  Commands run in this process (``cli.main``)
except the one that checks the real command end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import inproc

import valuecapture as vc
from valuecapture.data.read import read_customers
from valuecapture.data.synthetic import Truth, draw

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.toml")

#: Calibration without the simulation steps, where a test is about reading and writing.
FAST = ("--no-check", "--no-match-survival")


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("valuecapture") and ": error: " in r.stderr, r.stderr
    return r.stderr


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    table, panel = draw(Truth(customers=150, years=6), seed=9)
    assert panel is not None
    return table, panel


def _csv(frame: pd.DataFrame) -> str:
    return str(frame.to_csv(index=False))


# ------------------------------------------------------------------------------------------ bad data

Mutation = Callable[[pd.DataFrame], str | bytes]


def _set(frame: pd.DataFrame, i: int, column: str, value: object) -> str:
    f = frame.copy()
    f[column] = f[column].astype(object)
    f.loc[i, column] = value
    return _csv(f)


def _first_active(frame: pd.DataFrame) -> int:
    return int((frame["churned"] == "").to_numpy().nonzero()[0][0])


def _first_lost(frame: pd.DataFrame) -> int:
    return int((frame["churned"] != "").to_numpy().nonzero()[0][0])


CASES: list[tuple[str, Mutation, list[str], list[str]]] = [
    (
        "missing column",
        lambda f: _csv(f.drop(columns=["acquired"])),
        ["customers.csv: row 1: column 'acquired' is missing", "--column acquired=THEIRS"],
        [],
    ),
    (
        "duplicate column",
        lambda f: _csv(f).replace("revenue,cogs", "revenue,revenue", 1),
        ["customers.csv: row 1, column 'revenue': appears twice in the header row"],
        [],
    ),
    (
        "duplicate id",
        lambda f: _set(f, 5, "customer_id", f.loc[2, "customer_id"]),
        ["customers.csv: row 7, column 'customer_id':", "appears again (first in row 4); ids must be unique"],
        [],
    ),
    (
        "churn before acquisition",
        lambda f: _set(f, _first_lost(f), "churned", "1990-01-01"),
        ["column 'churned': 1990-01-01 is before the acquisition date"],
        [],
    ),
    (
        "date after as-of",
        lambda f: _csv(f),
        ["customers.csv: row", "column 'acquired'", "is after --as-of 2019-06-30"],
        ["--as-of", "2019-06-30"],
    ),
    (
        "unparseable date",
        lambda f: _set(f, 3, "acquired", "2021-13-45"),
        ["customers.csv: row 5, column 'acquired': '2021-13-45' is not a date; allowed: an ISO date (YYYY-MM-DD)"],
        [],
    ),
    (
        "negative revenue",
        lambda f: _set(f, _first_active(f), "revenue", -5),
        ["column 'revenue': -5 is negative; allowed: a number >= 0"],
        [],
    ),
    (
        "not a number",
        lambda f: _set(f, 0, "net_price", "cheap"),
        ["customers.csv: row 2, column 'net_price': 'cheap' is not a number; allowed: a number > 0"],
        [],
    ),
    (
        "non-UTF-8",
        lambda f: _csv(f).replace("construction", "constr\udcffuction", 1).encode("utf-8", "surrogateescape"),
        ["customers.csv: row", "is not UTF-8 text", "save it as UTF-8"],
        [],
    ),
    ("empty file", lambda f: "", ["customers.csv: is empty; expected a header row"], []),
    ("header only", lambda f: _csv(f.iloc[:0]), ["customers.csv: has a header but no data rows"], []),
    (
        "segment too small",
        lambda f: _set(f, 10, "segment", "machinry"),
        ["customers.csv: row 12, column 'segment': segment 'machinry' has 1 customer, too few to fit"],
        [],
    ),
    (
        "no churn observed",
        lambda f: _csv(f.assign(churned="")),
        ["customers.csv: column 'churned': no customer churned by", "churn cannot be estimated"],
        [],
    ),
    (
        "ragged row",
        lambda f: _csv(f) + "X1,2020-01-01,,machinery,1,2,3,4,5,6,7\n",
        ["customers.csv: row 152: is not a well-formed CSV table"],
        [],
    ),
]


@pytest.mark.parametrize(("case", "mutate", "expected", "extra"), CASES, ids=[c[0] for c in CASES])
def test_bad_data_is_one_line_and_nothing_is_written(
    tables: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    case: str,
    mutate: Mutation,
    expected: list[str],
    extra: list[str],
) -> None:
    content = mutate(tables[0].copy())
    path = tmp_path / "customers.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = listing(tmp_path)
    err = one_line(inproc("calibrate", "customers.csv", "--out", "out/new.toml", *extra, cwd=tmp_path))
    for text in expected:
        assert text in err, (case, err)
    assert listing(tmp_path) == before and not (tmp_path / "out").exists()


def test_bad_panels_mappings_and_options_are_one_line(
    tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, panel = tables
    (tmp_path / "customers.csv").write_text(_csv(table))
    bad_id = panel.copy()
    bad_id.loc[4, "customer_id"] = "nobody"
    (tmp_path / "p_id.csv").write_text(_csv(bad_id))
    twice = pd.concat([panel, panel.iloc[[3]]], ignore_index=True)
    (tmp_path / "p_twice.csv").write_text(_csv(twice))
    short = panel.groupby("customer_id").head(2)  # no customer with 4 consecutive years
    (tmp_path / "p_short.csv").write_text(_csv(short))
    (tmp_path / "map.toml").write_text('[columns]\nacquird = "Start"\n')
    (tmp_path / "notes.toml").write_text("# mine\n")
    cases = [
        (["--panel", "p_id.csv"], "p_id.csv: row 6, column 'customer_id': 'nobody' is not in the customer table"),
        (["--panel", "p_twice.csv"], f"p_twice.csv: row {len(twice) + 1}, column 'year': customer"),
        (["--panel", "p_short.csv"], "p_short.csv: no customer has revenue in 4 consecutive complete years"),
        (["--panel", "absent.csv"], "absent.csv: file not found"),
        (["--column", "acquired"], "--column: 'acquired' must look like OURS=THEIRS"),
        (["--column", "started=Start"], "--column: unknown column name 'started'"),
        (["--column", "acquired=Start"], "customers.csv: row 1: column 'acquired' (mapped to 'Start') is missing"),
        (["--mapping", "map.toml"], "map.toml: [columns]: unknown column name 'acquird'"),
        (["--as-of", "soon"], "--as-of: 'soon' is not a date"),
        (["--base", "nowhere.toml"], "nowhere.toml: file not found"),
    ]
    before = listing(tmp_path)
    for args, text in cases:
        err = one_line(inproc("calibrate", "customers.csv", *args, "--out", "new.toml", cwd=tmp_path))
        assert text in err, (args, err)
    assert "must end in .toml" in one_line(inproc("calibrate", "customers.csv", "--out", "new.txt", cwd=tmp_path))
    # a file that calibrate did not write is never replaced, not even with --overwrite
    err = one_line(inproc("calibrate", "customers.csv", "--out", "notes.toml", "--overwrite", cwd=tmp_path))
    assert "notes.toml: exists and was not written by valuecapture calibrate" in err
    assert listing(tmp_path) == before


def test_parquet_needs_pyarrow_or_is_read_like_csv(tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    import importlib.util

    table, _ = tables
    if importlib.util.find_spec("pyarrow") is None:
        (tmp_path / "customers.parquet").write_bytes(b"PAR1 not really")
        err = one_line(inproc("calibrate", "customers.parquet", "--out", "new.toml", cwd=tmp_path))
        assert "customers.parquet: is a Parquet file, and reading Parquet needs pyarrow" in err
        assert "valuecapture[parquet]" in err
        return
    typed = table.assign(acquired=pd.to_datetime(table["acquired"]), churned=pd.to_datetime(table["churned"]))
    typed.to_parquet(tmp_path / "customers.parquet")
    (tmp_path / "customers.csv").write_text(_csv(table))
    a = read_customers(tmp_path / "customers.parquet")
    b = read_customers(tmp_path / "customers.csv")
    assert (a.acquired == b.acquired).all() and (a.ids == b.ids).all() and a.as_of == b.as_of


# ------------------------------------------------------------------------------------------ formats


def test_columns_are_mapped_from_the_command_line_and_a_mapping_file(
    tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, _ = tables
    theirs = table.rename(columns={"acquired": "StartDate", "churned": "End Date", "customer_id": "Account"})
    (tmp_path / "export.csv").write_text(_csv(theirs).replace(",", ";"))  # a semicolon-separated export
    (tmp_path / "map.toml").write_text('[columns]\nacquired = "StartDate"\nchurned = "End Date"\n')
    r = inproc(
        "calibrate", "export.csv", "--mapping", "map.toml", "--column", "customer_id=Account", "--out", "a.toml", "-q",
        "--no-check", "--no-match-survival", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (tmp_path / "customers.csv").write_text(_csv(table))
    assert inproc("calibrate", "customers.csv", "--out", "b.toml", "-q", *FAST, cwd=tmp_path).returncode == 0
    a = vc.load_scenario(tmp_path / "a.toml")
    b = vc.load_scenario(tmp_path / "b.toml")
    assert a.get("uncertainties.churn") == b.get("uncertainties.churn")
    assert a.get("uncertainties.wallet") == b.get("uncertainties.wallet")
    meta = json.loads((tmp_path / "a.calibration.json").read_text())
    assert meta["data"]["customers"]["columns"]["acquired"] == "StartDate"


def test_as_of_sets_the_censoring_and_blank_lines_keep_the_row_numbers(
    tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, _ = tables
    (tmp_path / "c.csv").write_text(_csv(table))
    latest = read_customers(tmp_path / "c.csv")
    assert str(latest.as_of) == max(table["acquired"].max(), table["churned"].max())
    later = read_customers(tmp_path / "c.csv", as_of="2026-06-30")
    assert later.as_of_given and str(later.as_of) == "2026-06-30"
    assert (later.active == latest.active).all()  # the same customers censored, at a later date
    text = _csv(table).split("\n")
    text.insert(3, "")  # a blank line after the second customer
    text[6] = text[6].replace(text[6].split(",")[1], "31/12/2020")
    (tmp_path / "blank.csv").write_text("\n".join(text))
    err = one_line(inproc("calibrate", "blank.csv", "--out", "x.toml", cwd=tmp_path))
    assert "blank.csv: row 7, column 'acquired': '31/12/2020' is not a date" in err


def test_overwrite_replaces_only_what_calibrate_wrote(
    tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, _ = tables
    (tmp_path / "c.csv").write_text(_csv(table))
    assert inproc("calibrate", "c.csv", "--out", "s.toml", "-q", *FAST, cwd=tmp_path).returncode == 0
    first = listing(tmp_path)
    err = one_line(inproc("calibrate", "c.csv", "--out", "s.toml", cwd=tmp_path))
    assert "s.toml: exists; add --overwrite to replace it" in err
    assert listing(tmp_path) == first
    (tmp_path / "c.csv").write_text(_csv(table.iloc[:-5]))
    assert inproc("calibrate", "c.csv", "--out", "s.toml", "--overwrite", "-q", *FAST, cwd=tmp_path).returncode == 0
    assert listing(tmp_path)["s.toml"] != first["s.toml"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c.csv", "s.calibration.json", "s.toml"]  # no leftovers


def test_the_command_writes_a_scenario_that_valuecapture_runs(
    tables: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    table, panel = tables
    (tmp_path / "customers.csv").write_text(_csv(table))
    (tmp_path / "revenue.csv").write_text(_csv(panel))
    py = [sys.executable, "-m", "valuecapture"]
    r = subprocess.run(
        [*py, "calibrate", "customers.csv", "--panel", "revenue.csv", "--base", BASELINE, "--out", "new.toml",
         "--check-replications", "10"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "uncertainties.churn" in r.stdout and "wrote new.toml and new.calibration.json" in r.stdout
    r = subprocess.run(
        [*py, "run", "new.toml", "-n", "20", "--out", "tmp", "--no-figures", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tmp" / "new" / "result.nc").exists()
