"""Result files against CF-1.10: a small checker of the rules that apply to valuecapture's files
(units with UDUNITS-2 through cf-units, long names, coordinate variables, the time axis and its
bounds, cell methods, flags), run on a run, a comparison and a sweep; cf-xarray must find the
time axis and its bounds; plain xarray must open the files without warnings."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import cf_units
import cf_xarray  # noqa: F401  (registers the .cf accessor)
import numpy as np
import pytest
import xarray as xr
from conftest import SCENARIOS, inproc, tiny

import valuecapture as vc
from valuecapture.analysis.compare import compare
from valuecapture.report.files import write_run
from valuecapture.run.results import RESULT_FILE, currency_of, is_money, open_netcdf, write_netcdf

CELL_METHODS = {"point", "sum", "mean", "maximum", "minimum", "mid_range", "standard_deviation", "variance", "median"}
#: The CF standard names valuecapture uses, with a check of their units.
STANDARD_NAMES = {"time": lambda u: cf_units.Unit(u).is_time_reference()}


def _udunits(units: str, currency: str) -> str | None:
    """What is wrong with ``units`` (None: nothing): it must parse with UDUNITS-2 once the currency
    code, the one documented exception (docs/results.md), is read as a base unit (metre, so that ``EUR2``
    and ``EUR year-1`` keep their powers)."""
    codes = set(re.findall(r"\b[A-Z]{3}(?=\b|\d)", units))
    if codes - {currency}:
        return f"units {units!r}: {sorted(codes - {currency})} is not the result's currency {currency!r}"
    spelled = re.sub(rf"\b{currency}(?=\b|\d)", "m", units) if currency else units
    try:
        cf_units.Unit(spelled)
    except ValueError as exc:
        return f"units {units!r}: not UDUNITS ({exc})"
    return None


def cf_problems(path: Path) -> list[str]:
    """The CF-1.10 rules ``path`` breaks, one line each (empty: none)."""
    raw = xr.open_dataset(path, engine="h5netcdf", decode_cf=False, mask_and_scale=False)
    cur = str(raw.attrs.get("currency", ""))
    out = []
    if raw.attrs.get("Conventions") != "CF-1.10":
        out.append(f"global Conventions is {raw.attrs.get('Conventions')!r}")
    bounds = {str(v.attrs["bounds"]) for v in raw.variables.values() if "bounds" in v.attrs}
    for name, var in raw.variables.items():
        a, where = var.attrs, f"{name}:"
        text = var.dtype.kind in "OUS"
        if name not in bounds and not (isinstance(a.get("long_name"), str) and a["long_name"]):
            out.append(f"{where} no long_name")
        if "units" in a:
            if text:
                out.append(f"{where} text with units {a['units']!r}")
            elif problem := _udunits(str(a["units"]), cur):
                out.append(f"{where} {problem}")
        if var.dims == (name,):  # a coordinate variable: numeric, strictly monotonic, nothing missing
            x = var.values
            if text:
                out.append(f"{where} a coordinate variable must be numeric (store names as a label)")
            elif x.size > 1 and not (np.all(np.diff(x) > 0) or np.all(np.diff(x) < 0)):
                out.append(f"{where} coordinate variable not strictly monotonic")
            if "_FillValue" in a or "missing_value" in a or (x.dtype.kind == "f" and np.isnan(x).any()):
                out.append(f"{where} coordinate variable with missing values")
        if "_FillValue" in a and np.asarray(a["_FillValue"]).dtype != var.dtype:
            out.append(f"{where} _FillValue of type {np.asarray(a['_FillValue']).dtype}, variable {var.dtype}")
        attached = set(var.dims) | set(str(a.get("coordinates", "")).split())
        for c in str(a.get("coordinates", "")).split():
            if c not in raw.variables or not set(raw[c].dims) <= set(var.dims):
                out.append(f"{where} coordinates names {c!r}, which is not a coordinate of its dimensions")
        if "cell_methods" in a:
            names = attached | {
                str(raw[c].attrs["standard_name"]) for c in attached if c in raw and "standard_name" in raw[c].attrs
            }
            pairs = re.findall(r"(\w+):\s+(\w+)", str(a["cell_methods"]))
            if not pairs or re.sub(r"(\w+):\s+(\w+)\s*", "", str(a["cell_methods"])):
                out.append(f"{where} cell_methods {a['cell_methods']!r} is not 'name: method ...'")
            for dim, method in pairs:
                if dim not in names or method not in CELL_METHODS:
                    out.append(f"{where} cell_methods {dim}: {method} (names {sorted(names)})")
        if "standard_name" in a:
            check = STANDARD_NAMES.get(str(a["standard_name"]))
            if check is None or not check(str(a.get("units", ""))):
                out.append(f"{where} standard_name {a['standard_name']!r} with units {a.get('units')!r}")
        if "flag_values" in a and len(np.atleast_1d(a["flag_values"])) != len(str(a.get("flag_meanings", "")).split()):
            out.append(f"{where} flag_values and flag_meanings differ in number")
        if "bounds" in a:
            b = raw.variables.get(str(a["bounds"]))
            if b is None or b.dims != var.dims + (b.dims[-1],) or b.shape[-1] != 2:
                out.append(f"{where} bounds {a['bounds']!r} missing or not (..., 2)")
            elif not (np.array_equal(b.values[:, 1], var.values) and np.array_equal(b.values[1:, 0], b.values[:-1, 1])):
                out.append(f"{where} bounds are not the contiguous cells ending at its values")
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run (alignment, portfolio tracking, revenue panel: every kind of variable), a comparison and a sweep."""
    tmp = tmp_path_factory.mktemp("cf")
    small = {
        "customers.count": 60,
        "horizon.periods": 8,
        "outputs.relationship_detail": 3,
        "outputs.revenue_panel": True,
        "economics.currency": "CHF",
    }
    run = vc.load_scenario(SCENARIOS / "alignment.toml").with_values(small)
    write_run(vc.simulate(run, 4, 3), tmp / "run", figures=False)
    write_run(compare(tiny(), ["single", "tiered"], 4, 3), tmp / "compare", figures=False, summary="")
    (tmp / "exp.toml").write_text(
        f'[experiment]\nname = "cfsweep"\nscenario = "{SCENARIOS / "classroom.toml"}"\ndesign = "full_factorial"\n'
        "replications = 3\nseed = 5\n[set]\ncustomers.count = 40\nhorizon.periods = 4\n"
        '[[factors]]\nfield = "demand.volatility"\nlevels = [0.1, 0.3]\n'
    )
    r = inproc("sweep", str(tmp / "exp.toml"), "--out", str(tmp / "out"), "--no-figures", "-q", cwd=tmp)
    assert r.returncode == 0, r.stderr
    return {
        "run": tmp / "run" / RESULT_FILE,
        "compare": tmp / "compare" / RESULT_FILE,
        "sweep": tmp / "out" / "cfsweep-sweep",
    }


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_results_follow_cf_1_10(files: dict[str, Path], kind: str) -> None:
    assert cf_problems(files[kind]) == []


