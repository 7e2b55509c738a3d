"""valuecapture optimize: levers, known optima, out-of-sample seeds, resume, the command's files and errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

import valuecapture as vc
from valuecapture.analysis.levers import LeverError, parse_lever, parse_levers
from valuecapture.analysis.optimize import (
    CURRENT,
    Settings,
    optimize,
    parse_objective,
    search,
    select,
    validation_seed,
)
from valuecapture.cli.main import main
from valuecapture.scenario.load import Scenario

CLASSROOM = "scenarios/classroom.toml"
SMALL = ["customers.count=40", "horizon.periods=8", "outputs.relationship_detail=0"]


@pytest.fixture(scope="module")
def small() -> Scenario:
    return vc.load_scenario(CLASSROOM, SMALL)


def test_levers_parse_as_data_and_round_trip(small: Scenario) -> None:
    for text in (
        "choices.fixed_cost=0:200000",
        "capabilities.review_interval=1:8:int",
        "uncertainties.wallet.s=0.5:2:log",
        "choices.policy=single|tiered",
        "choices.business_models.0.quality=0.2:0.9",
    ):
        lv = parse_lever(text, small)
        assert parse_lever(lv.text, small) == lv
    assert parse_lever("capabilities.review_interval=1:8", small).kind == "int"  # the schema says integer
    assert parse_lever("choices.policy=single|tiered", small).choices == ("single", "tiered")


@pytest.mark.parametrize(
    ("lever", "message"),
    [
        ("choices.fixed_cost=-5:10", "choices.fixed_cost: must be a number in [0, inf), got -5.0"),
        ("choices.fixd_cost=0:1", "unknown key; did you mean 'fixed_cost'?"),
        ("choices.fixed_cost=10:5", "LOW must be below HIGH"),
        ("choices.fixed_cost=0:nan", "finite"),
        ("choices.fixed_cost", "must look like FIELD=LOW:HIGH"),
        ("choices.fixed_cost=0:1:cubic", "a range must look like"),
        ("choices.policy=0:1", "takes str values, not a number"),
        ("choices.policy=single|nonesuch", "unknown policy 'nonesuch'"),
        ("capabilities.review_interval=0.5:3:int", "integer LOW and HIGH"),
        ("run.seed=1:5", "cannot be a lever"),
        ("uncertainties.wallet=1:2", "is a dist, not one value"),
        ("choices.business_models.5.quality=0.1:0.2", "index '5' out of range"),
        ("choices.policy_parameters.nope=0:1", "choices.policy_parameters.nope: 'single' has no parameter 'nope'"),
        ("choices.policy=a|a", "distinct"),
    ],
)
def test_bad_levers_are_one_line_errors(small: Scenario, lever: str, message: str) -> None:
    with pytest.raises(LeverError) as err:
        parse_lever(lever, small)
    assert message in str(err.value) and "\n" not in str(err.value) and str(err.value).startswith("--lever ")


def test_policy_parameters_are_levers_checked_against_the_signature(small: Scenario) -> None:
    tiered = small.with_values({"choices.policy": "tiered"})
    lv = parse_lever("choices.policy_parameters.top_share=0.05:0.5", tiered)
    assert lv.kind == "float" and lv.low == 0.05
    portfolio = small.with_values({"choices.policy": "portfolio"})
    with pytest.raises(LeverError, match="must be bool"):
        parse_lever("choices.policy_parameters.listen=1|2", portfolio)
    with pytest.raises(LeverError, match="cannot be combined"):
        parse_levers(["choices.policy=single|tiered", "choices.policy_parameters.top_share=0.1:0.2"], tiered)


def test_objectives() -> None:
    x = np.array([-3.0, 1.0, 2.0, 4.0])
    assert float(parse_objective("mean").value(x)) == 1.0
    assert float(parse_objective("p_loss").value(x)) == 0.25 and parse_objective("p_loss").direction == "minimize"
    assert float(parse_objective("mean-risk:0.5").value(x)) == pytest.approx(1.0 - 0.5 * x.std(ddof=1))
    for bad in ("median", "mean-risk:-1", "mean-risk:x"):
        with pytest.raises(ValueError):
            parse_objective(bad)


def test_the_search_finds_a_known_interior_optimum(tmp_path: Path, small: Scenario) -> None:
    """The search loop on an objective with a known optimum (x = 0.3, k = 2, tiered), no simulation."""
    texts = ["choices.business_models.0.quality=0:1", "capabilities.review_interval=0:6:int"]
    levers = parse_levers([*texts, "choices.policy=single|tiered"], small)
    s = Settings(levers, (parse_objective("mean"),), seed=3, replications=4, trials=60, round_size=6)
    noise = np.random.default_rng(0).normal(size=4)  # the same "replications" for every candidate: CRN

    def evaluate(r: int, variants: Mapping[str, Scenario]) -> dict[str, np.ndarray]:
        out = {}
        for label, sc in variants.items():
            x, k = sc.get("choices.business_models")[0]["quality"], sc.get("capabilities.review_interval")
            f = -((x - 0.3) ** 2) - 0.05 * (k - 2) ** 2 + 0.1 * (sc.get("choices.policy") == "tiered")
            out[label] = noise + f
        return out

    trials, _ = search(small, s, evaluate, tmp_path / "store")
    best = select(trials, s)[0]
    assert abs(best.params["choices.business_models.0.quality"] - 0.3) < 0.1
    assert best.params["capabilities.review_interval"] == 2 and best.params["choices.policy"] == "tiered"


def test_a_monotone_lever_has_its_optimum_at_the_bound_and_exactly_linear_values(
    tmp_path: Path, small: Scenario
) -> None:
    """Firm value is linear in the firm's fixed cost on common random numbers (every candidate the
    same replications): the optimum of mean firm value is the lower bound, with a known value."""
    lv = parse_levers(["choices.fixed_cost=0:300000"], small)
    s = Settings(lv, (parse_objective("mean"),), seed=11, replications=20, trials=24, round_size=6,
                 validate_replications=40, top=2)  # fmt: skip
    res = optimize(small, s, store=tmp_path / "store")
    c = np.array([t.params["choices.fixed_cost"] for t in res.trials])
    y = np.array([t.values[0] for t in res.trials if t.values is not None])
    slope, intercept = np.polyfit(c, y, 1)
    assert np.max(np.abs(y - (intercept + slope * c))) < 1e-6 * abs(intercept)  # exactly linear: no noise
    assert slope < 0
    best = res.chosen[0]
    assert best.params["choices.fixed_cost"] < 0.05 * 300000  # within 5% of the range from the bound
    current = float(res.current_in_sample.mean())
    assert intercept == pytest.approx(current - slope * 150000, rel=1e-9)  # the analytic value at c = 0
    ds = res.validation
    assert list(ds["candidate"].values) == [CURRENT, best.label, res.chosen[1].label]
    assert int(ds.attrs["seed"]) == validation_seed(11) != 11  # fresh seed, never the search's
    assert not np.array_equal(ds["firm_value"].sel(candidate=CURRENT).values[:20], res.current_in_sample)
    assert float(ds["mean_vs_current"][1]) > 0 and float(ds["mean_vs_current_low"][1]) > 0


def test_validation_seeds_are_never_the_search_seed() -> None:
    seeds = [0, 1, 7, 20261123, 2**31, 2**62]
    assert all(validation_seed(x) != x for x in seeds)
    assert len({validation_seed(x) for x in seeds}) == len(seeds)


def _trials(res: object) -> list[tuple[int, dict, tuple | None]]:
    return [(t.number, t.params, t.values) for t in res.trials]  # type: ignore[attr-defined]


def test_a_resumed_optimisation_equals_an_uninterrupted_one(tmp_path: Path, small: Scenario) -> None:
    levers = parse_levers(["choices.fixed_cost=0:300000", "capabilities.review_interval=0:8:int"], small)
    s = Settings(levers, (parse_objective("es5"),), seed=5, replications=12, trials=12, round_size=4,
                 validate_replications=12, top=2)  # fmt: skip
    whole = optimize(small, s, store=tmp_path / "a", batch_size=4)
    store = tmp_path / "b"
    polls = {"n": 0}

    def stop() -> bool:  # interrupt in the second round, after some of its batches are saved
        done = list((store / "round-0001" / "batches").glob("*.h5")) if (store / "round-0001").exists() else []
        polls["n"] += 1
        return len(done) >= 3

    with pytest.raises(KeyboardInterrupt):
        optimize(small, s, store=store, batch_size=4, stop=stop)
    assert (store / "round-0001" / "run.json").exists()
    again = optimize(small, s, store=store, batch_size=4, resume=True)
    assert _trials(again) == _trials(whole)
    np.testing.assert_array_equal(again.validation["firm_value"].values, whole.validation["firm_value"].values)
    other = Settings(levers, (parse_objective("mean"),), seed=5, replications=12, trials=12, round_size=4)
    with pytest.raises(ValueError, match="another objectives"):
        optimize(small, other, store=store, resume=True)


def test_the_command_writes_its_folder_and_two_objectives_give_a_pareto_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "optimize", CLASSROOM, *[a for o in SMALL for a in ("--set", o)],
        "--lever", "choices.fixed_cost=0:300000", "--lever", "capabilities.review_interval=0:8:int",
        "--objectives", "mean,es5", "--trials", "8", "--round-size", "4", "-n", "10",
        "--validate-replications", "20", "--top", "2", "--out", str(tmp_path), "-q",
    ]  # fmt: skip
    assert main(argv) == 0
    folder = tmp_path / "classroom-optimize"
    names = {p.name for p in folder.iterdir()}
    assert {"result.nc", "summary.txt", "trials.csv", "chosen.toml", "figures", "manifest.json"} <= names
    assert (folder / "figures" / "pareto.png").exists() and (folder / "figures" / "objective.png").exists()
    chosen = vc.load_scenario(folder / "chosen.toml")
    assert chosen.name == "classroom-optimized"
    rows = (folder / "trials.csv").read_text().splitlines()
    assert len(rows) == 9 and rows[0].startswith("trial,state,choices.fixed_cost,capabilities.review_interval,mean,es5")
    capsys.readouterr()
    assert main(["show", str(folder)]) == 0
    assert "gain over the current setting" in capsys.readouterr().out
    assert main(argv) == 2  # the result is there: --overwrite
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lever", "choices.fixed_cost=-5:10"], "must be a number in [0, inf)"),
        (["--lever", "choices.fixed_cost=0:1", "--objective", "median"], "unknown objective 'median'"),
        (["--lever", "choices.fixed_cost=0:1", "--objectives", "mean"], "needs two objectives"),
        (["--lever", "choices.fixed_cost=0:1", "--objective", "mean", "--objectives", "mean,es5"], "exclude"),
        ([], "give at least one lever"),
        (["--lever", "choices.fixed_cost=0:1", "--lever", "choices.fixed_cost=2:3"], "given twice"),
        (["--lever", "choices.fixed_cost=0:1", "--resume"], "no interrupted run"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["optimize", CLASSROOM, *extra, "--out", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())
