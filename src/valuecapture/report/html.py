"""Reports: one self-contained HTML file and its Markdown twin per result.

:func:`write_report` recognises what a result is -- a run, a policy comparison
(``policy`` dimension), a decomposition (``configuration`` dimension) or an
experiment sweep (``design_point`` dimension) -- and writes into
``<result>/report/`` (or another folder):

* ``report.html``: inputs, summary tables, figures embedded as base64 PNG, and
  the exact commands that reproduce the result and the report; it needs
  nothing else to be read or mailed;
* ``report.md``: the same content, with the figures linked from ``figures/``;
* ``figures/*.png`` and ``figures/*.svg``;
* ``tables/*.csv`` (for spreadsheets) and ``tables/*.nc`` (NetCDF) of every
  summary table, with full precision.

The folder is written to a hidden temporary folder and renamed into place when
complete, so a failure never leaves a half-written report.  Bootstrap
intervals use a generator derived from the result's seed, so a report is
reproducible.
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import json
import math
import re
import shlex
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.compare import paired_differences
from valuecapture.analysis.decompose import METRICS, SOURCES, attribution
from valuecapture.analysis.experiments import (
    RESPONSES,
    SCREENING_DESIGNS,
    WARNING_RULE,
    factor_names,
    hypothesis_tests,
    index_warning,
    morris,
    regress,
    responses,
    sensitivity,
    tornado,
)
from valuecapture.analysis.experiments.spec import show_value
from valuecapture.analysis.heterogeneity import RELATIONSHIP_STATS, relationship_stats, relationship_stats_dataset
from valuecapture.analysis.stats import PERCENTILES, describe
from valuecapture.report.money import currency_of, money, units_text
from valuecapture.report.plots import (
    fan_chart_figure,
    firm_value_figure,
    model_shares_figure,
    paired_differences_figure,
    policy_distributions_figure,
)
from valuecapture.report.research_plots import (
    configurations_figure,
    convergence_figure,
    heterogeneity_figure,
    morris_figure,
    policy_heterogeneity_figure,
    save,
    sensitivity_figure,
    shapley_figure,
    sweep_scatter_figure,
    tornado_figure,
)
from valuecapture.run.outputs import OutputError, WriteFailure, atomic_dir, check_target, claimed, write_file
from valuecapture.run.results import is_money, write_netcdf

REPORT_DIR = "report"


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column: ``fmt`` is money, num, pct (a fraction shown in %), int, sci, p or text."""

    key: str
    label: str
    fmt: str = "num"
    units: str = ""


@dataclass
class Table:
    """A summary table: the first column labels the rows.  Raw values go to CSV/NetCDF.

    Money cells are written by :func:`~valuecapture.report.money.money` in ``currency`` (the
    result's ISO 4217 code, ``""`` when unknown), the same way in every table.  A row added with
    ``fmt`` ("money" or "num") shows its money and number columns in that format: a table of
    quantities in different units formats each row by its own."""

    name: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""
    max_rows_shown: int | None = None
    row_fmt: list[str | None] = field(default_factory=list)
    currency: str = ""

    def add(self, *values: Any, fmt: str | None = None) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"table {self.name}: {len(values)} values for {len(self.columns)} columns")
        if fmt not in (None, "money", "num"):
            raise ValueError(f"table {self.name}: row format {fmt!r}; allowed: money, num")
        self.rows.append(list(values))
        self.row_fmt.append(fmt)

    def cell(self, v: Any, col: Column, fmt: str | None = None) -> str:
        """The text of value ``v`` in column ``col`` (``fmt``: its row's format, see the class)."""
        kind = fmt if fmt is not None and col.fmt in ("money", "num") else col.fmt
        if v is None:
            return ""
        if isinstance(v, (bool, np.bool_)):
            return "true" if v else "false"
        if isinstance(v, str) or kind == "text":
            return str(v)
        v = float(v)
        if not math.isfinite(v):
            return "n/a"
        if kind == "money":
            return money(v, self.currency)
        if kind == "pct":
            return f"{100 * v:.1f}%"
        if kind == "int":
            return f"{int(round(v)):,}"
        if kind == "sci":
            return f"{v:.3g}"
        if kind == "p":
            return f"{v:.3g}" if v >= 1e-4 else "<1e-4"
        if v != 0 and abs(v) < 0.01:
            return f"{v:.3g}"
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"

    def shown(self) -> list[list[Any]]:
        return self.rows if self.max_rows_shown is None else self.rows[: self.max_rows_shown]

    def shown_cells(self) -> list[list[str]]:
        """The text of every cell of the rows shown."""
        fmts = self.row_fmt + [None] * (len(self.rows) - len(self.row_fmt))
        return [
            [self.cell(v, c, f) for v, c in zip(r, self.columns, strict=True)]
            for r, f in zip(self.shown(), fmts, strict=False)
        ]

    def units(self, col: Column) -> str:
        """``col``'s units with the currency's code for the word ``currency`` (``EUR^2``)."""
        return units_text(col.units, self.currency)

    def truncated_note(self) -> str:
        if self.max_rows_shown is not None and len(self.rows) > self.max_rows_shown:
            return f"First {self.max_rows_shown} of {len(self.rows)} rows; all in tables/{self.name}.csv."
        return ""

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([c.label + (f" [{self.units(c)}]" if c.units else "") for c in self.columns])
            for row in self.rows:
                w.writerow(
                    ["" if v is None else (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for v in row]
                )

    def to_dataset(self) -> xr.Dataset:
        labels = [str(r[0]) for r in self.rows]
        dim = "row"
        data: dict[str, Any] = {}
        for j, c in enumerate(self.columns[1:], start=1):
            vals = [r[j] for r in self.rows]
            numeric = all(
                isinstance(v, (int, float, np.integer, np.floating))
                and not isinstance(v, (bool, np.bool_))
                or v is None
                for v in vals
            )
            arr = (
                np.array([np.nan if v is None else float(v) for v in vals])
                if numeric
                else np.array(["" if v is None else str(v) for v in vals], dtype=object)
            )
            key = _safe_name(c.key, data)
            data[key] = xr.Variable(
                (dim,), arr, {"long_name": c.label, "units": self.units(c) or "-", "description": c.label}
            )
        coords = {dim: (dim, np.array(labels, dtype=object), {"description": self.columns[0].label})}
        attrs = {"title": self.title, "note": self.note, **({"currency": self.currency} if self.currency else {})}
        return xr.Dataset(data, coords=coords, attrs=attrs)


def _safe_name(key: str, taken: dict[str, Any]) -> str:
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in key) or "column"
    base, i = name, 2
    while name in taken or name == "row":
        name = f"{base}_{i}"
        i += 1
    return name


