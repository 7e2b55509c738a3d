"""The customer network as an output (issue 21, part 3; model/network_outputs.py).

The summaries and the tie list are checked exactly against networkx on small networks with
the awkward cases (ties drawn twice, self-ties, slots never filled, isolated customers, degrees
past the cap, several replications in one batch); in a run, the tie list, the summaries and the
per-relationship detail agree with one another; the run's file follows CF-1.10, reads back, and
exports as a table of ties; the scenario switch is checked like any other field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import xarray as xr
from conftest import SCENARIOS, inproc, tiny
from test_cf import cf_problems

import valuecapture as vc
from valuecapture.model.network_outputs import DEGREE_CAP, network_summaries, network_tie_list, tie_capacity
from valuecapture.model.params import ModelParams
from valuecapture.model.population import Network, generate_network
from valuecapture.report.tidy import tidy_tables
from valuecapture.run.results import RESULT_FILE, open_netcdf, write_result

SUMMARIES = ("network_ties", "network_mean_degree", "network_transitivity", "network_within_segment")


def _reference(first: np.ndarray, second: np.ndarray, ever: np.ndarray, segment: np.ndarray) -> dict[str, Any]:
    """networkx's answers for one replication: the multigraph of the ties among ``ever`` slots."""
    g = nx.MultiGraph()
    g.add_nodes_from(int(v) for v in np.flatnonzero(ever))
    g.add_edges_from((int(i), int(j)) for i, j in zip(first, second, strict=True) if i != j and ever[i] and ever[j])
    ties = g.number_of_edges()
    simple = nx.Graph(g)
    triples = sum(d * (d - 1) // 2 for _, d in simple.degree())
    return {
        "network_ties": ties,
        "network_mean_degree": 2 * ties / g.number_of_nodes() if g.number_of_nodes() else np.nan,
        # networkx returns 0 where there is no connected triple; the output is NaN there (no coefficient)
        "network_transitivity": nx.transitivity(simple) if triples else np.nan,
        "network_within_segment": (
            sum(segment[i] == segment[j] for i, j in g.edges()) / ties if ties else np.nan  # multi-ties count
        ),
        "degrees": np.bincount(np.minimum([d for _, d in g.degree()], DEGREE_CAP), minlength=DEGREE_CAP + 1),
        "edges": sorted((min(i, j), max(i, j)) for i, j in g.edges()),
    }


def _batch(seed: int, n: int, m: int, rows: int) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """Random ties (repeats and self-ties included), each replication with its own set of filled slots; the
    first replication also gets a clique of 6 (triangles) and a hub past the degree cap."""
    rng = np.random.default_rng(seed)
    first = [rng.integers(0, n, m) for _ in range(rows)]
    second = [rng.integers(0, n, m) for _ in range(rows)]
    clique = np.array([(a, b) for a in range(6) for b in range(a + 1, 6)])
    hub = np.stack([np.full(DEGREE_CAP + 5, 7), 8 + np.arange(DEGREE_CAP + 5) % (n - 8)], axis=1)
    extra = np.concatenate([clique, hub, [[0, 1], [3, 3]]])  # 0-1 twice, a self-tie
    first[0] = np.concatenate([first[0], extra[:, 0]])
    second[0] = np.concatenate([second[0], extra[:, 1]])
    ever = rng.random((rows, n)) < 0.75
    ever[0, :8] = True
    ever[0, 8 : 8 + DEGREE_CAP + 5] = True
    segment = rng.integers(0, 3, (rows, n))
    return first, second, ever, segment


@pytest.mark.parametrize(("seed", "n", "m", "rows"), [(1, 80, 120, 3), (2, 120, 400, 2), (3, 70, 30, 4)])
def test_summaries_and_ties_equal_networkx(seed: int, n: int, m: int, rows: int) -> None:
    first, second, ever, segment = _batch(seed, n, m, rows)
    net = Network.from_ties(first, second, n)
    got = network_summaries(net, ever, segment)
    capacity = max(a.size for a in first)
    ties = network_tie_list(net, ever, capacity)
    assert got["network_degree_count"].shape == (rows, DEGREE_CAP + 1)
    for b in range(rows):
        ref = _reference(first[b], second[b], ever[b], segment[b])
        assert got["network_ties"][b] == ref["network_ties"]
        for name in SUMMARIES[1:]:
            np.testing.assert_allclose(got[name][b], ref[name], rtol=1e-12, err_msg=name)
        np.testing.assert_array_equal(got["network_degree_count"][b], ref["degrees"])
        k = int(ref["network_ties"])
        listed = list(zip(ties["tie_first"][b, :k].tolist(), ties["tie_second"][b, :k].tolist(), strict=True))
        assert listed == ref["edges"]
        assert (ties["tie_first"][b, k:] == -1).all() and (ties["tie_second"][b, k:] == -1).all()
    assert got["network_degree_count"][0, DEGREE_CAP] >= 1  # the hub landed in the overflow bin
    assert got["network_transitivity"][0] > 0  # the clique's triangles


def test_edge_cases() -> None:
    # a triangle plus a path: 3 triangles-worth of closed triples out of 5 connected triples
    net = Network.from_ties([np.array([0, 1, 2, 2])], [np.array([1, 2, 0, 3])], 5)
    got = network_summaries(net, np.array([[True, True, True, True, False]]), np.array([[0, 0, 1, 1, 1]]))
    assert got["network_ties"][0] == 4
    assert got["network_transitivity"][0] == pytest.approx(3 * 1 / 5)
    assert got["network_within_segment"][0] == pytest.approx(2 / 4)
    assert got["network_mean_degree"][0] == pytest.approx(2.0)
    # no ties among the customers; no customers at all
    empty = network_summaries(net, np.array([[True, False, False, True, True]]), np.zeros((1, 5), dtype=int))
    assert empty["network_ties"][0] == 0 and empty["network_degree_count"][0, 0] == 3
    assert empty["network_mean_degree"][0] == 0.0
    assert np.isnan(empty["network_transitivity"][0]) and np.isnan(empty["network_within_segment"][0])
    nobody = network_summaries(net, np.zeros((1, 5), dtype=bool), np.zeros((1, 5), dtype=int))
    assert np.isnan(nobody["network_mean_degree"][0]) and nobody["network_degree_count"].sum() == 0
    with pytest.raises(RuntimeError, match="more than the tie list"):
        network_tie_list(net, np.ones((1, 5), dtype=bool), 3)


@pytest.mark.parametrize("generator", ["random", "segment_clusters", "small_world", "barabasi_albert", "none"])
def test_tie_capacity_is_the_ties_drawn(generator: str) -> None:
    """Every replication's network has at most tie_capacity ties (self-ties are dropped from what is drawn)
    and, where the generator cannot draw a self-tie, exactly that many."""
    p = ModelParams.from_scenario(tiny(**{"network.generator": generator, "network.mean_degree": 5.0}))
    gens = [np.random.default_rng(s) for s in range(3)]
    segment = np.random.default_rng(9).integers(0, p.n_segments, (3, p.n_slots))
    net = generate_network(p, segment, gens)
    per_rep = np.diff(net.indptr[:: p.n_slots]) // 2
    cap = tie_capacity(p)
    assert (per_rep <= cap).all()
    if generator in ("random", "barabasi_albert", "none"):
        assert (per_rep == cap).all()
    else:
        assert (per_rep >= 0.9 * cap).all()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[xr.Dataset, Path, int]:
    """A small run with the tie list, written and read back."""
    tmp = tmp_path_factory.mktemp("network")
    values = {"outputs.network": True, "outputs.relationship_detail": 3, "network.mean_degree": 6.0}
    sc = tiny(**values, **{"customers.count": 400})  # most of the 1,024 slots filled: triangles among customers
    ds = vc.simulate(sc, 5, 7, batch_size=2)  # detail rows in two batches
    write_result(ds, tmp / "run", "summary")
    return ds, tmp / "run" / RESULT_FILE, tie_capacity(ModelParams.from_scenario(sc))


def test_a_run_s_ties_agree_with_its_summaries_and_detail(run: tuple[xr.Dataset, Path, int]) -> None:
    ds, _, capacity = run
    assert ds["tie_first"].dims == ("detail_replication", "tie") and ds.sizes["tie"] == capacity
    np.testing.assert_array_equal(ds["network_degree_count"].sum("degree"), ds["customers_ever"])
    np.testing.assert_allclose(ds["network_mean_degree"], 2 * ds["network_ties"] / ds["customers_ever"])
    assert (ds["network_ties"] > 0).all() and (ds["network_transitivity"] > 0).all()
    for r in ds["detail_replication"].values:
        a, b = ds["tie_first"].values[r], ds["tie_second"].values[r]
        a, b = a[a >= 0], b[b >= 0]
        assert a.size == b.size == ds["network_ties"].values[r]
        assert (a < b).all()
        acquired = ds["acquired_period"].values[r]
        assert (acquired[a] >= 0).all() and (acquired[b] >= 0).all()
        seg = ds["segment"].values[r]
        assert np.mean(seg[a] == seg[b]) == pytest.approx(float(ds["network_within_segment"][r]), rel=1e-12)
        ref = _reference(a, b, acquired >= 0, seg)
        np.testing.assert_array_equal(ds["network_degree_count"].values[r], ref["degrees"])
        np.testing.assert_allclose(ds["network_transitivity"].values[r], ref["network_transitivity"], rtol=1e-12)


def test_the_file_follows_cf_reads_back_and_exports(run: tuple[xr.Dataset, Path, int]) -> None:
    ds, path, _ = run
    assert cf_problems(path) == []
    with open_netcdf(path) as back:
        back.load()
        for name in ("tie_first", "tie_second", "network_degree_count", *SUMMARIES):
            np.testing.assert_array_equal(back[name].values, ds[name].values, err_msg=name)
        assert back["tie_first"].dtype == np.int32
    tables = {t.name: t for t in tidy_tables(ds)}
    ties = tables["detail_replication_x_tie"].frame
    assert list(ties.columns) == ["detail_replication", "tie", "tie_first", "tie_second"]
    assert int((ties["tie_first"] >= 0).sum()) == int(ds["network_ties"][: ds.sizes["detail_replication"]].sum())
    assert "network_degree_count" in tables["replication_x_degree"].frame.columns


def test_without_the_switch_summaries_only_and_no_network_no_ties() -> None:
    ds = vc.simulate(tiny(**{"outputs.relationship_detail": 2}), 2, 3)
    assert "tie_first" not in ds and "tie" not in ds.dims
    assert set(SUMMARIES) <= set(ds.data_vars) and ds["network_degree_count"].dims == ("replication", "degree")
    off = vc.simulate(tiny(**{"heterogeneity.interdependence": False, "outputs.network": True}), 2, 3)
    assert (off["network_ties"] == 0).all() and off.sizes["tie"] == 0
    assert np.isnan(off["network_within_segment"]).all()


def test_a_bad_switch_is_one_line(tmp_path: Path) -> None:
    r = inproc("validate", str(SCENARIOS / "classroom.toml"), "--set", "outputs.network=sometimes", cwd=tmp_path)
    assert r.returncode == 2
    assert "outputs.network" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def _tiny_result(active_at_horizon: bool) -> xr.Dataset:
    """Four customer slots over 4 periods: 0 lost at the end of period 1; 1 active throughout; 2 won in
    period 2 and lost at the end of 3; 3 never filled.  Ties 0-1 (drawn twice), 0-2, 1-2, one padding."""
    ds = xr.Dataset(
        {
            "acquired_period": (("detail_replication", "customer"), [[0, 0, 2, -1]]),
            "periods_active": (("detail_replication", "customer"), [[1, 4, 2, -1]]),
            "tie_first": (("detail_replication", "tie"), [[0, 0, 0, 1, -1]]),
            "tie_second": (("detail_replication", "tie"), [[1, 1, 2, 2, -1]]),
        },
        coords={"period": [1, 2, 3, 4]},
    )
    if active_at_horizon:
        ds["active_at_horizon"] = (("detail_replication", "customer"), [[0, 1, 0, -1]])
    return ds


def test_churn_by_lost_neighbours_by_hand() -> None:
    from valuecapture.report.network import churn_by_lost_neighbours

    # any earlier period: customer 1 sees 0 lost (twice: two ties) from period 2, 2 lost from period 4;
    # customer 2 sees 0 lost from period 2; the last period is left out without active_at_horizon
    got = churn_by_lost_neighbours(_tiny_result(False))
    np.testing.assert_array_equal(got.at_risk, [2, 2, 2, 0, 0])
    np.testing.assert_array_equal(got.lost, [1, 1, 0, 0, 0])
    # the period before only: 0's loss counts in period 2 alone
    got = churn_by_lost_neighbours(_tiny_result(False), window=1)
    np.testing.assert_array_equal(got.at_risk, [4, 1, 1, 0, 0])
    np.testing.assert_array_equal(got.lost, [2, 0, 0, 0, 0])
    # known to be active at the horizon: customer 1's period 4 is at risk, with 3 neighbours lost
    got = churn_by_lost_neighbours(_tiny_result(True))
    np.testing.assert_array_equal(got.at_risk, [2, 2, 2, 1, 0])
    np.testing.assert_array_equal(got.lost, [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(got.rate[:4], [0.5, 0.5, 0.0, 0.0])
    assert np.isnan(got.rate[4])


def test_wilson_interval_equals_scipy() -> None:
    from scipy.stats import binomtest

    from valuecapture.report.network import ChurnByNeighbours

    table = ChurnByNeighbours(np.array([50, 1000, 7, 0]), np.array([0, 37, 7, 0]))
    lo, hi = table.interval()
    for i in range(3):
        ci = binomtest(int(table.lost[i]), int(table.at_risk[i])).proportion_ci(0.95, method="wilson")
        assert lo[i] == pytest.approx(ci.low, abs=1e-9) and hi[i] == pytest.approx(ci.high, abs=1e-9)
    assert np.isnan(lo[3]) and np.isnan(hi[3])


def test_a_run_with_ties_draws_the_network_figure(run: tuple[xr.Dataset, Path, int], tmp_path: Path) -> None:
    from valuecapture.report.plots import run_figures

    ds, _, _ = run
    written = {p.name for p in run_figures(ds, tmp_path)}
    assert "network.png" in written and (tmp_path / "network.png").stat().st_size > 10_000
    without = {p.name for p in run_figures(ds.drop_vars(["tie_first", "tie_second"]), tmp_path / "plain")}
    assert "network.png" not in without


@pytest.mark.parametrize("generator", ["random", "segment_clusters", "small_world", "barabasi_albert"])
def test_the_memory_estimate_covers_the_tie_list(generator: str) -> None:
    from valuecapture.run.budget import result_bytes

    for degree in (1.0, 4.0, 5.0, 7.0):
        sc = tiny(**{"network.generator": generator, "network.mean_degree": degree})
        on = sc.with_values({"outputs.network": True})
        added = result_bytes(on, 10) - result_bytes(sc, 10)
        rows = min(10, int(sc.get("outputs.relationship_detail")))
        assert added >= rows * 2 * 4 * tie_capacity(ModelParams.from_scenario(on)), (generator, degree)
