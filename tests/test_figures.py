"""Every kind of figure the package draws, from small results: each is not blank, every text lies inside
the figure, no title, axis label, tick label, legend or annotation covers another, and no legend sits on
the data (issue 20).  A layout regression (a clipped title, a legend over the curves, crowded log ticks)
fails here before anyone has to open a PNG."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from conftest import ROOT, SCENARIOS, tiny  # noqa: E402
from matplotlib.collections import Collection, LineCollection, PathCollection  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
from test_decisions import fake_sweep  # noqa: E402
from test_research_experiments import experiment_text  # noqa: E402

import valuecapture as vc  # noqa: E402
from valuecapture.analysis.calibration import fit_checks  # noqa: E402
from valuecapture.analysis.compare import compare  # noqa: E402
from valuecapture.analysis.decompose import decompose  # noqa: E402
from valuecapture.analysis.discovery import discover  # noqa: E402
from valuecapture.analysis.experiments import loads_experiment, sweep  # noqa: E402
from valuecapture.analysis.levers import parse_levers  # noqa: E402
from valuecapture.analysis.optimize import Settings, optimize, parse_objective  # noqa: E402
from valuecapture.analysis.robustness import policy_table, robustness  # noqa: E402
from valuecapture.data.calibrate import calibrate  # noqa: E402
from valuecapture.report import calibration as cal  # noqa: E402
from valuecapture.report import decisions as dec  # noqa: E402
from valuecapture.report import optimize as opt  # noqa: E402
from valuecapture.report import plots as P  # noqa: E402
from valuecapture.report import research_plots as R  # noqa: E402
from valuecapture.report.html import build_report, write_report  # noqa: E402
from valuecapture.report.money import currency_of, money  # noqa: E402

#: Wider figures are shrunk below 80% when a report shows them (about 1150 pixels at 120 dpi).
MAX_WIDTH_IN = 11.6
#: Overlaps smaller than this (pixels, both ways) are antialiasing, not text on text.
SLACK = 1.5
DPI = 60  # small: fast to draw; every check is in pixels of this drawing

# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def drawn_texts() -> Iterator[list[Text]]:
    """Record every Text that draws itself (tick labels only for the ticks drawn)."""
    seen: list[Text] = []
    original = Text.draw

    def draw(self: Text, renderer: Any) -> None:
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            seen.append(self)

    Text.draw = draw  # type: ignore[method-assign,assignment]
    try:
        yield seen
    finally:
        Text.draw = original  # type: ignore[method-assign]


def _extent(t: Text, renderer: Any) -> Bbox:
    box = t.get_window_extent(renderer)
    clip = t.get_clip_box() if t.get_clip_on() else None
    if clip is not None:
        inter = Bbox.intersection(box, clip)
        return inter if inter is not None else Bbox.from_bounds(box.x0, box.y0, 0, 0)
    return box


def _overlap(a: Bbox, b: Bbox) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > SLACK and min(a.y1, b.y1) - max(a.y0, b.y0) > SLACK


def _corners(t: Text, box: Bbox, renderer: Any) -> np.ndarray:
    """The four corners of a rotated text: its size unrotated, turned about the centre of its extent."""
    angle = t.get_rotation()
    t.set_rotation(0)
    flat = t.get_window_extent(renderer)
    t.set_rotation(angle)
    w, h = flat.width / 2 - SLACK, flat.height / 2 - SLACK
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    local = np.array([[-w, -h], [w, -h], [w, h], [-w, h]])
    return local @ np.array([[c, s], [-s, c]]) + [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]


def _covers(a: Any, ba: Bbox, b: Any, bb: Bbox, renderer: Any) -> bool:
    """Whether two drawn things overlap: their extents, or for rotated texts their rotated rectangles
    (separating axes), since the extent of a slanted label is much larger than the label."""
    if not _overlap(ba, bb):
        return False
    slanted = [isinstance(x, Text) and x.get_rotation() % 90 != 0 for x in (a, b)]
    if not any(slanted):
        return True
    pa = (
        _corners(a, ba, renderer)
        if slanted[0]
        else np.array([[ba.x0, ba.y0], [ba.x1, ba.y0], [ba.x1, ba.y1], [ba.x0, ba.y1]])
    )
    pb = (
        _corners(b, bb, renderer)
        if slanted[1]
        else np.array([[bb.x0, bb.y0], [bb.x1, bb.y0], [bb.x1, bb.y1], [bb.x0, bb.y1]])
    )
    for poly in (pa, pb):
        for i in range(4):
            edge = poly[(i + 1) % 4] - poly[i]
            normal = np.array([-edge[1], edge[0]])
            ra, rb = pa @ normal, pb @ normal
            if ra.max() <= rb.min() or rb.max() <= ra.min():
                return False
    return True


def _role(t: Text, fig: Any) -> tuple[str, int]:
    """What a text is: ('tick', axis id), ('label', ...), ('title', ...), ('legend', ...) or ('data', ...)."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if t is axis.label or t is axis.get_offset_text():
                return "label", id(axis)
            ticks = itertools.chain(axis.get_major_ticks(), axis.get_minor_ticks())
            if any(t is k.label1 or t is k.label2 for k in ticks):
                return "tick", id(axis)
        if t in ax.get_children() and t not in ax.texts:
            return "title", id(ax)
        if ax.get_legend() is not None and t in ax.get_legend().get_texts() + [ax.get_legend().get_title()]:
            return "legend", id(ax.get_legend())
        if t in ax.texts:
            return "data", id(ax)
    for lg in fig.legends:
        if t in lg.get_texts() + [lg.get_title()]:
            return "legend", id(lg)
    return "title", id(fig)  # suptitle and other figure texts