# ---------------------------------------------------------------------------
# Report content
# ---------------------------------------------------------------------------


@dataclass
class Figure:
    stem: str
    caption: str
    make: Callable[[], Any]


@dataclass
class Report:
    title: str
    kind: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, t: Table) -> None:
        self.blocks.append(("table", t))

    def figure(self, stem: str, caption: str, make: Callable[[], Any]) -> None:
        self.blocks.append(("figure", Figure(stem, caption, make)))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def details(self, summary: str, text: str) -> None:
        self.blocks.append(("details", (summary, text)))

    def items(self, rows: Sequence[tuple[str, str]]) -> None:
        self.blocks.append(("items", list(rows)))

    @property
    def tables(self) -> list[Table]:
        return [b for k, b in self.blocks if k == "table"]

    @property
    def figures(self) -> list[Figure]:
        return [b for k, b in self.blocks if k == "figure"]


def kind_of(ds: xr.Dataset) -> str:
    """'sweep', 'decomposition', 'comparison' or 'run'."""
    if "design_point" in ds.dims:
        return "sweep"
    if "configuration" in ds.dims:
        return "decomposition"
    if "policy" in ds.dims:
        return "comparison"
    return "run"


def _q(s: Any) -> str:
    return shlex.quote(str(s))


def reproduce_commands(ds: xr.Dataset, result_path: str | Path | None) -> list[str]:
    """The commands that rerun this result and rebuild its report."""
    a = ds.attrs
    k = kind_of(ds)
    sets = "".join(f" --set {_q(o)}" for o in json.loads(a.get("scenario_overrides", "[]")))
    seed, reps = a.get("seed"), a.get("replications")
    src = _q(a.get("scenario_source", "<scenario>"))
    if k == "sweep":
        cmd = f"valuecapture sweep {_q(a.get('experiment_source', '<experiment>'))} --seed {seed} --replications {reps}"
    elif k == "decomposition":
        cmd = f"valuecapture decompose {src} --seed {seed} --replications {reps}{sets}"
    elif k == "comparison":
        pols = ",".join(json.loads(a.get("policies", "[]")))
        cmd = f"valuecapture compare {src} --policies {_q(pols)} --seed {seed} --replications {reps}{sets}"
    elif "precision" in a:
        cmd = (
            f"valuecapture run {src} --seed {seed} --precision {float(a['precision']):g} --chunk "
            f"{a.get('precision_chunk')} --max-replications {a.get('precision_max_replications')}{sets}"
        )
    else:
        cmd = f"valuecapture run {src} --seed {seed} --replications {reps}{sets}"
    out = [cmd]
    if result_path is not None:
        out.append(f"valuecapture reproduce {_q(result_path)}   # the same, from the result file alone")
        out.append(f"valuecapture report {_q(result_path)}")
    return out


def _inputs(rep: Report, ds: xr.Dataset, result_path: str | Path | None) -> None:
    a = ds.attrs
    rep.h("Inputs")
    rows = [
        ("scenario", f"{a.get('scenario_name')} ({a.get('scenario_source')})"),
        ("seed", str(a.get("seed"))),
        ("replications", str(a.get("replications"))),
        ("valuecapture", str(a.get("valuecapture_version"))),
        ("numpy", str(a.get("numpy_version", ""))),
    ]
    overrides = json.loads(a.get("scenario_overrides", "[]"))
    if overrides:
        rows.append(("overrides", ", ".join(overrides)))
    if "precision" in a:
        rows.append(("stopping rule", str(a.get("precision_rule"))))
        rows.append(
            (
                "precision reached",
                (
                    f"{'yes' if int(a.get('precision_reached', 0)) else 'NO'}: CI half-width "
                    f"{float(a.get('precision_achieved', float('nan'))):.3%} of |mean|"
                ),
            )
        )
    if "policies" in a:
        rows.append(("policies", ", ".join(json.loads(a["policies"]))))
    if result_path is not None:
        rows.append(("result", str(result_path)))
    rep.items(rows)
    if a.get("scenario_toml"):
        rep.details("The complete scenario (defaults filled in, overrides applied)", a["scenario_toml"])
    rep.h("Reproduce")
    rep.p(
        "Run these commands (from the folder the result was made in) to get the same result, bit for bit, and this "
        "report:"
    )
    rep.code("\n".join(reproduce_commands(ds, result_path)))


