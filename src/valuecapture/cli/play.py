"""``valuecapture play``: a classroom game in the terminal.

A student runs a firm for a few rounds.  Each round they choose how it serves its
customers -- the business-model policy and the capability levers (customer
insight, account managers, review interval, interaction spaces on or off) --
and see the distribution of firm value that those choices give: a text
histogram against the previous round, percentiles, P(value < 0) and the paired
difference with the previous and the best round.  Every round replays the same
simulated futures (same seed, common random numbers), so a difference between
rounds comes from the choices alone.

Choices are read one per line from standard input, so a game can be scripted::

    printf 'tiered\\n0.8\\n2\\n\\non\\n' | valuecapture play scenarios/classroom/play.toml --rounds 1

An empty line keeps the current value, ``q`` ends the game, and so does the end
of the input between rounds.  Input that ends in the middle of a round's
questions (a script one answer short) is an error: the rounds played are
scored, then one line says which round was left unplayed and why (exit code 2;
on a terminal, Ctrl-D ends the game like ``q``).  Bad input (an unknown policy, a
lever out of range) gets a one-line message and the question again.  A lever
that the chosen policy sets itself (``harvest`` cuts customer insight and account
managers to zero at its reviews) is not asked: the game asks each policy once,
on a view of this firm at a review, which levers it sets.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from valuecapture.analysis.compare import PairedDifference
from valuecapture.analysis.summary import Stats, _fmt, money_scale
from valuecapture.cli.args import positive_int, seed  # the same argument types as every other sub-command
from valuecapture.model.policies import get_policy, normalize_decision, registered_policies
from valuecapture.report.plots import PALETTE, _plt, ecdf, value_axes
from valuecapture.run.policy_check import review_view_for_check
from valuecapture.run.simulate import simulate
from valuecapture.scenario.load import ScenarioError, load_scenario

#: Largest number of account managers the game offers (or the scenario's own, if larger).
MAX_MANAGERS = 50
#: Width of the histogram bars in characters.
BAR_WIDTH = 40
YES = {"on", "yes", "y", "true", "1"}
NO = {"off", "no", "n", "false", "0"}
#: The game's levers that a policy may set itself: ``Decision.capabilities`` key -> (lever, what it is called).
POLICY_SET_LEVERS = {
    "insight_level": ("insight", "customer insight"),
    "account_managers": ("managers", "account managers"),
}


class _End(Exception):
    """The player quit (``quit``) or the input ended (not ``quit``), after ``answered`` of this round's questions."""

    def __init__(self, quit: bool, answered: Sequence[str] = ()):
        super().__init__("quit" if quit else "end of input")
        self.quit = quit
        self.answered = list(answered)


