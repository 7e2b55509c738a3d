"""Argument types and option groups shared by the sub-commands (and the classroom game)."""

from __future__ import annotations

import argparse

from valuecapture.run.simulate import EXECUTORS, MAX_REPLICATIONS, MAX_SEED

OVERWRITE_HELP = (
    "replace a previous result of the same name in OUT (never a folder holding anything valuecapture did not write)"
)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return v


def replications(text: str) -> int:
    """--replications: the scenario schema's limits (``run.replications``)."""
    v = positive_int(text)
    if v > MAX_REPLICATIONS:
        raise argparse.ArgumentTypeError(f"must be an integer in [1, {MAX_REPLICATIONS}], got {text!r}")
    return v


def seed(text: str) -> int:
    """--seed: the scenario schema's limits (``run.seed``)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}], got {text!r}") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, {MAX_SEED}], got {text!r}")
    return v


def fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number such as 0.01, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number such as 0.01, got {text!r}")
    return v


def chunk(text: str) -> int:
    v = positive_int(text)
    if v < 2:
        raise argparse.ArgumentTypeError(f"must be an integer of at least 2, got {text!r}")
    return v


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override a scenario field (repeatable), e.g. --set customers.count=5000",
    )


def run_options(
    p: argparse.ArgumentParser, where: str, each: str = "", sizes: bool = True, out_help: str | None = None
) -> None:
    """The options of every command that simulates: size, seed, executors, store, output.

    ``out_help``: the help of ``--out`` when its default is not ``results`` (then None)."""
    if sizes:
        p.add_argument(
            "--replications",
            "-n",
            type=replications,
            default=None,
            help=f"replications{each} (default: the file's run.replications)",
        )
        p.add_argument(
            "--seed",
            type=seed,
            default=None,
            help="root seed (default: the file's run.seed); the same for every variant: common random numbers",
        )
    p.add_argument(
        "--workers",
        "-j",
        type=positive_int,
        default=None,
        help="worker processes (default: all cores; small runs use one). Never changes results.",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="replications per batch (default: automatic). Never changes results.",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="serial, a local process pool, threads of this process (one copy of the package in memory), or Dask (a "
        "LocalCluster, or the cluster at --scheduler); default: process pool when workers > 1. Never changes results.",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="send batches to this existing Dask scheduler (implies --executor dask; see docs/scaling.md)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its saved batches (same inputs, seed and replications); the result is "
        "bit-identical to an uninterrupted run",
    )
    p.add_argument("--fresh", action="store_true", help="discard an interrupted run of this name and start over")
    if out_help is None:
        p.add_argument("--out", default="results", help=f"output folder; the result goes to {where} (default: results)")
    else:
        p.add_argument("--out", default=None, help=out_help)
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no tables")
