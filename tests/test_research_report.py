"""Reports: self-contained HTML, Markdown twin, figures (PNG and SVG), tables (CSV and NetCDF) (issue 5)."""

from __future__ import annotations

import base64
import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import xarray as xr
from conftest import tiny
from test_research_experiments import experiment_text
from test_research_stats import run_main

import valuecapture as vc
from valuecapture.analysis.compare import compare
from valuecapture.analysis.decompose import attribution_text, decompose
from valuecapture.analysis.experiments import loads_experiment, sweep, sweep_text
from valuecapture.report.files import write_run
from valuecapture.report.html import kind_of, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.stack: list[str] = []
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "a":
            self.links.append(a.get("href") or "")
        elif tag == "table":
            self.tables += 1
        if tag not in ("img", "meta", "br"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def check_report(folder: Path) -> str:
    """The HTML parses with balanced tags, every embedded figure is a non-empty PNG, every figure and table the
    report refers to exists and is non-empty; returns the HTML."""
    text = (folder / "report.html").read_text(encoding="utf-8")
    p = _Collect()
    p.feed(text)
    p.close()
    assert p.stack == [], p.stack
    assert p.images and p.tables
    for src in p.images:
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    for href in p.links:
        assert (folder / href).stat().st_size > 1000, href
    md = (folder / "report.md").read_text(encoding="utf-8")
    figs = re.findall(r"\]\((figures/[^)]+)\)", md)
    assert figs and len([f for f in figs if f.endswith(".png")]) == len(p.images)
    for f in figs:
        assert (folder / f).stat().st_size > 1000, f
    for t in re.findall(r"tables/([\w.-]+)\.csv", md):
        rows = list(csv.reader(open(folder / "tables" / f"{t}.csv", encoding="utf-8")))
        assert len(rows) >= 2, t
        with xr.open_dataset(folder / "tables" / f"{t}.nc", engine="h5netcdf") as nc:
            assert nc.sizes["row"] == len(rows) - 1
    assert "valuecapture " in text and "Reproduce" in text
    return text


def test_run_report(tmp_path: Path) -> None:
    ds = vc.simulate(tiny(), 40, 3)
    run = write_run(ds, tmp_path / "run", figures=False)
    folder = write_report(ds, run, n_resamples=200)
    assert folder == run / "report"
    html = check_report(folder)
    for needle in (
        "Stobachoff",
        "value at risk",
        "expected shortfall",
        "P(value &lt; 0)",
        "--seed 3 --replications 40",
        "Gini",
    ):
        assert needle in html, needle
    assert {p.name for p in (folder / "figures").iterdir()} >= {
        f"{s}.{e}" for s in ("firm_value", "convergence", "heterogeneity") for e in ("png", "svg")
    }
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing half-written left behind


def test_comparison_decomposition_and_sweep_reports(tmp_path: Path) -> None:
    cmp_ = compare(tiny(), ["single", "harvest"], 20, 2)
    dec = decompose(tiny(), 20, 2)
    swp = sweep(
        loads_experiment(
            experiment_text("sobol", "points = 4", replications=10, responses='["sd_firm_value"]'), "e.toml"
        )
    )
    for name, ds, summary, needle in (
        ("cmp", cmp_, None, "Paired differences"),
        ("dec", dec, attribution_text(dec, n_resamples=100), "Shapley"),
        ("swp", swp, sweep_text(swp, n_resamples=100), "sensitivity"),
    ):
        path = write_run(ds, tmp_path / name, figures=False, summary=summary or "x")
        html = check_report(write_report(ds, path, n_resamples=100))
        assert needle in html, (name, kind_of(ds))


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "no result.nc" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()