@dataclass(frozen=True)
class Levers:
    """What the player chooses in a round."""

    policy: str
    insight: float
    managers: int
    review: int  # periods between reviews
    spaces: bool | None  # None: the scenario declares no interaction spaces
    #: levers the policy sets itself at its reviews, with the value it sets (NaN: it varies); the first review
    #: comes before the first period, so the player's ``insight`` or ``managers`` are then not used (they stay
    #: the defaults of the next round)
    by_policy: tuple[tuple[str, float], ...] = ()

    def set_by_policy(self, lever: str) -> float | None:
        """The value the policy sets ``lever`` to ("insight" or "managers"), or None if the player sets it."""
        return dict(self.by_policy).get(lever)

    def scenario_values(self, spaces: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``Scenario.with_values`` overrides that these levers stand for."""
        values: dict[str, Any] = {
            "choices.policy": self.policy,
            "capabilities.insight_level": float(self.insight),
            "capabilities.account_managers": int(self.managers),
            "capabilities.review_interval": int(self.review),
        }
        if self.spaces is not None:
            values["interactions"] = spaces if self.spaces else []
        return values

    def describe(self, periods_per_year: int) -> str:
        years = self.review / periods_per_year
        insight, managers = self.set_by_policy("insight"), self.set_by_policy("managers")
        insight_text = (
            f"insight {self.insight:g}" if insight is None else f"insight {_value(insight)} (set by {self.policy})"
        )
        count = self.managers if managers is None else managers
        managers_text = f"{_value(count)} account manager{'s' if count != 1 else ''}" + (
            "" if managers is None else f" (set by {self.policy})"
        )
        text = (
            f"policy {self.policy}, {insight_text}, {managers_text}, review every {self.review} "
            f"period{'s' if self.review != 1 else ''} ({years:g} y)"
        )
        if self.spaces is not None:
            text += f", interaction spaces {'on' if self.spaces else 'off'}"
        return text

    def short(self) -> str:
        """The scoreboard's columns; a lever the policy sets shows its value with a '*'."""
        spaces = "" if self.spaces is None else (" on" if self.spaces else " off")
        insight, managers = self.set_by_policy("insight"), self.set_by_policy("managers")
        insight_text = f"{self.insight:g}" if insight is None else f"{_value(insight)}*"
        managers_text = f"{self.managers:d}" if managers is None else f"{_value(managers)}*"
        return f"{self.policy:10s}{insight_text:>8s}{managers_text:>9s}{self.review:>7d}{spaces:>7s}"


def _value(v: float) -> str:
    return "varies" if math.isnan(v) else f"{v:g}"


@dataclass
class Round:
    number: int
    levers: Levers
    firm_value: np.ndarray
    mix: dict[str, float]
    capability_spend: float
    seconds: float


def _money(v: float) -> str:
    return _fmt(v, True)


def _nice_edges(lo: float, hi: float, target: int = 12) -> np.ndarray:
    """Bin edges at round numbers (1, 2, 2.5 or 5 x 10^k) covering [lo, hi] in about ``target`` bins."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        half = max(abs(lo) * 0.05, 1.0)
        lo, hi = lo - half, hi + half
    raw = (hi - lo) / target
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    if stop <= hi:
        stop += step
    return start + step * np.arange(int(round((stop - start) / step)) + 1)


def text_histogram(current: np.ndarray, previous: np.ndarray | None = None, width: int = BAR_WIDTH) -> list[str]:
    """Lines of a horizontal histogram of ``current`` ('#'), with the previous round's
    bar ends marked '|' on the same bins."""
    both = current if previous is None else np.concatenate([current, previous])
    div, suffix = money_scale(both)
    edges = _nice_edges(float(both.min()) / div, float(both.max()) / div)
    cur, _ = np.histogram(current / div, edges)
    prev = np.histogram(previous / div, edges)[0] if previous is not None else None
    top = max(int(cur.max()), int(prev.max()) if prev is not None else 0, 1)
    decimals = max(0, -int(math.floor(math.log10(edges[1] - edges[0]))) if edges[1] - edges[0] < 1 else 0)
    texts = [f"{e:,.{decimals}f}" for e in edges]
    ew = max(len(t) for t in texts)
    labels = [f"{a:>{ew}s} to {b:>{ew}s}" for a, b in zip(texts[:-1], texts[1:], strict=True)]
    lw = len(labels[0])
    legend = "'#' this round" + (", '|' previous round" if prev is not None else "")
    lines = [f"  firm value ({suffix or 'currency'}){'':{max(0, lw - 13 - len(suffix))}s}   replications ({legend})"]
    for i, label in enumerate(labels):
        n = int(cur[i])
        bar = list(("#" * round(width * n / top)).ljust(width + 1))
        if prev is not None and prev[i] > 0:
            bar[min(width, round(width * int(prev[i]) / top))] = "|"
        lines.append(f"  {label:>{lw}s}  {''.join(bar)} {n:4d}")
    return lines


class Game:
    """One game: a scenario, the same seed and replications every round."""

    def __init__(
        self,
        scenario: Any,
        replications: int,
        seed: int,
        rounds: int,
        png: str | None,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO | None = None,
    ):
        self.scenario = scenario
        self.replications = replications
        self.seed = seed
        self.rounds = rounds
        self.png = Path(png) if png else None
        self.stdin = stdin
        self.out = stdout
        self.err = stderr if stderr is not None else sys.stderr
        self.interactive = _isatty(stdin)
        self.echo = not self.interactive
        self.ppy = int(scenario.get("horizon.periods_per_year"))
        self.periods = int(scenario.get("horizon.periods"))
        self.spaces = [dict(s) for s in scenario.get("interactions")]
        self.history: list[Round] = []
        self.policies = list(registered_policies())
        self._view: Any = None
        self._sets: dict[str, tuple[tuple[str, float], ...]] = {}
        self._answered: list[str] = []  # this round's questions answered so far
        self._expected = 0  # and how many it asks

    # ---- input ---------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def ask(self, question: str, current: Any, parse: Callable[[str], Any], what: str) -> Any:
        """Ask until the answer parses; empty keeps ``current``; EOF or q ends the game (``what``: the lever's name)."""
        shown = current if not isinstance(current, bool) else ("on" if current else "off")
        while True:
            self.out.write(f"  {question} [{shown}]: ")
            self.out.flush()
            line = self.stdin.readline()
            if not line:  # end of input
                self.out.write("\n")
                raise _End(quit=False, answered=self._answered)
            answer = line.strip()
            if self.echo:
                self.out.write(answer + "\n")
            if answer.lower() in {"q", "quit", "exit"}:
                raise _End(quit=True, answered=self._answered)
            if not answer:
                self._answered.append(what)
                return current
            try:
                value = parse(answer)
            except ValueError as exc:
                self.say(f"    -> {exc}; try again")
                continue
            self._answered.append(what)
            return value

    def _policy(self, text: str) -> str:
        name = text.strip().lower()
        if name not in self.policies:
            raise ValueError(f"unknown policy {text!r}; choose one of {', '.join(self.policies)}")
        return name

    @staticmethod
    def _number(text: str, lo: float, hi: float, what: str, integer: bool) -> Any:
        try:
            value: Any = int(text) if integer else float(text)
        except ValueError:
            raise ValueError(
                f"{what} must be {'a whole number' if integer else 'a number'} from {lo:g} to {hi:g}, got {text!r}"
            ) from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{what} must be from {lo:g} to {hi:g}, got {text!r}")
        return value

    @staticmethod
    def _switch(text: str) -> bool:
        t = text.strip().lower()
        if t in YES:
            return True
        if t in NO:
            return False
        raise ValueError(f"answer on or off, got {text!r}")

    def policy_sets(self, name: str) -> tuple[tuple[str, float], ...]:
        """The game's levers that policy ``name`` sets itself, with the value it sets (NaN where it varies).

        Asked once per policy: its decision on a view of this firm at a review (two replications
        under ``tiered``, :func:`~valuecapture.run.policy_check.review_view_for_check`).  A policy
        that cannot be asked (it fails on that view) is taken to set nothing, and the game asks
        for every lever; the round's simulation then reports what is wrong with it."""
        if name not in self._sets:
            found: list[tuple[str, float]] = []
            try:
                if self._view is None:
                    self._view = review_view_for_check(self.scenario, self.seed)
                view = self._view
                decision = normalize_decision(get_policy(name).decide(view), view.shape, view.n_business_models)
                for key, (lever, _) in POLICY_SET_LEVERS.items():
                    if key in decision.capabilities:
                        values = np.unique(np.asarray(decision.capabilities[key], dtype=float))
                        found.append((lever, float(values[0]) if values.size == 1 else math.nan))
            except Exception:  # a third-party policy's bug: leave it to the simulation to report
                found = []
            self._sets[name] = tuple(found)
        return self._sets[name]

    def choose(self, current: Levers) -> Levers:
        self._answered = []
        policy = self.ask(f"policy ({', '.join(self.policies)})", current.policy, self._policy, "policy")
        by_policy = self.policy_sets(policy)
        # policy, insight, managers, review interval, spaces: less those the policy sets
        self._expected = 4 + (current.spaces is not None) - len(by_policy)
        if by_policy:
            names = dict(POLICY_SET_LEVERS.values())
            told = " and ".join(f"{names[lever]} to {_value(v)}" for lever, v in by_policy)
            self.say(f"    ({policy} sets {told} itself at each review: not asked)")
        fixed = dict(by_policy)
        insight = current.insight
        if "insight" not in fixed:
            insight = self.ask(
                "customer insight, 0 (blurred, late) to 1 (exact, current)",
                current.insight,
                lambda t: self._number(t, 0, 1, "customer insight", False),
                "customer insight",
            )
        managers = current.managers
        if "managers" not in fixed:
            top = max(MAX_MANAGERS, current.managers)
            managers = self.ask(
                f"account managers, 0 to {top}",
                current.managers,
                lambda t: self._number(t, 0, top, "account managers", True),
                "account managers",
            )
        review = self.ask(
            f"periods between reviews, 1 to {self.periods} ({self.ppy} periods = 1 year)",
            current.review,
            lambda t: self._number(t, 1, self.periods, "periods between reviews", True),
            "periods between reviews",
        )
        spaces = current.spaces
        if spaces is not None:
            names_of_spaces = ", ".join(s["name"] for s in self.spaces)
            spaces = self.ask(
                f"interaction spaces ({names_of_spaces}) on/off", current.spaces, self._switch, "interaction spaces"
            )
        return Levers(policy, float(insight), int(managers), int(review), spaces, by_policy)

    # ---- simulation and report ---------------------------------------------------------------
    def simulate(self, number: int, levers: Levers) -> Round:
        sc = self.scenario.with_values(levers.scenario_values(self.spaces))
        self.out.write(f"  simulating {self.replications} futures (seed {self.seed}) ... ")
        self.out.flush()
        start = time.perf_counter()
        ds = simulate(sc, self.replications, self.seed, workers=1)
        seconds = time.perf_counter() - start
        self.say(f"{seconds:.1f} s")
        last = ds["customers_by_model"].isel(period=-1).sum("replication").values.astype(float)
        total = last.sum()
        mix = {
            str(m): (float(c / total) if total > 0 else 0.0)
            for m, c in zip(ds["business_model"].values, last, strict=True)
        }
        spend = float(ds["pv_capability_spend"].mean()) if "pv_capability_spend" in ds else float("nan")
        return Round(number, levers, ds["firm_value"].values.astype(float), mix, spend, seconds)

    def report(self, r: Round) -> None:
        previous = self.history[-1] if self.history else None
        title = "Your firm as it is today" if r.number == 0 else f"Round {r.number}"
        self.say("")
        self.say(f"{title}: {r.levers.describe(self.ppy)}")
        for line in text_histogram(r.firm_value, previous.firm_value if previous else None):
            self.say(line)
        s = Stats.of(r.firm_value)
        self.say(
            f"  mean {_money(s.mean)} (± {_money(s.mcse)} MC s.e.)   5% {_money(s.p5)}   median {_money(s.p50)}   95% "
            f"{_money(s.p95)}   P(value < 0) {s.p_negative:.3f}"
        )
        mix = " · ".join(f"{name} {share:.0%}" for name, share in r.mix.items())
        self.say(
            f"  customers by business model at the horizon: {mix}   PV of capability spend {_money(r.capability_spend)}"
        )
        best = max(self.history, key=lambda h: h.firm_value.mean()) if self.history else None
        for other, label in ((previous, "previous round"), (best, "best round so far")):
            if other is None or (label.startswith("best") and other is previous):
                continue
            d = PairedDifference.of("this", "that", r.firm_value, other.firm_value)
            name = "today" if other.number == 0 else f"round {other.number}"
            self.say(
                f"  vs {label} ({name}): {'+' if d.mean >= 0 else ''}{_money(d.mean)} on average (± "
                f"{_money(d.mcse)}), better in {d.p_a_beats_b:.0%} of the same futures"
            )

    def write_png(self) -> None:
        if self.png is None or not self.history:
            return

        plt = _plt()
        fig = rounds_figure(self.history, self.scenario.name, self.seed)
        self.png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.png, dpi=110)
        plt.close(fig)
        self.say(f"  figure: {self.png}")

    def scoreboard(self) -> None:
        if not self.history:
            return

        self.say("")
        self.say("Scoreboard (same futures every round: differences come from the choices)")
        head = (
            f"{'round':>5s}  {'policy':10s}{'insight':>8s}{'managers':>9s}{'review':>7s}"
            + ("  spaces" if self.history[0].levers.spaces is not None else "")
            + f"{'mean':>11s}{'5%':>10s}{'95%':>10s}{'P(<0)':>7s}"
        )
        self.say(head)
        self.say("-" * len(head))
        best = max(self.history, key=lambda h: h.firm_value.mean())
        for r in self.history:
            s = Stats.of(r.firm_value)
            label = "today" if r.number == 0 else str(r.number)
            mark = "  <- best mean" if r is best else ""
            self.say(
                f"{label:>5s}  {r.levers.short()} {_money(s.mean):>10s}{_money(s.p5):>10s}{_money(s.p95):>10s}"
                f"{s.p_negative:>7.3f}{mark}"
            )
        if any(r.levers.by_policy for r in self.history):
            self.say("* set by the policy itself at its reviews (the first comes before the first period)")

    def play(self) -> int:
        """Play the game: today's firm, then up to ``rounds`` rounds; return the exit code
        (0, or 2 where the input ended in the middle of a round's questions, not on a terminal)."""
        sc = self.scenario
        desc = sc.get("scenario.description")
        self.say(f"valuecapture play: {sc.source}")
        if desc:
            self.say(f"  {desc}")
        self.say(
            f"Every round replays the same {self.replications} simulated futures (seed {self.seed}): differences "
            "between rounds come from your choices."
        )
        self.say("Press Enter to keep the value in [brackets], q to stop.")
        review = int(sc.get("capabilities.review_interval")) or self.ppy
        policy = str(sc.get("choices.policy"))
        levers = Levers(
            policy,
            float(sc.get("capabilities.insight_level")),
            int(sc.get("capabilities.account_managers")),
            review,
            True if self.spaces else None,
            self.policy_sets(policy),
        )
        today = self.simulate(0, levers)
        self.report(today)
        self.history.append(today)
        self.write_png()
        ended: _End | None = None
        number = 0
        try:
            for number in range(1, self.rounds + 1):
                self.say("")
                self.say(f"Round {number} of {self.rounds}: your choices")
                levers = self.choose(levers)
                r = self.simulate(number, levers)
                self.report(r)
                self.history.append(r)
                self.write_png()
        except _End as end:
            ended = end
        played = len(self.history) - 1
        self.say("")
        error = None
        if ended is None:
            self.say(f"Game over: {played} of {self.rounds} rounds played.")
        else:
            if ended.quit or self.interactive or not ended.answered:
                how = "You ended the game" if ended.quit or self.interactive else "The input ended"
                when = (
                    f"before round {number}"
                    if not ended.answered
                    else f"during round {number} (round {number} was not played)"
                )
                self.say(f"{how} {when}. Game over: {played} of {self.rounds} rounds played.")
            else:  # a script that stops in the middle of a round
                answered = ", ".join(ended.answered)
                error = (
                    f"the input ended during round {number}, after {len(ended.answered)} of its "
                    f"{self._expected} answers ({answered}); round {number} was not played (each round reads one "
                    "line per question; an empty line keeps a value)"
                )
                self.say(f"Game over: {played} of {self.rounds} rounds played; round {number} was left unfinished.")
        self.scoreboard()
        if error is not None:
            self.err.write(f"valuecapture play: error: {error}\n")
            self.err.flush()
            return 2
        return 0


def rounds_figure(history: Sequence[Round], name: str, seed: int):  # type: ignore[no-untyped-def]
    """Firm-value distribution of the latest round (filled) over the earlier rounds (outlines), and ECDFs."""
    plt = _plt()
    allv = np.concatenate([r.firm_value for r in history])
    div, suffix = money_scale(allv)
    edges = _nice_edges(float(allv.min()) / div, float(allv.max()) / div, target=24)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    for i, r in enumerate(history):
        x = r.firm_value / div
        is_latest = i == len(history) - 1
        colour = PALETTE[i % len(PALETTE)]
        label = (
            "today" if r.number == 0 else f"round {r.number}"
        ) + f": {r.levers.policy} (mean {x.mean():,.1f}{suffix})"
        if is_latest:
            ax1.hist(x, bins=edges, color=colour, alpha=0.45, label=label)
        else:
            ax1.hist(x, bins=edges, histtype="step", lw=1.4, color=colour, label=label)
        ax1.axvline(x.mean(), color=colour, lw=1.2 if is_latest else 0.8, ls="--")
        ecdf(ax2, x, color=colour, lw=2.2 if is_latest else 1.2, label=label)
    value_axes((ax1, ax2), allv.min(), allv.max(), suffix)
    ax1.set_ylabel("futures (replications)")
    ax1.set_title("Distribution of firm value; dashed lines: means")
    ax1.legend(frameon=False, fontsize=8)
    ax2.set_ylabel("share of futures with value at most x")
    ax2.set_title("ECDF: a curve further right is better")
    ax2.legend(frameon=False, fontsize=8, loc="lower right")
    latest = history[-1]
    which = "today" if latest.number == 0 else f"round {latest.number}"
    fig.suptitle(
        f"valuecapture play, {name}: the same {latest.firm_value.size} futures every round (seed {seed}); filled: "
        f"{which}",
        fontsize=10,
    )
    return fig


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture play`` (shared by the CLI and :func:`main`)."""
    parser.add_argument("scenario", help="scenario TOML file, e.g. scenarios/classroom/play.toml")
    parser.add_argument("--rounds", type=positive_int, default=5, help="rounds of choices (default 5)")
    parser.add_argument(
        "--replications",
        "-n",
        type=positive_int,
        default=None,
        help="simulated futures per round (default: the scenario's run.replications)",
    )
    parser.add_argument(
        "--seed", type=seed, default=None, help="seed, the same every round (default: the scenario's run.seed)"
    )
    parser.add_argument(
        "--png",
        default=None,
        metavar="FILE",
        help="also draw the rounds' firm-value distributions into this PNG after every round (a new file, or an "
        "existing one with --overwrite)",
    )
    parser.add_argument("--overwrite", action="store_true", help="let --png replace an existing file")
    return parser


def run(
    args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Play a game with parsed arguments (see :func:`add_arguments`); returns the exit code."""
    sc = load_scenario(args.scenario)
    if args.png is not None:
        png = Path(args.png)
        if png.is_dir() or (png.exists() and not getattr(args, "overwrite", False)) or png.is_symlink():
            what = "is a folder" if png.is_dir() else "is a link" if png.is_symlink() else "exists"
            raise ScenarioError(
                "--png", "", f"{args.png} {what}; choose a new file name (or add --overwrite to replace a file)"
            )
        if png.suffix.lower() != ".png":
            raise ScenarioError("--png", "", f"{args.png}: must end in .png")
    replications = int(sc.get("run.replications") if args.replications is None else args.replications)
    seed = int(sc.get("run.seed") if args.seed is None else args.seed)
    game = Game(sc, replications, seed, args.rounds, args.png, stdin or sys.stdin, stdout or sys.stdout, stderr)
    return game.play()


def main(argv: Sequence[str] | None = None) -> int:
    """``valuecapture play`` as a function: returns the exit code."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="valuecapture play",
            description="Classroom game: choose the policy and levers round by round and watch the firm-value "
            "distribution.",
        )
    )
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ScenarioError as exc:
        print(f"valuecapture: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nvaluecapture play: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
