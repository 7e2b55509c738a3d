"""``valuecapture export`` (tidy tables of any result) and ``valuecapture export-customers``
(a simulated firm's customer table and revenue panel).

``export``: opens the result with the project's checks, builds one long table per set of
dimensions (:func:`valuecapture.report.tidy.tidy_tables`) and writes them as CSV or Parquet
with their provenance (:func:`~valuecapture.report.tidy.write_tidy`).

``export-customers``: opens the result with the project's checks (:func:`valuecapture.run.load.open_run`),
builds the tables (:func:`valuecapture.report.customers.customer_tables`) and writes them
(:func:`~valuecapture.report.customers.write_export`).  A result without the revenue panel,
a bad option or a file in the way is one line on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from valuecapture.report.customers import (
    DEFAULT_START,
    ExportError,
    check_targets,
    customer_tables,
    write_export,
)
from valuecapture.report.tidy import FORMATS, PROVENANCE_FILE, tidy_tables, write_tidy
from valuecapture.report.tidy import ExportError as TidyError
from valuecapture.run.load import ResultError, open_run
from valuecapture.run.outputs import OutputError, sha256_file
from valuecapture.scenario.load import ScenarioError


def add_tidy_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture export``."""
    parser.add_argument(
        "result", help="result folder (or its result.nc) written by run, compare, decompose, sweep or optimize"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="FOLDER",
        help=f"folder for the tables, {PROVENANCE_FILE} and columns.csv (other files in it are left alone)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="csv",
        help="csv (default) or parquet (needs pyarrow: pip install 'valuecapture[parquet]')",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of a previous export in FOLDER (never a file valuecapture export did not write)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    return parser


def run_tidy(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``valuecapture export`` with parsed arguments; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        ds = open_run(args.result)
        tables = tidy_tables(ds)
        paths = write_tidy(
            ds, args.out, args.format, overwrite=args.overwrite, source=_source(args.result), tables=tables
        )
    except (TidyError, OutputError, ResultError) as exc:
        print(f"valuecapture: error: {exc}", file=err)
        return 2
    if not args.quiet:
        if ds.attrs.get("partial"):
            print(
                f"note: an unfinished run: {ds.attrs.get('replications_done')} of {ds.attrs['replications']} "
                "replications",
                file=out,
            )
        width = max(len(p.name) for p in paths)
        for p, t in zip(paths, tables, strict=True):
            what = f"{len(t.frame)} rows x {len(t.frame.columns)} columns"
            names = t.variables or [c for c, m in t.columns.items() if m["role"] == "coordinate"]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            print(f"  {p.name:{width}s}  {what:26s}  {shown}", file=out)
        print(f"wrote {len(paths)} tables to {Path(args.out)}/ with {PROVENANCE_FILE} and columns.csv", file=out)
    return 0


def _source(result: str | Path) -> dict[str, str | None]:
    """Where an export came from: the result's path and the SHA-256 of its result.nc."""
    p = Path(result)
    f = p / "result.nc" if p.is_dir() else p
    return {"result": str(result), "result_sha256": sha256_file(f) if f.is_file() else None}


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture export-customers``."""
    parser.add_argument("result", help="result folder (or its result.nc) of a run with outputs.revenue_panel = true")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FOLDER",
        help="folder for customers.csv, revenue.csv and export.json (other files in it are left alone)",
    )
    parser.add_argument(
        "--replication",
        type=int,
        default=0,
        metavar="K",
        help="which detail replication to export (default 0; below outputs.relationship_detail)",
    )
    parser.add_argument(
        "--start",
        default=DEFAULT_START,
        metavar="DATE",
        help=f"first day of the horizon, a 1 January (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--drawn-tenure",
        action="store_true",
        help="date the initial customers back by their drawn age instead of acquiring them at the start "
        "(their history is then left-truncated; docs/data.md)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the files of a previous export")
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    return parser


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``valuecapture export-customers`` with parsed arguments; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        check_targets(args.out, args.overwrite)
        ds = open_run(args.result)
        export = customer_tables(ds, args.replication, args.start, args.drawn_tenure, where=str(args.result))
        customers, panel = write_export(export, args.out, args.overwrite, _source(args.result))
    except (ExportError, OutputError, ResultError, ScenarioError) as exc:
        print(f"valuecapture: error: {exc}", file=err)
        return 2
    if not args.quiet:
        m = export.meta()
        print(
            f"{m['customers']} customers ({m['active']} active, {m['churned']} churned) of detail replication "
            f"{export.replication}, observed {export.start} to {export.as_of} ({export.years} years)",
            file=out,
        )
        print(f"wrote {customers} and {panel} ({m['panel_rows']} rows)", file=out)
        print(f"calibrate them: valuecapture calibrate {customers} --panel {panel} --as-of {export.as_of}", file=out)
    return 0
