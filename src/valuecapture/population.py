"""The synthetic customer base and the network among customers.

Customer attributes (wallet, net price, cost to serve, growth, churn propensity
and segment) are drawn per replication through a Gaussian copula: correlated
normal scores ``z = L e`` (``L`` the Cholesky factor of the scenario's
correlation matrix) are mapped to each marginal.  Normal and lognormal marginals
are transformed exactly from the scores (``loc + scale*z``,
``loc + scale*exp(s*z)``); other correlated marginals go through
``ppf(Phi(z))``; a non-normal marginal that is correlated with nothing is drawn
directly from its distribution (same law, much faster than the quantile
function).  Every slot -- initial customers and the slots that acquisitions
will fill -- gets its attributes up front, so the amount of randomness drawn
never depends on what happens later.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.special import ndtr

from .distributions import Distribution
from .params import ModelParams
from .scenario import CORRELATED


@dataclass
class CustomerBase:
    """Attributes of every customer slot, arrays shaped (batch, slots); the state of the
    relationships that exist at the start (``initial_*``) only for the initial
    customers, shaped (batch, customers.count): a customer won later starts at
    ``relationship.new_trust``, no adaptation and age 0."""

    wallet: np.ndarray  # currency/year at list price, at the start of the horizon
    price: np.ndarray  # fraction of list price
    cost_to_serve: np.ndarray  # fraction of revenue
    growth: np.ndarray  # 1/year
    churn: np.ndarray  # annual churn probability at reference trust
    segment: np.ndarray  # int
    initial_trust: np.ndarray
    initial_adaptation: np.ndarray
    initial_age: np.ndarray  # years


class Network:
    """The customer networks of a batch as adjacency lists over flat slot indices.

    Nodes are flat slot indices ``b * slots + i``; each undirected tie counts in
    both directions (a tie drawn twice counts twice).  A node's list only holds its
    own replication's ties, so a slot's neighbours never depend on the batch.
    """

    def __init__(self, source: np.ndarray, target: np.ndarray, n_nodes: int):
        from .kernels import group_by_target

        self.n_nodes = int(n_nodes)
        self.n_edges = int(source.size)
        # CSR form: the neighbours of node v are indices[indptr[v]:indptr[v + 1]], in
        # the order the ties were drawn (a counting sort by target: no comparison sort)
        self.indptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(target, minlength=self.n_nodes), out=self.indptr[1:])
        self.indices = group_by_target(self.indptr, target.astype(np.int64), source.astype(np.int64))


def _marginal(dist: Distribution, z: np.ndarray, correlated: bool, gen: np.random.Generator) -> np.ndarray:
    kw = dist.kwargs
    if dist.name == "fixed":
        return np.full(z.shape, kw["value"])
    if dist.name == "norm":
        return kw.get("loc", 0.0) + kw.get("scale", 1.0) * z
    if dist.name == "lognorm":
        return kw.get("loc", 0.0) + kw.get("scale", 1.0) * np.exp(kw["s"] * z)
    if correlated:
        u = np.clip(ndtr(z), 1e-12, 1.0 - 1e-12)
        return dist.ppf(u)
    return _draw(dist, z.shape[0], gen)


def _draw(dist: Distribution, n: int, gen: np.random.Generator) -> np.ndarray:
    """``n`` independent draws from ``dist`` using ``gen``."""
    from scipy import stats

    if dist.name == "fixed":
        return np.full(n, dist.kwargs["value"])
    return np.asarray(getattr(stats, dist.name).rvs(size=n, random_state=gen, **dist.kwargs), dtype=float)


def generate_customers(p: ModelParams, gens: list[np.random.Generator]) -> CustomerBase:
    """Draw the customer base of a batch, one replication per generator."""
    n = p.n_slots
    chol = np.linalg.cholesky(p.correlation)
    k = len(CORRELATED)
    cols: dict[str, list[np.ndarray]] = {name: [] for name in CustomerBase.__dataclass_fields__}
    for gen in gens:
        e = gen.standard_normal((k, n))
        # z_j = sum_m L[j, m] e_m, elementwise in a fixed order (no BLAS: bit-identical per replication)
        z = []
        for j in range(k):
            terms = [m for m in range(j + 1) if chol[j, m] != 0.0]  # zero terms add exactly nothing
            acc = chol[j, terms[0]] * e[terms[0]]
            for m in terms[1:]:
                acc = acc + chol[j, m] * e[m]
            z.append(acc)
        for j, name in enumerate(CORRELATED):
            if name == "segment":
                u = ndtr(z[j])
                seg = np.searchsorted(p.segment_cum_weights, u, side="right")
                cols["segment"].append(np.minimum(seg, p.n_segments - 1).astype(np.int16))
            else:
                cols[name].append(_marginal(p.attributes[name], z[j], p.correlated[j], gen))
        cols["initial_trust"].append(_draw(p.initial_trust, p.n_initial, gen))
        cols["initial_adaptation"].append(_draw(p.initial_adaptation, p.n_initial, gen))
        cols["initial_age"].append(_draw(p.initial_age, p.n_initial, gen))
    arrays = {name: np.stack(v) for name, v in cols.items()}
    if not p.customer_heterogeneity:
        for name, dist in p.attributes.items():
            arrays[name] = np.full_like(arrays[name], dist.mean())
    if not p.relationship_heterogeneity:
        arrays["initial_trust"][:] = p.initial_trust.mean()
        arrays["initial_adaptation"][:] = p.initial_adaptation.mean()
        arrays["initial_age"][:] = p.initial_age.mean()
    arrays["growth"] = np.maximum(arrays["growth"], -0.99)
    arrays["churn"] = np.clip(arrays["churn"], 0.0, 1.0 - 1e-12)
    arrays["initial_trust"] = np.clip(arrays["initial_trust"], 0.0, 1.0)
    arrays["initial_adaptation"] = np.clip(arrays["initial_adaptation"], 0.0, 1.0)
    return CustomerBase(**arrays)


def _edges_one(p: ModelParams, segment: np.ndarray, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Undirected ties of one replication as two index arrays (self-ties removed)."""
    n = p.n_slots
    gname = p.network_generator
    if gname == "none" or p.mean_degree <= 0 or n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    m = int(round(n * p.mean_degree / 2.0))
    if gname == "random":
        i = gen.integers(0, n, size=m)
        j = gen.integers(0, n - 1, size=m)
        j = j + (j >= i)
    elif gname == "segment_clusters":
        i = gen.integers(0, n, size=m)
        inside = gen.random(m) < p.within_segment
        u = gen.random(m)
        anyone = gen.integers(0, n, size=m)
        order = np.argsort(segment, kind="stable")
        counts = np.bincount(segment, minlength=p.n_segments)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        s = segment[i]
        same = order[starts[s] + np.minimum((u * counts[s]).astype(np.int64), counts[s] - 1)]
        j = np.where(inside, same, anyone)
    elif gname == "small_world":
        k = max(1, int(round(p.mean_degree / 2.0)))
        i = np.repeat(np.arange(n), k)
        j = (i + np.tile(np.arange(1, k + 1), n)) % n
        rewire = gen.random(i.size) < p.rewire
        j = np.where(rewire, gen.integers(0, n, size=i.size), j)
    elif gname == "barabasi_albert":
        m_ba = max(1, min(n - 1, int(round(p.mean_degree / 2.0))))
        graph = nx.barabasi_albert_graph(n, m_ba, seed=int(gen.integers(0, 2**32)))
        edges = np.asarray(graph.edges(), dtype=np.int64).reshape(-1, 2)
        i, j = edges[:, 0], edges[:, 1]
    else:  # pragma: no cover - validated by the scenario schema
        raise ValueError(f"unknown network generator {gname!r}")
    keep = i != j
    return i[keep].astype(np.int64), j[keep].astype(np.int64)


def generate_network(p: ModelParams, segment: np.ndarray, gens: list[np.random.Generator]) -> Network:
    """The customer network of every replication of a batch, as one flat edge list."""
    n = p.n_slots
    src, dst = [], []
    for b, gen in enumerate(gens):
        i, j = _edges_one(p, segment[b], gen)
        off = b * n
        src.append(np.concatenate((i, j)) + off)
        dst.append(np.concatenate((j, i)) + off)
    if not src:
        return Network(np.empty(0, np.int64), np.empty(0, np.int64), 0)
    return Network(np.concatenate(src), np.concatenate(dst), len(gens) * n)
