"""``valuecapture calibrate``: a runnable scenario estimated from a firm's customer table (and panel).

Thin: parses the options, calls :func:`valuecapture.data.calibrate.calibrate`, checks the
scenario as ``run`` would, writes it and its sidecar, and prints what was estimated.  Bad data,
a bad base scenario or an output in the way are one line on stderr and exit code 2, with
nothing written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from valuecapture.analysis.calibration import MATCH_REPLICATIONS, fit_checks, match_survival
from valuecapture.data.calibrate import (
    OutputFileError,
    calibrate,
    check_targets,
    rebuild,
    sidecar_path,
    with_churn_factor,
    write_files,
)
from valuecapture.data.read import DataError
from valuecapture.model.validate import check_scenario
from valuecapture.report.calibration import check_report_targets, failure_lines, write_check_report
from valuecapture.run.outputs import OutputError
from valuecapture.scenario.load import ScenarioError
from valuecapture.version import __version__


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``valuecapture calibrate``."""
    parser.add_argument("data", help="customer table: CSV, or Parquet with pyarrow installed (docs/data.md)")
    parser.add_argument(
        "--panel", default=None, metavar="PANEL", help="revenue panel: customer_id, year or period, revenue (long form)"
    )
    parser.add_argument(
        "--base",
        default=None,
        metavar="SCENARIO",
        help="scenario whose business models, policy, economics and dynamics are kept where the data say nothing "
        "(default: every field's documented default; e.g. scenarios/baseline.toml)",
    )
    parser.add_argument(
        "--as-of",
        default=None,
        metavar="DATE",
        help="end of observation, YYYY-MM-DD (default: the latest date in the data); customers without a churn date "
        "are censored there",
    )
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="OURS=THEIRS",
        help="read our column OURS from the file's column THEIRS (repeatable), e.g. --column acquired=StartDate",
    )
    parser.add_argument(
        "--mapping",
        default=None,
        metavar="FILE.toml",
        help='column mapping file: [columns] ours = "theirs" (and [panel])',
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="NEW.toml",
        help="the calibrated scenario; its sidecar NEW.calibration.json beside it",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace NEW.toml and its sidecar if calibrate wrote them before"
    )
    parser.add_argument(
        "--source",
        action="store_true",
        help="start the scenario from the actual customers: [customers] source = DATA (relative to NEW.toml's folder, "
        "which must hold DATA), with its as_of and column mapping",
    )
    parser.add_argument(
        "--match-survival",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="adjust the churn distribution (its b) until the simulated survival of new customers matches the data's "
        "Kaplan-Meier, for the base's trust dynamics (default: on; about 2 s)",
    )
    parser.add_argument(
        "--match-replications",
        type=_positive,
        default=MATCH_REPLICATIONS,
        metavar="N",
        help=f"replications per evaluation of the survival match (default {MATCH_REPLICATIONS})",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="do not simulate the calibrated scenario for the fit check report (NEW.check.html)",
    )
    parser.add_argument(
        "--check-replications",
        type=_positive,
        default=100,
        metavar="N",
        help="replications of the fit check's simulation (default 100)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only where the files went")
    return parser


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= n <= 100_000:
        raise argparse.ArgumentTypeError(f"must be in [1, 100000], got {n}")
    return n


def _table(meta: dict[str, Any]) -> list[str]:
    rows = []
    for path, e in meta["estimates"].items():
        value = e["value"]
        if path == "correlations":
            for p in meta["correlations"]:
                rows.append((f"rho({p['between'][0]}, {p['between'][1]})", f"{p['rho']:.3f}", _se(p["se"])))
            continue
        if isinstance(value, dict):
            shown = value["dist"] + "(" + ", ".join(f"{k}={v:.4g}" for k, v in value.items() if k != "dist") + ")"
        elif isinstance(value, list):
            shown = ", ".join(str(v) if isinstance(v, str) else f"{v:g}" for v in value)
        elif isinstance(value, float):
            shown = f"{value:.4g}"
        else:
            shown = str(value)
        se = e["se"]
        se_text = ", ".join(_se(v) for v in se.values()) if isinstance(se, dict) else _se(se)
        rows.append((path, shown, "" if se_text in ("0", "-") else se_text))
    width = max(len(r[0]) for r in rows)
    out = [f"{'field':{width}s}  estimate  (s.e.)", "-" * (width + 20)]
    out += [f"{a:{width}s}  {b}" + (f"  ({c})" if c else "") for a, b, c in rows]
    return out


def _se(v: Any) -> str:
    if v is None:
        return "n/a"
    if v == 0:
        return "0"
    return f"{v:.3g}"


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``valuecapture calibrate`` with parsed arguments; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        check_targets(args.out, args.overwrite)
        if not args.no_check:
            check_report_targets(args.out, args.overwrite)
        result = calibrate(
            args.data,
            panel=args.panel,
            base=args.base,
            as_of=args.as_of,
            columns=list(args.column),
            mapping=args.mapping,
            out=args.out,
            overwrite=args.overwrite,
            write=False,
            source=args.source,
        )
        match = None
        if args.match_survival:
            check_scenario(result.scenario)
            match = match_survival(result.scenario, result.calibration, replications=args.match_replications)
            result = rebuild(result, with_churn_factor(result.calibration, match.factor, match.describe()))
        check_scenario(result.scenario)
        checks = None
        meta = result.sidecar
        if not args.no_check:
            checks = fit_checks(result.scenario, result.calibration, replications=args.check_replications)
            meta = {**meta, "fit_checks": checks.describe()}
        paths = write_files(args.out, result.toml, meta, args.overwrite)
        report = None
        if checks is not None:
            attrs = {
                "valuecapture_version": __version__,
                "seed": int(result.scenario.get("run.seed")),
                "replications": checks.replications,
                "currency": str(result.scenario.get("economics.currency")),
            }
            report = write_check_report(checks, match, paths[0], result.scenario.name, attrs, args.overwrite)
    except (DataError, OutputFileError, OutputError, ScenarioError) as exc:
        print(f"valuecapture: error: {exc}", file=err)
        return 2
    if not args.quiet:
        data = result.calibration.data
        print(
            f"{data['customers']['rows']} customers ({data['active']} active, {data['churned']} churned) as of "
            f"{data['as_of']}",
            file=out,
        )
        print("\n".join(_table(result.sidecar)), file=out)
        if result.calibration.notes:
            print("\nnotes:", file=out)
            for note in result.calibration.notes:
                print(f"  - {note}", file=out)
        print("", file=out)
    if checks is not None:
        for line in failure_lines(checks):
            print(f"valuecapture: warning: {line}", file=err)
    print(f"wrote {paths[0]} and {sidecar_path(paths[0]).name}", file=out)
    if report is not None:
        failed = len(checks.failed) if checks is not None else 0
        print(
            f"fit check: {report[0]} ({'all checks pass' if not failed else f'{failed} check(s) fail'}; "
            f"figures in {report[1].name}/)",
            file=out,
        )
    if not args.quiet:
        print(f"run it: valuecapture run {paths[0]}", file=out)
    return 0
