"""Screening many factors (issue 18, item 5): Morris elementary effects on published test functions, one-at-a-time
swings (tornado), and the warning of a sweep with too few design points for its indices."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, SCENARIOS
from SALib.analyze import morris as salib_analyze
from SALib.test_functions import Sobol_G
from test_research_stats import run_main

from valuecapture.analysis.experiments import (
    ExperimentError,
    Sensitivity,
    SensitivityIndex,
    design,
    elementary_effects,
    index_warning,
    load_experiment,
    loads_experiment,
    morris,
    morris_indices,
    morris_unit_design,
    sensitivity,
    sweep,
    sweep_text,
    tornado,
)

TINY_SET = """
[set]
"customers.count" = 60
"horizon.periods" = 8
"acquisition.prospects_per_year" = 8.0
"choices.fixed_cost" = 20000.0
"outputs.relationship_detail" = 0
"""

FACTORS = """
[[factors]]
field = "network.rewire"
name = "rewire"
range = [0.0, 1.0]

[[factors]]
field = "demand.volatility"
name = "volatility"
range = [0.0, 0.6]

[[factors]]
field = "economics.cogs_ratio"
name = "cogs"
range = [0.55, 0.7]
"""


def experiment_text(design_lines: str, replications: int = 6, factors: str = FACTORS, extra: str = "") -> str:
    return f"""
