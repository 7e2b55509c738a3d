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
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from scipy import stats as sps
from scipy.special import ndtr

from valuecapture.model.params import ModelParams

if TYPE_CHECKING:
    from valuecapture.data.customers import InitialCustomers
from valuecapture.scenario.distributions import Distribution, DistributionError
from valuecapture.scenario.distributions import parse as parse_distribution
from valuecapture.scenario.load import CORRELATED, field_by_path


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
    parameters: np.ndarray | None = None  # (batch, estimated parameters): drawn with parameter_uncertainty


class Network:
    """The customer networks of a batch as adjacency lists over flat slot indices.

    Nodes are flat slot indices ``b * slots + i``; the neighbours of node ``v`` are
    ``indices[indptr[v]:indptr[v + 1]]``.  Each undirected tie counts in both
    directions (a tie drawn twice counts twice).  A node's list only holds its own
    replication's ties, so a slot's neighbours never depend on the batch.
    """

    def __init__(self, indptr: np.ndarray, indices: np.ndarray):
        self.indptr = indptr
        self.indices = indices
        self.n_nodes = int(indptr.size - 1)
        self.n_edges = int(indices.size)  # directed: twice the undirected ties

    @classmethod
    def from_ties(cls, first: list[np.ndarray], second: list[np.ndarray], n_slots: int) -> Network:
        """The network of a batch from each replication's undirected ties ``first[b][k] -- second[b][k]``
        (slot indices; self-ties are dropped)."""
        # numba: loaded on first use, so a process that never steps the engine never loads it
        from valuecapture.model.kernels import adjacency

        ties = np.zeros(len(first) + 1, dtype=np.int64)
        np.cumsum([a.size for a in first], out=ties[1:])

        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate([np.empty(0, np.int64), *parts]).astype(np.int64, copy=False)

        return cls(*adjacency(cat(first), cat(second), ties, int(n_slots)))


def _marginal(dist: Distribution, z: np.ndarray, correlated: bool, gen: np.random.Generator, out: np.ndarray) -> None:
    """The attribute from its normal scores ``z`` (or drawn directly, when uncorrelated), into ``out``."""
    kw = dist.kwargs
    if dist.name == "fixed":
        out[:] = kw["value"]
    elif dist.name == "norm":
        np.multiply(z, kw.get("scale", 1.0), out=out)
        out += kw.get("loc", 0.0)
    elif dist.name == "lognorm":
        np.multiply(z, kw["s"], out=out)
        np.exp(out, out=out)
        out *= kw.get("scale", 1.0)
        out += kw.get("loc", 0.0)
    elif correlated:
        out[:] = dist.ppf(np.clip(ndtr(z), 1e-12, 1.0 - 1e-12))
    else:
        out[:] = _draw(dist, out.size, gen)


#: Families whose scipy.stats ``rvs`` is one numpy Generator call followed by
#: ``x * scale + loc``: drawn by that call directly, which gives the same numbers
#: without scipy's per-call argument handling (tests/test_kernels.py checks the
#: equality for every family here).
_DIRECT = {
    "beta": lambda gen, kw, n: gen.beta(kw["a"], kw["b"], n),
    "gamma": lambda gen, kw, n: gen.standard_gamma(kw["a"], n),
    "norm": lambda gen, kw, n: gen.standard_normal(n),
    "uniform": lambda gen, kw, n: gen.uniform(0.0, 1.0, n),
    "expon": lambda gen, kw, n: gen.standard_exponential(n),
}


def _draw(dist: Distribution, n: int, gen: np.random.Generator) -> np.ndarray:
    """``n`` independent draws from ``dist`` using ``gen`` (the numbers scipy.stats' ``rvs`` draws)."""
    kw = dist.kwargs
    if dist.name == "fixed":
        return np.full(n, kw["value"])
    direct = _DIRECT.get(dist.name)
    if direct is not None:
        x = direct(gen, kw, n)
        x *= kw.get("scale", 1.0)
        x += kw.get("loc", 0.0)
        return x
    return np.asarray(getattr(sps, dist.name).rvs(size=n, random_state=gen, **kw), dtype=float)