def _describe_table(
    name: str, title: str, ds: xr.Dataset, variables: Sequence[tuple[str, str]], seed: int, n_resamples: int
) -> Table:
    t = Table(
        name,
        title,
        [
            Column("quantity", "quantity", "text"),
            Column("n", "n", "int"),
            Column("mean", "mean", "money"),
            Column("mcse", "MC s.e.", "money"),
            Column("ci_low", "95% CI low (t)", "money"),
            Column("ci_high", "95% CI high (t)", "money"),
            Column("boot_low", "95% CI low (bootstrap)", "money"),
            Column("boot_high", "95% CI high (bootstrap)", "money"),
            Column("sd", "sd", "money"),
            Column("p5", "p5", "money"),
            Column("p50", "p50", "money"),
            Column("p95", "p95", "money"),
        ],
    )
    for var, label in variables:
        if var not in ds:
            continue
        units = ds[var].attrs.get("units", "")
        cash = is_money(ds[var], currency_of(ds))
        d = describe(ds[var].values, var, units, seed=seed, n_resamples=n_resamples)
        t.add(
            label + ("" if cash else f" [{units}]"),
            d.n,
            d.mean.value,
            d.mean.se,
            d.mean.low,
            d.mean.high,
            d.mean_bootstrap.low,
            d.mean_bootstrap.high,
            d.sd.value,
            d.percentiles[5].value,
            d.percentiles[50].value,
            d.percentiles[95].value,
            fmt=None if cash else "num",  # a row in other units: plain numbers
        )
    return t


def _risk_tables(
    ds: xr.Dataset, var: str, seed: int, n_resamples: int, name: str = "risk", label: str = ""
) -> tuple[Table, Table]:
    """Value at risk, expected shortfall and percentiles with CIs; and P(value < 0)."""
    d = describe(ds[var].values, var, seed=seed, n_resamples=n_resamples)
    t = Table(
        name,
        f"Risk of {label or var.replace('_', ' ')}",
        [
            Column("measure", "measure", "text"),
            Column("value", "estimate", "money"),
            Column("low", "95% CI low", "money"),
            Column("high", "95% CI high", "money"),
        ],
        note=f"Bootstrap (BCa) intervals over {d.n} replications; P(value < 0) with a Wilson interval. VaR is a value "
        f"level: with probability {d.alpha:.0%} {var.replace('_', ' ')} falls below it; ES is the mean of the worst "
        f"{d.alpha:.0%}.",
    )
    t.add("mean", d.mean.value, d.mean_bootstrap.low, d.mean_bootstrap.high)
    t.add("standard deviation", d.sd.value, d.sd.low, d.sd.high)
    t.add(f"value at risk ({d.alpha:.0%} quantile)", d.var.value, d.var.low, d.var.high)
    t.add(f"expected shortfall (mean of worst {d.alpha:.0%})", d.es.value, d.es.low, d.es.high)
    for p in PERCENTILES:
        t.add(f"percentile {p}", d.percentiles[p].value, d.percentiles[p].low, d.percentiles[p].high)
    t2 = Table(
        name + "_loss",
        f"Probability that {label or var.replace('_', ' ')} is negative",
        [
            Column("measure", "measure", "text"),
            Column("value", "estimate", "pct"),
            Column("low", "95% CI low", "pct"),
            Column("high", "95% CI high", "pct"),
        ],
    )
    t2.add("P(value < 0)", d.p_negative.value, d.p_negative.low, d.p_negative.high)
    return t, t2


#: Per-replication summaries of relationship value in every result: (variable, label).
HETEROGENEITY_ROWS = (
    ("value_created", "Value created"),
    ("value_destroyed", "Value destroyed"),
    ("stobachoff_peak", "Stobachoff peak (x total)"),
    ("stobachoff_peak_position", "Stobachoff peak position (share of relationships)"),
    ("stobachoff_index", "Stobachoff index (destroyed / created)"),
    ("top20_share", "Top-20% share (x total)"),
)


def _heterogeneity_table(ds: xr.Dataset, seed: int, n_resamples: int) -> Table:
    t = Table(
        "heterogeneity",
        "Heterogeneity of relationship value: Monte Carlo spread across replications",
        [
            Column("quantity", "quantity", "text"),
            Column("n", "replications", "int"),
            Column("mean", "mean", "num"),
            Column("mcse", "MC s.e.", "num"),
            Column("boot_low", "95% CI of mean, low", "num"),
            Column("boot_high", "95% CI of mean, high", "num"),
            Column("p5", "p5", "num"),
            Column("p50", "p50", "num"),
            Column("p95", "p95", "num"),
            Column("units", "units", "text"),
        ],
        note="Rows from per-relationship detail use the first outputs.relationship_detail replications.",
    )
    for var, label in HETEROGENEITY_ROWS:
        if var in ds:
            d = describe(ds[var].values, var, seed=seed, n_resamples=n_resamples)
            t.add(
                label,
                d.n,
                d.mean.value,
                d.mean.se,
                d.mean_bootstrap.low,
                d.mean_bootstrap.high,
                d.percentiles[5].value,
                d.percentiles[50].value,
                d.percentiles[95].value,
                units_text(ds[var].attrs.get("units", ""), currency_of(ds)),
                fmt="money" if is_money(ds[var], currency_of(ds)) else None,
            )
    if "relationship_value" in ds:
        st = relationship_stats_dataset(ds)
        for name in (
            "relationship_value_gini",
            "relationship_value_top20",
            "relationship_value_negative_share",
            "relationship_value_sd",
            "relationship_value_mean",
            "relationship_count",
        ):
            d = describe(st[name].values, name, seed=seed, n_resamples=n_resamples)
            label = {
                "relationship_value_gini": "Gini of relationship value (detail)",
                "relationship_value_top20": "Top-20% share (detail)",
                "relationship_value_negative_share": "Share of relationships destroying value (detail)",
                "relationship_value_sd": "Within-replication sd of relationship value (detail)",
                "relationship_value_mean": "Mean relationship value (detail)",
                "relationship_count": "Relationships per replication (detail)",
            }[name]
            t.add(
                label,
                d.n,
                d.mean.value,
                d.mean.se,
                d.mean_bootstrap.low,
                d.mean_bootstrap.high,
                d.percentiles[5].value,
                d.percentiles[50].value,
                d.percentiles[95].value,
                units_text(RELATIONSHIP_STATS[name][0], currency_of(ds)),
                fmt="money" if RELATIONSHIP_STATS[name][0] == "currency" else None,
            )
    return t


