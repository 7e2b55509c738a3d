"""valuecapture frontier: the segment risk-return frontier (issue 21, part 2; Tarasi et al. 2011).

Closed forms: with two segments the minimum-variance share ``w1* = (s2^2 - s12) / (s1^2 + s2^2 - 2 s12)``
and the sd at a target mean (the mean fixes the mix), checked exactly on replication values built to
have a given sample mean and covariance, by the closed-form path and by SLSQP; with three segments and
bounds that do not bind, Merton's (1972) frontier ``sd^2(m) = (A m^2 - 2 B m + C) / (A C - B^2)``.
Statistics: the bootstrap intervals cover at their level (binomial tolerance), and the estimated
frontier lies within a few bootstrap standard errors of the true one.  End to end: a small run,
the command in process, its files, and bad input (one line, exit code 2, nothing written).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import SCENARIOS, inproc

from valuecapture.analysis.frontier import (
    FrontierError,
    SegmentValues,
    frontier,
    frontier_dataset,
    frontier_text,
    least_variance_mix,
    mix_bounds,
    segment_values,
)

MU = np.array([100e3, 60e3])
SD = np.array([40e3, 15e3])
RHO = 0.3
COV = np.array([[SD[0] ** 2, RHO * SD[0] * SD[1]], [RHO * SD[0] * SD[1], SD[1] ** 2]])


def exact_values(mu: np.ndarray, cov: np.ndarray, r: int = 50, seed: int = 1) -> np.ndarray:
    """``r`` replication values whose sample mean is ``mu`` and sample covariance (ddof 1) is ``cov`` exactly."""
    z = np.random.default_rng(seed).standard_normal((r, len(mu)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample covariance I
    return mu + z @ np.linalg.cholesky(cov).T


def closed_w1(cov: np.ndarray) -> float:
    s1, s2, s12 = cov[0, 0], cov[1, 1], cov[0, 1]
    return float((s2 - s12) / (s1 + s2 - 2 * s12))


def closed_sd(mu: np.ndarray, cov: np.ndarray, m: float) -> float:
    w = (m - mu[1]) / (mu[0] - mu[1])
    return math.sqrt(w**2 * cov[0, 0] + (1 - w) ** 2 * cov[1, 1] + 2 * w * (1 - w) * cov[0, 1])


@pytest.mark.parametrize("method", ["closed", "slsqp"])
def test_two_segments_minimum_variance_and_sd_at_a_target(method: str) -> None:
    lo, hi = np.zeros(2), np.ones(2)
    w = least_variance_mix(MU, COV, lo, hi, method=method)
    assert w is not None
    assert w[0] == pytest.approx(closed_w1(COV), abs=1e-7)  # 0.0787 here: inside [0, 1]
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    for m in (62e3, 75e3, 99e3):
        wm = least_variance_mix(MU, COV, lo, hi, target=m, method=method)
        assert wm is not None
        assert wm @ MU == pytest.approx(m, rel=1e-9)
        assert math.sqrt(wm @ COV @ wm) == pytest.approx(closed_sd(MU, COV, m), rel=1e-7)
    assert least_variance_mix(MU, COV, lo, hi, target=101e3, method=method) is None  # above the best segment
    # bounds that bind: the share stays within them, at the bound nearest the unconstrained optimum
    w = least_variance_mix(MU, COV, np.array([0.2, 0.0]), np.array([1.0, 0.8]), method=method)
    assert w is not None and w[0] == pytest.approx(0.2, abs=1e-7)


def test_frontier_from_replications_with_exact_moments() -> None:
    values = SegmentValues(("a", "b"), exact_values(MU, COV), np.full((50, 2), [30.0, 70.0]))
    assert values.shares == pytest.approx([0.3, 0.7])
    f = frontier(values, max_shift=0.3, resamples=0)
    assert f.mu == pytest.approx(MU, rel=1e-12) and f.cov == pytest.approx(COV, rel=1e-9)
    assert f.lower == pytest.approx([0.0, 0.4]) and f.upper == pytest.approx([0.6, 1.0])
    mv = f.portfolios["minimum_variance"]
    assert mv is not None and mv.weights[0] == pytest.approx(closed_w1(COV), abs=1e-9)
    for j in range(len(f.mean)):  # every point of the frontier: the closed-form sd at its mean
        assert f.sd[j] == pytest.approx(closed_sd(MU, COV, f.mean[j]), rel=1e-9)
        assert f.weights[j] @ MU == pytest.approx(f.mean[j], rel=1e-12)
    assert f.mean[f.efficient].min() == pytest.approx(mv.mean, rel=1e-12)
    assert f.mean.max() == pytest.approx(0.6 * MU[0] + 0.4 * MU[1], rel=1e-12)  # the most valuable feasible mix
    # with two segments today's mix (above the minimum-variance one) is on the efficient frontier
    cur = f.portfolios["current"]
    assert cur is not None and cur.sd == pytest.approx(closed_sd(MU, COV, cur.mean), rel=1e-12)
    for key in ("same_mean", "same_risk"):
        p = f.portfolios[key]
        assert p is not None and p.weights == pytest.approx(cur.weights, abs=1e-7)
    # today's mix below the minimum-variance one: the same-risk mix is the other mix of that sd
    g = frontier(values, current=np.array([0.01, 0.99]), lower=np.zeros(2), upper=np.ones(2), resamples=0)
    p, c = g.portfolios["same_risk"], g.portfolios["current"]
    assert p is not None and c is not None
    assert p.sd == pytest.approx(c.sd, rel=1e-9) and p.mean > c.mean
    assert p.weights[0] == pytest.approx(2 * closed_w1(COV) - 0.01, abs=1e-6)  # the sd is symmetric about w1*


def test_closed_form_and_slsqp_agree_with_the_band() -> None:
    v = np.random.default_rng(7).multivariate_normal(MU, COV, size=80)
    values = SegmentValues(("a", "b"), v, np.full((80, 2), [40.0, 60.0]))
    a = frontier(values, max_shift=0.2, resamples=25, points=11, seed=3, method="closed")
    b = frontier(values, max_shift=0.2, resamples=25, points=11, seed=3, method="slsqp")
    assert a.method.startswith("closed") and b.method.startswith("SLSQP") and b.unsolved == 0
    for name in ("mean", "sd", "weights", "band_mean_low", "band_mean_high", "band_sd_low", "band_sd_high"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-6, atol=1e-6, err_msg=name)
    for key, p in a.portfolios.items():
        q = b.portfolios[key]
        assert p is not None and q is not None and q.weights == pytest.approx(p.weights, abs=1e-6), key


def test_three_segments_match_mertons_frontier_where_bounds_do_not_bind() -> None:
    mu = np.array([100e3, 60e3, 80e3])
    sd = np.array([40e3, 20e3, 25e3])
    corr = np.array([[1, 0.1, -0.2], [0.1, 1, 0.3], [-0.2, 0.3, 1]])
    cov = corr * np.outer(sd, sd)
    inv = np.linalg.inv(cov)
    one = np.ones(3)
    a, b, c = one @ inv @ one, one @ inv @ mu, mu @ inv @ mu
    d = a * c - b * b
    lo, hi = np.zeros(3), np.ones(3)
    mv = least_variance_mix(mu, cov, lo, hi)
    assert (inv @ one / a > 0.1).all()  # the unconstrained minimum-variance mix is inside the bounds
    assert mv is not None and mv == pytest.approx(inv @ one / a, abs=1e-6)
    for m in np.linspace(b / a, b / a + 8e3, 5):
        w_true = inv @ ((c - m * b) / d * one + (m * a - b) / d * mu)
        assert (w_true > 0.01).all()  # the bounds do not bind here (guard for the comparison)
        w = least_variance_mix(mu, cov, lo, hi, target=m)
        assert w is not None and w == pytest.approx(w_true, abs=1e-6)
        assert math.sqrt(w @ cov @ w) == pytest.approx(math.sqrt((a * m * m - 2 * b * m + c) / d), rel=1e-8)


def test_frontier_structure_with_three_segments() -> None:
    mu = np.array([100e3, 60e3, 80e3])
    cov = np.array([[16, 2.4, -2], [2.4, 1.44, 0.9], [-2, 0.9, 6.25]]) * 1e8
    values = SegmentValues(("a", "b", "c"), exact_values(mu, cov, r=40), np.full((40, 3), [50.0, 30.0, 20.0]))
    f = frontier(values, max_shift=0.15, resamples=12, points=9, seed=2)
    assert f.unsolved == 0
    np.testing.assert_allclose(f.weights.sum(axis=1), 1.0, atol=1e-9)
    assert (f.weights >= f.lower - 1e-9).all() and (f.weights <= f.upper + 1e-9).all()
    eff = f.efficient
    assert (np.diff(f.sd[eff]) >= -1e-9 * f.sd[eff].max()).all()  # risk rises along the efficient frontier
    assert (np.diff(f.mean[eff]) > 0).all()
    cur, sm, sr, mv = (f.portfolios[k] for k in ("current", "same_mean", "same_risk", "minimum_variance"))
    assert cur is not None and sm is not None and sr is not None and mv is not None
    assert sm.mean == pytest.approx(cur.mean, rel=1e-9) and sm.sd <= cur.sd * (1 + 1e-9)
    assert sr.sd <= cur.sd * (1 + 1e-9) and sr.mean >= cur.mean
    assert mv.sd <= min(f.sd[np.isfinite(f.sd)]) * (1 + 1e-9)
    assert f.gain["mean"][0] == pytest.approx(sr.mean - cur.mean) and f.gain["sd"][0] == pytest.approx(cur.sd - sm.sd)
    # the band: each position's interval holds the resamples' central 95%, and the estimate is inside it
    for j, col in enumerate(np.flatnonzero(eff)):
        assert f.band_sd_low[col] <= f.band_sd_high[col]
        assert f.band_mean_low[col] == pytest.approx(np.quantile(f.resampled_mean[:, j], 0.025))
    ds = frontier_dataset(f)
    assert ds["frontier_sd"].attrs["units"] == "currency" and "per customer" in ds["frontier_sd"].attrs["long_name"]
    assert all("long_name" in ds[v].attrs for v in ds.data_vars)
    text = frontier_text(f)
    assert "same risk, most value" in text and "at today's risk the frontier adds" in text


def test_bootstrap_intervals_cover_at_their_level() -> None:
    """Over 200 independent samples of 60 replications (seed 1000 + s), today's mix's 95% percentile
    interval of the mean covers the true mean; tolerance 3 binomial s.e. (sqrt(.95 .05 / 200) = 1.5%).
    (The sd intervals cover less, as percentile intervals of a variance do, Schenker 1985: measured
    0.88 to 0.92 in docs/model.md; the sd is checked against its bootstrap s.e. in the next test.)"""
    cur, lo, hi = np.array([0.3, 0.7]), np.array([0.1, 0.5]), np.array([0.5, 0.9])
    true_mean = cur @ MU
    n, hits = 200, 0
    for s in range(n):
        v = np.random.default_rng(1000 + s).multivariate_normal(MU, COV, size=60)
        f = frontier(SegmentValues(("a", "b"), v, np.ones((60, 2))), current=cur, lower=lo, upper=hi, seed=s)
        p = f.portfolios["current"]
        assert p is not None
        hits += p.mean_ci[0] <= true_mean <= p.mean_ci[1]
    assert hits / n >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / n)


def test_min_variance_sd_within_its_bootstrap_error() -> None:
    """The estimated minimum-variance sd (300 replications, seed 11) lies within 4 bootstrap s.e. of the
    true one; the s.e. is the band's 95% width / (2 x 1.96) at position 0."""
    v = np.random.default_rng(11).multivariate_normal(MU, COV, size=300)
    f = frontier(SegmentValues(("a", "b"), v, np.ones((300, 2))), current=np.array([0.3, 0.7]), max_shift=0.25)
    w = min(max(closed_w1(COV), f.lower[0]), f.upper[0])
    true_sd = math.sqrt(np.array([w, 1 - w]) @ COV @ np.array([w, 1 - w]))
    col = int(np.flatnonzero(f.efficient)[0])
    se = (f.band_sd_high[col] - f.band_sd_low[col]) / (2 * 1.96)
    assert abs(f.sd[col] - true_sd) < 4 * se


