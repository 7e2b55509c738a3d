"""Random streams: one root SeedSequence, a child per replication, one per mechanism.

Replication ``r`` of a run seeded with ``seed`` uses ``SeedSequence(seed,
spawn_key=(r,))`` and, for mechanism ``m``, its child ``spawn_key=(r, m)``,
exactly what ``SeedSequence(seed).spawn(...)`` produces.  Mechanisms that draw
every period use one further child per period, ``spawn_key=(r, m, t)``, and
customer slot ``i`` always takes the ``i``-th number(s) of that stream.  A
random number is therefore keyed by (seed, replication, mechanism, period,
slot): it never depends on the batch a replication runs in, the worker that
runs it, how many slots happen to be filled, or the policy in force -- so
policies compared on one seed face the same world (common random numbers).

The bit generator is numpy's SFC64 (seeded through SeedSequence): it passes the
same statistical test batteries as the default PCG64 and draws normals about
twice as fast, which matters because random numbers are the floor of the
engine's cost.

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
    "insight",  # noise in the firm's observation of relationship profit
    "alignment",  # the customer's view of the supplier (set-up in period 0, drift each period)
    "interaction",  # success of interaction-space contacts
)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(int(replication),))


def replication_streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """One independent Generator per mechanism for one replication."""
    children = replication_seed(seed, replication).spawn(len(MECHANISMS))
    return {name: np.random.Generator(np.random.SFC64(child)) for name, child in zip(MECHANISMS, children)}


def period_stream(seed: int, replication: int, mechanism: str, period: int) -> np.random.Generator:
    """The stream of ``mechanism`` in ``period`` of ``replication``."""
    key = (int(replication), MECHANISMS.index(mechanism), int(period))
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(seed, spawn_key=key)))


def batch_streams(seed: int, replications: range) -> dict[str, list[np.random.Generator]]:
    """Set-up streams for a batch: ``streams[mechanism][b]`` serves replication ``replications[b]``.

    Used for what is drawn once per replication (population, network); per-period
    draws use :func:`period_stream`.
    """
    per_rep = [replication_streams(seed, r) for r in replications]
    return {m: [s[m] for s in per_rep] for m in MECHANISMS}


def root_entropy(seed: int) -> int:
    return int(np.random.SeedSequence(seed).entropy)