def _points(artist: Any, ax: Any) -> np.ndarray:
    """Display coordinates of the data an artist draws (lines sampled densely), or none."""
    if artist.get_transform() != ax.transData and not isinstance(artist, Collection):
        return np.empty((0, 2))
    if isinstance(artist, Line2D):
        xy = np.column_stack([np.asarray(artist.get_xdata(), float), np.asarray(artist.get_ydata(), float)])
        if len(xy) > 1:
            t = np.linspace(0, 1, 12)[:, None, None]
            xy = (xy[:-1] * (1 - t) + xy[1:] * t).reshape(-1, 2)
        return ax.transData.transform(xy[np.isfinite(xy).all(axis=1)]) if len(xy) else np.empty((0, 2))
    if isinstance(artist, PathCollection) and artist.get_offset_transform() == ax.transData:
        off = np.asarray(artist.get_offsets(), float)
        return ax.transData.transform(off[np.isfinite(off).all(axis=1)]) if len(off) else np.empty((0, 2))
    if isinstance(artist, Collection) and artist.get_transform() == ax.transData:
        segs = [p.interpolated(8).vertices for p in artist.get_paths()]
        if isinstance(artist, LineCollection):
            segs = [np.asarray(s, float) for s in artist.get_segments()]
        xy = np.concatenate(segs) if segs else np.empty((0, 2))
        return ax.transData.transform(xy[np.isfinite(xy).all(axis=1)]) if len(xy) else np.empty((0, 2))
    return np.empty((0, 2))


