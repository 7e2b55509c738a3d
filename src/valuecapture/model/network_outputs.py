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
    ties, within, triangles, triples = (np.zeros(rows, dtype=np.int64) for _ in range(4))
    code = np.where(ever, segment, -1).astype(np.int16)  # one small array read per neighbour
    entries = int(np.diff(network.indptr[::n_slots]).max()) if rows else 0  # a replication's list entries
    mark, fptr = np.empty(n_slots, np.int32), np.empty(n_slots + 1, np.int32)
    fwd = np.empty(entries + 1, np.int32)  # + 1: every entry is written, the slot after the last kept one too
    _summaries(network.indptr, network.indices, code, counts, ties, within, triangles, triples, mark, fptr, fwd)
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
def _summaries(indptr, indices, code, counts, ties, within, triangles, triples, mark, fptr, fwd):
    """Per replication ``b``: ``counts[b, d]`` customers of degree ``d`` (capped at the last bin), ``ties``,
    ties ``within`` a segment, ``triangles`` and connected ``triples`` of the simple graph, over the slots
    whose ``code[b]`` (the segment; -1: never a customer) is not negative, with adjacency lists over flat
    nodes ``b * slots + i``.

    Work space, int32: ``mark`` (slots), ``fptr`` (slots + 1), ``fwd`` (a replication's list entries + 1).
    The first pass counts each customer's degree and its distinct neighbours (``mark[j] == i``: ``j`` seen
    already, a tie drawn twice) and keeps the distinct later ones (``fwd``, local slots); the second counts
    each triangle ``i < j < k`` once, as a ``k`` of ``fwd[j]`` marked as one of ``fwd[i]``.  The inner loops
    add comparisons instead of branching on them (whether a neighbour is a customer is a coin toss the
    processor cannot predict), and read at random only the segment codes, the marks and the compact
    ``fwd`` lists, which stay in cache where the adjacency lists would not."""
    rows, n_slots = code.shape
    cap = counts.shape[1] - 1
    for b in range(rows):
        off = b * n_slots
        mark[:] = -1
        n_ties2 = 0
        n_within2 = 0
        n_triples = 0
        c = 0
        fptr[0] = 0
        for i in range(n_slots):
            own = code[b, i]
            if own >= 0:
                degree = 0
                distinct = 0
                for e in range(indptr[off + i], indptr[off + i + 1]):
                    j = indices[e] - off
                    cj = code[b, j]
                    customer = cj >= 0
                    new = customer & (mark[j] != i)
                    mark[j] = i
                    degree += customer
                    n_within2 += cj == own
                    distinct += new
                    fwd[c] = j
                    c += new & (j > i)
                counts[b, min(degree, cap)] += 1
                n_ties2 += degree
                n_triples += distinct * (distinct - 1) // 2
            fptr[i + 1] = c
        mark[:] = -1
        n_tri = 0
        for i in range(n_slots):
            for e in range(fptr[i], fptr[i + 1]):
                mark[fwd[e]] = i
            for e in range(fptr[i], fptr[i + 1]):
                j = fwd[e]
                for f in range(fptr[j], fptr[j + 1]):
                    n_tri += mark[fwd[f]] == i
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
