"""Random streams: one root SeedSequence, a child per replication, one per mechanism.

Replication ``r`` of a run seeded with ``seed`` uses ``SeedSequence(seed,
spawn_key=(r,))`` and, for mechanism ``m``, its child ``spawn_key=(r, m)``,
exactly what ``SeedSequence(seed).spawn(...)`` produces.  Mechanisms that draw
every period have one stream per period ``t``, seeded from the SeedSequence
``spawn_key=(r, m, t // 32)`` (see :func:`period_stream`), and customer slot
``i`` always takes the ``i``-th number(s) of that stream.  A
random number is therefore keyed by (seed, replication, mechanism, period,
slot): it never depends on the batch a replication runs in, the worker that
runs it, how many slots happen to be filled, or the policy in force -- so
policies compared on one seed face the same world (common random numbers).

The bit generator is numpy's SFC64 (seeded through SeedSequence): it passes the
same statistical test batteries as the default PCG64 and draws normals about
twice as fast, which matters because random numbers are the floor of the
engine's cost.

The order of :data:`MECHANISMS` is part of the file format of results: new
mechanisms are appended, never inserted (child ``i`` of a SeedSequence does not depend
on how many children are spawned, so an appended mechanism changes no other stream).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.random.bit_generator import ISeedSequence

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
    "parameters",  # a draw of the estimated parameters (parameter_uncertainty), by the group's first replication
)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(int(replication),))


def replication_streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """One independent Generator per mechanism for one replication."""
    children = replication_seed(seed, replication).spawn(len(MECHANISMS))
    return {name: np.random.Generator(np.random.SFC64(child)) for name, child in zip(MECHANISMS, children, strict=True)}


#: Periods whose stream seeds one SeedSequence provides (see :func:`period_stream`).
PERIODS_PER_CHUNK = 32
_WORDS_PER_STREAM = 3  # an SFC64 is seeded with three 64-bit words
_chunk_cache: dict[tuple[int, int, int, int], np.ndarray] = {}


class _Words(ISeedSequence):
    """Hands fixed seed words to a bit generator (which seeds itself from them exactly
    as from a SeedSequence's ``generate_state``)."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words: int, dtype: npt.DTypeLike = np.uint32) -> np.ndarray:
        assert n_words == self.words.size and np.dtype(dtype) == self.words.dtype
        return self.words


def period_stream(seed: int, replication: int, mechanism: str, period: int) -> np.random.Generator:
    """The stream of ``mechanism`` in ``period`` (>= 0) of ``replication``.

    Periods come in chunks of :data:`PERIODS_PER_CHUNK`: chunk ``c`` has the
    SeedSequence ``SeedSequence(seed, spawn_key=(replication, mechanism, c))``, and
    period ``t`` of the chunk takes its words ``3 (t mod 32) .. 3 (t mod 32) + 2``
    (``generate_state(96, uint64)``) as the seed of an SFC64 -- the same seeding an
    SFC64 does from any SeedSequence, so every period still has its own stream,
    a function of (seed, replication, mechanism, period) alone.  One SeedSequence
    per 32 periods instead of one per period makes a stream about ten times
    cheaper to create; the chunk's words are cached.
    """
    t = int(period)
    key = (int(seed), int(replication), MECHANISMS.index(mechanism), t // PERIODS_PER_CHUNK)
    words = _chunk_cache.get(key)
    if words is None:
        if len(_chunk_cache) >= 4096:  # bounded: a batch needs a few per mechanism
            _chunk_cache.clear()
        ss = np.random.SeedSequence(seed, spawn_key=key[1:])
        words = _chunk_cache[key] = ss.generate_state(_WORDS_PER_STREAM * PERIODS_PER_CHUNK, np.uint64)
    i = _WORDS_PER_STREAM * (t % PERIODS_PER_CHUNK)
    # numpy's stubs type the seed of a bit generator as a SeedSequence; at run time any ISeedSequence seeds it
    return np.random.Generator(np.random.SFC64(_Words(words[i : i + _WORDS_PER_STREAM])))  # type: ignore[arg-type]


def batch_streams(seed: int, replications: range, per_draw: int = 1) -> dict[str, list[np.random.Generator]]:
    """Set-up streams for a batch: ``streams[mechanism][b]`` serves replication ``replications[b]``.

    Used for what is drawn once per replication (population, network); per-period
    draws use :func:`period_stream`.  Replications share a draw of the estimated
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


class KeyedStreams:
    """The random streams of a batch of replications, as the model asks for them
    (:class:`valuecapture.model.state.RandomStreams`): ``period(m, t)`` is
    ``[period_stream(seed, r, m, t) for r in replications]``."""

    def __init__(self, seed: int, replications: range):
        self.seed = int(seed)
        self.replications = replications

    def period(self, mechanism: str, period: int) -> list[np.random.Generator]:
        return [period_stream(self.seed, r, mechanism, period) for r in self.replications]