def _legend_on_data(lg: Legend, ax: Any, renderer: Any) -> list[str]:
    box = lg.get_window_extent(renderer).shrunk(0.96, 0.9)
    if not _overlap(box, ax.get_window_extent(renderer)):
        return []  # beside the axes
    hits = []
    for artist in [*ax.lines, *ax.collections]:
        pts = _points(artist, ax)
        inside = (
            (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
            if len(pts)
            else np.zeros(0, bool)
        )
        if inside.any():
            hits.append(f"{type(artist).__name__} {artist.get_label()!r}: {int(inside.sum())} points under the legend")
    for patch in ax.patches:
        if isinstance(patch, Patch) and patch.get_transform() == ax.transData:
            if _overlap(box, patch.get_window_extent(renderer)):
                hits.append(f"{type(patch).__name__} under the legend")
    return hits


def check_figure(fig: Any, name: str, empty: bool = False) -> None:
    """Draw ``fig`` and assert the layout rules of the module docstring; close it.  ``empty``: a
    figure that only says it has nothing to show (no per-relationship detail) need not be filled."""
    try:
        fig.set_dpi(DPI)
        assert fig.get_figwidth() <= MAX_WIDTH_IN, f"{name}: {fig.get_figwidth():.1f} in wide"
        with drawn_texts() as texts:
            fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float).mean(axis=-1)
        assert empty or (rgb.std() > 8 and (rgb < 200).mean() > 0.01), f"{name}: blank (sd {rgb.std():.1f})"
        assert texts or not empty, f"{name}: says nothing"
        page = fig.bbox.padded(SLACK)
        boxes: list[tuple[tuple[str, int], Any, Bbox]] = []
        for t in texts:
            b = _extent(t, renderer)
            assert page.contains(b.x0, b.y0) and page.contains(b.x1, b.y1), (
                f"{name}: text {t.get_text()!r} at {b.bounds} outside the figure {fig.bbox.bounds}"
            )
            boxes.append((_role(t, fig), t, b))
        legends = [*fig.legends, *[ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]]
        for lg in legends:
            lb = lg.get_window_extent(renderer)
            assert page.contains(lb.x0, lb.y0) and page.contains(lb.x1, lb.y1), f"{name}: legend outside the figure"
            boxes.append((("legend", id(lg)), lg, lb))
        for (ra, a, ba), (rb, b, bb) in itertools.combinations(boxes, 2):
            if ra == rb and ra[0] in ("legend", "data"):
                continue  # a legend's own texts; labels of one panel's data are checked by eye
            if ra[0] == "legend" and rb[0] == "legend" and (isinstance(a, Text) or isinstance(b, Text)):
                continue  # a legend's text inside its own frame (roles of texts and frames differ)
            if {ra[0], rb[0]} == {"data"}:
                continue
            if _covers(a, ba, b, bb, renderer):
                what = [x.get_text() if isinstance(x, Text) else "legend" for x in (a, b)]
                raise AssertionError(f"{name}: {ra[0]} {what[0]!r} overlaps {rb[0]} {what[1]!r}")
        for ax in fig.axes:
            lg = ax.get_legend()
            if lg is not None:
                hits = _legend_on_data(lg, ax, renderer)
                assert not hits, f"{name}: legend on the data of {ax.get_title()!r}: {hits}"
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------
# Small results of every kind
# ---------------------------------------------------------------------------


def small_alignment(**values: Any) -> vc.Scenario:
    """The alignment scenario (three business models, portfolio tracking) shrunk like conftest.tiny."""
    sc = vc.load_scenario(SCENARIOS / "alignment.toml")
    base = {"customers.count": 80, "horizon.periods": 8, "outputs.relationship_detail": 3}
    return sc.with_values({**base, **values})


@pytest.fixture(scope="module")
def run_ds() -> xr.Dataset:
    ds = vc.simulate(small_alignment(), 12, 5)
    return ds.assign_attrs(currency="EUR")


@pytest.fixture(scope="module")
def compare_ds() -> xr.Dataset:
    return compare(small_alignment(), ["single", "tiered", "harvest"], 10, 4)


@pytest.fixture(scope="module")
def decompose_ds() -> xr.Dataset:
    return decompose(tiny(), 10, 2)


@pytest.fixture(scope="module")
def sweeps() -> dict[str, xr.Dataset]:
    def run(design: str, size: str, reps: int) -> xr.Dataset:
        text = experiment_text(design, size, replications=reps).split("[[hypotheses]]")[0]  # screening tests none
        return sweep(loads_experiment(text, "e.toml"))

    return {
        "sobol": run("sobol", "points = 4", 6),
        "morris": run("morris", "trajectories = 4\ntrajectory_pool = 8", 4),
        "oat": run("oat", "", 6),
    }


