"""``valuecapture frontier``: the segment risk-return frontier of a result (Tarasi et al. 2011).

Thin: opens the result (checked, :func:`~valuecapture.run.load.open_run`), estimates the frontier
(:func:`~valuecapture.analysis.frontier.frontier_of`), prints its tables and writes them with the
figure (:func:`~valuecapture.report.frontier.write_frontier`) into ``--out`` (default
``RESULT/frontier/``).  Bad input is one line and exit code 2 (raised as
:class:`~valuecapture.run.load.ResultError` for the caller to print).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from valuecapture.analysis.frontier import frontier_of, frontier_text
from valuecapture.cli.args import positive_int
from valuecapture.report.frontier import FRONTIER_DIR, write_frontier
from valuecapture.run.load import ResultError, open_run


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text!r}") from None
    if not (math.isfinite(v) and 0 <= v <= 1):
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text!r}")
    return v


def _bounds(text: str) -> tuple[str, float, float]:
    name, eq, span = text.rpartition("=")
    low, colon, high = span.partition(":")
    if not (eq and colon and name.strip()):
        raise argparse.ArgumentTypeError(f"must be SEGMENT=LOW:HIGH (shares, e.g. machinery=0.3:0.6), got {text!r}")
    return name.strip(), _share(low), _share(high)


def _at(text: str) -> tuple[str, str]:
    dim, eq, label = text.partition("=")
    if not (eq and dim.strip() and label.strip()):
        raise argparse.ArgumentTypeError(f"must be DIMENSION=LABEL (e.g. policy=tiered), got {text!r}")
    return dim.strip(), label.strip()


def _points(text: str) -> int:
    v = positive_int(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 2, got {text!r}")
    return v


def _resamples(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return v


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture frontier``."""
    parser.add_argument("result", help="a result folder (or its result.nc) with per-relationship detail")
    parser.add_argument(
        "--max-shift",
        type=_share,
        default=0.1,
        metavar="X",
        help="how far each segment's customer share may move from today's (default 0.1: +-10 points)",
    )
    parser.add_argument(
        "--bounds",
        action="append",
        type=_bounds,
        default=[],
        metavar="SEGMENT=LOW:HIGH",
        help="a segment's lowest and highest share instead of today's +- X (repeatable)",
    )
    parser.add_argument(
        "--at",
        action="append",
        type=_at,
        default=[],
        metavar="DIMENSION=LABEL",
        help="which result of a comparison or sweep to use, e.g. --at policy=tiered (repeatable)",
    )
    parser.add_argument(
        "--points", type=_points, default=41, metavar="N", help="points on the efficient frontier (default 41)"
    )
    parser.add_argument(
        "--resamples",
        type=_resamples,
        default=200,
        metavar="N",
        help="bootstrap resamples of the detail replications for the band (default 200; 0: no band)",
    )
    parser.add_argument(
        "--out", default=None, help=f"folder for the tables and figure (default: RESULT/{FRONTIER_DIR}/)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace what this command wrote there before")
    parser.add_argument("--no-figures", action="store_true", help="write the tables only")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only where the files went")
    return parser


def run(args: argparse.Namespace) -> int:
    ds = open_run(args.result)
    if ds.attrs.get("partial"):
        raise ResultError(f"{args.result}: an unfinished run; finish it (--resume) first")
    bounds: dict[str, tuple[float, float]] = {}
    for name, low, high in args.bounds:
        if name in bounds:
            raise ResultError(f"--bounds {name}: given twice")
        bounds[name] = (low, high)
    select = dict(args.at)
    if len(select) < len(args.at):
        raise ResultError("--at: a dimension given twice")
    f = frontier_of(
        ds,
        select=select,
        where=str(args.result),
        max_shift=args.max_shift,
        bounds=bounds or None,
        points=args.points,
        resamples=args.resamples,
    )
    path = Path(args.result)
    out = Path(args.out) if args.out is not None else (path if path.is_dir() else path.parent) / FRONTIER_DIR
    folder = write_frontier(f, out, overwrite=args.overwrite, figures=not args.no_figures)
    if not args.quiet:
        print(frontier_text(f))
        print()
    print(f"wrote {folder}/ (frontier.txt, frontier.csv, frontier.nc" + (", figures/)" if not args.no_figures else ")"))
    return 0
