"""The ``valuecapture`` command.  Thin: parses arguments and calls the public API.

Exit codes: 0 success, 1 a failure while running or writing, 2 bad input
(scenario file, option values, unknown names).  Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from valuecapture import __version__

#: Below this many slot-periods a run uses one process even when more workers are allowed:
#: starting a process pool costs more than the run (results are identical either way).
SMALL_RUN = 20_000_000


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return v


#: Limits of --replications and --seed: the scenario schema's (run.replications, run.seed).
MAX_REPLICATIONS = 10_000_000
MAX_SEED = 2**63 - 1


def _replications(text: str) -> int:
    v = _positive_int(text)
    if v > MAX_REPLICATIONS:
        raise argparse.ArgumentTypeError(f"must be an integer in [1, {MAX_REPLICATIONS}], got {text!r}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}], got {text!r}") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}], got {text!r}")
    return v


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="valuecapture", description="Monte Carlo simulation of B2B customer portfolios: distributions of firm value.")
    parser.add_argument("--version", action="version", version=f"valuecapture {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario, print a summary, write results/<name>/")
    run.add_argument("scenario", help="scenario TOML file")
    _run_options(run)
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a scenario field (repeatable), e.g. --set customers.count=5000")
    run.add_argument("--precision", type=_fraction, default=None, metavar="P", help="run until the 95%% CI half-width of mean firm value is at most P x |mean| (e.g. 0.01), checked every --chunk replications; same seed => same replications")
    run.add_argument("--chunk", type=_chunk, default=None, metavar="N", help="with --precision: replications between two checks (default 100); never depends on --workers")
    run.add_argument("--max-replications", type=_positive_int, default=None, metavar="N", help="with --precision: stop here even if the precision is not reached (default 100000)")

    rep = sub.add_parser("reproduce", help="run again exactly the run that produced a result (same scenario, seed, replications)")
    rep.add_argument("result", help="run directory or result.nc")
    _run_options(rep, reproduce=True)

    val = sub.add_parser("validate", help="check a scenario file; prints 'ok' or the error")
    val.add_argument("scenario")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    val.add_argument("--workers", "-j", type=_positive_int, default=None, help="workers to estimate the memory for (default: as `run` would use)")

    show = sub.add_parser("show", help="print the summary of a finished run")
    show.add_argument("result", help="run directory (results/<name>/) or its result.nc")

    sub.add_parser("policies", help="list the business-model policies available by name")

    from valuecapture.cli.play import add_arguments as _play_arguments

    _play_arguments(sub.add_parser("play", help="classroom game: choose the policy and levers round by round and watch the firm-value distribution (reads choices from stdin)"))

    cmp_ = sub.add_parser("compare", help="run a scenario under several policies with common random numbers and compare firm value")
    cmp_.add_argument("scenario", help="scenario TOML file")
    cmp_.add_argument("--policies", "-p", required=True, metavar="NAME,NAME,...", help="comma-separated registered policy names (see `valuecapture policies`)")
    _run_options(cmp_, store=False)
    cmp_.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a scenario field (repeatable)")

    dec = sub.add_parser("decompose", help="attribute firm-value variance to customer, relationship and interdependence heterogeneity (8 counterfactual runs, Shapley values)")
    dec.add_argument("scenario", help="scenario TOML file")
    _research_options(dec, "OUT/<scenario name>-decompose/")
    dec.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a scenario field (repeatable)")

    swp = sub.add_parser("sweep", help="run a designed experiment (full factorial, Latin hypercube or Sobol) over scenario fields; sensitivity indices and effects")
    swp.add_argument("experiment", help="experiment TOML file (see docs/research.md)")
    _research_options(swp, "OUT/<experiment name>-sweep/", per_point=True)

    rpt = sub.add_parser("report", help="write a self-contained HTML report and its Markdown twin (figures as PNG and SVG, tables as CSV and NetCDF) for a result")
    rpt.add_argument("result", help="a result folder (or its result.nc) written by run, compare, decompose or sweep")
    rpt.add_argument("--out", default=None, help="report folder (default: RESULT/report/); an existing report there is replaced only with --overwrite")
    rpt.add_argument("--overwrite", action="store_true", help="replace a previous report in the report folder (never anything valuecapture did not write)")
    rpt.add_argument("--resamples", type=_positive_int, default=2000, metavar="N", help="bootstrap resamples for confidence intervals (default 2000)")
    return parser


def _research_options(p: argparse.ArgumentParser, where: str, per_point: bool = False) -> None:
    each = " per design point" if per_point else " per configuration"
    p.add_argument("--replications", "-n", type=_replications, default=None, help=f"replications{each} (default: the {'experiment' if per_point else 'scenario'}'s)")
    p.add_argument("--seed", type=_seed, default=None, help=f"root seed (default: the {'experiment' if per_point else 'scenario'}'s); the same for every run: common random numbers")
    p.add_argument("--workers", "-j", type=_positive_int, default=None, help="worker processes (default: all cores; small runs use one). Never changes results.")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="replications per batch (default: automatic). Never changes results.")
    p.add_argument("--out", default="results", help=f"output folder; the result goes to {where} (default: results)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no tables")


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number such as 0.01, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number such as 0.01, got {text!r}")
    return v


def _chunk(text: str) -> int:
    v = _positive_int(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 2, got {text!r}")
    return v


def _run_options(p: argparse.ArgumentParser, reproduce: bool = False, store: bool = True) -> None:
    if not reproduce:
        p.add_argument("--replications", "-n", type=_replications, default=None, help="replications (default: the scenario's run.replications)")
        p.add_argument("--seed", type=_seed, default=None, help="root seed (default: the scenario's run.seed)")
    p.add_argument("--workers", "-j", type=_positive_int, default=None, help="worker processes (default: all cores; small runs use one). Never changes results.")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="replications per batch (default: automatic). Never changes results.")
    p.add_argument("--executor", choices=("serial", "process", "dask"), default=None, help="serial, a local process pool, or Dask (a LocalCluster, or the cluster at --scheduler); default: process pool when workers > 1. Never changes results.")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="send batches to this existing Dask scheduler (implies --executor dask; see docs/scaling.md)")
    if store:
        p.add_argument("--resume", action="store_true", help="continue an interrupted run from its saved batches (same scenario, --set, seed and replications); the result is bit-identical to an uninterrupted run")
        p.add_argument("--fresh", action="store_true", help="discard an interrupted run of this scenario and start over")
    p.add_argument("--out", default="results", help="output folder; the run goes to OUT/<scenario name>/ (a comparison to OUT/<scenario name>-compare/; default: results)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")


OVERWRITE_HELP = "replace a previous result of the same name in OUT (never a folder holding anything valuecapture did not write)"


class UsageError(Exception):
    """Bad input detected by the CLI: exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from valuecapture.run.budget import MemoryRefused
    from valuecapture.run.outputs import OutputError
    from valuecapture.run.results import ResultError
    from valuecapture.scenario.load import ScenarioError
    from valuecapture.run.store import Interrupted, StoreError

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
        print(f"valuecapture: internal error: {type(exc).__name__}: {exc} (a bug: please report it; VALUECAPTURE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        from valuecapture.scenario.load import load_scenario

        return _validate(load_scenario(args.scenario, overrides=args.overrides), args)
    if args.command == "show":
        return _show(args.result)
    if args.command == "play":
        from valuecapture.cli.play import run as _play

        return _play(args)
    if args.command == "policies":
        from valuecapture.model.policies import describe, registered_policies

        from valuecapture.model.policies import BUILTIN

        for name, cls in registered_policies().items():
            origin = "built-in" if name in BUILTIN else f"from {cls.value.split(':')[0]}"
            try:
                line = describe(cls if isinstance(cls, type) else cls.load())
            except Exception as exc:  # a broken third-party package must not break the listing
                line = f"(cannot be loaded: {type(exc).__name__}: {exc})"
            print(f"{name:14s} {line}  [{origin}]")
        return 0
    if args.command == "compare":
        from valuecapture.scenario.load import load_scenario

        sc = load_scenario(args.scenario, overrides=args.overrides)
        return _compare(sc, args)
    if args.command == "run":
        from valuecapture.scenario.load import load_scenario

        sc = load_scenario(args.scenario, overrides=args.overrides)
        if args.precision is not None or args.chunk is not None or args.max_replications is not None:
            return _run_precision(sc, args)
        return _run(sc, args, args.replications, args.seed)
    if args.command == "decompose":
        from valuecapture.scenario.load import load_scenario

        sc = load_scenario(args.scenario, overrides=args.overrides)
        return _decompose(sc, args, args.replications, args.seed)
    if args.command == "sweep":
        from valuecapture.analysis.experiments import load_experiment

        return _sweep(load_experiment(args.experiment), args, args.replications, args.seed)
    if args.command == "report":
        return _report(args)
    if args.command == "reproduce":
        from valuecapture.run.results import ResultError, scenario_of

        ds = _open(args.result)
        reps, seed = int(ds.attrs["replications"]), int(ds.attrs["seed"])  # types checked by open_run
        if ds.attrs.get("kind") == "sweep":
            from valuecapture.analysis.experiments import experiment_of

            if not isinstance(ds.attrs.get("experiment_toml"), str):
                raise ResultError(f"{args.result}: a sweep result without its experiment_toml attribute cannot be reproduced")
            return _sweep(experiment_of(ds), args, reps, seed)
        sc = scenario_of(ds)
        if ds.attrs.get("kind") == "decomposition":
            return _decompose(sc, args, reps, seed)
        if "policies" in ds.attrs:  # a comparison
            import json

            try:
                names = json.loads(ds.attrs["policies"])
            except (TypeError, ValueError):
                names = None
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise ResultError(f"{args.result}: attribute policies must be a JSON list of policy names, got {ds.attrs['policies']!r}")
            args.policies = ",".join(names)
            args.replications, args.seed = reps, seed
            return _compare(sc, args)
        return _run(sc, args, reps, seed)
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover - argparse guards


def _open(path: str):  # type: ignore[no-untyped-def]
    from valuecapture.run.results import open_run

    return open_run(path)  # ResultError / StoreError: one line, exit 2


def _show(path: str) -> int:
    from valuecapture.analysis.summary import summary_text
    from valuecapture.analysis.compare import comparison_text

    ds = _open(path)
    if ds.attrs.get("partial"):
        print(f"partial run: {ds.attrs['replications_done']} of {ds.attrs['replications']} replications finished")
    if ds.attrs.get("kind") == "sweep":
        from valuecapture.analysis.experiments import sweep_text

        print(sweep_text(ds))
    elif ds.attrs.get("kind") == "decomposition":
        from valuecapture.analysis.decompose import attribution_text

        print(attribution_text(ds))
    else:
        print(comparison_text(ds) if "policy" in ds.dims else summary_text(ds))
    return 0


def _workers(args: argparse.Namespace, sc, reps: int) -> int:  # type: ignore[no-untyped-def]
    from valuecapture.model.params import slot_count

    workers = getattr(args, "workers", None)
    if workers is None:
        workers = os.cpu_count() or 1
        if reps * slot_count(sc) * sc.get("horizon.periods") < SMALL_RUN:
            workers = 1
    return int(workers)


def _validate(sc, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """``validate``: the scenario is valid and a run of its default size fits in memory."""
    from valuecapture.run.budget import memory_plan
    from valuecapture.model.params import slot_count
    from valuecapture.run.simulate import default_batch_size

    reps = int(sc.get("run.replications"))
    workers = _workers(args, sc, reps)
    plan = memory_plan(sc, reps, workers, min(reps, default_batch_size(slot_count(sc), reps, workers)))
    plan.check()
    print("ok")
    print(f"memory for {reps} replications with {workers} worker{'s' if workers > 1 else ''}: {plan.describe()}")
    return 0


def _target(args: argparse.Namespace, name: str) -> Path:
    """OUT/name, refused now (before any work) when it cannot be written without --overwrite."""
    from valuecapture.run.outputs import check_out_folder, check_target

    target = check_out_folder(args.out) / name
    check_target(target, getattr(args, "overwrite", False))
    return target


def _write(ds, target: Path, args: argparse.Namespace, text: str, figure_maker=None) -> Path:  # type: ignore[no-untyped-def]
    """Write an in-memory result under the lock already held; a failure says nothing was kept."""
    from valuecapture.run.outputs import WriteFailure
    from valuecapture.run.results import write_run

    try:
        return write_run(ds, target, figures=not args.no_figures, summary=text, figure_maker=figure_maker, overwrite=getattr(args, "overwrite", False))
    except WriteFailure:
        raise
    except OSError as exc:
        raise WriteFailure(f"cannot write the result to {target}: {exc.strerror or exc}; nothing was written there; free space or fix permissions and run again") from None


def _check(sc, reps: int, seed: int | None, workers: int, args: argparse.Namespace, variants: int = 1, detail: bool = True) -> None:  # type: ignore[no-untyped-def]
    """The runner's checks of a whole command (all its variants joined), before it starts."""
    from valuecapture.run.simulate import check_run

    try:
        check_run(sc, reps, int(sc.get("run.seed") if seed is None else seed), workers, args.batch_size,
                  getattr(args, "executor", None), getattr(args, "scheduler", None), variants=variants, detail=detail)
    except ValueError as exc:
        if type(exc) is ValueError:
            raise UsageError(str(exc)) from None
        raise


def _compare(sc, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from valuecapture.analysis.compare import check_policy_names, compare, comparison_text
    from valuecapture.run.outputs import claimed
    from valuecapture.report.plots import comparison_figures

    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    try:
        check_policy_names(names)
    except ValueError as exc:
        raise UsageError(f"--policies: {exc}") from None
    reps = int(sc.get("run.replications") if args.replications is None else args.replications)
    target = _target(args, f"{sc.name}-compare")
    workers = _workers(args, sc, reps * len(names))
    _check(sc, reps, args.seed, workers, args, variants=len(names))
    with claimed(target.parent, target.name):
        _target(args, target.name)
        try:
            ds = compare(sc, names, reps, args.seed, workers=workers, batch_size=args.batch_size, executor=args.executor, scheduler=args.scheduler, progress=not args.quiet)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        text = comparison_text(ds)
        path = _write(ds, target, args, text, comparison_figures)
    if not args.quiet:
        print(text)
        print(f"\nwrote {path}/ (result.nc, summary.txt" + (", figures/*.png)" if not args.no_figures else ")"))
    return 0


def _run(sc, args: argparse.Namespace, replications: int | None, seed: int | None) -> int:  # type: ignore[no-untyped-def]
    """Stream batches to the run store (resumable), then consolidate into OUT/<name>/."""
    import shlex

    from valuecapture.run.store import run_to_store

    reps = int(sc.get("run.replications") if replications is None else replications)
    seed = int(sc.get("run.seed") if seed is None else seed)
    workers = _workers(args, sc, reps)
    if args.resume and args.fresh:
        raise UsageError("--resume and --fresh exclude each other")
    again = [a for a in args.argv if a not in ("--resume", "--fresh")]
    hint = "valuecapture " + shlex.join(again + ["--resume"])
    try:
        ds, path = run_to_store(sc, args.out, reps, seed, workers=workers, batch_size=args.batch_size, executor=args.executor, scheduler=args.scheduler,
                                resume=args.resume, fresh=args.fresh, overwrite=args.overwrite, figures=not args.no_figures, progress=not args.quiet,
                                resume_hint=hint)
    except ValueError as exc:
        if type(exc) is ValueError:
            raise UsageError(str(exc)) from None
        raise
    if not args.quiet:
        print((path / "summary.txt").read_text(encoding="utf-8").rstrip())
        print(f"\nwrote {path}/ (result.nc, summary.txt" + (", figures/*.png)" if not args.no_figures else ")"))
    return 0


def _research_workers(args: argparse.Namespace, slot_periods: int) -> int:
    workers = getattr(args, "workers", None)
    if workers is None:
        workers = (os.cpu_count() or 1) if slot_periods >= SMALL_RUN else 1
    return int(workers)


def _print_written(path: Path, args: argparse.Namespace, extra: str = "") -> None:
    if not args.quiet:
        print(f"\nwrote {path}/ (result.nc, summary.txt" + (", figures/)" if not args.no_figures else ")") + extra)
        print(f"report: valuecapture report {path}")


def _run_precision(sc, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """``run --precision``: chunks of replications until the CI of mean firm value is tight enough."""
    from valuecapture.analysis.summary import summary_text
    from valuecapture.run.outputs import claimed
    from valuecapture.model.params import slot_count
    from valuecapture.run.precision import DEFAULT_CHUNK, DEFAULT_MAX_REPLICATIONS, StoppingRule, simulate_to_precision

    if args.precision is None:
        raise UsageError("--chunk and --max-replications apply only with --precision")
    if args.replications is not None:
        raise UsageError("--replications and --precision exclude each other (with --precision, cap the run with --max-replications)")
    if getattr(args, "resume", False) or getattr(args, "fresh", False) or getattr(args, "executor", None) or getattr(args, "scheduler", None):
        raise UsageError("--precision runs with local worker processes only (no --executor, --scheduler, --resume or --fresh)")
    chunk = args.chunk or DEFAULT_CHUNK
    cap = args.max_replications or DEFAULT_MAX_REPLICATIONS
    try:
        rule = StoppingRule(args.precision, chunk=chunk, min_replications=chunk, max_replications=cap)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    target = _target(args, sc.name)
    workers = _research_workers(args, chunk * 10 * slot_count(sc) * sc.get("horizon.periods"))
    _check(sc, cap, args.seed, workers, args)
    with claimed(target.parent, target.name):
        _target(args, target.name)
        try:
            ds = simulate_to_precision(sc, rule, args.seed, workers=workers, batch_size=args.batch_size, progress=not args.quiet)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        n = ds.sizes["replication"]
        reached = bool(ds.attrs["precision_reached"])
        line = (f"{'stopped' if reached else 'stopped at the cap'} after {n} replications: 95% CI half-width of mean firm value = "
                f"{ds.attrs['precision_achieved']:.3%} of |mean| (target {rule.precision:.3%}, checked every {chunk})")
        text = summary_text(ds) + "\n" + line
        path = _write(ds, target, args, text)
    if not args.quiet:
        print(text)
        _print_written(path, args)
    if not reached:
        print(f"valuecapture: warning: precision {rule.precision:g} not reached within --max-replications {cap}; the result holds {n} replications", file=sys.stderr)
    return 0


def _decompose(sc, args: argparse.Namespace, replications: int | None, seed: int | None) -> int:  # type: ignore[no-untyped-def]
    from valuecapture.analysis.decompose import attribution_text, decompose
    from valuecapture.run.outputs import claimed
    from valuecapture.model.params import slot_count
    from valuecapture.report.research_plots import configurations_figure, save, shapley_figure

    reps = int(sc.get("run.replications") if replications is None else replications)
    if reps < 2:
        raise UsageError(f"--replications: a decomposition needs at least 2, got {reps}")
    target = _target(args, f"{sc.name}-decompose")
    workers = _research_workers(args, 8 * reps * slot_count(sc) * sc.get("horizon.periods"))
    _check(sc, reps, seed, workers, args, variants=8, detail=False)

    def figures(d, folder):  # type: ignore[no-untyped-def]
        return save(shapley_figure(d), folder, "shapley") + save(configurations_figure(d), folder, "configurations")

    with claimed(target.parent, target.name):
        _target(args, target.name)
        try:
            ds = decompose(sc, reps, seed, workers=workers, batch_size=args.batch_size, progress=not args.quiet)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        text = attribution_text(ds)
        path = _write(ds, target, args, text, figures)
    if not args.quiet:
        print(text)
        _print_written(path, args)
    return 0


def _sweep(exp, args: argparse.Namespace, replications: int | None, seed: int | None) -> int:  # type: ignore[no-untyped-def]
    import json

    from valuecapture.analysis.experiments import design_size, sweep, sweep_text
    from valuecapture.run.outputs import claimed
    from valuecapture.model.params import slot_count
    from valuecapture.report.research_plots import save, sensitivity_figure, sweep_scatter_figure

    reps = int(exp.replications if replications is None else replications)
    if reps < 2:
        raise UsageError(f"--replications: a sweep needs at least 2 per design point, got {reps}")
    target = _target(args, f"{exp.name}-sweep")
    workers = _research_workers(args, design_size(exp) * reps * slot_count(exp.base) * exp.base.get("horizon.periods"))
    _check(exp.base, reps, seed if seed is not None else exp.seed, workers, args, variants=design_size(exp), detail=False)

    def figures(d, folder):  # type: ignore[no-untyped-def]
        out = save(sensitivity_figure(d), folder, "sensitivity")
        for r in json.loads(d.attrs["responses"]):
            out += save(sweep_scatter_figure(d, r), folder, f"scatter_{r}")
        return out

    with claimed(target.parent, target.name):
        _target(args, target.name)
        try:
            ds = sweep(exp, reps, seed, workers=workers, batch_size=args.batch_size, progress=not args.quiet)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        text = sweep_text(ds)
        path = _write(ds, target, args, text, figures)
    if not args.quiet:
        print(text)
        _print_written(path, args)
    return 0


def _report(args: argparse.Namespace) -> int:
    from valuecapture.report.html import write_report

    ds = _open(args.result)
    if ds.attrs.get("partial"):
        raise UsageError(f"{args.result}: an unfinished run; finish it (valuecapture run ... --resume) before reporting")
    result = Path(args.result)
    folder = write_report(ds, result if result.is_dir() else result.parent, args.out, n_resamples=args.resamples, overwrite=args.overwrite)
    print(f"wrote {folder}/ (report.html, report.md, figures/*.png|svg, tables/*.csv|nc)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
