"""The ``valuecapture`` command.  Thin: parses arguments, calls the public API, prints.

Exit codes: 0 success, 1 a failure while running or writing (and ``reproduce`` whose re-run
differs from the original), 2 bad input (scenario file, option values, unknown names, result
files), 130 interrupted.  Errors are one line on
stderr.  Every command that simulates runs through
:func:`~valuecapture.run.folder.run_in_folder` (lock, store, ``--resume``, atomic result
folder) and accepts ``--executor``/``--scheduler``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from valuecapture.analysis.compare import check_policy_names, compare, comparison_text
from valuecapture.analysis.decompose import attribution_text, decompose
from valuecapture.analysis.experiments import Experiment, design_size, experiment_of, load_experiment, sweep, sweep_text
from valuecapture.analysis.optimize import optimization_text
from valuecapture.analysis.reproduce import differences, reproduction_text
from valuecapture.analysis.summary import summary_text
from valuecapture.cli import args as opts
from valuecapture.cli.calibrate import add_arguments as calibrate_arguments
from valuecapture.cli.calibrate import run as calibrate
from valuecapture.cli.decisions import add_discover_arguments, add_robustness_arguments, run_discover, run_robustness
from valuecapture.cli.export import add_arguments as export_arguments
from valuecapture.cli.export import add_tidy_arguments as export_tidy_arguments
from valuecapture.cli.export import run as export_customers
from valuecapture.cli.export import run_tidy as export_tidy
from valuecapture.cli.frontier import add_arguments as frontier_arguments
from valuecapture.cli.frontier import run as run_frontier
from valuecapture.cli.optimize import add_arguments as optimize_arguments
from valuecapture.cli.optimize import run as optimize
from valuecapture.cli.play import add_arguments as play_arguments
from valuecapture.cli.play import run as play
from valuecapture.data.customers import check_checksum
from valuecapture.model.params import slot_count
from valuecapture.model.policies import BUILTIN, describe, parameters_of, registered_policies, value_text
from valuecapture.model.validate import check_scenario
from valuecapture.report.files import write_run
from valuecapture.report.html import write_report
from valuecapture.report.plots import comparison_figures
from valuecapture.report.research_plots import (
    configurations_figure,
    save,
    shapley_figure,
    sweep_figures,
)
from valuecapture.run.budget import MemoryRefused, memory_plan
from valuecapture.run.folder import Interrupted, reproduce_target, run_in_folder
from valuecapture.run.load import ResultError, open_run, scenario_of
from valuecapture.run.outputs import OutputError
from valuecapture.run.precision import DEFAULT_CHUNK, DEFAULT_MAX_REPLICATIONS, StoppingRule, simulate_to_precision
from valuecapture.run.simulate import check_run, default_batch_size, executor_for, simulate
from valuecapture.run.store import StoreError
from valuecapture.scenario.load import Scenario, ScenarioError, load_scenario
from valuecapture.version import __version__

#: Below this many slot-periods a run uses one process even when more workers are allowed:
#: starting a process pool costs more than the run (results are identical either way).
SMALL_RUN = 20_000_000


class UsageError(Exception):
    """Bad input detected by the CLI: exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = opts.Parser(
        prog="valuecapture",
        description="Monte Carlo simulation of B2B customer portfolios: distributions of firm value.",
    )
    parser.add_argument("--version", action="version", version=f"valuecapture {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario, print a summary, write results/<name>/")
    run.add_argument("scenario", help="scenario TOML file")
    opts.run_options(run, "OUT/<scenario name>/")
    opts.overrides(run)
    run.add_argument(
        "--parameter-uncertainty",
        action="store_true",
        help="draw the scenario's [[estimates]] from their sampling distribution, once per "
        "parameter_uncertainty.per_draw replications, and split the variance of firm value (same as --set "
        "parameter_uncertainty.enabled=true; docs/calibration.md)",
    )
    run.add_argument(
        "--precision",
        type=opts.fraction,
        default=None,
        metavar="P",
        help="run until the 95%% CI half-width of mean firm value is at most P x |mean| (e.g. 0.01), checked every "
        "--chunk replications; same seed => same replications",
    )
    run.add_argument(
        "--chunk",
        type=opts.chunk,
        default=None,
        metavar="N",
        help="with --precision: replications between two checks (default 100); never depends on --workers",
    )
    run.add_argument(
        "--max-replications",
        type=opts.replications,
        default=None,
        metavar="N",
        help="with --precision: stop here even if the precision is not reached (default 100000)",
    )

    rep = sub.add_parser(
        "reproduce",
        help="run again exactly the run that produced a result (same scenario, seed, replications) into a new folder "
        "and compare: prints 'identical' (exit 0) or the variables that differ (exit 1)",
    )
    rep.add_argument("result", help="result folder or its result.nc")
    opts.run_options(
        rep,
        "",
        sizes=False,
        out_help="output folder (default: the folder holding RESULT); the re-run goes to OUT/<name of the result>/, "
        "or OUT/<name>-reproduced/ when OUT holds the original (never into the original)",
    )

    val = sub.add_parser("validate", help="check a scenario file; prints 'ok' and the memory a run needs, or the error")
    val.add_argument("scenario")
    opts.overrides(val)
    val.add_argument(
        "--workers",
        "-j",
        type=opts.positive_int,
        default=None,
        help="workers to estimate the memory for (default: as `run` would use)",
    )

    show = sub.add_parser("show", help="print the summary of a finished run")
    show.add_argument("result", help="result folder (results/<name>/) or its result.nc")

    sub.add_parser("policies", help="list the business-model policies available by name")
    play_arguments(
        sub.add_parser(
            "play",
            help="classroom game: choose the policy and levers round by round and watch the firm-value distribution "
            "(reads choices from stdin)",
        )
    )
    calibrate_arguments(
        sub.add_parser(
            "calibrate",
            help="estimate a scenario's uncertain inputs from a customer table (and revenue panel) and write it "
            "(docs/data.md, docs/calibration.md)",
        )
    )
    export_tidy_arguments(
        sub.add_parser(
            "export",
            help="write a result's per-replication data as tidy CSV or Parquet tables (one per set of dimensions) "
            "with a provenance.json, for spreadsheets, R and BI tools (docs/export.md)",
        )
    )
    export_arguments(
        sub.add_parser(
            "export-customers",
            help="write a simulated firm (one detail replication of a result) as a customer table and revenue panel "
            "in calibrate's input format (docs/data.md)",
        )
    )
    optimize_arguments(
        sub.add_parser(
            "optimize",
            help="search levers (scenario fields, policy parameters) for the best statistic of firm value on common "
            "random numbers, then validate the best on fresh seeds (docs/decisions.md)",
        )
    )

    cmp_ = sub.add_parser(
        "compare", help="run a scenario under several policies with common random numbers and compare firm value"
    )
    cmp_.add_argument("scenario", help="scenario TOML file")
    cmp_.add_argument(
        "--policies",
        "-p",
        required=True,
        metavar="NAME,NAME(PARAM=VALUE,...),...",
        help="comma-separated registered policies (see `valuecapture policies`), each optionally with parameters, "
        "e.g. 'tiered(top_share=0.2),tiered(top_share=0.3),single' (parsed as data, never evaluated)",
    )
    opts.run_options(cmp_, "OUT/<scenario name>-compare/", " per policy")
    opts.overrides(cmp_)

    dec = sub.add_parser(
        "decompose",
        help="attribute firm-value variance to customer, relationship and interdependence heterogeneity (8 "
        "counterfactual runs, Shapley values)",
    )
    dec.add_argument("scenario", help="scenario TOML file")
    opts.run_options(dec, "OUT/<scenario name>-decompose/", " per configuration")
    opts.overrides(dec)

    swp = sub.add_parser(
        "sweep",
        help="run a designed experiment (full factorial, Latin hypercube or Sobol) over scenario fields; sensitivity "
        "indices and effects",
    )
    swp.add_argument("experiment", help="experiment TOML file (see docs/research.md)")
    opts.run_options(swp, "OUT/<experiment name>-sweep/", " per design point")

    add_discover_arguments(
        sub.add_parser(
            "discover",
            help="scenario discovery on a sweep (PRIM): the factor ranges where a condition holds, e.g. --where "
            "'firm_value < 0' (docs/decisions.md)",
        )
    )
    add_robustness_arguments(
        sub.add_parser(
            "robustness",
            help="regret, minimax regret and satisficing share of the policies of a sweep across its design "
            "(docs/decisions.md)",
        )
    )

    frontier_arguments(
        sub.add_parser(
            "frontier",
            help="segment risk-return frontier of a result (Tarasi et al. 2011): the efficient customer mixes within "
            "bounds, today's mix on it, bootstrap bands (docs/model.md)",
        )
    )

    rpt = sub.add_parser(
        "report",
        help="write a self-contained HTML report and its Markdown twin (figures as PNG and SVG, tables as CSV and "
        "NetCDF) for a result",
    )
    rpt.add_argument("result", help="a result folder (or its result.nc) written by run, compare, decompose or sweep")
    rpt.add_argument(
        "--out",
        default=None,
        help="report folder (default: RESULT/report/); an existing report there is replaced only with --overwrite",
    )
    rpt.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a previous report in the report folder (never anything valuecapture did not write)",
    )
    rpt.add_argument(
        "--resamples",
        type=opts.positive_int,
        default=2000,
        metavar="N",
        help="bootstrap resamples for confidence intervals (default 2000)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args)
    except (ScenarioError, UsageError, StoreError, OutputError, ResultError, MemoryRefused) as exc:
        print(f"valuecapture: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"valuecapture: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("valuecapture: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as exc:  # a full or read-only disk (WriteFailure says what was kept)
        print(f"valuecapture: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("VALUECAPTURE_DEBUG"):
            raise
        print(
            f"valuecapture: internal error: {type(exc).__name__}: {exc} (a bug: please report it; "
            "VALUECAPTURE_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return _validate(load_scenario(args.scenario, overrides=args.overrides), args)
    if args.command == "show":
        return _show(args.result)
    if args.command == "calibrate":
        return calibrate(args)
    if args.command == "export-customers":
        return export_customers(args)
    if args.command == "export":
        return export_tidy(args)
    if args.command == "play":
        return play(args)
    if args.command == "optimize":
        return optimize(args, UsageError, lambda slot_periods: _workers(args, slot_periods))
    if args.command == "policies":
        for name, cls in registered_policies().items():
            origin = "built-in" if name in BUILTIN else f"from {cls.value.split(':')[0]}"
            try:
                loaded = cls if isinstance(cls, type) else cls.load()
                line = describe(loaded)
                params = ", ".join(
                    f"{k}={value_text(q.default)}" if q.default is not q.empty else k
                    for k, q in parameters_of(loaded).items()
                )
            except Exception as exc:  # a broken third-party package must not break the listing
                line, params = f"(cannot be loaded: {type(exc).__name__}: {exc})", ""
            print(f"{name:14s} {line}  [{origin}]")
            if params:
                print(f"{'':14s} parameters: {params}")
        return 0
    if args.command == "report":
        return _report(args)
    if args.command == "discover":
        return run_discover(args)
    if args.command == "robustness":
        return run_robustness(args)
    if args.command == "frontier":
        return run_frontier(args)
    if args.command == "sweep":
        _sweep(load_experiment(args.experiment), args, args.replications, args.seed)
        return 0
    if args.command == "reproduce":
        return _reproduce(args)
    if getattr(args, "parameter_uncertainty", False):
        args.overrides = [*args.overrides, "parameter_uncertainty.enabled=true"]
    sc = load_scenario(args.scenario, overrides=args.overrides)
    if args.command == "compare":
        _compare(sc, args, args.replications, args.seed)
    elif args.command == "decompose":
        _decompose(sc, args, args.replications, args.seed)
    elif args.precision is not None or args.chunk is not None or args.max_replications is not None:
        return _run_precision(sc, args)
    else:
        _run(sc, args, args.replications, args.seed)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """``reproduce``: re-run a result into a new folder, compare every variable; exit 0 identical, 1 not."""
    ds = open_run(args.result)
    if ds.attrs.get("partial"):
        raise ResultError(
            f"{args.result}: an unfinished run ({ds.attrs.get('replications_done')} of {ds.attrs['replications']} "
            "replications); finish it with its command and --resume, then reproduce the result"
        )
    path = _rerun(ds, args)
    again = open_run(path)
    if not args.quiet:
        print()
    print(reproduction_text(ds, again, str(args.result), f"{path}/"))
    return 0 if not differences(ds, again) else 1


def _rerun(ds: xr.Dataset, args: argparse.Namespace) -> Path:
    """Run again what produced ``ds`` into the folder :func:`reproduce_target` chooses; returns the result folder."""
    reps, seed = int(ds.attrs["replications"]), int(ds.attrs["seed"])  # types checked by open_run
    if ds.attrs.get("kind") == "optimization":
        raise ResultError(
            f"{args.result}: an optimisation is reproduced by its command (its levers, seed and sizes are in "
            "summary.txt); run the chosen setting with valuecapture run RESULT/chosen.toml"
        )
    if ds.attrs.get("kind") == "sweep":
        if not isinstance(ds.attrs.get("experiment_toml"), str):
            raise ResultError(
                f"{args.result}: a sweep result without its experiment_toml attribute cannot be reproduced"
            )
        exp = experiment_of(ds)
        args.out, name = reproduce_target(args.result, args.out, f"{exp.name}-sweep")
        return _sweep(exp, args, reps, seed, name)
    sc = scenario_of(ds)
    if isinstance(ds.attrs.get("customers_source_sha256"), str):
        check_checksum(sc, ds.attrs["customers_source_sha256"])
    if ds.attrs.get("kind") == "decomposition":
        args.out, name = reproduce_target(args.result, args.out, f"{sc.name}-decompose")
        return _decompose(sc, args, reps, seed, name)
    if "policies" in ds.attrs:  # a comparison
        try:
            names = json.loads(ds.attrs["policies"])
        except (TypeError, ValueError):
            names = None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ResultError(
                f"{args.result}: attribute policies must be a JSON list of policy names, got {ds.attrs['policies']!r}"
            )
        args.policies = ",".join(names)
        args.out, name = reproduce_target(args.result, args.out, f"{sc.name}-compare")
        return _compare(sc, args, reps, seed, name)
    args.out, name = reproduce_target(args.result, args.out, sc.name)
    return _run(sc, args, reps, seed, name)


def _show(path: str) -> int:
    ds = open_run(path)
    if ds.attrs.get("partial"):
        print(f"partial run: {ds.attrs['replications_done']} of {ds.attrs['replications']} replications finished")
    if ds.attrs.get("kind") == "optimization":
        print(optimization_text(ds))
    elif ds.attrs.get("kind") == "sweep":
        print(sweep_text(ds))
    elif ds.attrs.get("kind") == "decomposition":
        print(attribution_text(ds))
    else:
        print(comparison_text(ds) if "policy" in ds.dims else summary_text(ds))
    return 0


def _validate(sc: Scenario, args: argparse.Namespace) -> int:
    """``validate``: the scenario is valid, the plugins it names exist, and a run of its default size fits in memory."""
    check_scenario(sc)
    reps = int(sc.get("run.replications"))
    workers = _workers(args, reps * slot_count(sc) * sc.get("horizon.periods"))
    plan = memory_plan(sc, reps, workers, min(reps, default_batch_size(slot_count(sc), reps, workers)))
    plan.check()
    print("ok")
    print(f"memory for {reps} replications with {workers} worker{'s' if workers > 1 else ''}: {plan.describe()}")
    return 0


def _workers(args: argparse.Namespace, slot_periods: int) -> int:
    """``--workers``, or all cores for runs large enough to gain from a pool, else one."""
    workers = getattr(args, "workers", None)
    if workers is None:
        workers = (os.cpu_count() or 1) if slot_periods >= SMALL_RUN else 1
    return int(workers)


def _check(
    sc: Scenario,
    reps: int,
    seed: int | None,
    workers: int,
    args: argparse.Namespace,
    variants: int = 1,
    detail: bool = True,
) -> None:
    """The runner's checks of a whole command (all its variants joined), before it takes the lock."""
    try:
        check_run(
            sc,
            reps,
            int(sc.get("run.seed") if seed is None else seed),
            workers,
            args.batch_size,
            args.executor,
            args.scheduler,
            variants=variants,
            detail=detail,
        )
    except ValueError as exc:
        if type(exc) is ValueError:
            raise UsageError(str(exc)) from None
        raise


Compute = Callable[[Path, bool, Callable[[], bool]], xr.Dataset]


def _execute(
    args: argparse.Namespace,
    name: str,
    workers: int,
    compute: Compute,
    text_of: Callable[[xr.Dataset], str],
    draw: Callable[[xr.Dataset, Path], Any] | None = None,
) -> tuple[xr.Dataset, Path, str]:
    """Run a command into OUT/name (locked, streamed to the store, resumable) and write its result folder."""
    again = [a for a in args.argv if a not in ("--resume", "--fresh")]
    hint = "valuecapture " + shlex.join(again + ["--resume"])
    text: dict[str, str] = {}

    def write(ds: xr.Dataset, target: Path) -> Path:
        text["summary"] = text_of(ds)
        return write_run(
            ds,
            target,
            figures=not args.no_figures,
            summary=text["summary"],
            figure_maker=draw,
            overwrite=args.overwrite,
        )

    def guarded(store: Path, resume: bool, stop: Callable[[], bool]) -> xr.Dataset:
        try:
            return compute(store, resume, stop)
        except ValueError as exc:
            if (
                type(exc) is ValueError
            ):  # the API's bad-argument errors (ScenarioError, StoreError... are subclasses, kept)
                raise UsageError(str(exc)) from None
            raise

    executor = executor_for(args.executor, workers, args.scheduler)
    ds, path = run_in_folder(
        args.out,
        name,
        guarded,
        write,
        resume=args.resume,
        fresh=args.fresh,
        overwrite=args.overwrite,
        raise_now=executor == "serial",
        resume_hint=hint,
    )
    return ds, path, text["summary"]


def _written(path: Path, args: argparse.Namespace, report: bool = True) -> None:
    if not args.quiet:
        print(f"\nwrote {path}/ (result.nc, summary.txt" + (", figures/)" if not args.no_figures else ")"))
        if report:
            print(f"report: valuecapture report {path}")


def _run(
    sc: Scenario, args: argparse.Namespace, replications: int | None, seed: int | None, name: str | None = None
) -> Path:
    """``run``: stream batches to the run store (resumable), then write OUT/<name>/."""
    reps = int(sc.get("run.replications") if replications is None else replications)
    workers = _workers(args, reps * slot_count(sc) * sc.get("horizon.periods"))
    _check(sc, reps, seed, workers, args)

    def compute(store: Path, resume: bool, stop: Callable[[], bool]) -> xr.Dataset:
        return simulate(
            sc,
            reps,
            seed,
            workers=workers,
            batch_size=args.batch_size,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=not args.quiet,
            store=store,
            resume=resume,
            stop=stop,
        )

    _, path, text = _execute(args, name or sc.name, workers, compute, summary_text)
    if not args.quiet:
        print(text)
    _written(path, args, report=False)
    return path


def _run_precision(sc: Scenario, args: argparse.Namespace) -> int:
    """``run --precision``: chunks of replications until the CI of mean firm value is tight enough."""
    if args.precision is None:
        raise UsageError("--chunk and --max-replications apply only with --precision")
    if args.replications is not None:
        raise UsageError(
            "--replications and --precision exclude each other (with --precision, cap the run with --max-replications)"
        )
    chunk = args.chunk or DEFAULT_CHUNK
    cap = args.max_replications or DEFAULT_MAX_REPLICATIONS
    try:
        rule = StoppingRule(args.precision, chunk=chunk, min_replications=chunk, max_replications=cap)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    workers = _workers(args, chunk * 10 * slot_count(sc) * sc.get("horizon.periods"))
    _check(sc, cap, args.seed, workers, args)

    def compute(store: Path, resume: bool, stop: Callable[[], bool]) -> xr.Dataset:
        return simulate_to_precision(
            sc,
            rule,
            args.seed,
            workers=workers,
            batch_size=args.batch_size,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=not args.quiet,
            store=store,
            resume=resume,
            stop=stop,
        )

    def text_of(ds: xr.Dataset) -> str:
        reached = bool(ds.attrs["precision_reached"])
        return (
            summary_text(ds)
            + "\n"
            + (
                f"{'stopped' if reached else 'stopped at the cap'} after {ds.sizes['replication']} replications: 95% "
                f"CI half-width of mean firm value = {ds.attrs['precision_achieved']:.3%} of |mean| (target "
                f"{rule.precision:.3%}, checked every {chunk})"
            )
        )

    ds, path, text = _execute(args, sc.name, workers, compute, text_of)
    if not args.quiet:
        print(text)
    _written(path, args)
    if not ds.attrs["precision_reached"]:
        print(
            f"valuecapture: warning: precision {rule.precision:g} not reached within --max-replications {cap}; the "
            f"result holds {ds.sizes['replication']} replications",
            file=sys.stderr,
        )
    return 0


def _compare(
    sc: Scenario, args: argparse.Namespace, replications: int | None, seed: int | None, name: str | None = None
) -> Path:
    try:
        names = [spec.label for spec in check_policy_names([args.policies])]
    except ValueError as exc:
        raise UsageError(f"--policies: {exc}") from None
    reps = int(sc.get("run.replications") if replications is None else replications)
    workers = _workers(args, len(names) * reps * slot_count(sc) * sc.get("horizon.periods"))
    _check(sc, reps, seed, workers, args, variants=len(names))

    def compute(store: Path, resume: bool, stop: Callable[[], bool]) -> xr.Dataset:
        return compare(
            sc,
            names,
            reps,
            seed,
            workers=workers,
            batch_size=args.batch_size,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=not args.quiet,
            store=store,
            resume=resume,
            stop=stop,
        )

    _, path, text = _execute(args, name or f"{sc.name}-compare", workers, compute, comparison_text, comparison_figures)
    if not args.quiet:
        print(text)
    _written(path, args, report=False)
    return path


def _decompose(
    sc: Scenario, args: argparse.Namespace, replications: int | None, seed: int | None, name: str | None = None
) -> Path:
    reps = int(sc.get("run.replications") if replications is None else replications)
    if reps < 2:
        raise UsageError(f"--replications: a decomposition needs at least 2, got {reps}")
    workers = _workers(args, 8 * reps * slot_count(sc) * sc.get("horizon.periods"))
    _check(sc, reps, seed, workers, args, variants=8, detail=False)

    def compute(store: Path, resume: bool, stop: Callable[[], bool]) -> xr.Dataset:
        return decompose(
            sc,
            reps,
            seed,
            workers=workers,
            batch_size=args.batch_size,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=not args.quiet,
            store=store,
            resume=resume,
            stop=stop,
        )

    def figures(d: xr.Dataset, folder: Path) -> list[Path]:
        return save(shapley_figure(d), folder, "shapley") + save(configurations_figure(d), folder, "configurations")

    _, path, text = _execute(args, name or f"{sc.name}-decompose", workers, compute, attribution_text, figures)
    if not args.quiet:
        print(text)
    _written(path, args)
    return path


def _sweep(
    exp: Experiment, args: argparse.Namespace, replications: int | None, seed: int | None, name: str | None = None
) -> Path:
    reps = int(exp.replications if replications is None else replications)
    if reps < 2:
        raise UsageError(f"--replications: a sweep needs at least 2 per design point, got {reps}")
    points = design_size(exp)
    workers = _workers(args, points * reps * slot_count(exp.base) * exp.base.get("horizon.periods"))
    _check(exp.base, reps, seed if seed is not None else exp.seed, workers, args, variants=points, detail=False)

    def compute(store: Path, resume: bool, stop: Callable[[], bool]) -> xr.Dataset:
        return sweep(
            exp,
            reps,
            seed,
            workers=workers,
            batch_size=args.batch_size,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=not args.quiet,
            store=store,
            resume=resume,
            stop=stop,
        )

    def figures(d: xr.Dataset, folder: Path) -> list[Path]:
        return [p for stem, make in sweep_figures(d) for p in save(make(), folder, stem)]

    _, path, text = _execute(args, name or f"{exp.name}-sweep", workers, compute, sweep_text, figures)
    if not args.quiet:
        print(text)  # a "warning: too few design points ..." line, if any, is in it (and in summary.txt)
    elif warn := next((line for line in text.splitlines() if line.startswith("warning: ")), None):
        print(f"valuecapture: {warn}", file=sys.stderr)
    _written(path, args)
    return path


def _report(args: argparse.Namespace) -> int:
    ds = open_run(args.result)
    if ds.attrs.get("partial"):
        raise UsageError(
            f"{args.result}: an unfinished run; finish it (valuecapture run ... --resume) before reporting"
        )
    result = Path(args.result)
    folder = write_report(
        ds, result if result.is_dir() else result.parent, args.out, n_resamples=args.resamples, overwrite=args.overwrite
    )
    print(f"wrote {folder}/ (report.html, report.md, figures/*.png|svg, tables/*.csv|nc)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
