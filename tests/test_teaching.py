"""Teaching material: every shipped scenario validates, the classroom scenarios run with
their defaults, and `valuecapture play` can be scripted through stdin."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import inproc

import valuecapture as vc
from valuecapture import cli
from valuecapture.cli.play import Game, run, text_histogram
from valuecapture.report import teaching

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml")) + sorted((ROOT / "scenarios" / "classroom").glob("*.toml"))
CLASSROOM = sorted((ROOT / "scenarios" / "classroom").glob("*.toml"))
PLAY = ROOT / "scenarios" / "classroom" / "play.toml"


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT / "scenarios"))


def test_there_are_classroom_scenarios() -> None:
    names = {p.stem for p in CLASSROOM}
    assert {"first_simulation", "three_sources", "business_models", "alignment", "play"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=_id)
def test_scenario_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ok"


@pytest.mark.parametrize("path", CLASSROOM, ids=_id)
def test_classroom_scenario_describes_itself(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("#"), f"{path.name}: start with a header comment saying what the scenario is for"
    description = tomllib.loads(text)["scenario"]["description"]
    assert len(description) > 30


@pytest.mark.parametrize("path", CLASSROOM, ids=_id)
def test_classroom_scenario_runs_with_its_defaults(path: Path) -> None:
    sc = vc.load_scenario(path)
    ds = vc.simulate(sc)  # the scenario's own replications and seed
    assert ds.sizes["replication"] == sc.get("run.replications") <= 300
    assert ds.attrs["seed"] == sc.get("run.seed")
    assert np.isfinite(ds["firm_value"].values).all()
    assert int(ds["slots_exhausted"].sum()) == 0


# ---- valuecapture play ----------------------------------------------------------------------

SCRIPT = (
    "\n".join(
        [
            # round 1
            "tiered",
            "0.8",
            "2",
            "",
            "on",
            # round 2, with a bad answer to every question first
            "foo",
            "adaptive",
            "1.5",
            "0.9",
            "-1",
            "3",
            "abc",
            "1",
            "maybe",
            "off",
        ]
    )
    + "\n"
)


def _play(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``valuecapture play`` on the game board with 12 futures, in this process, reading ``stdin``."""
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return inproc("play", str(PLAY), "--replications", "12", *args, cwd=ROOT)
    finally:
        sys.stdin = saved


def test_play_scripted_through_stdin(tmp_path: Path) -> None:
    png = tmp_path / "rounds.png"
    res = _play(SCRIPT, "--rounds", "2", "--png", str(png))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    # the header names the scenario file once, then what the firm is
    first, second = out.splitlines()[:2]
    assert first == f"valuecapture play: {PLAY}"
    assert second.strip() == vc.load_scenario(PLAY).get("scenario.description")
    assert "play: play" not in out
    assert "Your firm as it is today: policy single, insight 0.2, 1 account manager" in out
    assert (
        "Round 1: policy tiered, insight 0.8, 2 account managers, review every 2 periods (1 y), interaction spaces on"
        in out
    )
    assert (
        "Round 2: policy adaptive, insight 0.9, 3 account managers, review every 1 period (0.5 y), interaction "
        "spaces off"
    ) in out
    # every bad answer: one line saying what is allowed, then the question again
    complaints = [line for line in out.splitlines() if line.strip().startswith("->")]
    assert len(complaints) == 5, complaints
    assert "unknown policy 'foo'; choose one of single, tiered, matrix, adaptive, harvest, portfolio" in complaints[0]
    assert "customer insight must be from 0 to 1, got '1.5'" in complaints[1]
    assert "account managers must be from 0 to 50, got '-1'" in complaints[2]
    assert "periods between reviews must be a whole number from 1 to 10, got 'abc'" in complaints[3]
    assert "answer on or off, got 'maybe'" in complaints[4]
    assert out.count("replications ('#' this round, '|' previous round)") == 2
    assert "vs previous round (today)" in out and "vs previous round (round 1)" in out
    assert "Scoreboard" in out and "<- best mean" in out
    assert "Game over: 2 of 2 rounds played." in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _scored(out: str) -> list[str]:
    board = out.split("Scoreboard")[1].splitlines()
    return [line.split()[0] for line in board[3:] if line.strip() and not line.startswith("*")]