def estimated_parameter_names(p: ModelParams) -> list[str]:
    """The drawn parameters, as ``uncertainties.<input>.<parameter>``, in the order of :func:`draw_parameters`."""
    return [f"uncertainties.{i}.{n}" for block in p.estimates for i, n in zip(block.inputs, block.names, strict=True)]


def draw_parameters(p: ModelParams, gen: np.random.Generator) -> tuple[dict[str, Distribution], np.ndarray]:
    """One draw of the estimated parameters from their sampling distribution (normal on the
    drawing scale of each :class:`~valuecapture.model.params.EstimateBlock`, the blocks in
    scenario order, ``k`` standard normals per block of ``k``), and the input distributions
    with the drawn values.  An input whose drawn parameters leave the support its field allows
    keeps its estimates (rare: it would need a draw many standard errors out)."""
    attrs = dict(p.attributes)
    values: list[float] = []
    for block in p.estimates:
        k = len(block.names)
        z = gen.standard_normal(k)
        # L z term by term in a fixed order (no BLAS), the same bits on every machine
        x = np.array([sum(float(block.factor[i, j] * z[j]) for j in range(i + 1)) for i in range(k)])
        drawn = np.where(block.log, block.value * np.exp(x), block.value + x)
        for i, (name, param) in enumerate(zip(block.inputs, block.names, strict=True)):
            kw = attrs[name].kwargs
            kw[param] = float(drawn[i])
            f = field_by_path(f"uncertainties.{name}")
            try:
                attrs[name] = parse_distribution({"dist": attrs[name].name, **kw}, f.lo, f.hi)
            except DistributionError:
                drawn[i] = attrs[name].kwargs[param]
            values.append(float(drawn[i]))
    return attrs, np.asarray(values)


def generate_customers(
    p: ModelParams, gens: list[np.random.Generator], parameter_gens: list[np.random.Generator] | None = None
) -> CustomerBase:
    """Draw the customer base of a batch, one replication per generator.  With estimated
    parameters (``parameter_uncertainty``), replication ``b`` first draws its input
    distributions with ``parameter_gens[b]`` (:func:`draw_parameters`)."""
    n = p.n_slots
    chol = np.linalg.cholesky(p.correlation)
    k = len(CORRELATED)
    shapes = {name: (n, float) for name in CORRELATED} | {"segment": (n, np.int16)}
    shapes |= {name: (p.n_initial, float) for name in ("initial_trust", "initial_adaptation", "initial_age")}
    arrays = {name: np.empty((len(gens), size), dtype=dtype) for name, (size, dtype) in shapes.items()}
    z = np.empty(n)
    e = np.empty((k, n))
    from valuecapture.model.kernels import fill_standard_normal  # numba: loaded on first use

    churn_u = np.empty(p.n_initial)
    drawn = p.estimates and parameter_gens is not None
    per_rep = [draw_parameters(p, g) for g in parameter_gens] if drawn else []  # type: ignore[union-attr]
    for b, gen in enumerate(gens):
        attributes = per_rep[b][0] if drawn else p.attributes
        fill_standard_normal(gen, e.reshape(-1))  # gen.standard_normal((k, n)), faster
        for j, name in enumerate(CORRELATED):
            # z_j = sum_m L[j, m] e_m, elementwise in a fixed order (no BLAS: bit-identical per replication)
            terms = [m for m in range(j + 1) if chol[j, m] != 0.0]  # zero terms add exactly nothing
            np.multiply(e[terms[0]], chol[j, terms[0]], out=z)
            for m in terms[1:]:
                z += chol[j, m] * e[m]
            if name == "segment":
                seg = np.searchsorted(p.segment_cum_weights, ndtr(z), side="right")
                np.minimum(seg, p.n_segments - 1, out=seg)
                arrays["segment"][b] = seg
            else:
                _marginal(attributes[name], z, p.correlated[j], gen, arrays[name][b])
            if p.initial_customers is not None and name == "churn":
                churn_u[:] = ndtr(z[: p.n_initial])  # this replication's churn scores of the actual customers
        arrays["initial_trust"][b] = _draw(p.initial_trust, p.n_initial, gen)
        arrays["initial_adaptation"][b] = _draw(p.initial_adaptation, p.n_initial, gen)
        arrays["initial_age"][b] = _draw(p.initial_age, p.n_initial, gen)
        if p.initial_customers is not None:
            _actual_customers(p.initial_customers, attributes["churn"], churn_u, arrays, b)
    if not p.customer_heterogeneity:
        for name, dist in p.attributes.items():
            arrays[name][:] = np.array([r[0][name].mean() for r in per_rep])[:, None] if drawn else dist.mean()
    if not p.relationship_heterogeneity:
        arrays["initial_trust"][:] = p.initial_trust.mean()
        arrays["initial_adaptation"][:] = p.initial_adaptation.mean()
        arrays["initial_age"][:] = p.initial_age.mean()
    np.maximum(arrays["growth"], -0.99, out=arrays["growth"])
    np.clip(arrays["churn"], 0.0, 1.0 - 1e-12, out=arrays["churn"])
    np.clip(arrays["initial_trust"], 0.0, 1.0, out=arrays["initial_trust"])
    np.clip(arrays["initial_adaptation"], 0.0, 1.0, out=arrays["initial_adaptation"])
    parameters = np.array([r[1] for r in per_rep]) if drawn else None
    return CustomerBase(**arrays, parameters=parameters)