def test_bounds() -> None:
    names = ("a", "b", "c")
    lo, hi = mix_bounds(np.array([0.05, 0.55, 0.4]), names, 0.1)
    assert lo == pytest.approx([0.0, 0.45, 0.3]) and hi == pytest.approx([0.15, 0.65, 0.5])
    lo, hi = mix_bounds(np.array([0.05, 0.55, 0.4]), names, 0.1, {"c": (0.2, 0.9)})
    assert lo[2] == 0.2 and hi[2] == 0.9
    for bounds, match in (
        ({"d": (0.1, 0.2)}, "no segment 'd'"),
        ({"a": (0.5, 0.2)}, "low <= high"),
        ({"a": (0.9, 1.0)}, "admit no mix"),
    ):
        with pytest.raises(FrontierError, match=match):
            mix_bounds(np.array([0.05, 0.55, 0.4]), names, 0.1, bounds)


def detail_dataset(values: np.ndarray, segments: np.ndarray, names: tuple[str, ...]) -> xr.Dataset:
    return xr.Dataset(
        {
            "relationship_value": (("detail_replication", "customer"), values),
            "segment": (("detail_replication", "customer"), segments),
        },
        coords={"segment_name": ("segment_index", np.array(names, dtype=object))},
        attrs={"currency": "EUR", "seed": 4},
    )


