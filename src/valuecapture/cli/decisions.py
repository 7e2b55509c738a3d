"""``valuecapture discover`` and ``valuecapture robustness``: decisions from a sweep result.

Thin: opens the results (checked, :func:`~valuecapture.run.load.open_run`), calls
:mod:`valuecapture.analysis.discovery` or :mod:`valuecapture.analysis.robustness`, prints the
tables and writes them with their figures (:mod:`valuecapture.report.decisions`) into ``--out``
(default: ``RESULT/discovery/`` or ``RESULT/robustness/``).  Bad input is one line and exit code 2
(raised as :class:`~valuecapture.run.load.ResultError` for the caller to print).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import xarray as xr

from valuecapture.analysis.discovery import ConditionError, discover, discovery_text, parse_number
from valuecapture.analysis.robustness import policy_table, robustness, robustness_text, sweeps_table
from valuecapture.report.decisions import DISCOVERY_DIR, ROBUSTNESS_DIR, write_discovery, write_robustness
from valuecapture.run.load import ResultError, open_run
from valuecapture.run.results import currency_of


def _number(text: str) -> float:
    try:
        return parse_number(text)
    except ConditionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _alpha(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 0.5), got {text!r}") from None
    if not 0 < v < 0.5:
        raise argparse.ArgumentTypeError(f"must be in (0, 0.5), got {text}")
    return v


def _box(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a box number (0, 1, 2...), got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {v}")
    return v


def _common(parser: argparse.ArgumentParser, where: str) -> None:
    parser.add_argument(
        "--lever",
        action="append",
        default=[],
        metavar="FACTOR",
        help="a factor that is the firm's choice (repeatable; default: the factor on choices.policy)",
    )
    parser.add_argument("--out", default=None, help=f"folder for the tables and figures (default: {where})")
    parser.add_argument("--overwrite", action="store_true", help="replace what this command wrote there before")
    parser.add_argument("--no-figures", action="store_true", help="write the tables only")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only where the files went")


def add_discover_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture discover``."""
    parser.add_argument("result", help="a sweep result folder (or its result.nc)")
    parser.add_argument(
        "--where",
        required=True,
        metavar="CONDITION",
        help="the cases of interest: 'firm_value < 0' (each replication), 'p_loss > 0.2' or 'p5(firm_value) < -1m' "
        "(each design point), 'tiered loses to single' (mean firm value at each combination of the other factors)",
    )
    parser.add_argument(
        "--alpha", type=_alpha, default=0.05, help="share of the box's cases each peel removes (default 0.05)"
    )
    parser.add_argument(
        "--paste-alpha", type=_alpha, default=0.05, help="share of the box's cases each paste adds (default 0.05)"
    )
    parser.add_argument(
        "--mass-min", type=_alpha, default=0.05, help="smallest box, as a share of all cases (default 0.05)"
    )
    parser.add_argument(
        "--box",
        type=_box,
        default=None,
        metavar="N",
        help="describe box N of the peeling trajectory (default: the best balance of coverage and density)",
    )
    _common(parser, f"RESULT/{DISCOVERY_DIR}/")
    return parser


def add_robustness_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture robustness``."""
    parser.add_argument(
        "result",
        nargs="+",
        help="a sweep result with a policy factor, or several sweeps (one policy each) over the same design",
    )
    parser.add_argument(
        "--threshold",
        type=_number,
        default=None,
        metavar="X",
        help="satisficing threshold of mean firm value (e.g. 0, 50m; a negative one as --threshold=-2m): the share of "
        "scenarios where a policy meets it",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME",
        help="with several sweeps: the policy name of each, in order (default: their scenarios' policies)",
    )
    _common(parser, f"RESULT/{ROBUSTNESS_DIR}/ (of the first RESULT)")
    return parser


def _folder(result: str) -> Path:
    p = Path(result)
    return p if p.is_dir() else p.parent


def _sweep(path: str) -> xr.Dataset:
    ds = open_run(path)
    if ds.attrs.get("kind") != "sweep" or "design_point" not in ds.dims:
        raise ResultError(f"{path}: not a sweep result (no design_point dimension); run `valuecapture sweep` first")
    if ds.attrs.get("partial"):
        raise ResultError(f"{path}: an unfinished sweep; finish it (--resume) first")
    return ds


def run_discover(args: argparse.Namespace) -> int:
    ds = _sweep(args.result)
    try:
        d = discover(
            ds,
            args.where,
            levers=args.lever or None,
            alpha=args.alpha,
            paste_alpha=args.paste_alpha,
            mass_min=args.mass_min,
            box=args.box,
        )
    except ConditionError as exc:
        raise ResultError(f"--where {exc}" if not str(exc).startswith("--") else str(exc)) from None
    out = Path(args.out) if args.out is not None else _folder(args.result) / DISCOVERY_DIR
    folder = write_discovery(d, out, overwrite=args.overwrite, figures=not args.no_figures)
    if not args.quiet:
        print(discovery_text(d))
        print()
    print(f"wrote {folder}/ (discovery.txt, trajectory.csv, box.csv" + (", figures/)" if not args.no_figures else ")"))
    return 0


def run_robustness(args: argparse.Namespace) -> int:
    results = [_sweep(p) for p in args.result]
    try:
        if len(results) == 1:
            if args.label:
                raise ConditionError("--label: only with several sweeps (one policy each)")
            table = policy_table(results[0], args.lever or None)
        else:
            if args.lever:
                raise ConditionError("--lever: only with one sweep (several sweeps are the policies themselves)")
            if args.label and len(args.label) != len(results):
                raise ConditionError(f"--label: give one per sweep ({len(results)}), got {len(args.label)}")
            table = sweeps_table(results, args.label or None)
        r = robustness(table, args.threshold)
    except ConditionError as exc:
        raise ResultError(str(exc)) from None
    out = Path(args.out) if args.out is not None else _folder(args.result[0]) / ROBUSTNESS_DIR
    folder = write_robustness(
        r, out, overwrite=args.overwrite, figures=not args.no_figures, currency=currency_of(results[0])
    )
    if not args.quiet:
        print(robustness_text(r))
        print()
    print(
        f"wrote {folder}/ (robustness.txt, policies.csv, scenarios.csv"
        + (", figures/)" if not args.no_figures else ")")
    )
    return 0
