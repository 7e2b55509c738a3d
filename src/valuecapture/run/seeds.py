"""Random numbers: one root SeedSequence, a key per replication and mechanism.

Replication ``r`` of a run seeded with ``seed`` uses ``SeedSequence(seed,
spawn_key=(r,))`` and, for mechanism ``m``, its child ``spawn_key=(r, m)``,
exactly what ``SeedSequence(seed).spawn(...)`` produces.  What is drawn once per
replication at set-up (the customers, the network, a draw of the estimated parameters)
comes from a Generator (numpy's SFC64) seeded from that child (:func:`batch_streams`).

Every per-period number -- demand shocks, quality noise, churn, referrals, prospecting,
insight noise, the customer's view and interaction spaces -- is counter-based:
Philox4x32-10 of the key of (replication, mechanism) (:func:`philox_keys`, from
``SeedSequence(seed, spawn_key=(r, m, 0))``) and the counter (slot, period, draw), computed
inside the compiled loops where it is used (:mod:`valuecapture.model.philox`).  A random
number is therefore a function of (seed, replication, mechanism, period, slot, draw)
alone: it never depends on the batch a replication runs in, the worker that runs it, how
many slots happen to be filled, who churned before, or the policy in force -- so policies
compared on one seed face the same world (common random numbers).

The order of :data:`~valuecapture.model.philox.MECHANISMS` is part of the file format of
results: new mechanisms are appended, never inserted (child ``i`` of a SeedSequence does
not depend on how many children are spawned, so an appended mechanism changes no other
stream).
"""

from __future__ import annotations

import numpy as np

from valuecapture.model.philox import MECHANISMS

__all__ = ["MECHANISMS", "batch_streams", "philox_keys", "replication_seed", "replication_streams", "root_entropy"]


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(int(replication),))


def replication_streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """One independent Generator per mechanism for one replication."""
    children = replication_seed(seed, replication).spawn(len(MECHANISMS))
    return {name: np.random.Generator(np.random.SFC64(child)) for name, child in zip(MECHANISMS, children, strict=True)}


def philox_keys(seed: int, replications: range) -> np.ndarray:
    """The counter-based keys of a batch: ``keys[b, m]`` (two ``uint32`` words) is the key of
    mechanism :data:`MECHANISMS` ``[m]`` in replication ``replications[b]``, the first two
    32-bit words of ``SeedSequence(seed, spawn_key=(r, m, 0))``.  Every per-period number of
    the engine is Philox4x32-10 of that key and a counter (period, slot, draw;
    :mod:`valuecapture.model.philox`), computed where it is used."""
    keys = np.empty((len(replications), len(MECHANISMS), 2), dtype=np.uint32)
    for b, r in enumerate(replications):
        for m in range(len(MECHANISMS)):
            keys[b, m] = np.random.SeedSequence(seed, spawn_key=(int(r), m, 0)).generate_state(2, np.uint32)
    return keys


def batch_streams(seed: int, replications: range, per_draw: int = 1) -> dict[str, list[np.random.Generator]]:
    """Set-up streams for a batch: ``streams[mechanism][b]`` serves replication ``replications[b]``.

    Used for what is drawn once per replication (population, network); per-period
    numbers are counter-based (:func:`philox_keys`).  Replications share a draw of the estimated
    parameters in groups of ``per_draw``: replication ``r`` gets the ``parameters`` stream
    of replication ``per_draw * (r // per_draw)``, the first of its group, so the draw
    depends on the seed and the group alone, never on the batch.
    """
    per_rep = [replication_streams(seed, r) for r in replications]
    out = {m: [s[m] for s in per_rep] for m in MECHANISMS}
    if per_draw > 1:
        first = {r: per_draw * (r // per_draw) for r in replications}
        out["parameters"] = [
            s["parameters"] if first[r] == r else replication_streams(seed, first[r])["parameters"]
            for r, s in zip(replications, per_rep, strict=True)
        ]
    return out


def root_entropy(seed: int) -> int:
    entropy = np.random.SeedSequence(seed).entropy
    assert isinstance(entropy, (int, np.integer))  # an integer seed is its own entropy
    return int(entropy)