def _run_report(ds: xr.Dataset, result_path: str | Path | None, n_resamples: int) -> Report:
    a = ds.attrs
    seed = int(a.get("seed", 0))
    rep = Report(f"valuecapture run: {a.get('scenario_name')}", "run")
    if a.get("scenario_toml"):
        desc = tomllib.loads(a["scenario_toml"]).get("scenario", {}).get("description", "")
        if desc:
            rep.p(desc)
    _inputs(rep, ds, result_path)
    rep.h("Summary")
    rep.table(
        _describe_table(
            "summary",
            "Firm value and its parts",
            ds,
            [
                ("firm_value", "Firm value"),
                ("value_capture", "Relationship value capture"),
                ("pv_firm_costs", "PV of firm-level costs"),
                ("terminal_value", "Terminal value (net)"),
                ("value_created", "Value created"),
                ("value_destroyed", "Value destroyed"),
            ],
            seed,
            n_resamples,
        )
    )
    risk, loss = _risk_tables(ds, "firm_value", seed, n_resamples, label="firm value")
    rep.table(risk)
    rep.table(loss)
    rep.figure("firm_value", "Distribution of firm value: histogram and ECDF.", lambda: firm_value_figure(ds))
    rep.figure(
        "convergence",
        "Convergence: running mean of firm value with its 95% confidence band, and the CI half-width relative to "
        "|mean|.",
        lambda: convergence_figure(ds),
    )
    rep.figure(
        "economic_profit_fan", "Fan chart of the firm's economic profit (annualised).", lambda: fan_chart_figure(ds)
    )
    rep.h("Heterogeneity of relationship value")
    rep.p(
        "Stobachoff curve: relationships sorted most valuable first, cumulative value as % of total value; its peak "
        "shows the value created before the value-destroying tail (Storbacka 1997). Whale curve: the same cumulative "
        "value against the cumulative share of customer size. Lorenz curve and Gini: inequality of relationship value "
        "(Gini normalised for negative values, Raffinetti et al. 2015). See docs/research.md."
    )
    rep.table(_heterogeneity_table(ds, seed, n_resamples))
    rep.figure(
        "heterogeneity",
        "Stobachoff, whale and Lorenz curves (median and 5-95% band across replications) and the spread of their "
        "summaries.",
        lambda: heterogeneity_figure(ds),
    )
    return rep


def _comparison_report(ds: xr.Dataset, result_path: str | Path | None, n_resamples: int) -> Report:
    a = ds.attrs
    seed = int(a.get("seed", 0))
    rep = Report(f"valuecapture comparison: {a.get('scenario_name')}", "comparison")
    _inputs(rep, ds, result_path)
    rep.h("Firm value by policy")
    labels = [str(p) for p in ds["policy"].values]
    t = Table(
        "policies",
        "Firm value by policy (common random numbers)",
        [
            Column("policy", "policy", "text"),
            Column("mean", "mean", "money"),
            Column("mcse", "MC s.e.", "money"),
            Column("boot_low", "95% CI low", "money"),
            Column("boot_high", "95% CI high", "money"),
            Column("sd", "sd", "money"),
            Column("var", "VaR 5%", "money"),
            Column("es", "ES 5%", "money"),
            Column("p_neg", "P(value < 0)", "pct"),
        ],
    )
    for p in labels:
        d = describe(ds["firm_value"].sel(policy=p).values, seed=seed, n_resamples=n_resamples)
        t.add(
            p,
            d.mean.value,
            d.mean.se,
            d.mean_bootstrap.low,
            d.mean_bootstrap.high,
            d.sd.value,
            d.var.value,
            d.es.value,
            d.p_negative.value,
        )
    rep.table(t)
    pairs = paired_differences(ds)
    if pairs:
        t2 = Table(
            "paired_differences",
            "Paired differences of firm value (A - B), replication by replication",
            [
                Column("pair", "A - B", "text"),
                Column("mean", "mean", "money"),
                Column("mcse", "MC s.e.", "money"),
                Column("low", "95% CI low", "money"),
                Column("high", "95% CI high", "money"),
                Column("p_beats", "P(A > B)", "pct"),
                Column("significant", "CI excludes 0", "text"),
            ],
        )
        for diff in pairs:
            t2.add(
                f"{diff.a} - {diff.b}",
                diff.mean,
                diff.mcse,
                diff.ci_low,
                diff.ci_high,
                diff.p_a_beats_b,
                "yes" if diff.significant else "no",
            )
        rep.table(t2)
    rep.figure("firm_value_by_policy", "Firm-value distributions by policy.", lambda: policy_distributions_figure(ds))
    rep.figure(
        "paired_differences",
        "Paired differences against the best policy, with 95% CIs of the mean.",
        lambda: paired_differences_figure(ds),
    )
    rep.figure("convergence", "Convergence of each policy's mean firm value.", lambda: convergence_figure(ds))
    if "customers_by_model" in ds:
        rep.figure("business_model_mix", "Business-model mix over time.", lambda: model_shares_figure(ds))
    rep.h("Heterogeneity of relationship value by policy")
    t3 = Table(
        "heterogeneity_by_policy",
        "Relationship value by policy (means over replications)",
        [
            Column("policy", "policy", "text"),
            Column("created", "value created", "money"),
            Column("destroyed", "value destroyed", "money"),
            Column("index", "Stobachoff index", "num"),
            Column("top20", "top-20% share", "num"),
            Column("gini", "Gini (detail)", "num"),
        ],
    )
    for p in labels:
        sub = ds.sel(policy=p)
        g = (
            float(np.nanmean(relationship_stats(sub["relationship_value"].values)["relationship_value_gini"]))
            if "relationship_value" in ds
            else float("nan")
        )
        t3.add(
            p,
            float(sub["value_created"].mean()),
            float(sub["value_destroyed"].mean()),
            float(np.nanmean(sub["stobachoff_index"].values)),
            float(np.nanmean(sub["top20_share"].values)),
            g,
        )
    rep.table(t3)
    rep.figure(
        "stobachoff_by_policy", "Median Stobachoff curves of the policies.", lambda: policy_heterogeneity_figure(ds)
    )
    return rep


