"""Designed experiments: experiment files, designs, sweeps, sensitivity indices, effects (issue 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, SCENARIOS
from test_research_stats import run_main

import valuecapture as vc
from valuecapture.analysis.experiments import (
    ExperimentError,
    design,
    hypothesis_tests,
    load_experiment,
    loads_experiment,
    point_scenario,
    regress,
    sensitivity,
    sweep,
)

TINY_SET = """
[set]
"customers.count" = 60
"horizon.periods" = 8
"acquisition.prospects_per_year" = 8.0
"choices.fixed_cost" = 20000.0
"outputs.relationship_detail" = 0
"""


def experiment_text(
    design_kind: str,
    points: str = "",
    factors: str = "",
    replications: int = 20,
    responses: str = '["mean_firm_value", "sd_firm_value"]',
) -> str:
    factors = (
        factors
        or """
[[factors]]
field = "network.rewire"
name = "rewire"
range = [0.0, 1.0]

[[factors]]
field = "demand.volatility"
name = "volatility"
range = [0.0, 0.6]
"""
    )
    return f"""
[experiment]
name = "t"
scenario = "{SCENARIOS / "classroom.toml"}"
design = "{design_kind}"
{points}
replications = {replications}
seed = 11
responses = {responses}
{TINY_SET}
{factors}
[[hypotheses]]
response = "sd_firm_value"
factor = "volatility"
direction = "increase"

[[hypotheses]]
response = "sd_firm_value"
factor = "rewire"
direction = "any"
"""


@pytest.fixture(scope="module")
def sobol_sweep() -> xr.Dataset:
    return sweep(loads_experiment(experiment_text("sobol", "points = 8"), "sobol.toml"))


def test_sweep_dataset_has_a_design_point_dimension_factor_coordinates_and_provenance(sobol_sweep: xr.Dataset) -> None:
    ds = sobol_sweep
    assert ds["firm_value"].dims == ("design_point", "replication")
    assert ds.sizes["design_point"] == 8 * (2 + 2) and ds.sizes["replication"] == 20
    assert ds["rewire"].dims == ("design_point",) and ds["rewire"].attrs["field"] == "network.rewire"
    assert set(ds["sobol_block"].values) == {"A", "B", "AB"}
    for name, var in ds.data_vars.items():
        assert var.attrs.get("units") and var.attrs.get("description"), name
    for key in ("experiment_toml", "scenario_toml", "seed", "valuecapture_version", "design", "reproduce"):
        assert key in ds.attrs
    assert 0.0 <= ds["volatility"].min() and ds["volatility"].max() <= 0.6


def test_every_design_point_is_its_own_firm_on_common_random_numbers(sobol_sweep: xr.Dataset) -> None:
    e = loads_experiment(experiment_text("sobol", "points = 8"), "sobol.toml")
    table = design(e)
    for p in (0, 13):
        alone = vc.simulate(point_scenario(e, table.values[p]), 20, 11)
        np.testing.assert_array_equal(sobol_sweep["firm_value"].isel(design_point=p).values, alone["firm_value"].values)


def test_a_field_the_model_ignores_has_sensitivity_indices_whose_ci_contains_zero(sobol_sweep: xr.Dataset) -> None:
    """network.rewire is ignored by the segment_clusters generator.  Under common random numbers f(AB_rewire) = f(A)
    exactly, so the Saltelli and Jansen estimators and all their bootstrap replicates are 0: the CI is [0, 0].
    demand.volatility does matter: the CI of its total index for the sd of firm value excludes 0 (the test can fail)."""
    for response in ("mean_firm_value", "sd_firm_value"):
        s = sensitivity(sobol_sweep, response, n_resamples=300)
        idx = {i.factor: i for i in s.indices}
        assert idx["rewire"].first_low <= 0.0 <= idx["rewire"].first_high
        assert idx["rewire"].total_low <= 0.0 <= idx["rewire"].total_high
    vol = {i.factor: i for i in sensitivity(sobol_sweep, "sd_firm_value", n_resamples=300).indices}["volatility"]
    assert vol.total_low > 0.0


def test_regression_effects_and_hypotheses(sobol_sweep: xr.Dataset) -> None:
    """The effect of an ignored field has a 95% CI containing 0 (a statistical statement: it would fail in about
    5% of seeds; this seed is fixed); demand volatility raises the sd of firm value (one-sided test supported)."""
    reg = regress(sobol_sweep, "sd_firm_value")
    eff = {e.factor: e for e in reg.effects}
    assert eff["rewire"].effect_low <= 0.0 <= eff["rewire"].effect_high
    assert eff["volatility"].effect_low > 0.0
    hyps = {h.hypothesis.factor: h for h in hypothesis_tests(sobol_sweep)}
    assert hyps["volatility"].supported and not hyps["rewire"].supported


def test_latin_hypercube_regression_indices_of_an_ignored_field() -> None:
    """Regression-based indices (adjusted R^2) of an ignored field are 0 up to chance fit; their 95% bootstrap CI
    contains 0 for this fixed seed, and so does the CI of its effect."""
    ds = sweep(
        loads_experiment(experiment_text("latin_hypercube", "points = 24", responses='["sd_firm_value"]'), "lhs.toml")
    )
    s = sensitivity(ds, "sd_firm_value", n_resamples=200)
    idx = {i.factor: i for i in s.indices}
    assert idx["rewire"].first_low <= 0.0 <= idx["rewire"].first_high
    assert idx["rewire"].total_low <= 0.0 <= idx["rewire"].total_high
    assert idx["volatility"].first_low > 0.0
    e = {x.factor: x for x in regress(ds, "sd_firm_value").effects}["rewire"]
    assert e.effect_low <= 0.0 <= e.effect_high


def test_full_factorial_grid_and_exact_anova_indices() -> None:
    factors = """