def test_play_input_ending_mid_round_says_which_round_and_answers() -> None:
    res = _play("tiered\n0.5\n")  # a script that stops after two of round 1's five answers
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        "valuecapture play: error: the input ended during round 1, after 2 of its 5 answers (policy, customer "
        "insight); round 1 was not played (each round reads one line per question; an empty line keeps a value)"
    ]
    assert "Game over: 0 of 5 rounds played; round 1 was left unfinished." in res.stdout
    assert _scored(res.stdout) == ["today"]  # the unfinished round is not scored, the played ones are


def test_play_input_ending_between_rounds_ends_the_game() -> None:
    res = _play("\n\n\n\n\n", "--rounds", "3")  # one round, every value kept, then nothing more
    assert res.returncode == 0, res.stderr
    assert "The input ended before round 2. Game over: 1 of 3 rounds played." in res.stdout
    assert _scored(res.stdout) == ["today", "1"]


def test_play_quits_on_q() -> None:
    res = _play("q\n")
    assert res.returncode == 0, res.stderr
    assert "You ended the game before round 1. Game over: 0 of 5 rounds played." in res.stdout
    assert "Round 1:" not in res.stdout
    res = _play("adaptive\nq\n")
    assert res.returncode == 0, res.stderr
    assert "You ended the game during round 1 (round 1 was not played). Game over: 0 of 5 rounds played." in res.stdout


def test_play_does_not_ask_for_levers_the_policy_sets() -> None:
    """harvest sets customer insight and account managers itself: the game asks only for the
    review interval and the spaces, says why, and the next round offers the player's values again."""
    res = _play("harvest\n\n\ntiered\n\n\n\n\n", "--rounds", "2")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    round1 = out.split("Round 1 of 2")[1].split("simulating")[0]
    assert "(harvest sets customer insight to 0 and account managers to 0 itself at each review: not asked)" in round1
    assert "customer insight," not in round1 and "account managers, 0 to" not in round1
    assert "periods between reviews" in round1 and "interaction spaces" in round1
    assert (
        "Round 1: policy harvest, insight 0 (set by harvest), 0 account managers (set by harvest), review every 2"
        in out
    )
    round2 = out.split("Round 2 of 2")[1].split("simulating")[0]
    assert "customer insight, 0 (blurred, late) to 1 (exact, current) [0.2]" in round2
    assert "account managers, 0 to 50 [1]" in round2
    assert "    1  harvest         0*       0*" in out
    assert "* set by the policy itself at its reviews" in out


def test_levers_harvest_sets_are_not_used() -> None:
    """What the game says holds: under harvest the scenario's insight and managers change nothing."""
    sc = vc.load_scenario(PLAY).with_values({"choices.policy": "harvest"})
    a = vc.simulate(sc, 4, 2)
    b = vc.simulate(sc.with_values({"capabilities.insight_level": 0.9, "capabilities.account_managers": 6}), 4, 2)
    assert np.array_equal(a["firm_value"].values, b["firm_value"].values)


def test_play_bad_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nname = "x"\n[customers]\ncount = -3\n')
    res = subprocess.run(
        [sys.executable, "-m", "valuecapture", "play", str(bad)], input="", capture_output=True, text=True, timeout=120
    )  # a real process: the exit code and stderr as a user sees them
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "customers.count" in res.stderr


def test_play_replays_the_same_futures() -> None:
    """Unchanged choices give exactly the same firm values (common random numbers), and
    the game runs in-process through `run`."""
    out = io.StringIO()
    args = Namespace(scenario=str(PLAY), rounds=2, replications=6, seed=3, png=None)
    assert run(args, stdin=io.StringIO("\n\n\n\n\n"), stdout=out) == 0  # round 1: keep everything; then EOF
    text = out.getvalue()
    assert "better in 0% of the same futures" in text and "+0 on average" in text

    game = Game(vc.load_scenario(PLAY), 6, 3, 1, None, io.StringIO("harvest\n\n\n\n\n"), io.StringIO())
    assert game.play() == 0
    today, harvest = game.history
    assert harvest.levers.policy == "harvest"
    assert not np.array_equal(today.firm_value, harvest.firm_value)
    assert harvest.mix["transactional"] == 1.0