RUN_FIGURES: dict[str, Callable[[xr.Dataset], Any]] = {
    "firm_value": P.firm_value_figure,
    "fan_chart": P.fan_chart_figure,
    "stobachoff": P.stobachoff_figure,
    "portfolio_matrix": P.portfolio_matrix_figure,
    "alignment": P.alignment_figure,
    "transitions_campbell": lambda ds: P.transition_figure(ds, "campbell"),
    "transitions_turnbull": lambda ds: P.transition_figure(ds, "turnbull"),
    "convergence": R.convergence_figure,
    "heterogeneity": R.heterogeneity_figure,
}


@pytest.mark.parametrize("name", list(RUN_FIGURES))
def test_run_figures(run_ds: xr.Dataset, name: str) -> None:
    check_figure(RUN_FIGURES[name](run_ds), name)


def test_run_figures_without_detail_of_a_result_without_currency() -> None:
    ds = vc.simulate(tiny(**{"outputs.relationship_detail": 0}), 6, 1)
    ds.attrs.pop("currency", None)  # as results written before economics.currency
    for name in ("firm_value", "stobachoff", "portfolio_matrix", "convergence", "heterogeneity"):
        check_figure(
            RUN_FIGURES[name](ds),
            name + " (no detail)",
            empty=name in ("stobachoff", "portfolio_matrix", "heterogeneity"),
        )


COMPARISON_FIGURES: dict[str, Callable[[xr.Dataset], Any]] = {
    "firm_value_by_policy": P.policy_distributions_figure,
    "paired_differences": P.paired_differences_figure,
    "business_model_mix": P.model_shares_figure,
    "convergence_by_policy": R.convergence_figure,
    "stobachoff_by_policy": R.policy_heterogeneity_figure,
}


@pytest.mark.parametrize("name", list(COMPARISON_FIGURES))
def test_comparison_figures(compare_ds: xr.Dataset, name: str) -> None:
    check_figure(COMPARISON_FIGURES[name](compare_ds), name)


@pytest.mark.parametrize("name", ["shapley", "configurations"])
def test_decomposition_figures(decompose_ds: xr.Dataset, name: str) -> None:
    check_figure((R.shapley_figure if name == "shapley" else R.configurations_figure)(decompose_ds), name)


def test_sweep_figures(sweeps: dict[str, xr.Dataset]) -> None:
    for kind, ds in sweeps.items():
        for stem, make in R.sweep_figures(ds):
            check_figure(make(), f"{kind}/{stem}")


def test_decision_figures() -> None:
    ds = fake_sweep()
    d = discover(ds, "tiered loses to single")
    check_figure(dec.tradeoff_figure(d), "tradeoff")
    check_figure(dec.box_figure(d), "box")
    check_figure(dec.regret_figure(robustness(policy_table(ds), 0.9), "EUR"), "regret")
    check_figure(dec.regret_figure(robustness(policy_table(ds))), "regret (best share)")


def test_optimisation_figures(tmp_path: Path) -> None:
    sc = tiny(**{"outputs.relationship_detail": 0})
    levers = parse_levers(["choices.fixed_cost=0:300000"], sc)
    for objectives in ((parse_objective("mean"),), (parse_objective("mean"), parse_objective("es5"))):
        s = Settings(levers, objectives, seed=3, replications=4, trials=4, round_size=4, top=1,
                     validate_replications=6)  # fmt: skip
        res = optimize(sc, s, store=tmp_path / f"store{len(objectives)}")
        check_figure(opt.objective_figure(res), "objective")
        if len(objectives) == 2:
            check_figure(opt.pareto_figure(res), "pareto")


def test_calibration_figures() -> None:
    data = ROOT / "examples" / "data"
    result = calibrate(data / "customers.csv", panel=data / "revenue.csv", write=False, bootstrap=20)
    checks = fit_checks(result.scenario.with_values({"customers.count": 150}), result.calibration, replications=4)
    check_figure(cal.qq_figure(checks, "EUR"), "qq")
    check_figure(cal.survival_figure(checks, None), "survival")
    check_figure(cal.concentration_figure(checks), "lorenz")
    check_figure(cal.segment_figure(checks), "segments")


# ---------------------------------------------------------------------------
# The checks catch what they are for
# ---------------------------------------------------------------------------