def _decomposition_report(ds: xr.Dataset, result_path: str | Path | None, n_resamples: int) -> Report:
    a = ds.attrs
    seed = int(a.get("seed", 0))
    rep = Report(f"valuecapture decomposition: {a.get('scenario_name')}", "decomposition")
    _inputs(rep, ds, result_path)
    rep.h("Attribution to the three sources of heterogeneity")
    rep.p(
        "The scenario ran in all eight combinations of heterogeneity.customer, .relationship and .interdependence "
        "with the same seed (common random numbers). For each statistic v, the Shapley value of a source is the "
        "average, over the orders in which the sources could be switched on, of what switching it on adds to v; the "
        "three add up to v(all on) - v(all off). Intervals: paired bootstrap over replications (the same replication "
        "indices in all eight configurations)."
    )
    off = [s for s, on in json.loads(a.get("sources_on_in_scenario", "{}")).items() if not on]
    if off:
        rep.p(f"Note: {', '.join(off)} heterogeneity is off in the scenario itself, so its share is 0 by construction.")
    atts = {m: attribution(ds, m, n_resamples=n_resamples) for m in METRICS}
    for m, att in atts.items():
        fmt = "sci" if att.metric.units == "currency^2" else ("money" if att.metric.units == "currency" else "num")
        t = Table(
            f"attribution_{m}",
            f"{att.metric.title} [{units_text(att.metric.units, currency_of(ds))}]",
            [
                Column("source", "source", "text"),
                Column("value", "Shapley value", fmt, att.metric.units),
                Column("low", "95% CI low", fmt, att.metric.units),
                Column("high", "95% CI high", fmt, att.metric.units),
                Column("share", "% of total", "pct"),
                Column("share_low", "CI low", "pct"),
                Column("share_high", "CI high", "pct"),
            ],
            note=f"explained = total - none = {att.estimate['explained']:.4g} = sum of the Shapley values "
            f"({att.share_sum():.4g}); {att.n} replications.",
        )
        for s in SOURCES:
            t.add(
                s,
                att.estimate[f"shapley_{s}"],
                att.low[f"shapley_{s}"],
                att.high[f"shapley_{s}"],
                att.estimate[f"share_{s}"],
                att.low[f"share_{s}"],
                att.high[f"share_{s}"],
            )
        t.add(
            "none (all three off)",
            att.estimate["baseline"],
            att.low["baseline"],
            att.high["baseline"],
            att.estimate["share_baseline"],
            att.low["share_baseline"],
            att.high["share_baseline"],
        )
        t.add("total (all on)", att.estimate["total"], att.low["total"], att.high["total"], 1.0, None, None)
        rep.table(t)
    rep.figure(
        "shapley",
        "Shapley shares of each source, and what remains with all three off, as % of the total; bars are 95% CIs.",
        lambda: shapley_figure(ds, attributions=atts),
    )
    rep.h("The eight configurations")
    t = Table(
        "configurations",
        "Firm value and relationship value by configuration",
        [
            Column("configuration", "sources on", "text"),
            Column("mean", "mean firm value", "money"),
            Column("mcse", "MC s.e.", "money"),
            Column("sd", "sd of firm value", "money"),
            Column("sd_low", "sd CI low", "money"),
            Column("sd_high", "sd CI high", "money"),
            Column("rel_sd", "mean sd of relationship value", "money"),
            Column("gini", "mean Gini", "num"),
        ],
    )
    for c in ds["configuration"].values:
        sub = ds.sel(configuration=c)
        d = describe(sub["firm_value"].values, seed=seed, n_resamples=n_resamples)
        t.add(
            str(c),
            d.mean.value,
            d.mean.se,
            d.sd.value,
            d.sd.low,
            d.sd.high,
            float(np.nanmean(sub["relationship_value_sd"].values)),
            float(np.nanmean(sub["relationship_value_gini"].values)),
        )
    rep.table(t)
    rep.figure(
        "configurations",
        "Firm value in each configuration: distribution and standard deviation.",
        lambda: configurations_figure(ds),
    )
    return rep


