"""The customer network as an output: its ties among the customers won, and summaries of its structure.

The network of :mod:`valuecapture.model.population` is drawn over customer *slots*, including
slots that no customer ever fills by the horizon (headroom for acquisitions).  The outputs here
describe the network among the customers *ever acquired* (``acquired_period >= 0``): a tie counts
when both of its ends held a customer at some point of the horizon.  Ties count as the engine's
contagion counts them: a pair drawn twice is two ties (adjacency lists keep both; self-ties are
dropped when the network is built).

Per replication (every replication; :func:`network_summaries`):

* ``network_ties``: ties among the customers ever acquired;
* ``network_mean_degree``: ``2 * ties / customers`` (NaN without customers);
* ``network_degree_count``: customers by degree ``0 .. DEGREE_CAP``, the last bin holding
  ``DEGREE_CAP`` ties or more;
* ``network_transitivity``: the global clustering coefficient of the simple graph of those ties
  (a pair counts once), ``3 x triangles / connected triples`` (NaN without a connected triple);
* ``network_within_segment``: the share of ties whose two customers are in the same segment
  (NaN without ties).

Per detail replication, with ``outputs.network`` (:func:`network_tie_list`): the ties as two
customer-slot columns ``tie_first < tie_second`` over a ``tie`` dimension, in order of
``(tie_first, tie_second)``, padded with -1 to :func:`tie_capacity` (the number of ties the
generator draws per replication, the same in every replication and batch).

Both run in compiled loops (:func:`~valuecapture.model.kernels.kernel`) over the adjacency lists,
one replication at a time.
"""

from __future__ import annotations

import numpy as np

from valuecapture.model.kernels import kernel
from valuecapture.model.params import ModelParams
from valuecapture.model.population import Network

#: The last degree of ``network_degree_count``: that bin counts customers with this many ties or more.
DEGREE_CAP = 50

#: The per-detail-replication tie list (``outputs.network``), in the order of model/batch.py's DETAIL_NAMES.
TIE_NAMES = ("tie_first", "tie_second")


def tie_capacity(p: ModelParams) -> int:
    """The number of ties the network generator draws in one replication (before self-ties are dropped):
    the width of the padded tie list.  It depends only on the network settings and the slot count, so
    every batch (and every policy of a comparison) has the same width."""
    n = p.n_slots
    if p.network_generator == "none" or p.mean_degree <= 0 or n < 2:
        return 0
    if p.network_generator in ("random", "segment_clusters"):
        return int(round(n * p.mean_degree / 2.0))
    if p.network_generator == "small_world":
        return n * max(1, int(round(p.mean_degree / 2.0)))
    if p.network_generator == "barabasi_albert":
        m = max(1, min(n - 1, int(round(p.mean_degree / 2.0))))
        return m * (n - m)  # networkx: m ties from each of the n - m nodes after the first m
    raise ValueError(f"unknown network generator {p.network_generator!r}")  # pragma: no cover - schema


def network_summaries(network: Network, ever: np.ndarray, segment: np.ndarray) -> dict[str, np.ndarray]:
    """Per-replication summaries of the network among the customers ever acquired (module docstring).

    ``ever``: (replications, slots) bool, the slots that held a customer; ``segment``: (replications,
    slots) segment indices."""
    rows, n_slots = ever.shape
    counts = np.zeros((rows, DEGREE_CAP + 1), dtype=np.int64)
    ties = np.zeros(rows, dtype=np.int64)
    within = np.zeros(rows, dtype=np.int64)
    triangles = np.zeros(rows, dtype=np.int64)
    triples = np.zeros(rows, dtype=np.int64)
    _summaries(
        network.indptr,
        network.indices,
        np.ascontiguousarray(ever),
        np.ascontiguousarray(segment, dtype=np.int64),
        counts,
        ties,
        within,
        triangles,
        triples,
    )
    customers = ever.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "network_ties": ties,
            "network_mean_degree": np.where(customers > 0, 2.0 * ties / np.maximum(customers, 1), np.nan),
            "network_degree_count": counts,
            "network_transitivity": np.where(triples > 0, 3.0 * triangles / np.maximum(triples, 1), np.nan),
            "network_within_segment": np.where(ties > 0, within / np.maximum(ties, 1), np.nan),
        }