[[factors]]
field = "network.rewire"
name = "rewire"
levels = [0.1, 0.9]

[[factors]]
field = "demand.volatility"
name = "volatility"
range = [0.0, 0.4]
steps = 3

[[factors]]
field = "heterogeneity.interdependence"
name = "interdependence"
levels = [false, true]
"""
    e = loads_experiment(
        experiment_text("full_factorial", factors=factors, replications=10, responses='["sd_firm_value"]').replace(
            'factor = "rewire"', 'factor = "interdependence"'
        ),
        "ff.toml",
    )
    table = design(e)
    assert len(table.values) == 2 * 3 * 2
    assert sorted({row[1] for row in table.values}) == [0.0, 0.2, 0.4]
    ds = sweep(e)
    s = {i.factor: i for i in sensitivity(ds, "sd_firm_value", n_resamples=200).indices}
    assert (
        abs(s["rewire"].first) < 1e-12 and abs(s["rewire"].total) < 1e-12
    )  # zero up to rounding: the responses do not depend on it
    assert s["volatility"].total > 0.0
    assert ds["interdependence"].dtype == bool


# ---------------------------------------------------------------------------
# Bad experiment files
# ---------------------------------------------------------------------------

GOOD = experiment_text("sobol", "points = 8")


@pytest.mark.parametrize(
    "text, field, fragment",
    [
        ("[experiment\n", "", "malformed TOML"),
        (GOOD.replace('design = "sobol"', 'design = "sobolev"'), "experiment.design", "did you mean 'sobol'"),
        (GOOD.replace("points = 8", "points = 12"), "experiment.points", "power of 2"),
        (GOOD.replace("points = 8", ""), "experiment.points", "required for a sobol design"),
        (GOOD.replace("replications = 20", "replications = 1"), "experiment.replications", "[2, 10000000]"),
        (GOOD.replace("seed = 11", "seed = -1"), "experiment.seed", "must be an integer"),
        (GOOD.replace('name = "t"', 'name = "t"\nscenari = "x"'), "experiment.scenari", "did you mean 'scenario'"),
        (GOOD.replace(str(SCENARIOS / "classroom.toml"), "nowhere.toml"), "experiment.scenario", "file not found"),
        (
            GOOD.replace('"mean_firm_value", ', '"mean_firm_valeu", '),
            "experiment.responses[0]",
            "did you mean 'mean_firm_value'",
        ),
        (GOOD.replace('field = "network.rewire"', 'field = "network.rewiring"'), "factors[0].range", "unknown key"),
        (GOOD.replace('field = "network.rewire"', 'field = "run.seed"'), "factors[0].field", "cannot be a factor"),
        (GOOD.replace("range = [0.0, 0.6]", "range = [0.6, 0.0]"), "factors[1].range", "low must be below high"),
        (GOOD.replace("range = [0.0, 0.6]", "range = [0.0, 9.0]"), "factors[1].range", "demand.volatility = 9"),
        (GOOD.replace("range = [0.0, 0.6]", 'levels = ["low", "high"]'), "factors[1].levels", "must be a number"),
        (
            GOOD.replace("range = [0.0, 0.6]", "range = [0.0, 0.6]\nlevels = [0.1, 0.2]"),
            "factors[1]",
            "exactly one of range",
        ),
        (GOOD.replace('direction = "increase"', 'direction = "up"'), "hypotheses[0].direction", "unknown direction"),
        (GOOD.replace('factor = "volatility"', 'factor = "growth"'), "hypotheses[0].factor", "is not a factor"),
        (GOOD.replace("[set]", '[set]\n"demand.rho_across" = 0.9'), "set.demand.rho_across", "must not exceed"),
        (GOOD + "\n[extra]\nx = 1\n", "extra", "unknown section"),
    ],
)
def test_bad_experiment_files_give_one_line_naming_file_and_field(
    tmp_path: Path, text: str, field: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {field}: " if field else f"{path}: "), msg
    assert fragment in msg, msg


def test_a_design_point_that_is_not_a_valid_scenario_is_caught_before_anything_runs(tmp_path: Path) -> None:
    factors = """