def _sweep_report(ds: xr.Dataset, result_path: str | Path | None, n_resamples: int) -> Report:
    a = ds.attrs
    rep = Report(f"valuecapture experiment: {a.get('experiment_name')}", "sweep")
    if a.get("experiment_description"):
        rep.p(a["experiment_description"])
    _inputs(rep, ds, result_path)
    rep.details("The experiment file", a.get("experiment_toml", ""))
    names = factor_names(ds)
    resp = json.loads(a.get("responses", "[]"))
    rep.h("Design")
    rep.p(
        f"{a.get('design')} design, {a.get('design_points')} design points, {a.get('replications')} replications "
        "each, the same seed at every point (common random numbers). Each design point is a synthetic firm: the base "
        "scenario with the factors set as below."
    )
    tf = Table(
        "factors",
        "Factors",
        [
            Column("factor", "factor", "text"),
            Column("field", "scenario field", "text"),
            Column("design", "values", "text"),
            Column("units", "units", "text"),
        ],
    )
    for f in names:
        tf.add(f, ds[f].attrs.get("field", f), ds[f].attrs.get("design", ""), ds[f].attrs.get("units", ""))
    rep.table(tf)
    rs = responses(ds, resp)
    cols = [Column("design_point", "design point", "int")] + [
        Column(f, f, "text" if ds[f].dtype == object or ds[f].dtype == bool else "num") for f in names
    ]
    cols += [Column(r, r, "money" if RESPONSES[r].units == "currency" else "num", RESPONSES[r].units) for r in resp]
    td = Table("design", "Design points and their responses", cols, max_rows_shown=25)
    for p in range(ds.sizes["design_point"]):
        td.add(
            p,
            *[ds[f].values[p].item() if hasattr(ds[f].values[p], "item") else ds[f].values[p] for f in names],
            *[float(rs[r].values[p]) for r in resp],
        )
    rep.table(td)
    if a.get("design") in SCREENING_DESIGNS:
        _screening_section(rep, ds, resp, n_resamples)
        return rep
    rep.h("Global sensitivity")
    sens = {r: sensitivity(ds, r, n_resamples=n_resamples) for r in resp}
    warn = index_warning(ds, sens)
    if warn:
        rep.p(warn[0].upper() + warn[1:] + f" (The rule: {WARNING_RULE}.)")
    for r, s in sens.items():
        t = Table(
            f"sensitivity_{r}",
            f"Sensitivity of {r} ({RESPONSES[r].title})",
            [
                Column("factor", "factor", "text"),
                Column("first", "first order", "num"),
                Column("first_low", "CI low", "num"),
                Column("first_high", "CI high", "num"),
                Column("total", "total", "num"),
                Column("total_low", "CI low", "num"),
                Column("total_high", "CI high", "num"),
            ],
            note=s.method,
        )
        for i in s.indices:
            t.add(i.factor, i.first, i.first_low, i.first_high, i.total, i.total_low, i.total_high)
        rep.table(t)
    rep.figure(
        "sensitivity",
        "First-order and total sensitivity indices with 95% confidence intervals.",
        lambda: sensitivity_figure(ds, sens),
    )
    rep.h("Effects: regression across design points")
    rep.p(
        "Regression of each response on the factors across design points (linear and quadratic terms and, with enough "
        "points, pairwise interactions, in factors coded to [-1, 1]). 'Effect' is the predicted change of the "
        "response when the factor moves across its range (true/false factors: from false to true) with the others at "
        "the centre of theirs; intervals are 95% t intervals with HC3 heteroskedasticity-robust standard errors. "
        "Sobol designs use their A and B rows (independent points)."
    )
    for r in resp:
        reg = regress(ds, r)
        fmt = "money" if RESPONSES[r].units == "currency" else "num"
        t = Table(
            f"regression_{r}",
            f"Effects on {r} (n = {reg.n}, R^2 = {reg.r2:.3f})",
            [
                Column("term", "term", "text"),
                Column("span", "moving", "text"),
                Column("effect", "effect", fmt, RESPONSES[r].units),
                Column("low", "95% CI low", fmt),
                Column("high", "95% CI high", fmt),
                Column("p", "p", "p"),
                Column("std", "effect / sd of response", "num"),
            ],
            note=reg.model,
        )
        for e in reg.effects:
            t.add(e.term, e.effect_label, e.effect, e.effect_low, e.effect_high, e.p, e.standardized)
        rep.table(t)
        rep.figure(
            f"scatter_{r}",
            f"{RESPONSES[r].title} at every design point against each factor; red: partial slope from the regression.",
            functools.partial(sweep_scatter_figure, ds, r),
        )
    hyps = hypothesis_tests(ds)
    if hyps:
        rep.h("Hypotheses")
        th = Table(
            "hypotheses",
            "Hypothesis tests (the regression above, all factors in the model)",
            [
                Column("hypothesis", "hypothesis", "text"),
                Column("effect", "effect over span", "num"),
                Column("low", "95% CI low", "num"),
                Column("high", "95% CI high", "num"),
                Column("p", "p", "p"),
                Column("verdict", "verdict", "text"),
            ],
        )
        for h in hyps:
            verb = {"increase": "raises", "decrease": "lowers", "any": "changes"}[h.hypothesis.direction]
            th.add(
                f"{h.hypothesis.factor} {verb} {h.hypothesis.response}",
                h.effect.effect,
                h.effect.effect_low,
                h.effect.effect_high,
                h.p,
                "supported" if h.supported else "not supported",
            )
        rep.table(th)
        rep.items([("", h.sentence()) for h in hyps])
    return rep