def test_segment_values_from_the_detail() -> None:
    nan = np.nan
    values = np.array([[10.0, 20.0, 30.0, nan], [1.0, 2.0, 3.0, 4.0], [5.0, nan, 7.0, 9.0]])
    segments = np.array([[0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]])  # never-filled slots have a segment too
    sv = segment_values(detail_dataset(values, segments, ("x", "y", "z")))
    assert sv.names == ("x", "y") and sv.dropped == ("z",) and sv.currency == "EUR"
    np.testing.assert_allclose(sv.customers, [[1, 2], [2, 2], [1, 2]])
    np.testing.assert_allclose(sv.value, np.array([[10, 25], [1.5, 3.5], [7, 7]]))
    assert sv.shares == pytest.approx([4 / 10, 6 / 10])
    with pytest.raises(FrontierError, match="segment 'x' has no customer in detail replication 0"):
        segment_values(detail_dataset(values, np.array([[1, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]]), ("x", "y")))
    with pytest.raises(FrontierError, match="customers in one segment"):
        segment_values(detail_dataset(values, np.zeros((3, 4), dtype=int), ("x", "y")))
    with pytest.raises(FrontierError, match="no per-relationship detail"):
        segment_values(xr.Dataset({"firm_value": ("replication", [1.0])}))
    two = xr.concat([detail_dataset(values, segments, ("x", "y", "z"))] * 2, dim="policy")
    two = two.assign_coords(policy=["single", "tiered"])
    with pytest.raises(FrontierError, match="choose one with --at policy=LABEL"):
        segment_values(two)
    with pytest.raises(FrontierError, match="not a label of policy"):
        segment_values(two, {"policy": "harvest"})
    with pytest.raises(FrontierError, match="no such dimension"):
        segment_values(two, {"design_point": "1"})
    assert segment_values(two, {"policy": "tiered"}).value == pytest.approx(sv.value)


