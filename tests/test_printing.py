"""What run, compare and decompose print (issue 20): the --set overrides in the header and in
summary.txt; decompose's variance as shares with standard deviations in money, the interaction
of the sources by name, and a note that explains a negative share."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SCENARIOS, inproc

from valuecapture.analysis.decompose import SOURCES, attribution_text, configurations, label, shapley
from valuecapture.analysis.summary import _fmt, header_lines

SETS = ["--set", "customers.count=40", "--set", "horizon.periods=4", "--set", "scenario.description=two words"]


def test_run_and_compare_print_their_overrides_and_summary_txt_keeps_them(tmp_path: Path) -> None:
    sc = str(SCENARIOS / "classroom.toml")
    expected = "overrides: --set customers.count=40 --set horizon.periods=4 --set 'scenario.description=two words'"
    for command, extra, name in (("run", [], "classroom"), ("compare", ["-p", "single,harvest"], "classroom-compare")):
        r = inproc(command, sc, *SETS, *extra, "-n", "2", "-j", "1", "--no-figures", "--out", "out", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1] == expected, r.stdout
        summary = (tmp_path / "out" / name / "summary.txt").read_text().splitlines()
        assert summary[0].startswith("scenario 'classroom'   seed 7   replications 2") and summary[1] == expected
        shown = inproc("show", f"out/{name}", cwd=tmp_path)
        assert shown.stdout.splitlines()[1] == expected


def test_a_header_without_overrides_has_no_overrides_line() -> None:
    attrs = {
        "scenario_name": "a",
        "seed": 1,
        "replications": 2,
        "valuecapture_version": "x",
        "scenario_overrides": "[]",
    }
    assert header_lines(attrs) == ["scenario 'a'   seed 1   replications 2   valuecapture x"]
    assert header_lines({**attrs, "scenario_overrides": "not json"})[1].startswith("overrides: (unreadable")


def _decomposition(currency: str) -> xr.Dataset:
    """A decomposition Dataset whose firm value is built from known parts: customer heterogeneity adds
    3 z1, relationship heterogeneity -1.5 z1 (it offsets the customer's part), interdependence z2."""
    rng = np.random.Generator(np.random.SFC64(3))
    n = 400
    z1, z2, e = rng.normal(size=n), rng.normal(size=n), rng.normal(scale=0.3, size=n)
    combos = configurations()
    values = np.array([1e6 * (3 * c * z1 - 1.5 * r * z1 + i * z2 + e) for c, r, i in combos])
    ds = xr.Dataset(
        {"firm_value": (("configuration", "replication"), values, {"units": "currency"})},
        coords={"configuration": [label(c) for c in combos], "replication": np.arange(n)},
        attrs={
            "scenario_name": "synthetic",
            "seed": 3,
            "replications": n,
            "valuecapture_version": "test",
            "scenario_overrides": '["customers.count=10"]',
            "sources_on_in_scenario": '{"customer": true, "relationship": true, "interdependence": true}',
            "currency": currency,
        },
    )
    for j, s in enumerate(SOURCES):
        ds = ds.assign_coords({s: ("configuration", [c[j] for c in combos])})
    return ds


def test_decompose_prints_shares_sds_in_money_the_interaction_and_explains_a_negative_share() -> None:
    ds = _decomposition("EUR")
    text = attribution_text(ds, ["firm_value_variance"], n_resamples=200)
    lines = text.splitlines()
    assert lines[1] == "overrides: --set customers.count=10"
    fv = ds["firm_value"]
    var = {
        frozenset(s for s, o in zip(SOURCES, c, strict=True) if o): float(fv[i].var(ddof=1))
        for i, c in enumerate(configurations())
    }
    total, none = var[frozenset(SOURCES)], var[frozenset()]
    phi = shapley(var)
    # relationship's Shapley share is negative: on alone it adds variance (1.5^2), next to customer it removes
    # it (3^2 -> 1.5^2); the shares and the baseline still make 100%
    assert phi["relationship"] < 0 < phi["customer"]
    assert sum(phi.values()) + none == pytest.approx(total, rel=1e-12)
    for s in SOURCES:
        (row,) = [line for line in lines if line.startswith(f"{s:28s}") and "%" in line]
        assert row.split()[1] == f"{100 * phi[s] / total:.1f}%"
        alone = var[frozenset({s})]
        without = var[frozenset(SOURCES) - {s}]
        assert f"{_fmt(math.sqrt(alone), True)} EUR" in row and f"{_fmt(math.sqrt(without), True)} EUR" in row
    assert "currency^2" not in text and "e+1" not in text  # no variance in currency squared
    assert f"sd {_fmt(math.sqrt(total), True)} EUR with every source on" in text
    main = {s: var[frozenset({s})] - none for s in SOURCES}
    interaction = total - none - sum(main.values())
    (row,) = [line for line in lines if line.strip().startswith("interaction ")]
    assert row.split()[1] == f"{100 * interaction / total:.1f}%"
    for s in SOURCES:
        (row,) = [line for line in lines if line.strip().startswith(f"main effect of {s} ")]
        assert row.split()[4] == f"{100 * main[s] / total:.1f}%"
    start = lines.index(next(line for line in lines if line.startswith("note: the relationship share is negative")))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("  "))
    notes = " ".join(line.strip() for line in lines[start:end])
    assert "its effect moves against the other sources'" in notes and "not an error" in notes
    assert "note: the customer share" not in text and "note: the interdependence share" not in text
    # the interaction: customer and relationship on together add less than their main effects
    assert interaction < 0 and "note: the interaction is negative" in text


def test_decompose_names_no_currency_when_the_result_has_no_code() -> None:
    text = attribution_text(_decomposition("scenario currency units"), ["firm_value_variance"], n_resamples=50)
    assert " EUR" not in text and "scenario currency units" not in text
    assert "Firm value by configuration\n" in text