def _screening_section(rep: Report, ds: xr.Dataset, resp: list[str], n_resamples: int) -> None:
    """Morris screening (mu*, mu, sigma) or one-at-a-time swings (tornado) of each response."""
    if ds.attrs.get("design") == "morris":
        rep.h("Screening: Morris elementary effects")
        warn = index_warning(ds)
        if warn:
            rep.p(warn[0].upper() + warn[1:] + f" (The rule: {WARNING_RULE}.)")
        rep.p(
            "Each trajectory moves one factor at a time across the grid; an elementary effect is the change of the "
            "response per move, scaled to the factor's whole range. mu* (the mean absolute effect) ranks the factors; "
            "mu far below mu* means effects of both signs; sigma large against mu* means interactions or curvature. "
            "Under common random numbers a factor the model ignores has mu* = 0 exactly."
        )
        mres = {r: morris(ds, r, n_resamples=n_resamples) for r in resp}
        for r, m in mres.items():
            fmt = "money" if RESPONSES[r].units == "currency" else "num"
            t = Table(
                f"morris_{r}",
                f"Morris screening of {r} ({RESPONSES[r].title}), most influential first",
                [
                    Column("factor", "factor", "text"),
                    Column("mu_star", "mu*", fmt, RESPONSES[r].units),
                    Column("mu_star_low", f"{m.level:.0%} CI low", fmt),
                    Column("mu_star_high", f"{m.level:.0%} CI high", fmt),
                    Column("mu", "mu", fmt),
                    Column("sigma", "sigma", fmt),
                    Column("effects", "effects", "int"),
                ],
                note=m.method,
            )
            for i in m.indices:
                t.add(i.factor, i.mu_star, i.mu_star_low, i.mu_star_high, i.mu, i.sigma, i.effects)
            rep.table(t)
        rep.figure(
            "morris",
            "Morris screening: mu* with its bootstrap CI and sigma (top), the mu*-sigma plane (bottom).",
            functools.partial(morris_figure, ds, mres),
        )
        return
    rep.h("Screening: one-at-a-time swings")
    rep.p(
        "Each factor is moved from the base scenario's value to the low and to the high end of its range, the other "
        "factors at their base values; every point runs the same replications on the same seed, so the swing "
        "(high - low) has a paired interval, narrower than the two ends' intervals suggest. A tornado shows local "
        "effects around the base and misses interactions (a morris design shows them)."
    )
    tres = {r: tornado(ds, r, n_resamples=n_resamples) for r in resp}
    for r, tr in tres.items():
        fmt = "money" if RESPONSES[r].units == "currency" else "num"
        t = Table(
            f"tornado_{r}",
            f"Swings of {r} ({RESPONSES[r].title}), widest first; base scenario "
            + (money(tr.base, currency_of(ds)) if fmt == "money" else f"{tr.base:,.4g}"),
            [
                Column("factor", "factor", "text"),
                Column("low_value", "low", "text"),
                Column("base_value", "base", "text"),
                Column("high_value", "high", "text"),
                Column("at_low", "at low", fmt, RESPONSES[r].units),
                Column("at_high", "at high", fmt),
                Column("swing", "swing", fmt),
                Column("swing_low", f"{tr.level:.0%} CI low", fmt),
                Column("swing_high", f"{tr.level:.0%} CI high", fmt),
            ],
            note=tr.method,
        )
        for sw in tr.swings:
            t.add(
                sw.factor,
                show_value(sw.low_value),
                show_value(sw.base_value),
                show_value(sw.high_value),
                sw.low,
                sw.high,
                sw.swing,
                *sw.swing_ci,
            )
        rep.table(t)
    rep.figure(
        "tornado",
        "One-at-a-time swings around the base scenario, widest on top; whiskers: each end's 95% CI.",
        functools.partial(tornado_figure, ds, tres),
    )


BUILDERS: dict[str, Callable[[xr.Dataset, Any, int], Report]] = {
    "run": _run_report,
    "comparison": _comparison_report,
    "decomposition": _decomposition_report,
    "sweep": _sweep_report,
}