def test_too_few_replications_and_equal_means() -> None:
    with pytest.raises(FrontierError, match="need at least 3"):
        frontier(SegmentValues(("a", "b"), np.ones((2, 2)), np.ones((2, 2))))
    with pytest.raises(FrontierError, match="same mean"):
        v = np.array([[1.0, 5.0], [2.0, 1.0], [3.0, 4.0], [4.0, 2.0], [5.0, 3.0]])  # both means exactly 3
        frontier(SegmentValues(("a", "b"), v, np.ones((5, 2))))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the classroom firm (two segments): 60 customers, 8 quarters, 12 detail replications."""
    tmp = tmp_path_factory.mktemp("frontier")
    sets = ["customers.count=60", "horizon.periods=8", "acquisition.prospects_per_year=8", "choices.fixed_cost=20000"]
    args = [a for s in [*sets, "outputs.relationship_detail=12"] for a in ("--set", s)]
    r = inproc(
        "run", str(SCENARIOS / "classroom.toml"), *args, "-n", "12", "--seed", "3", "--out", "runs", "-q", cwd=tmp
    )
    assert r.returncode == 0, r.stderr
    return tmp / "runs" / "classroom"


def test_frontier_command_end_to_end(small_run: Path) -> None:
    cwd = small_run.parent.parent
    r = inproc("frontier", str(small_run), "--max-shift", "0.2", "--resamples", "50", cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert "Segment risk-return frontier" in r.stdout and "industry_a" in r.stdout
    out = small_run / "frontier"
    for name in ("frontier.txt", "frontier.csv", "frontier.nc", "manifest.json", "figures/frontier.png"):
        assert (out / name).is_file(), name
    with xr.open_dataset(small_run / "result.nc", engine="h5netcdf") as result:
        currency = result.attrs["currency"]
    with xr.open_dataset(out / "frontier.nc", engine="h5netcdf") as ds:
        assert ds.attrs["detail_replications"] == 12 and ds.attrs["bootstrap_resamples"] == 50
        assert ds["frontier_sd"].attrs["units"] == currency  # the result's ISO code, per customer in the long name
        assert ds["segment_covariance"].attrs["units"] == f"{currency}2"
        labels = ds["segment_label"] if "segment_label" in ds.variables else ds["segment"]  # CF-1.10: text as labels
        assert [str(x) for x in labels.values] == ["industry_a", "industry_b"]
        np.testing.assert_allclose(ds["frontier_weight"].sum("segment"), 1.0, atol=1e-9)
    header = (out / "frontier.csv").read_text().splitlines()[0]
    assert header.endswith("share[industry_a],share[industry_b]")
    again = inproc("frontier", str(small_run), cwd=cwd)  # the folder exists: refused, left as it was
    assert again.returncode == 2 and "already holds a segment frontier" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    r = inproc("frontier", str(small_run), "--overwrite", "-q", "--resamples", "0", "--no-figures", cwd=cwd)
    assert r.returncode == 0 and not (out / "figures").exists()


def test_frontier_command_bad_input(small_run: Path, tmp_path: Path) -> None:
    with xr.open_dataset(small_run / "result.nc", engine="h5netcdf") as ds:
        full = ds.load()
    bad = {
        "no-detail": (full.drop_vars(["relationship_value", "segment"]), "has no per-relationship detail"),
        "one-segment": (full.assign(segment=full["segment"] * 0), "has customers in one segment"),
    }
    for name, (ds, message) in bad.items():
        (tmp_path / name).mkdir()
        ds.to_netcdf(tmp_path / name / "result.nc", engine="h5netcdf")
        r = inproc("frontier", name, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert not (tmp_path / name / "frontier").exists()
    for args, message in (
        (["--bounds", "nowhere=0.1:0.2"], "no segment 'nowhere'"),
        (["--bounds", "industry_a=0.1"], "SEGMENT=LOW:HIGH"),
        (["--bounds", "industry_a=0.9:1", "--bounds", "industry_b=0.9:1"], "admit no mix"),
        (["--max-shift", "2"], "between 0 and 1"),
        (["--at", "policy=tiered"], "no such dimension"),
        (["--points", "1"], "at least 2"),
    ):
        r = inproc("frontier", str(small_run), *args, "--out", str(tmp_path / "f"), cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "f").exists()