def network_tie_list(network: Network, ever: np.ndarray, capacity: int) -> dict[str, np.ndarray]:
    """The ties among the customers ever acquired in each of the ``len(ever)`` first replications of a
    batch: ``tie_first``, ``tie_second`` (replications, ``capacity``) int32 customer slots, first < second,
    ordered by (first, second), padded with -1."""
    rows = ever.shape[0]
    first = np.full((rows, capacity), -1, dtype=np.int32)
    second = np.full((rows, capacity), -1, dtype=np.int32)
    n_ties = _tie_list(network.indptr, network.indices, np.ascontiguousarray(ever), first, second)
    if n_ties.size and n_ties.max() > capacity:  # the generator drew more ties than tie_capacity says
        raise RuntimeError(f"a replication has {int(n_ties.max())} ties, more than the tie list's {capacity}")
    return {"tie_first": first, "tie_second": second}


@kernel
def _summaries(indptr, indices, ever, segment, counts, ties, within, triangles, triples):
    """Per replication ``b``: ``counts[b, d]`` customers of degree ``d`` (capped at the last bin), ``ties``,
    ties ``within`` a segment, ``triangles`` and connected ``triples`` of the simple graph, over the slots
    with ``ever[b]`` and adjacency lists over flat nodes ``b * slots + i``."""
    rows, n_slots = ever.shape
    cap = counts.shape[1] - 1
    seen = np.zeros(n_slots, dtype=np.int64)  # stamp of the node whose distinct neighbours are marked
    pair = np.zeros(n_slots, dtype=np.int64)  # stamp of the (i, j) pair whose common neighbours are counted
    outer = np.zeros(n_slots, dtype=np.int64)  # stamp: j already visited as i's neighbour
    stamp = 0
    for b in range(rows):
        off = b * n_slots
        n_ties2 = 0
        n_within2 = 0
        n_tri = 0
        n_triples = 0
        for i in range(n_slots):
            if not ever[b, i]:
                continue
            stamp += 1
            mine = stamp
            degree = 0
            distinct = 0
            for e in range(indptr[off + i], indptr[off + i + 1]):
                j = indices[e] - off
                if ever[b, j]:
                    degree += 1
                    if segment[b, j] == segment[b, i]:
                        n_within2 += 1
                    if seen[j] != mine:
                        seen[j] = mine
                        distinct += 1
            counts[b, min(degree, cap)] += 1
            n_ties2 += degree
            n_triples += distinct * (distinct - 1) // 2
            # triangles i < j < k: j a neighbour of i, k a neighbour of j and of i, each pair once
            for e in range(indptr[off + i], indptr[off + i + 1]):
                j = indices[e] - off
                if j <= i or seen[j] != mine or outer[j] == mine:
                    continue
                outer[j] = mine
                stamp += 1
                for f in range(indptr[off + j], indptr[off + j + 1]):
                    k = indices[f] - off
                    if k > j and seen[k] == mine and pair[k] != stamp:
                        pair[k] = stamp
                        n_tri += 1
        ties[b] = n_ties2 // 2
        within[b] = n_within2 // 2
        triangles[b] = n_tri
        triples[b] = n_triples


@kernel
def _tie_list(indptr, indices, ever, first, second):
    """Fill ``first[b], second[b]`` with replication ``b``'s ties among the slots with ``ever[b]``
    (first < second, sorted); returns each replication's number of ties (more than the width: the
    rest was not written)."""
    rows, n_slots = ever.shape
    width = first.shape[1]
    n_ties = np.zeros(rows, dtype=np.int64)
    for b in range(rows):
        off = b * n_slots
        c = 0
        for i in range(n_slots):
            if not ever[b, i]:
                continue
            start = c
            for e in range(indptr[off + i], indptr[off + i + 1]):
                j = indices[e] - off
                if j > i and ever[b, j]:
                    if c < width:
                        first[b, c] = i
                        second[b, c] = j
                        # insertion sort of i's ties by their second end
                        q = c
                        while q > start and second[b, q - 1] > j:
                            second[b, q] = second[b, q - 1]
                            q -= 1
                        second[b, q] = j
                    c += 1
        n_ties[b] = c
    return n_ties