def build_report(ds: xr.Dataset, result_path: str | Path | None = None, *, n_resamples: int = 2000) -> Report:
    """The content of the report of ``ds`` (nothing is drawn or written yet)."""
    rep = BUILDERS[kind_of(ds)](ds, result_path, n_resamples)
    for t in rep.tables:
        t.currency = currency_of(ds)
    return rep


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;\
color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #4C72B0;padding-bottom:.2em}\
h2{font-size:1.25em;margin-top:1.8em;color:#1f3b66}
table{border-collapse:collapse;margin:.6em 0 .3em;font-size:.86em}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#eef2f8}td:first-child,th:first-child{text-align:left}\
tbody th{background:none;font-weight:normal}\
caption{text-align:left;font-weight:600;padding:.3em 0}
.note{color:#555;font-size:.85em;margin:.2em 0 1em}figure{margin:1.2em 0}img{max-width:100%;border:1px solid #eee}
figcaption{color:#444;font-size:.9em}pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.85em}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dt{font-weight:600}dd{margin:0}.meta{color:#666;font-size:.85em}
"""


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")


def _md_escape(s: str) -> str:
    """Text as literal Markdown: one line, HTML characters as entities, Markdown's special
    characters backslash-escaped (text from a scenario or result is data, never markup)."""
    one = " ".join(str(s).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(one, quote=False))


def _md_paragraph(s: str) -> str:
    """:func:`_md_escape`, and a leading character that would start a list, heading or quote escaped."""
    out = _md_escape(s)
    return "\\" + out if re.match(r"^(\d+\.|[-+=>])", out) else out


def _md_fence(text: str, info: str) -> list[str]:
    """A fenced code block around ``text`` whose fence no run of backticks in it can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text.rstrip("\n"), fence, ""]


def _render(rep: Report, figdir: Path, ds: xr.Dataset) -> tuple[str, str]:
    """Draw the figures into ``figdir`` and return (html, markdown)."""
    a = ds.attrs
    meta = f"valuecapture {a.get('valuecapture_version')} · seed {a.get('seed')} · {a.get('replications')} replications"
    h = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(rep.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(rep.title)}</h1>",
        f'<p class="meta">{html.escape(meta)}</p>',
    ]
    m = [f"# {_md_escape(rep.title)}", "", f"*{_md_escape(meta)}*", ""]
    for kind, b in rep.blocks:
        if kind == "h2":
            h.append(f"<h2>{html.escape(b)}</h2>")
            m += [f"## {_md_escape(b)}", ""]
        elif kind == "p":
            h.append(f"<p>{html.escape(b)}</p>")
            m += [_md_paragraph(b), ""]
        elif kind == "code":
            h.append(f"<pre><code>{html.escape(b)}</code></pre>")
            m += _md_fence(b, "bash")
        elif kind == "details":
            summary, text = b
            h.append(
                f"<details><summary>{html.escape(summary)}</summary><pre><code>{html.escape(text)}</code></pre></details>"
            )
            m += [f"<details><summary>{html.escape(summary)}</summary>", "", *_md_fence(text, "toml"), "</details>", ""]
        elif kind == "items":
            h.append("<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in b) + "</dl>")
            m += [f"- **{_md_escape(k)}**: {_md_escape(v)}" if k else f"- {_md_escape(v)}" for k, v in b] + [""]
        elif kind == "table":
            t: Table = b
            cells = t.shown_cells()
            h.append(
                f"<table><caption>{html.escape(t.title)}</caption><thead><tr>"
                + "".join(f'<th scope="col">{html.escape(c.label)}</th>' for c in t.columns)
                + "</tr></thead><tbody>"
            )
            for texts in cells:
                first, *rest = texts
                h.append(
                    f'<tr><th scope="row">{html.escape(first)}</th>'
                    + "".join(f"<td>{html.escape(x)}</td>" for x in rest)
                    + "</tr>"
                )
            h.append("</tbody></table>")
            notes = " ".join(
                x
                for x in (t.note, t.truncated_note(), f"Table as CSV: tables/{t.name}.csv, NetCDF: tables/{t.name}.nc.")
                if x
            )
            h.append(f'<p class="note">{html.escape(notes)}</p>')
            m += [
                f"**{_md_escape(t.title)}**",
                "",
                "| " + " | ".join(_md_escape(c.label) for c in t.columns) + " |",
                "|" + "|".join("---" if i == 0 else "---:" for i in range(len(t.columns))) + "|",
            ]
            m += ["| " + " | ".join(_md_escape(x) for x in texts) + " |" for texts in cells]
            m += ["", f"*{_md_escape(notes)}*", ""]
        elif kind == "figure":
            f: Figure = b
            fig = f.make()
            png, svg = save(fig, figdir, f.stem)
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            h.append(
                f'<figure><img alt="{html.escape(f.caption)}" src="data:image/png;base64,{data}">'
                f'<figcaption>{html.escape(f.caption)} (<a href="figures/{f.stem}.svg">SVG</a>, '
                f'<a href="figures/{f.stem}.png">PNG</a>)</figcaption></figure>'
            )
            m += [
                f"![{_md_escape(f.caption)}](figures/{f.stem}.png)",
                "",
                f"*{_md_escape(f.caption)}* ([SVG](figures/{f.stem}.svg))",
                "",
            ]
    h += ["</body>", "</html>", ""]
    return "\n".join(h), "\n".join(m)


def write_report(
    ds: xr.Dataset,
    result_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    n_resamples: int = 2000,
    overwrite: bool = False,
) -> Path:
    """Write the report of ``ds`` atomically into ``out_dir`` (default ``<result_path>/report``).

    An existing ``out_dir`` is replaced only with ``overwrite`` and only when it is a
    report valuecapture wrote (:func:`~valuecapture.run.outputs.check_target`); the folder is
    locked while the report is written.  Returns the folder.  See the module docstring
    for what it holds.
    """
    if out_dir is None:
        if result_path is None:
            raise ValueError("give out_dir or result_path")
        rp = Path(result_path)
        out_dir = (rp if rp.is_dir() else rp.parent) / REPORT_DIR
    if not str(out_dir).strip():
        raise OutputError("--out '': must be a folder name, not empty")
    target = Path(out_dir)
    check_target(target, overwrite, "a report")
    rep = build_report(ds, result_path, n_resamples=n_resamples)
    with claimed(target.parent, target.name, "the report"):
        try:
            with atomic_dir(target, "a report", overwrite=overwrite) as tmp:
                html_text, md_text = _render(rep, tmp / "figures", ds)
                (tmp / "tables").mkdir()
                for t in rep.tables:
                    t.write_csv(tmp / "tables" / f"{t.name}.csv")
                    write_netcdf(t.to_dataset(), tmp / "tables" / f"{t.name}.nc")
                write_file(tmp / "report.html", html_text)
                write_file(tmp / "report.md", md_text)
        except WriteFailure:
            raise
        except OSError as exc:
            raise WriteFailure(
                f"cannot write the report to {target}: {exc.strerror or exc}; nothing was written there"
            ) from None
    return target
