"""``valuecapture optimize``: search levers on common random numbers, validate the best on fresh seeds.

Thin: parses the options, checks the levers and objectives against the scenario before any
run (one line, exit code 2), calls :func:`valuecapture.report.optimize.optimize_to_folder`
and prints the summary.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable

from valuecapture.analysis.levers import LeverError, parse_levers
from valuecapture.analysis.optimize import OBJECTIVES, Objective, Optimization, Settings, parse_objective
from valuecapture.cli import args as opts
from valuecapture.model.params import slot_count
from valuecapture.report.optimize import optimize_to_folder
from valuecapture.run.simulate import check_run
from valuecapture.scenario.load import load_scenario

DEFAULTS = {"trials": 40, "round_size": 8, "replications": 200, "validate_replications": 1000, "top": 3}


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture optimize``."""
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument(
        "--lever",
        action="append",
        default=[],
        metavar="FIELD=LOW:HIGH[:int][:log] | FIELD=a|b|c",
        help="a scenario field or policy parameter (choices.policy_parameters.NAME) to set (repeatable), e.g. "
        "--lever choices.fixed_cost=0:200000 --lever capabilities.review_interval=1:8:int; parsed as data and "
        "checked against the scenario before any run",
    )
    p.add_argument(
        "--objective",
        default=None,
        metavar="OBJ",
        help=f"statistic of firm value to optimise: {', '.join(OBJECTIVES)} (mean - LAMBDA x sd); p_loss is "
        "minimised, the others maximised (default: mean)",
    )
    p.add_argument(
        "--objectives",
        default=None,
        metavar="OBJ,OBJ",
        help="two objectives at once, e.g. mean,es5: a Pareto front (NSGA-II)",
    )
    p.add_argument(
        "--trials",
        type=opts.positive_int,
        default=DEFAULTS["trials"],
        help="candidate settings to evaluate (default 40)",
    )
    p.add_argument(
        "--round-size",
        type=opts.positive_int,
        default=DEFAULTS["round_size"],
        metavar="B",
        help="candidates proposed and simulated together in one round (NSGA-II: the population size); part of what "
        "the result depends on (default 8)",
    )
    p.add_argument(
        "--validate-replications",
        type=opts.replications,
        default=DEFAULTS["validate_replications"],
        metavar="R2",
        help="replications of the out-of-sample run of the best candidates and the current setting, on a fresh seed "
        "(default 1000)",
    )
    p.add_argument(
        "--top",
        type=opts.positive_int,
        default=DEFAULTS["top"],
        metavar="K",
        help="candidates to validate out of sample (two objectives: Pareto front members) (default 3)",
    )
    opts.run_options(p, "OUT/<scenario name>-optimize/", " per candidate (default 200)")
    opts.overrides(p)
    return p


def _objectives(args: argparse.Namespace) -> tuple[Objective, ...]:
    if args.objective is not None and args.objectives is not None:
        raise ValueError("--objective and --objectives exclude each other")
    try:
        if args.objectives is not None:
            parts = [x for x in args.objectives.split(",") if x.strip()]
            if len(parts) != 2:
                raise ValueError(f"--objectives needs two objectives, like mean,es5, got {args.objectives!r}")
            return tuple(parse_objective(x) for x in parts)
        return (parse_objective(args.objective or "mean"),)
    except ValueError as exc:
        flag = "--objectives" if args.objectives is not None else "--objective"
        raise ValueError(str(exc) if str(exc).startswith("--") else f"{flag}: {exc}") from None


def run(
    args: argparse.Namespace,
    usage_error: type[Exception],
    workers_for: Callable[[int], int],
) -> int:
    """``valuecapture optimize``; ``usage_error`` is raised for bad input (exit code 2)."""
    sc = load_scenario(args.scenario, overrides=args.overrides)
    try:
        levers = parse_levers(args.lever, sc)
        settings = Settings(
            levers,
            _objectives(args),
            seed=int(sc.get("run.seed") if args.seed is None else args.seed),
            replications=DEFAULTS["replications"] if args.replications is None else args.replications,
            trials=args.trials,
            round_size=args.round_size,
            validate_replications=args.validate_replications,
            top=args.top,
        )
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    per_round = min(settings.round_size, settings.trials) + 1
    workers = workers_for(per_round * settings.replications * slot_count(sc) * sc.get("horizon.periods"))
    try:
        for reps, variants in ((settings.replications, per_round), (settings.validate_replications, settings.top + 1)):
            check_run(sc, reps, settings.seed, workers, args.batch_size, args.executor, args.scheduler, variants)
    except ValueError as exc:
        if type(exc) is ValueError:
            raise usage_error(str(exc)) from None
        raise

    def guarded(call: Callable[[], Optimization]) -> Optimization:
        try:
            return call()
        except ValueError as exc:
            if type(exc) is ValueError or isinstance(exc, LeverError):
                raise usage_error(str(exc)) from None
            raise

    again = [a for a in args.argv if a not in ("--resume", "--fresh")]
    res, path = optimize_to_folder(
        sc,
        settings,
        args.out,
        workers=workers,
        batch_size=args.batch_size,
        executor=args.executor,
        scheduler=args.scheduler,
        resume=args.resume,
        fresh=args.fresh,
        overwrite=args.overwrite,
        figures=not args.no_figures,
        progress=not args.quiet,
        resume_hint="valuecapture " + shlex.join(again + ["--resume"]),
        wrap=guarded,
    )
    if not args.quiet:
        print((path / "summary.txt").read_text(encoding="utf-8"), end="")
        files = "result.nc, summary.txt, trials.csv, chosen.toml" + (", figures/" if not args.no_figures else "")
        print(f"\nwrote {path}/ ({files})\nrun the chosen setting: valuecapture run {path / 'chosen.toml'}")
    return 0