def test_a_sweep_result_follows_cf_1_10(files: dict[str, Path]) -> None:
    nc = sorted(files["sweep"].glob("*.nc"))
    assert nc, list(files["sweep"].iterdir())
    for f in nc:
        assert cf_problems(f) == [], f.name


def test_the_checker_finds_what_breaks_cf(tmp_path: Path) -> None:
    """The checker is not blind: a file with the faults valuecapture used to have fails it, one line each."""
    bad = xr.Dataset(
        {
            "firm_value": ("policy", np.ones(2), {"units": "currency", "long_name": "firm value"}),
            "trust": ("period", np.ones(3), {"units": "index 0-1", "cell_methods": "customer: mean"}),
            "spend": ("period", np.ones(3), {"units": "USD", "long_name": "spend"}),
        },
        coords={"policy": ("policy", np.array(["a", "b"], dtype=object), {"long_name": "policy"})},
        attrs={"currency": "EUR"},
    )
    bad.to_netcdf(tmp_path / "bad.nc", engine="h5netcdf")
    problems = "\n".join(cf_problems(tmp_path / "bad.nc"))
    for fragment in (
        "Conventions",
        "firm_value: units 'currency': not UDUNITS",
        "trust: no long_name",
        "trust: units 'index 0-1'",
        "trust: cell_methods customer: mean",
        "spend: units 'USD': ['USD'] is not the result's currency 'EUR'",
        "policy: a coordinate variable must be numeric",
    ):
        assert fragment in problems, (fragment, problems)