[experiment]
name = "t"
scenario = "{SCENARIOS / "classroom.toml"}"
{design_lines}
replications = {replications}
seed = 5
responses = ["mean_firm_value", "sd_firm_value"]
{TINY_SET}
{factors}
{extra}
"""


# ---------------------------------------------------------------------------
# Known answers: Morris on published test functions, no simulation
# ---------------------------------------------------------------------------


def _g_screening(a: np.ndarray, r: int, pool: int | None, seed: int) -> list[str]:
    d = a.size
    u, moved, step = morris_unit_design(d, r, 4, np.random.default_rng(seed), pool)
    y = Sobol_G.evaluate(u, a)
    ee = elementary_effects(y, np.arange(u.shape[0]) // (d + 1), moved, step, d)
    return [i.factor for i in morris_indices(ee, [f"x{k}" for k in range(d)], n_resamples=200, seed=seed)]


@pytest.mark.parametrize("pool", [None, 60])
def test_morris_mu_star_ranks_the_sobol_g_function_factors_by_importance(pool: int | None) -> None:
    """Sobol's G function, a = [0, 1, 4.5, 9, 99, 99, 99, 99] (Saltelli et al. 2008, ch. 3): the smaller a_i, the
    more important x_i.  mu* puts x0 (a = 0) first, then x1, x2, x3, and the four a = 99 factors last, with plain
    and with optimised (Campolongo et al. 2007) trajectories; fixed seeds."""
    a = np.array([0, 1, 4.5, 9, 99, 99, 99, 99], dtype=float)
    for seed in (1, 2, 3):
        order = _g_screening(a, 20, pool, seed)
        assert order[:4] == ["x0", "x1", "x2", "x3"], (seed, order)
        assert set(order[4:]) == {"x4", "x5", "x6", "x7"}


def test_morris_mu_star_ranks_like_the_analytic_total_indices_campolongo_2007() -> None:
    """Campolongo et al. (2007) test mu* on the G function with a = [78, 12, 0.5, 2, 97, 33]: it ranks the factors
    as the (analytic) total sensitivity indices do."""
    a = np.array([78, 12, 0.5, 2, 97, 33], dtype=float)
    v = 1.0 / (3.0 * (1.0 + a) ** 2)
    total = v * np.prod(1 + v) / (1 + v) / (np.prod(1 + v) - 1)
    expected = [f"x{k}" for k in np.argsort(-total)]
    assert _g_screening(a, 20, 100, 7) == expected
    assert _g_screening(a, 40, None, 8) == expected


def test_morris_statistics_equal_salibs_analyze_on_the_same_design() -> None:
    """mu, mu* and sigma from our elementary effects equal SALib.analyze.morris on the same sample and outputs."""
    d = 6
    u, moved, step = morris_unit_design(d, 12, 4, np.random.default_rng(3))
    a = np.array([0, 1, 4.5, 9, 99, 99], dtype=float)
    y = Sobol_G.evaluate(u, a)
    ee = elementary_effects(y, np.arange(u.shape[0]) // (d + 1), moved, step, d)
    ours = {i.factor: i for i in morris_indices(ee, [f"x{k}" for k in range(d)], n_resamples=100)}
    problem = {"num_vars": d, "names": [f"x{k}" for k in range(d)], "bounds": [[0.0, 1.0]] * d}
    si = salib_analyze.analyze(problem, u, y, num_levels=4, seed=1)
    for k in range(d):
        i = ours[f"x{k}"]
        assert i.mu == pytest.approx(si["mu"][k], rel=1e-12, abs=1e-15)
        assert i.mu_star == pytest.approx(si["mu_star"][k], rel=1e-12)
        assert i.sigma == pytest.approx(si["sigma"][k], rel=1e-12)
        assert i.mu_star_low <= i.mu_star <= i.mu_star_high


def test_a_linear_function_has_constant_elementary_effects() -> None:
    """y = sum b_k x_k on [0, 1]: every elementary effect of x_k is b_k (mu = b_k, mu* = |b_k|, sigma = 0)."""
    b = np.array([3.0, -2.0, 0.0, 0.5])
    u, moved, step = morris_unit_design(4, 8, 6, np.random.default_rng(0))
    ee = elementary_effects(u @ b, np.arange(u.shape[0]) // 5, moved, step, 4)
    idx = {i.factor: i for i in morris_indices(ee, ["a", "b", "c", "d"], n_resamples=50)}
    for name, bk in zip("abcd", b, strict=True):
        assert idx[name].mu == pytest.approx(bk) and idx[name].mu_star == pytest.approx(abs(bk))
        assert idx[name].sigma == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------
# Experiment files and designs
# ---------------------------------------------------------------------------


def test_morris_and_oat_designs() -> None:
    e = loads_experiment(experiment_text('design = "morris"\ntrajectories = 5\nlevels = 4'), "m.toml")
    t = design(e)
    assert len(t.values) == 5 * 4 and e.trajectories == 5 and e.levels == 4
    for p in range(1, len(t.values)):
        changed = [k for k in range(3) if t.values[p][k] != t.values[p - 1][k]]
        if t.column[p] >= 0:
            assert changed == [t.column[p]] and abs(t.step[p]) == pytest.approx(4 / 6)
        else:
            assert p % 4 == 0
    o = loads_experiment(experiment_text('design = "oat"'), "o.toml")
    t = design(o)
    base = [0.1, 0.15, 0.62]  # classroom's network.rewire, demand.volatility, economics.cogs_ratio (defaults)
    assert t.values[0] == base and t.block == ["base", "low", "high"] * 1 + ["low", "high"] * 2
    assert t.values[1] == [0.0, 0.15, 0.62] and t.values[2] == [1.0, 0.15, 0.62] and t.values[6] == [0.1, 0.15, 0.7]


@pytest.mark.parametrize(
    "lines, extra, message",
    [
        ('design = "morris"\nlevels = 5', "", "experiment.levels: must be even"),
        ('design = "morris"\ntrajectories = 10\ntrajectory_pool = 10', "", "experiment.trajectory_pool: must exceed"),
        ('design = "morris"\npoints = 16', "", "experiment.points: is not used by a morris design"),
        ('design = "oat"\npoints = 16', "", "experiment.points: is not used by a oat design"),
        ('design = "sobol"\npoints = 8\ntrajectories = 4', "", "experiment.trajectories: applies to a morris design"),
        (
            'design = "oat"',
            '[[hypotheses]]\nresponse = "sd_firm_value"\nfactor = "volatility"',
            "hypotheses: a oat design screens factors and tests no hypothesis",
        ),
    ],
)
def test_screening_experiment_errors_are_one_line(lines: str, extra: str, message: str) -> None:
    with pytest.raises(ExperimentError) as err:
        loads_experiment(experiment_text(lines, extra=extra), "x.toml")
    assert message in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------------------
# Sweeps: Morris and tornado on the model
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def morris_sweep() -> xr.Dataset:
    return sweep(loads_experiment(experiment_text('design = "morris"\ntrajectories = 4\ntrajectory_pool = 8'), "m"))


@pytest.fixture(scope="module")
def oat_sweep() -> xr.Dataset:
    return sweep(loads_experiment(experiment_text('design = "oat"', replications=30), "o.toml"))


def test_morris_sweep_an_ignored_field_has_mu_star_zero(morris_sweep: xr.Dataset) -> None:
    """Under common random numbers a field the model ignores (network.rewire with segment_clusters) has every
    elementary effect exactly 0; the cost of goods sold moves firm value most."""
    m = morris(morris_sweep, "mean_firm_value", n_resamples=100)
    idx = {i.factor: i for i in m.indices}
    assert idx["rewire"].mu_star == 0.0 and idx["rewire"].mu_star_high == 0.0 and idx["rewire"].sigma == 0.0
    assert m.indices[0].factor == "cogs" and idx["cogs"].mu < 0
    assert morris_sweep.attrs["morris_trajectories"] == 4 and morris_sweep.attrs["morris_trajectory_pool"] == 8
    assert {"morris_trajectory", "morris_factor", "morris_step"} <= set(morris_sweep.coords)


def test_tornado_swings_with_common_random_numbers(oat_sweep: xr.Dataset) -> None:
    """The ignored field swings by exactly 0 (CI [0, 0]: the same seed at both ends); the cost of goods sold swings
    mean firm value down, with a paired CI narrower than either end's; the swings are sorted by width."""
    t = tornado(oat_sweep, "mean_firm_value", n_resamples=300)
    s = {w.factor: w for w in t.swings}
    assert s["rewire"].swing == 0.0 and s["rewire"].swing_ci == (0.0, 0.0)
    assert s["cogs"].swing_ci[1] < 0 and s["cogs"].low_value == 0.55 and s["cogs"].base_value == pytest.approx(0.62)
    assert s["cogs"].swing_ci[1] - s["cogs"].swing_ci[0] < s["cogs"].low_ci[1] - s["cogs"].low_ci[0]
    assert [w.width for w in t.swings] == sorted((w.width for w in t.swings), reverse=True)
    base = oat_sweep["firm_value"].values[0]
    assert t.base == pytest.approx(base.mean()) and t.base_ci[0] < t.base < t.base_ci[1]