def test_the_checks_catch_a_clipped_title_overlapping_labels_a_legend_on_the_data_and_a_blank_figure() -> None:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title far too long for a figure three inches wide, as transition titles were")
    with pytest.raises(AssertionError, match="outside the figure"):
        check_figure(fig, "clipped")
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title")
    ax.text(0.5, 1.02, "a note over the title", transform=ax.transAxes, ha="center", va="bottom")
    with pytest.raises(AssertionError, match="overlaps"):
        check_figure(fig, "overlap")
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    x = np.linspace(0, 1, 50)
    ax.plot(x, np.full_like(x, 0.5), label="flat")
    ax.plot(x, 1 - x, label="falling")
    ax.legend(loc="center")
    with pytest.raises(AssertionError, match="legend on the data"):
        check_figure(fig, "legend")
    fig = plt.figure(figsize=(3, 2))
    with pytest.raises(AssertionError, match="blank"):
        check_figure(fig, "blank")


def test_log_axes_are_labelled_with_plain_numbers(compare_ds: xr.Dataset) -> None:
    """Less than a decade of replications: matplotlib alone labels the minor ticks 2x10^0, 3x10^0, ..."""
    fig = R.convergence_figure(compare_ds)
    fig.set_dpi(DPI)
    with drawn_texts() as texts:
        fig.canvas.draw()
    ticks = [t.get_text() for t in texts if _role(t, fig)[0] == "tick" and _role(t, fig)[1] == id(fig.axes[1].xaxis)]
    plt.close(fig)
    assert ticks and all(re.fullmatch(r"[0-9,]+", t) for t in ticks), ticks


def test_money_on_the_axes_and_in_labels_carries_the_currency(run_ds: xr.Dataset) -> None:
    fig = P.firm_value_figure(run_ds)
    labels = [ax.get_xlabel() for ax in fig.axes]
    plt.close(fig)
    assert all(label.endswith(" EUR)") for label in labels), labels
    fig = P.firm_value_figure(run_ds.assign_attrs(currency="not a code"))
    labels = [ax.get_xlabel() for ax in fig.axes]
    plt.close(fig)
    assert not any("EUR" in label or "not a code" in label for label in labels), labels


def test_one_money_format_with_the_currency_code() -> None:
    assert [money(v, "EUR") for v in (237_412_345.0, -12_346.0, 1_234_567_890.0, 999_960.0, 950.0, 0.0)] == [
        "237.4m EUR", "-12.35k EUR", "1.235bn EUR", "1.000m EUR", "950.00 EUR", "0.00 EUR"
    ]  # fmt: skip
    assert money(2.5e6) == "2.500m" and money(float("nan"), "EUR") == "n/a"
    assert currency_of({"currency": "USD"}) == "USD"
    for bad in ({}, {"currency": "usd"}, {"currency": "EURO"}, {"currency": 3}):
        assert currency_of(bad) == ""


def test_report_tables_have_header_scopes_and_money_in_one_format(run_ds: xr.Dataset, tmp_path: Path) -> None:
    folder = write_report(run_ds, None, tmp_path / "report", n_resamples=50)
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "<th>" not in text and '<th scope="col">' in text and '<th scope="row">' in text
    rep = build_report(run_ds, None, n_resamples=50)
    shown = 0
    for t in rep.tables:
        assert t.currency == "EUR"
        for cells, row, fmt in zip(t.shown_cells(), t.shown(), t.row_fmt, strict=False):
            for text_, v, col in zip(cells, row, t.columns, strict=True):
                kind = fmt if fmt is not None and col.fmt in ("money", "num") else col.fmt
                if kind == "money" and isinstance(v, float) and np.isfinite(v):
                    assert re.fullmatch(r"-?[0-9,]+\.[0-9]+(k|m|bn)? EUR", text_), (t.name, text_)
                    shown += 1
    assert shown > 20
    het = next(t for t in rep.tables if t.name == "heterogeneity")
    i = [r[0] for r in het.rows].index("Value created")
    assert het.shown_cells()[i][2].endswith(" EUR") and het.rows[i][-1] == "EUR"