def test_xarray_and_cf_xarray_read_the_time_axis(files: dict[str, Path]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SerializationWarning: the time axis decodes without cftime
        ds = xr.open_dataset(files["run"], engine="h5netcdf").load()
    assert ds["time"].dtype.kind == "M" and ds.cf["T"].name == "time"
    assert ds.cf.bounds["time"] == ["time_bounds"] and ds.cf.standard_names == {"time": ["time"]}
    assert str(ds["time"].values[0])[:10] == "2000-04-01" and str(ds["time_bounds"].values[0, 0])[:10] == "2000-01-01"
    assert "policy" not in ds.coords
    cmp = xr.open_dataset(files["compare"], engine="h5netcdf")
    assert list(cmp["policy_label"].values) == ["single", "tiered"]  # names as a label: CF coordinates are numbers
    assert list(vc.open_run(files["compare"])["policy"].values) == ["single", "tiered"]  # restored by open_run


def test_money_is_in_the_scenario_currency(files: dict[str, Path]) -> None:
    ds = vc.open_run(files["run"])
    assert currency_of(ds) == "CHF" and ds.attrs["currency"] == "CHF"
    money = {n for n, v in ds.data_vars.items() if is_money(v, "CHF")}
    assert {"firm_value", "revenue", "relationship_value", "wallet", "value_by_model", "interaction_cost"} <= money
    assert ds["wallet"].attrs["units"] == "CHF year-1" and ds["revenue"].attrs["cell_methods"] == "time: sum"
    assert not is_money(ds["mean_trust"], "CHF") and ds["mean_trust"].attrs["units"] == "1"
    text = vc.summary_text(ds)
    assert "money in CHF" in text and "= CHF " in text


@pytest.mark.parametrize(
    "start, ppy, first_ends",
    [
        ("2026-01-31", 12, ["2026-02-28", "2026-03-31", "2026-04-30"]),  # a month's last day when it is shorter
        ("2026-07-01", 4, ["2026-10-01", "2027-01-01", "2027-04-01"]),
        ("2026-01-01", 1, ["2027-01-01", "2028-01-01", "2029-01-01"]),
    ],
)
def test_the_time_axis_counts_calendar_months_from_the_valuation_date(
    start: str, ppy: int, first_ends: list[str]
) -> None:
    ds = vc.simulate(tiny(**{"horizon.start": start, "horizon.periods_per_year": ppy}), 2, 1)
    assert [str(t)[:10] for t in ds["time"].values[:3]] == first_ends
    assert str(ds["time_bounds"].values[0, 0])[:10] == start and ds.attrs["valuation_date"] == start
    np.testing.assert_array_equal(ds["year"].values, np.arange(1, 9) / ppy)  # the model's clock is unchanged


def test_periods_that_are_not_whole_months_are_equal_shares_of_a_year() -> None:
    ds = vc.simulate(tiny(**{"horizon.start": "2026-01-01", "horizon.periods_per_year": 52}), 2, 1)
    days = np.diff(ds["time_bounds"].values, axis=1).astype("timedelta64[s]").astype(float)[:, 0] / 86400
    np.testing.assert_allclose(days, 365.2425 / 52, atol=1 / 86400)  # rounded to the second


def test_dates_past_2262_round_trip(tmp_path: Path) -> None:
    """Times are datetime64[s], not [ns]: a 300-year horizon is stored and read back as written."""
    ds = vc.simulate(tiny(**{"horizon.periods": 300, "horizon.periods_per_year": 1}), 2, 1)
    write_netcdf(ds, tmp_path / "long.nc")
    with open_netcdf(tmp_path / "long.nc") as read:
        assert str(read["time"].values[-1])[:10] == "2300-01-01"
        np.testing.assert_array_equal(read["time"].values, ds["time"].values)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("economics.currency=eur", "economics.currency: must be an ISO 4217 currency code"),
        ("economics.currency=12", "economics.currency: must be an ISO 4217 currency code"),
        ("horizon.start=2026-02-30", "horizon.start: must be an ISO date YYYY-MM-DD"),
    ],
)
def test_a_bad_currency_or_date_is_one_line(tmp_path: Path, value: str, fragment: str) -> None:
    r = inproc("validate", str(SCENARIOS / "classroom.toml"), "--set", value, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and fragment in r.stderr, r.stderr


def test_every_unit_of_the_scenario_schema_has_a_udunits_form() -> None:
    """Sweeps and optimisations copy a field's unit onto their levers: each has its CF spelling."""
    from valuecapture.run.results import UDUNITS, money_units
    from valuecapture.scenario.schema import BUSINESS_MODEL_FIELDS, CORRELATION_FIELDS, FIELDS, INTERACTION_FIELDS

    units = {f.unit for table in (FIELDS, BUSINESS_MODEL_FIELDS, INTERACTION_FIELDS, CORRELATION_FIELDS) for f in table}
    for u in sorted(units - {"date"}):  # a date field is text: no units
        assert _udunits(UDUNITS.get(u, money_units(u, "EUR")), "EUR") is None, u


def test_a_run_from_actual_customers_starts_at_their_as_of_date(tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    data = SCENARIOS.parent / "examples" / "data" / "customers.csv"
    shutil.copy(data, tmp_path / "customers.csv")
    n = int(pd.read_csv(data)["churned"].isna().sum())
    text = (
        f'[scenario]\nname = "firm"\n[horizon]\nperiods = 4\n[customers]\nsource = "customers.csv"\ncount = {n}\n'
        'segments = ["machinery", "process", "construction"]\nsegment_weights = [0.5, 0.3, 0.2]\n'
    )
    (tmp_path / "firm.toml").write_text(text)
    ds = vc.simulate(vc.load_scenario(tmp_path / "firm.toml"), 2, 3)
    as_of = ds.attrs["customers_as_of"]
    assert ds.attrs["valuation_date"] == as_of and str(ds["time_bounds"].values[0, 0])[:10] == as_of
    (tmp_path / "other.toml").write_text(text.replace("[horizon]\n", '[horizon]\nstart = "1999-01-01"\n'))
    with pytest.raises(vc.ScenarioError, match="horizon.start: must be empty or equal customers.as_of"):
        vc.load_scenario(tmp_path / "other.toml")
