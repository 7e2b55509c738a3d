"""Random streams: one root SeedSequence, a child per replication, one per mechanism.

Replication ``r`` of a run seeded with ``seed`` uses ``SeedSequence(seed,
spawn_key=(r,))`` and, for mechanism ``m``, its child ``spawn_key=(r, m)``,
exactly what ``SeedSequence(seed).spawn(...)`` produces.  A replication's streams
therefore depend only on the seed and the replication number, never on the batch
it runs in, the worker that runs it or the policy in force.

The order of :data:`MECHANISMS` is part of the file format of results: new
mechanisms are appended, never inserted.
"""

from __future__ import annotations

import numpy as np

MECHANISMS: tuple[str, ...] = (
    "population",  # customer attributes (copula) and initial relationship state
    "network",  # the customer network
    "demand",  # market, segment and idiosyncratic demand shocks
    "relationship",  # noise in experienced quality
    "retention",  # churn draws
    "acquisition",  # prospecting and referral draws
)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(int(replication),))


def replication_streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """One independent Generator per mechanism for one replication."""
    children = replication_seed(seed, replication).spawn(len(MECHANISMS))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(MECHANISMS, children)}


def batch_streams(seed: int, replications: range) -> dict[str, list[np.random.Generator]]:
    """Streams for a batch: ``streams[mechanism][b]`` serves replication ``replications[b]``."""
    per_rep = [replication_streams(seed, r) for r in replications]
    return {m: [s[m] for s in per_rep] for m in MECHANISMS}


def root_entropy(seed: int) -> int:
    return int(np.random.SeedSequence(seed).entropy)