[[factors]]
field = "demand.rho_within"
range = [0.2, 0.5]

[[factors]]
field = "demand.rho_across"
range = [0.0, 0.4]
"""
    text = (
        experiment_text("latin_hypercube", "points = 16", factors=factors)
        .replace('factor = "volatility"', 'factor = "demand.rho_within"')
        .replace('factor = "rewire"', 'factor = "demand.rho_across"')
    )
    (tmp_path / "e.toml").write_text(
        text
    )  # each extreme alone is valid; some combinations put rho_across above rho_within
    with pytest.raises(
        ExperimentError, match=r"e.toml: factors: design point \d+ .* demand.rho_across: must not exceed"
    ):
        load_experiment(tmp_path / "e.toml")


@pytest.mark.parametrize(
    "text, fragment",
    [
        (GOOD.replace("points = 8", "points = 6"), "experiment.points: must be a power of 2"),
        ("[experiment]\n", "experiment.scenario: required"),
    ],
)
def test_cli_bad_experiment_exit_2_one_line_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    (tmp_path / "bad.toml").write_text(text)
    code = run_main(["sweep", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_shipped_experiment_is_valid_and_small() -> None:
    e = load_experiment(ROOT / "experiments" / "heterogeneity.toml")
    assert e.design == "sobol" and len(design(e).values) * e.replications <= 20_000
    assert {f.field for f in e.factors} >= {"uncertainties.wallet.s", "network.rewire"}
    assert e.hypotheses


def test_a_text_factor_read_back_as_fixed_width_strings_is_coded_like_an_object_one() -> None:
    """A sweep's text factor (the policy) comes back from the file as a fixed-width string array;
    its levels are coded by first appearance as for an object array (the report failed on it)."""
    import xarray as xr

    from valuecapture.analysis.experiments.sensitivity import _codes

    labels = ["single", "tiered", "single", "harvest"]
    as_object = xr.Dataset({"policy": ("point", np.array(labels, dtype=object))})
    as_text = xr.Dataset({"policy": ("point", np.array(labels))})
    assert as_text["policy"].values.dtype.kind == "U"
    np.testing.assert_array_equal(_codes(as_text, "policy"), _codes(as_object, "policy"))
    np.testing.assert_array_equal(_codes(as_text, "policy"), [0.0, 1.0, 0.0, 2.0])


def test_a_text_variable_reads_back_as_objects(tmp_path) -> None:
    """A result file's text values that are not an index come back as object arrays, as written."""
    import xarray as xr

    from valuecapture.run.results import open_netcdf, write_netcdf

    ds = xr.Dataset({"policy": ("point", np.array(["single", "tiered"], dtype=object)), "y": ("point", [1.0, 2.0])})
    write_netcdf(ds, tmp_path / "r.nc")
    with open_netcdf(tmp_path / "r.nc") as back:
        assert back["policy"].dtype == object and back["policy"].values.tolist() == ["single", "tiered"]