def _actual_customers(
    actual: InitialCustomers, churn: Distribution, churn_u: np.ndarray, arrays: dict[str, np.ndarray], b: int
) -> None:
    """Replace replication ``b``'s initial customers by the firm's actual ones where the table
    has their attributes (:mod:`valuecapture.data.customers`).  With a beta churn propensity
    Beta(a, b), a customer with ``t`` years of tenure gets the quantile ``churn_u`` of
    Beta(a, b + t): its propensity given that it survived ``t`` years (the shifted-beta-geometric
    posterior), the copula's score kept."""
    for name in ("wallet", "price", "cost_to_serve"):
        have = np.isfinite(getattr(actual, name))
        arrays[name][b, : actual.n][have] = getattr(actual, name)[have]
    arrays["segment"][b, : actual.n] = actual.segment
    arrays["initial_age"][b] = actual.age
    if churn.name == "beta":
        kw = churn.kwargs
        q = sps.beta.ppf(np.clip(churn_u, 1e-12, 1.0 - 1e-12), kw["a"], kw["b"] + actual.age)
        arrays["churn"][b, : actual.n] = kw.get("loc", 0.0) + kw.get("scale", 1.0) * q


def _edges_one(p: ModelParams, segment: np.ndarray, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Undirected ties of one replication as two slot-index arrays (self-ties may occur)."""
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
        # numba: loaded on first use, so a process that never steps the engine never loads it
        from valuecapture.model.kernels import segment_partners

        i = gen.integers(0, n, size=m)
        inside = gen.random(m) < p.within_segment
        u = gen.random(m)
        anyone = gen.integers(0, n, size=m)
        j = segment_partners(i, inside, u, anyone, segment.astype(np.int64), p.n_segments)
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
    return i, j  # self-ties are dropped by Network.from_ties


def generate_network(p: ModelParams, segment: np.ndarray, gens: list[np.random.Generator]) -> Network:
    """The customer network of every replication of a batch."""
    ties = [_edges_one(p, segment[b], gen) for b, gen in enumerate(gens)]
    return Network.from_ties([i for i, _ in ties], [j for _, j in ties], p.n_slots)