def test_screening_text_report_and_figures(morris_sweep: xr.Dataset, oat_sweep: xr.Dataset, tmp_path: Path) -> None:
    from valuecapture.report.html import write_report

    text = sweep_text(morris_sweep, n_resamples=50)
    assert "Screening of mean_firm_value" in text and "mu*" in text
    assert text.splitlines()[2].startswith("warning: too few design points") and "4 Morris trajectories" in text
    text = sweep_text(oat_sweep, n_resamples=50)
    assert "One-at-a-time swings of mean_firm_value" in text and "warning" not in text
    for ds, stem in ((morris_sweep, "morris"), (oat_sweep, "tornado")):
        folder = write_report(ds, None, tmp_path / stem, n_resamples=50)
        html = (folder / "report.html").read_text()
        assert (folder / "figures" / f"{stem}.png").stat().st_size > 10_000
        assert (folder / "tables" / f"{stem}_mean_firm_value.csv").exists()
        assert ("Warning: too few design points" in html) == (stem == "morris")


# ---------------------------------------------------------------------------
# The warning: too few design points for the indices reported
# ---------------------------------------------------------------------------


def _fake_sweep(kind: str, points: int, d: int, seed: int = 0) -> xr.Dataset:
    """A sweep-shaped Dataset (no simulation): firm value depends on the first factor only, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.random((points, d))
    fv = 1e6 * x[:, :1] + 2e5 * rng.standard_normal((points, 30))
    coords = {
        f"f{k}": ("design_point", x[:, k], {"field": f"f.{k}", "range_low": 0.0, "range_high": 1.0}) for k in range(d)
    }
    return xr.Dataset(
        {"firm_value": (("design_point", "replication"), fv)},
        coords=coords,
        attrs={
            "design": kind,
            "design_points": points,
            "factors": json.dumps([f"f{k}" for k in range(d)]),
            "responses": json.dumps(["mean_firm_value"]),
            "seed": 3,
            "experiment_name": "fake",
        },
    )


def _indices(*values: tuple[float, float, float]) -> dict[str, Sensitivity]:
    idx = [SensitivityIndex(f"f{k}", v, lo, hi, v, lo, hi) for k, (v, lo, hi) in enumerate(values)]
    return {"mean_firm_value": Sensitivity("mean_firm_value", "test", idx, 1.0, 0.95)}


def test_a_16_point_latin_hypercube_over_5_factors_warns_in_one_line() -> None:
    """The case of the issue: 16 Latin hypercube points for 5 factors gave a negative first-order index without a
    word.  Now the sweep text carries one warning line that states the rule (10 points per factor)."""
    ds = _fake_sweep("latin_hypercube", 16, 5)
    s = sensitivity(ds, "mean_firm_value", n_resamples=100)
    assert min(min(i.first, i.total) for i in s.indices) < 0  # the symptom
    warn = index_warning(ds, {"mean_firm_value": s})
    assert warn is not None and "\n" not in warn
    assert "16 Latin hypercube points for 5 factors" in warn and "at least 10 per factor: 50" in warn
    lines = [line for line in sweep_text(ds, n_resamples=100).splitlines() if line.startswith("warning: ")]
    assert lines == [warn]


def test_enough_points_and_sound_indices_give_no_warning() -> None:
    ds = _fake_sweep("latin_hypercube", 200, 5)
    assert index_warning(ds, _indices(*[(0.8, 0.7, 0.9)] + [(0.0, -0.03, 0.03)] * 4)) is None
    assert index_warning(ds, {"mean_firm_value": sensitivity(ds, "mean_firm_value", n_resamples=100)}) is None


def test_the_warning_rule_flags_estimates_outside_the_unit_interval_and_wide_intervals() -> None:
    ds = _fake_sweep("latin_hypercube", 200, 2)
    warn = index_warning(ds, _indices((1.2, 0.9, 1.3), (0.0, -0.02, 0.02)))
    assert warn is not None and "2 of 4 indices outside [-0.05, 1.05]" in warn and "= 1.200" in warn
    warn = index_warning(ds, _indices((0.5, 0.1, 0.9), (0.0, -0.02, 0.02)))
    assert warn is not None and "2 of 4 index CIs wider than 0.5" in warn and "outside" not in warn
    sobol = _fake_sweep("sobol", 16 * 4, 2).assign_coords(sobol_row=("design_point", np.arange(64) % 16))
    warn = index_warning(sobol, _indices((0.5, 0.45, 0.55), (0.0, -0.02, 0.02)))
    assert warn is not None and "N = 16 Sobol base rows" in warn
    morris_ds = _fake_sweep("morris", 30, 2).assign_attrs(morris_trajectories=10)
    assert index_warning(morris_ds) is None
    assert index_warning(_fake_sweep("full_factorial", 9, 2), _indices((0.5, 0.45, 0.55), (0.5, 0.4, 0.6))) is None


def test_cli_sweep_quiet_prints_the_warning_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.toml"
    path.write_text(experiment_text('design = "morris"\ntrajectories = 3', replications=3))
    assert run_main(["sweep", str(path), "--out", str(tmp_path), "--quiet", "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert "valuecapture: warning: too few design points" in err and "3 Morris trajectories" in err
    assert (tmp_path / "t-sweep" / "summary.txt").read_text().count("warning: too few design points") == 1


def test_the_example_experiment_files_load() -> None:
    e = load_experiment(ROOT / "experiments" / "screening.toml")
    assert e.design == "morris" and len(e.factors) >= 10 and len(design(e).values) == int(e.trajectories or 0) * 13
    t = load_experiment(ROOT / "experiments" / "tornado.toml")
    assert t.design == "oat" and len(design(t).values) == 1 + 2 * len(t.factors)
