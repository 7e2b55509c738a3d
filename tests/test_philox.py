"""The counter-based generator (model/philox.py): Philox4x32-10 bit for bit against the
Random123 known-answer vectors, and its uniform and normal laws against scipy's.

Statistical checks use fixed keys and tolerances from the sampling error of the statistic
(said at each); with these keys they pass, and a wrong transform fails them by far (a normal
with the wrong scale, a missing tail, a uniform that can be 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy import stats

from valuecapture.model import philox
from valuecapture.run.seeds import MECHANISMS, philox_keys

# Random123's kat_vectors for philox4x32-10: counter, key, result.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox4x32_10_matches_the_random123_known_answers(counter, key, expected) -> None:
    got = philox.block(np.array([counter], dtype=np.uint32), np.array(key, dtype=np.uint32))[0]
    assert tuple(int(x) for x in got) == expected


@njit
def _normals(k0, k1, period, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = philox.normal(k0, k1, i, period, 0, philox.SLOT_LANE)
    return out


@njit
def _normals_into(k0, k1, period, n):
    out = np.empty(n)
    work = np.empty(n, dtype=np.uint64)
    philox.normals_into(k0, k1, period, 0, philox.SLOT_LANE, 0, n, out, work)
    return out


@njit
def _uniforms(k0, k1, period, n):
    out = np.empty(n)
    philox.uniforms_into(k0, k1, period, 0, philox.SLOT_LANE, 0, n, out)
    return out


@njit
def _second_draw(k0, k1, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = philox.normal(k0, k1, i, 11, 1, philox.SLOT_LANE)
    return out


@njit
def _one(k0, k1, index, period, draw):
    return philox.uniform(k0, k1, index, period, draw, 0), philox.normal(k0, k1, index, period, draw, 0)


N = 400_000
KEY = (np.uint64(0x1234ABCD), np.uint64(0x0BADF00D))


def test_the_vectorized_normals_are_the_scalar_ones_bit_for_bit() -> None:
    assert np.array_equal(_normals_into(*KEY, 7, 50_000), _normals(*KEY, 7, 50_000))


def test_standard_normals_follow_the_normal_law() -> None:
    z = _normals(*KEY, 3, N)
    # Kolmogorov-Smirnov against scipy's normal: D below its 0.1% critical value 1.95 / sqrt(n)
    assert stats.kstest(z, stats.norm.cdf).statistic < 1.95 / np.sqrt(N)
    # mean and variance within 4 standard errors (1/sqrt(n), sqrt(2/n))
    assert abs(z.mean()) < 4 / np.sqrt(N)
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2.0 / N)
    # the ziggurat's tail beyond r: the normal's tail mass, within 4 binomial standard errors
    tail = 2 * stats.norm.sf(philox.ZIGGURAT_R)
    assert abs((np.abs(z) > philox.ZIGGURAT_R).mean() - tail) < 4 * np.sqrt(tail / N)
    # ten equiprobable bins: chi-square below its 0.1% quantile
    edges = stats.norm.ppf(np.linspace(0, 1, 11))
    counts = np.histogram(z, bins=edges)[0]
    assert stats.chisquare(counts).statistic < stats.chi2.ppf(0.999, 9)


def test_uniforms_follow_the_uniform_law_and_are_never_0_or_1() -> None:
    u = _uniforms(*KEY, 5, N)
    assert 0.0 < u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").statistic < 1.95 / np.sqrt(N)
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / N)


def test_neighbouring_slots_periods_and_draws_are_independent() -> None:
    """Correlation of the normals of slot i and i+1, of period t and t+1, and of draw 0 and 1
    of the same slot: within 4 standard errors (1/sqrt(n)) of 0."""
    n = 100_000
    a = _normals(*KEY, 11, n + 1)
    b = _normals(*KEY, 12, n)
    c = _second_draw(*KEY, n)
    for x, y in ((a[:-1], a[1:]), (a[:-1], b), (a[:-1], c)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 4 / np.sqrt(n)


@settings(max_examples=60, deadline=None)
@given(
    k0=st.integers(0, 2**32 - 1),
    k1=st.integers(0, 2**32 - 1),
    index=st.integers(0, 2**32 - 1),
    period=st.integers(0, 2**32 - 1),
    draw=st.integers(0, 2**20),
)
def test_any_key_and_counter_give_a_uniform_inside_0_1_and_a_finite_normal(k0, k1, index, period, draw) -> None:
    u, z = _one(np.uint64(k0), np.uint64(k1), np.uint64(index), np.uint64(period), np.uint64(draw))
    assert 0.0 < u < 1.0
    assert np.isfinite(z) and abs(z) < 40


def test_keys_depend_on_seed_replication_and_mechanism_only() -> None:
    keys = philox_keys(42, range(3, 7))
    assert keys.shape == (4, len(MECHANISMS), 2) and keys.dtype == np.uint32
    again = philox_keys(42, range(5, 6))
    assert np.array_equal(again[0], keys[2])  # replication 5 whatever the batch
    assert len({tuple(k) for k in keys.reshape(-1, 2)}) == keys.shape[0] * keys.shape[1]
    assert not np.array_equal(philox_keys(43, range(3, 7)), keys)
    want = np.random.SeedSequence(42, spawn_key=(3, MECHANISMS.index("retention"), 0)).generate_state(2, np.uint32)
    assert np.array_equal(keys[0, MECHANISMS.index("retention")], want)
