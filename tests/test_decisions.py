"""Scenario discovery (PRIM on a planted box) and robustness (regret on a constructed table), docs/decisions.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from valuecapture.analysis.discovery import (
    Box,
    ConditionError,
    cases,
    default_box,
    discover,
    parse_condition,
    parse_number,
    prim,
    quasi_p,
)
from valuecapture.analysis.experiments import design_size, load_experiment
from valuecapture.analysis.robustness import PolicyTable, RobustnessError, policy_table, robustness, sweeps_table
from valuecapture.cli.main import main
from valuecapture.run.load import open_run
from valuecapture.run.results import write_result

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------
# The condition grammar
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "variable", "statistic", "op", "value"),
    [
        ("firm_value < 0", "replication", "firm_value", "", "<", 0.0),
        ("firm_value<=-2.5m", "replication", "firm_value", "", "<=", -2.5e6),
        ("p_loss > 0.2", "point", "firm_value", "p_loss", ">", 0.2),
        ("mean_gini >= .5", "point", "relationship_value_gini", "mean_gini", ">=", 0.5),
        ("p5(firm_value) < -1_000_000", "point", "firm_value", "p5", "<", -1e6),
        ("mean firm_value < 3e6", "point", "firm_value", "mean", "<", 3e6),
        ("  sd ( value_created ) > 250k ", "point", "value_created", "sd", ">", 250e3),
        ("es5(firm_value) < 2bn", "point", "firm_value", "es5", "<", 2e9),
    ],
)
def test_conditions_parse_as_data(text: str, kind: str, variable: str, statistic: str, op: str, value: float) -> None:
    c = parse_condition(text)
    assert (c.kind, c.variable, c.statistic, c.op, c.value) == (kind, variable, statistic, op, value)


def test_loses_to_parses_policy_labels_quoted_or_not() -> None:
    c = parse_condition("tiered loses to single")
    assert (c.kind, c.loser, c.winner) == ("loses", "tiered", "single")
    c = parse_condition("'tiered(top_share=0.2)' LOSES TO \"single\"")
    assert (c.loser, c.winner) == ("tiered(top_share=0.2)", "single")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty condition"),
        ("firm_value", "SUBJECT OP NUMBER"),
        ("firm_value < x", "not a number"),
        ("firm_value < 1 < 2", "SUBJECT OP NUMBER"),
        ("__import__('os').system('x') < 1", "subject must be"),
        ("foo(firm_value) < 0", "unknown statistic 'foo'"),
        ("p100(firm_value) < 0", "unknown statistic"),
        ("a loses b", "POLICY loses to POLICY"),
        ("a loses to a", "cannot lose to itself"),
        ("firm_value < 1e999", "not a finite number"),
    ],
)
def test_bad_conditions_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_condition(text)
    assert "\n" not in str(err.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_condition_error(text: str) -> None:
    try:
        parse_condition(text)
    except ConditionError:  # nothing else may escape (no eval, no IndexError)
        pass


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_numbers_round_trip(v: float) -> None:
    assert parse_number(repr(v)) == v
    assert parse_condition(f"firm_value > {v!r}").value == v


# ---------------------------------------------------------------------------
# PRIM on a planted box
# ---------------------------------------------------------------------------

#: The planted box: x0 in [0.2, 0.6], x1 in [0.5, 1] of the unit cube in 5 dimensions; a case is of
#: interest inside it, and its label is flipped with probability EPS anywhere (noise).
LOW, HIGH, EPS, N = np.array([0.2, 0.5]), np.array([0.6, 1.0]), 0.05, 2000
VOLUME = float(np.prod(HIGH - LOW))
TRUE_DENSITY = 1 - EPS
TRUE_COVERAGE = VOLUME * (1 - EPS) / (VOLUME * (1 - EPS) + (1 - VOLUME) * EPS)


def planted(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 18]))
    x = rng.random((N, 5))
    inside = np.all((x[:, :2] >= LOW) & (x[:, :2] <= HIGH), axis=1)
    return x, inside ^ (rng.random(N) < EPS)


@pytest.mark.parametrize("seed", range(5))
def test_prim_finds_a_planted_box(seed: int) -> None:
    """Tolerances.  A peel takes ``alpha`` of the box's cases from one side, which near the end moves a
    limit by about ``alpha`` x the box's width (0.02 in x0, 0.025 in x1) and pasting adds back slices of
    the same size, so PRIM resolves a limit to about one step: we allow two, ``2 alpha w``.  The found box
    may then miss or add a band of that width along each of its three edges inside the cube, about
    ``2 alpha (w1 + 2 w0)`` = 0.13 of its volume: coverage can fall to 0.87 x the truth, and the band
    outside holds cases of interest at density EPS, so density can fall to (0.95 + 0.13 EPS) / 1.13
    ~ 0.85.  Binomial noise in 400 boxed cases adds about +-0.02."""
    x, y = planted(seed)
    traj = prim(x, y)
    i = default_box(traj)
    box, s = traj.boxes[i], traj.stats[i]
    tol = 2 * 0.05 * (HIGH - LOW)
    assert box.restricted(traj.full) == [0, 1]
    assert np.all(np.abs(box.lower[:2] - LOW) <= tol)
    assert box.upper[0] == pytest.approx(HIGH[0], abs=tol[0])
    assert box.upper[1] == x[:, 1].max()  # the top of the cube: unrestricted there
    assert 0.87 * TRUE_COVERAGE - 0.02 <= s.coverage <= TRUE_COVERAGE + 0.05
    assert 0.85 - 0.02 <= s.density <= TRUE_DENSITY + 0.03
    qp = quasi_p(x, y, box, traj.full)
    assert set(qp) == {0, 1} and max(qp.values()) < 1e-20


def test_trajectory_is_peels_then_pastes_with_coverage_falling_and_density_rising_while_peeling() -> None:
    x, y = planted(0)
    traj = prim(x, y)
    phases = [s.phase for s in traj.stats]
    assert phases[0] == "start" and set(phases[1:]) <= {"peel", "paste"}
    assert phases == sorted(phases, key=("start", "peel", "paste").index)
    peel = [s for s in traj.stats if s.phase in ("start", "peel")]
    assert all(b.coverage <= a.coverage + 1e-12 for a, b in zip(peel, peel[1:], strict=False))
    assert all(b.density > a.density for a, b in zip(peel, peel[1:], strict=False))  # every peel raises it
    assert all(s.mass >= 0.05 for s in traj.stats)
    first = traj.stats[0]
    assert (first.coverage, first.mass, first.restricted) == (1.0, 1.0, 0)
    assert first.density == pytest.approx(y.mean())


def test_quasi_p_of_a_needless_restriction_is_large() -> None:
    x, y = planted(1)
    traj = prim(x, y)
    box = traj.boxes[default_box(traj)]
    lo = box.lower.copy()
    lo[3] = 0.3  # an irrelevant dimension cut at 0.3
    qp = quasi_p(x, y, Box(lo, box.upper, box.allowed), traj.full)
    assert qp[3] > 0.01 and qp[0] < 1e-10 and qp[1] < 1e-10


def test_prim_peels_text_levels_one_at_a_time() -> None:
    rng = np.random.default_rng(np.random.SeedSequence([3, 18]))
    n = 3000
    x = np.column_stack([rng.random(n), rng.integers(0, 4, n).astype(float), rng.random(n)])
    y = (x[:, 0] > 0.5) & np.isin(x[:, 1], [1, 3])
    traj = prim(x, y, [None, ("a", "b", "c", "d"), None])
    box = traj.boxes[default_box(traj)]
    assert box.restricted(traj.full) == [0, 1]
    assert box.allowed[1] is not None and list(np.flatnonzero(box.allowed[1])) == [1, 3]
    assert box.lower[0] == pytest.approx(0.5, abs=0.05)
    assert traj.stats[default_box(traj)].density == 1.0


def test_prim_on_tied_values_peels_whole_levels() -> None:
    """A factorial design's few distinct values: a quantile peel would remove nothing, so the extreme value goes."""
    x = np.repeat(np.arange(4.0), 50)[:, None]
    traj = prim(x, x[:, 0] == 0)
    i = default_box(traj)
    assert traj.boxes[i].upper[0] == 0 and traj.stats[i].density == 1.0 and traj.stats[i].coverage == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(20, 300),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.sampled_from([2, 3, 50]),
    st.floats(0.02, 0.4),
)
def test_prim_trajectory_is_consistent_on_any_data(n: int, d: int, seed: int, distinct: int, alpha: float) -> None:
    """Any data (ties, constant columns, a text factor): every box's statistics match its cases, the
    mass stays above the minimum, and each step raises the density."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, distinct, (n, d)).astype(float) / distinct
    levels: list[tuple[str, ...] | None] = [None] * d
    if d > 1:
        x[:, -1] = rng.integers(0, 3, n)
        levels[-1] = ("a", "b", "c")
    y = rng.random(n) < rng.random()
    if not y.any():
        return
    traj = prim(x, y, levels, alpha=alpha, paste_alpha=alpha)
    prev = None
    for box, s in zip(traj.boxes, traj.stats, strict=True):
        inside = box.contains(x)
        assert s.cases == inside.sum() and s.of_interest == y[inside].sum()
        assert s.coverage == pytest.approx(y[inside].sum() / y.sum()) and s.mass == pytest.approx(inside.mean())
        assert s.restricted == len(box.restricted(traj.full))
        if prev is not None:
            assert s.mass >= 0.05 - 1e-12 and s.density > prev.density
        prev = s
    i = default_box(traj)
    assert set(quasi_p(x, y, traj.boxes[i], traj.full)) == set(traj.boxes[i].restricted(traj.full))


def test_prim_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="alpha"):
        prim(np.zeros((3, 1)), np.zeros(3, bool), alpha=0.7)
    with pytest.raises(ValueError, match="n x d"):
        prim(np.zeros(3), np.zeros(3, bool))


# ---------------------------------------------------------------------------
# Discovery on a sweep-shaped Dataset
# ---------------------------------------------------------------------------


def fake_sweep(seed: int = 5, policies: tuple[str, ...] = ("single", "tiered"), reps: int = 20) -> xr.Dataset:
    """A full factorial over a policy factor and two numeric factors, with a planted region: tiered loses
    to single where wallet_sigma < 0.4 and acq_cost > 0.5; firm value is negative where wallet_sigma < 0.3."""
    grid = np.linspace(0, 1, 11)
    ga, gb = np.meshgrid(grid, grid, indexing="ij")
    a, b = ga.ravel(), gb.ravel()
    pol = np.repeat(np.array(policies, dtype=object), a.size)
    ws, ac = np.tile(a, len(policies)), np.tile(b, len(policies))
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 0.1, reps)  # common random numbers: the same draws at every point
    base = np.where(ws < 0.3, -1.0, 1.0)
    shift = np.where((pol == "tiered") & (ws < 0.4) & (ac > 0.5), -0.5, 0.0) + np.where(pol == "tiered", 0.05, 0.0)
    fv = (base + shift)[:, None] + noise[None, :]
    n = fv.shape[0]
    ds = xr.Dataset(
        {"firm_value": (("design_point", "replication"), fv)},
        coords={
            "design_point": np.arange(n),
            "replication": np.arange(reps),
            "policy": ("design_point", pol.astype(str), {"field": "choices.policy", "design": "levels single, tiered"}),
            "wallet_sigma": ("design_point", ws, {"field": "uncertainties.wallet.s"}),
            "acq_cost": ("design_point", ac, {"field": "acquisition.acquisition_cost"}),
        },
        attrs={
            "kind": "sweep",
            "factors": json.dumps(["policy", "wallet_sigma", "acq_cost"]),
            "seed": 3,
            "replications": reps,
            "valuecapture_version": "test",
            "scenario_toml": '[scenario]\nname = "x"\n',
            "experiment_name": "fake",
            "design": "full_factorial",
        },
    )
    return ds


def test_discover_a_policy_losing_to_another_finds_the_planted_region() -> None:
    d = discover(fake_sweep(), "tiered loses to single")
    assert d.cases.unit == "scenario" and d.cases.names == ("wallet_sigma", "acq_cost") and len(d.cases.y) == 121
    lims = {lim.dimension: lim for lim in d.limits}
    assert set(lims) == {"wallet_sigma", "acq_cost"}
    assert (lims["wallet_sigma"].low, lims["wallet_sigma"].high) == (0.0, pytest.approx(0.3))
    assert (lims["acq_cost"].low, lims["acq_cost"].high) == (pytest.approx(0.6), 1.0)
    assert (d.box.coverage, d.box.density) == (1.0, 1.0)


def test_discover_per_replication_and_per_point() -> None:
    ds = fake_sweep()
    d = discover(ds, "firm_value < 0")
    assert d.cases.unit == "replication" and len(d.cases.y) == ds["firm_value"].size
    assert [lim.dimension for lim in d.limits] == ["wallet_sigma"]
    assert d.limits[0].high == pytest.approx(0.2) and d.box.density == 1.0 and d.box.coverage == 1.0
    d = discover(ds, "mean(firm_value) < 0")
    assert d.cases.unit == "design point" and len(d.cases.y) == ds.sizes["design_point"]
    assert d.limits[0].dimension == "wallet_sigma" and d.limits[0].high == pytest.approx(0.2)
    d = discover(ds, "p_loss > 0.5", box=0)
    assert d.chosen == 0 and d.limits == ()


def test_discover_says_what_does_not_fit() -> None:
    ds = fake_sweep()
    for cond, msg in [
        ("nothing < 0", "'nothing' is not a per-replication output"),
        ("harvest loses to single", "'harvest' is not a policy of this sweep"),
        ("firm_value < -100", "no replication meets it"),
        ("firm_value < 100", "every replication meets it"),
    ]:
        with pytest.raises(ConditionError, match=msg):
            discover(ds, cond)
    with pytest.raises(ConditionError, match="--lever nope: not a factor"):
        cases(ds, "single loses to tiered", levers=["nope"])
    with pytest.raises(ConditionError, match="no policy factor"):
        cases(ds.assign_coords(policy=ds["policy"].assign_attrs(field="x.y")), "single loses to tiered")
    with pytest.raises(ConditionError, match="not a sweep result"):
        cases(ds.assign_attrs(kind="run"), "firm_value < 0")
    with pytest.raises(ConditionError, match="--box 999"):
        discover(ds, "firm_value < 0", box=999)


# ---------------------------------------------------------------------------
# Robustness on a constructed table with a known answer
# ---------------------------------------------------------------------------

MEANS = np.array([[10.0, 8.0, 9.0], [2.0, 7.0, 6.0], [5.0, 5.5, 6.0]])  # scenario x policy (A, B, C)
NOISE_SCALE = np.array([0.0, 1.0, 3.0])  # policy-specific noise k_p z_r on top of the common e_r
R = 10


def table(crn: bool = True) -> PolicyTable:
    z = np.where(np.arange(R) % 2 == 0, 1.0, -1.0)  # mean 0, sd sqrt(R / (R - 1))
    e = np.linspace(-2, 2, R)  # common to every policy: mean 0
    values = MEANS[:, :, None] + e[None, None, :] + NOISE_SCALE[None, :, None] * z[None, None, :]
    return PolicyTable(("A", "B", "C"), ("u",), np.array([[0.0], [1.0], [2.0]]), (None,), values, crn, "test")


def test_regret_minimax_and_satisficing_of_a_constructed_table() -> None:
    r = robustness(table(), threshold=6.0)
    np.testing.assert_allclose(r.mean, MEANS, atol=1e-12)
    assert list(r.best) == [0, 1, 2]
    np.testing.assert_allclose(r.regret, np.array([[0, 2, 1], [5, 0, 1], [1, 0.5, 0]]), atol=1e-12)
    np.testing.assert_allclose(r.max_regret, [5, 2, 1], atol=1e-12)
    assert r.minimax == "C"
    assert r.satisficing is not None
    np.testing.assert_allclose(r.satisficing, [1 / 3, 2 / 3, 1.0])  # C's 6.0 meets 6.0
    np.testing.assert_allclose(r.best_share, [1 / 3, 1 / 3, 1 / 3])
    # paired s.e.: the common e_r cancels; what remains is (k_best - k_p) z_r, sd |k_best - k_p| sqrt(R / (R - 1))
    k = NOISE_SCALE
    expected = np.abs(k[r.best][:, None] - k[None, :]) / math.sqrt(R - 1)
    np.testing.assert_allclose(r.regret_se, expected, atol=1e-12)


def test_unpaired_standard_errors_without_common_random_numbers() -> None:
    r = robustness(table(crn=False))
    se = r.se
    s, p = 0, 1
    assert r.regret_se[s, p] == pytest.approx(math.hypot(se[s, r.best[s]], se[s, p]))
    assert r.regret_se[s, r.best[s]] == 0.0
    assert r.satisficing is None


def test_policy_table_of_a_sweep_and_several_sweeps_agree() -> None:
    ds = fake_sweep()
    one = policy_table(ds)
    assert one.policies == ("single", "tiered") and one.factors == ("wallet_sigma", "acq_cost") and one.crn
    parts = [ds.isel(design_point=ds["policy"].values == p).drop_vars("policy") for p in one.policies]
    for part, p in zip(parts, one.policies, strict=True):
        part.attrs["factors"] = json.dumps(["wallet_sigma", "acq_cost"])
        part.attrs["scenario_toml"] = f'[choices]\npolicy = "{p}"\n'
    two = sweeps_table([p.assign_coords(design_point=np.arange(121)) for p in parts])
    assert two.policies == one.policies and two.crn
    np.testing.assert_array_equal(two.values, one.values)
    a, b = robustness(one, 0.0), robustness(two, 0.0)
    np.testing.assert_array_equal(a.regret, b.regret)
    assert a.minimax == b.minimax == "single"


def test_robustness_refuses_what_cannot_be_compared() -> None:
    ds = fake_sweep()
    with pytest.raises(ConditionError, match="no design point runs 'tiered'"):
        policy_table(ds.isel(design_point=slice(0, 130)))
    with pytest.raises(RobustnessError, match="one value"):
        policy_table(fake_sweep(policies=("single",)))
    with pytest.raises(RobustnessError, match="at least two sweeps"):
        sweeps_table([ds])
    with pytest.raises(RobustnessError, match="other design points"):
        sweeps_table([ds, ds.assign_coords(acq_cost=ds["acq_cost"] + 1)])


# ---------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------


def _result(tmp_path: Path) -> Path:
    return write_result(fake_sweep(), tmp_path / "fake-sweep", "fake sweep")


def test_discover_and_robustness_commands_write_their_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = _result(tmp_path)
    assert main(["discover", str(res), "--where", "tiered loses to single"]) == 0
    out = capsys.readouterr().out
    assert "Chosen box" in out and "wallet_sigma" in out and f"wrote {res / 'discovery'}/" in out
    files = sorted(p.relative_to(res / "discovery").as_posix() for p in (res / "discovery").rglob("*") if p.is_file())
    assert files == [
        "box.csv",
        "discovery.txt",
        "figures/box.png",
        "figures/box.svg",
        "figures/tradeoff.png",
        "figures/tradeoff.svg",
        "manifest.json",
        "trajectory.csv",
    ]
    assert main(["robustness", str(res), "--threshold", "0", "-q"]) == 0
    assert (res / "robustness" / "figures" / "regret.png").is_file()
    assert "minimax" in (res / "robustness" / "policies.csv").read_text()
    assert open_run(res)["firm_value"].shape == (242, 20)  # the result itself still opens (its manifest holds)


def test_commands_refuse_bad_input_with_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = _result(tmp_path)
    run = write_result(fake_sweep().assign_attrs(kind="run"), tmp_path / "a-run", "a run")
    cases_ = [
        (["discover", str(run), "--where", "firm_value < 0"], "not a sweep result"),
        (["robustness", str(run)], "not a sweep result"),
        (["robustness", str(res), str(res), "--lever", "policy"], "--lever: only with one sweep"),
        (["discover", str(res), "--where", "firm_value < 0", "--box", "-1"], "argument --box: must be 0 or more"),
        (["discover", str(res), "--where", "firm_value <"], "--where 'firm_value <'"),
        (["discover", str(res), "--where", "x loses to single"], "not a policy of this sweep"),
        (["discover", str(tmp_path / "none"), "--where", "firm_value < 0"], "no result.nc"),
        (["robustness", str(res), "--lever", "acq_cost", "--lever", "policy", "--lever", "nope"], "--lever nope"),
        (["robustness", str(res), "--label", "a"], "--label: only with several sweeps"),
    ]
    for argv, msg in cases_:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own checks
            code = int(exc.code or 0)
        assert code == 2, argv
        err = capsys.readouterr().err.strip()
        assert msg in err and "\n" not in err, err
    assert main(["discover", str(res), "--where", "firm_value < 0", "-q"]) == 0
    assert main(["discover", str(res), "--where", "firm_value < 0", "-q"]) == 2
    assert "already holds a scenario discovery; add --overwrite" in capsys.readouterr().err
    assert main(["discover", str(res), "--where", "firm_value < 0", "-q", "--overwrite"]) == 0
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["robustness", str(res), "--out", str(foreign), "--overwrite", "-q"]) == 2
    assert "never replaced" in capsys.readouterr().err and (foreign / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-run", "fake-sweep", "mine"]


def test_on_a_real_sweep_with_a_policy_factor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = tmp_path / "p.toml"
    exp.write_text(
        "[experiment]\n"
        'name = "p"\n'
        f'scenario = "{ROOT / "scenarios" / "classroom.toml"}"\n'
        'design = "full_factorial"\n'
        "replications = 4\n"
        "seed = 3\n"
        "[set]\n"
        '"customers.count" = 30\n'
        '"horizon.periods" = 4\n'
        '"outputs.relationship_detail" = 0\n'
        "[[factors]]\n"
        'field = "choices.policy"\n'
        'name = "policy"\n'
        'levels = ["single", "harvest"]\n'
        "[[factors]]\n"
        'field = "acquisition.acquisition_cost"\n'
        'name = "acq_cost"\n'
        "range = [5000, 60000]\n"
        "steps = 3\n"
    )
    assert main(["sweep", str(exp), "--out", str(tmp_path / "r"), "-q", "--no-figures"]) == 0
    res = tmp_path / "r" / "p-sweep"
    assert main(["robustness", str(res), "--threshold=-1bn", "-q"]) == 0
    text = (res / "robustness" / "robustness.txt").read_text()
    assert "minimax regret" in text and "3 scenarios" in text
    code = main(["discover", str(res), "--where", "firm_value < 1bn", "-q"])
    err = capsys.readouterr().err
    assert code == 0 or "every replication meets it" in err


def test_shipped_robustness_experiment_is_a_full_factorial_over_a_policy_factor() -> None:
    e = load_experiment(ROOT / "experiments" / "policy_robustness.toml")
    assert e.design == "full_factorial" and design_size(e) == 4 * 27
    assert e.factor("policy").field == "choices.policy" and len(e.factor("policy").levels or ()) == 4