def test_text_histogram_counts_every_future() -> None:
    rng = np.random.default_rng(0)
    cur, prev = rng.normal(5e6, 2e6, 200), rng.normal(4e6, 3e6, 200)
    lines = text_histogram(cur, prev)
    counts = [int(line.split()[-1]) for line in lines[1:]]
    assert sum(counts) == 200
    assert "(m)" in lines[0]
    assert any("|" in line for line in lines[1:])


# ---- the notebooks' interactive controls (valuecapture.report.teaching) -----------------------


def test_static_fallback_runs_once_at_the_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(teaching.WIDGETS_ENV, "0")
    assert not teaching.widgets_available()
    calls: list[tuple[Any, ...]] = []

    def lever(cost: float, policy: str, n: int) -> str:
        calls.append((cost, policy, n))
        return "done"

    out = teaching.explore(
        lever,
        cost=teaching.Slider(1_200_000, 600_000, 2_400_000, 100_000, "fixed cost"),
        policy=teaching.Choice("tiered", ["single", "tiered"]),
        n=teaching.Choice(200, {"few": 50, "many": 200}, "futures"),
    )
    assert out == "done" and calls == [(1_200_000, "tiered", 200)]
    assert capsys.readouterr().out.splitlines() == [
        "Levers (at their defaults here; in Jupyter with ipywidgets they are controls): fixed cost = 1,200,000 "
        "(slider 600,000 to 2,400,000); policy = tiered (one of single, tiered); futures = many (one of few, many)"
    ]


def test_outside_a_kernel_there_are_no_widgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(teaching.WIDGETS_ENV, raising=False)
    assert not teaching.widgets_available()  # pytest is no IPython kernel


def test_controls_are_widgets_bound_to_the_function() -> None:
    """The interactive path: one widget per control with its range and default; the function runs
    at the defaults, then again with each new value."""
    import ipywidgets

    calls: list[tuple[Any, ...]] = []
    box = teaching.controls_widget(
        lambda share, managers, policy: calls.append((share, managers, policy)),
        {
            "share": teaching.Slider(0.5, 0.0, 1.0, 0.25, "insight"),
            "managers": teaching.Slider(2, 0, 8, 1),
            "policy": teaching.Choice("tiered", {"Tiered": "tiered", "Harvest": "harvest"}),
        },
    )
    share, managers, policy = box.children[:3]
    assert isinstance(share, ipywidgets.FloatSlider) and isinstance(managers, ipywidgets.IntSlider)
    assert isinstance(policy, ipywidgets.Dropdown)
    assert (share.min, share.max, share.step, share.value, share.description) == (0.0, 1.0, 0.25, 0.5, "insight")
    assert (managers.min, managers.max, managers.value, managers.description) == (0, 8, 2, "managers")
    assert not share.continuous_update  # a simulation per change: on release, not while dragging
    assert policy.options == (("Tiered", "tiered"), ("Harvest", "harvest")) and policy.value == "tiered"
    assert policy.label == "Tiered"
    assert calls == [(0.5, 2, "tiered")]
    managers.value = 5
    policy.value = "harvest"
    assert calls[1:] == [(0.5, 5, "tiered"), (0.5, 5, "harvest")]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: teaching.Slider(5, 0, 1, 0.1), "low <= value <= high"),
        (lambda: teaching.Slider(0.5, 0, 1, 0), "step > 0"),
        (lambda: teaching.Slider(float("nan"), 0, 1, 0.1), "finite numbers"),
        (lambda: teaching.Choice("x", ["a", "b"]), "not among the options"),
        (lambda: teaching.Choice("a", []), "non-empty"),
    ],
)
def test_bad_controls_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_explore_refuses_what_is_not_a_control() -> None:
    with pytest.raises(TypeError, match="'n' must be a Slider or a Choice"):
        teaching.explore(lambda n: n, interactive=False, n=3)
