"""Counter-based random numbers: Philox4x32-10, compiled, and its uniform and normal laws.

A counter-based generator (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers:
as easy as 1, 2, 3", SC'11; the Random123 library) computes a random number as a pure
function of a *key* and a *counter*: there is no state to carry, advance or hand around,
so the number for (replication, mechanism, period, slot, draw) is computed directly where
the model needs it, inside the compiled per-period loop, and a slot whose customer is lost
draws nothing without shifting anyone else's numbers.

The engine's numbers (docs/model.md, "Random numbers"):

* the **key** (two 32-bit words) is a function of the run's seed, the replication and the
  mechanism: the first two ``uint32`` words of ``SeedSequence(seed, spawn_key=(r, m, 0))``
  (:func:`valuecapture.run.seeds.philox_keys`);
* the **counter** (four 32-bit words) is ``(index, period, draw, lane)``: ``index`` is the
  customer slot (lane 0) or the number of a replication-level draw (lane 1: the market and
  segment shocks, the prospecting uniform); ``draw`` numbers the draws of one mechanism for
  one slot and period (0 for most; interaction space ``j`` is draw ``j``); period 0 is the
  set-up (the customer's initial view of the supplier);
* draw ``d`` takes the Philox4x32-10 block of the counter ``(index, period, d, lane)``: four
  32-bit words, two 64-bit ones (words 0 and 1, 2 and 3, the first the high half).  A
  uniform is ``(k + 1/2) 2^-53`` of the top 53 bits ``k`` of the first: in (0, 1), never 0
  or 1.  A standard normal is the ziggurat of the block (Marsaglia & Tsang 2000, numpy's
  256-layer 52-bit form): 99.3% of normals come from the first word alone; the rare
  rejection steps take the second word and then the blocks ``(index, period, d, lane + 2j)``,
  j = 1, 2, ..., whose lanes no draw's own block uses.

Philox4x32-10 is implemented with 32 x 32 -> 64-bit products in 64-bit unsigned integers
(no 128-bit arithmetic) and checked bit for bit against the Random123 known-answer vectors
(tests/test_philox.py).  The functions are compiled with ``inline="always"``, so the
per-period kernels that call them get the arithmetic in their own loops; the fused period
step computes a block of slots' Philox words in one branch-free loop (which the compiler
vectorizes, about 1.5 ns a block) before it uses them (docs/performance.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_LO = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_TWO53 = 2.0**-53
_HALF53 = 2.0**-54

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
    "stages",  # relationship stages: the initial customers' stage (set-up, period 0), the transition each period
)

#: Where each mechanism's key sits in a batch's ``keys`` array (``keys[b, m]``).
MECHANISM_INDEX = {name: m for m, name in enumerate(MECHANISMS)}

#: Lanes of the counter's fourth word.
SLOT_LANE = 0  # a customer slot's draws
REPLICATION_LANE = 1  # a replication's own draws (market and segment shocks, prospecting)

_inline = njit(inline="always", error_model="numpy", nogil=True)


@_inline
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)``: four
    32-bit words (each argument and result a ``uint64`` holding 32 bits)."""
    c0 = np.uint64(c0) & _LO
    c1 = np.uint64(c1) & _LO
    c2 = np.uint64(c2) & _LO
    c3 = np.uint64(c3) & _LO
    k0 = np.uint64(k0) & _LO
    k1 = np.uint64(k1) & _LO
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = (p1 >> _S32) ^ c1 ^ k0
        n2 = (p0 >> _S32) ^ c3 ^ k1
        c1 = p1 & _LO
        c3 = p0 & _LO
        c0 = n0
        c2 = n2
        k0 = (k0 + _W0) & _LO
        k1 = (k1 + _W1) & _LO
    return c0, c1, c2, c3


@_inline
def to_uniform(word):
    """The uniform ``(k + 1/2) 2^-53`` in (0, 1) of the top 53 bits ``k`` of a 64-bit word."""
    return np.float64(word >> _S11) * _TWO53 + _HALF53


@_inline
def uniform(k0, k1, index, period, draw, lane):
    """A uniform on (0, 1): draw ``draw`` at ``(index, period)`` in ``lane`` under key ``(k0, k1)``
    (the first word of the block ``(index, period, draw, lane)``)."""
    r0, r1, _, _ = philox4x32(index, period, draw, lane, k0, k1)
    return to_uniform((r0 << _S32) | r1)


# -- standard normals by the ziggurat --------------------------------------------------
#
# The inverse distribution function costs about 11 ns a normal (a rational function, and a
# logarithm and a square root in the tails); the ziggurat of Marsaglia & Tsang (2000), in
# numpy's 256-layer, 52-bit form, returns 99.3% of its normals after one table look-up, one
# product and one comparison of one 64-bit word.  Draw ``d`` of a normal at ``(index,
# period)`` takes the Philox block ``(index, period, d, lane)``: its first 64-bit word is the
# ziggurat's word; the rare rejection steps take the block's second word, then the blocks
# ``(index, period, d, lane + 2 j)``, j = 1, 2, ... (lanes no draw's first block uses).


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 256-layer ziggurat of the standard normal for 52-bit integers (Marsaglia & Tsang
    2000, with numpy's base-strip and layer conventions): layer ``i >= 1`` has right edge
    ``x_i`` (``wi[i] = x_i / 2^52``, ``x_255 = r``), ``ki[i] = 2^52 x_(i-1) / x_i`` (the part
    of the layer under the density), ``fi[i] = exp(-x_i^2 / 2)``; layer 0 is the base strip
    with the tail beyond ``r``."""
    m = 2.0**52
    r = ZIGGURAT_R
    v = 0.00492867323399  # the area of each layer
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    f = math.exp(-0.5 * r * r)
    q = v / f
    ki[0] = np.uint64((r / q) * m)
    ki[1] = 0
    wi[0] = q / m
    wi[255] = r / m
    fi[0] = 1.0
    fi[255] = f
    dn = tn = r
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64((dn / tn) * m)
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m
    return ki, wi, fi


ZIGGURAT_R = 3.6541528853610088  # where the tail starts
_KI, _WI, _FI = _ziggurat_tables()
_INV_R = 1.0 / ZIGGURAT_R
_MASK52 = np.uint64(0x000FFFFFFFFFFFFF)
_S8 = np.uint64(8)
_S9 = np.uint64(9)
_ONE = np.uint64(1)
_BYTE = np.uint64(0xFF)


@_inline
def block_words(k0, k1, index, period, draw, lane):
    """The two 64-bit words of the Philox block ``(index, period, draw, lane)``."""
    r0, r1, r2, r3 = philox4x32(index, period, draw, lane, k0, k1)
    return (r0 << _S32) | r1, (r2 << _S32) | r3


@_inline
def ziggurat(w0, w1, k0, k1, index, period, draw, lane):
    """The standard normal of the ziggurat word ``w0`` (the first word of the draw's block,
    ``w1`` its second): the fast path inline, the rare rest in :func:`_ziggurat_rest`."""
    idx = np.intp(w0 & _BYTE)
    rabs = (w0 >> _S9) & _MASK52
    x = np.float64(rabs) * _WI[idx]
    if (w0 >> _S8) & _ONE:
        x = -x
    if rabs < _KI[idx]:
        return x
    return _ziggurat_rest(w0, w1, k0, k1, index, period, draw, lane)


@njit(cache=True, nogil=True, error_model="numpy")
def _ziggurat_rest(w0, w1, k0, k1, index, period, draw, lane):
    """The ziggurat's rejection steps for the word ``w0`` that missed the fast path."""
    j = 0
    while True:
        idx = np.intp(w0 & _BYTE)
        rabs = (w0 >> _S9) & _MASK52
        negative = (w0 >> _S8) & _ONE
        x = np.float64(rabs) * _WI[idx]
        if negative:
            x = -x
        if rabs < _KI[idx]:
            return x
        if idx == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                j += 1
                a, c = block_words(k0, k1, index, period, draw, lane + 2 * j)
                xx = -_INV_R * math.log1p(-to_uniform(a))
                yy = -math.log1p(-to_uniform(c))
                if yy + yy > xx * xx:
                    return -(ZIGGURAT_R + xx) if negative else ZIGGURAT_R + xx
        elif (_FI[idx - 1] - _FI[idx]) * to_uniform(w1) + _FI[idx] < math.exp(-0.5 * x * x):
            return x
        j += 1
        w0, w1 = block_words(k0, k1, index, period, draw, lane + 2 * j)


@_inline
def normal(k0, k1, index, period, draw, lane):
    """A standard normal by the ziggurat: draw ``draw`` at ``(index, period)`` in ``lane``."""
    w0, w1 = block_words(k0, k1, index, period, draw, lane)
    return ziggurat(w0, w1, k0, k1, index, period, draw, lane)


@_inline
def normals_into(k0, k1, period, draw, lane, lo, n, out, work):
    """``out[i]``, ``i < n``: the standard normal of draw ``draw`` at ``(lo + i, period)`` in ``lane``
    (``work``: ``n`` uint64 of scratch).  In three loops: the Philox words, then the
    ziggurat's fast path for every ``i``, both without a branch (the compiler vectorizes
    them: about 2.5 ns a normal), then the rare rest (0.7% of draws)."""
    for i in range(n):
        w0, _ = block_words(k0, k1, lo + i, period, draw, lane)
        work[i] = w0
    for i in range(n):
        w0 = work[i]
        idx = np.intp(w0 & _BYTE)
        x = np.float64(np.int64((w0 >> _S9) & _MASK52)) * _WI[idx]  # (signed: it converts faster)
        out[i] = -x if (w0 >> _S8) & _ONE else x
    for i in range(n):
        w0 = work[i]
        if (w0 >> _S9) & _MASK52 >= _KI[np.intp(w0 & _BYTE)]:
            w0, w1 = block_words(k0, k1, lo + i, period, draw, lane)
            out[i] = _ziggurat_rest(w0, w1, k0, k1, lo + i, period, draw, lane)


@_inline
def uniforms_into(k0, k1, period, draw, lane, lo, n, out):
    """``out[i]``, ``i < n``: the uniform of draw ``draw`` at ``(lo + i, period)`` in ``lane``."""
    for i in range(n):
        out[i] = uniform(k0, k1, lo + i, period, draw, lane)


@njit(cache=True, nogil=True, error_model="numpy")
def block(counters, key):
    """Philox4x32-10 of each row of ``counters`` (n x 4, uint32) under ``key`` (2, uint32): n x 4 uint32.
    (For tests and the reference, not for the engine's loops.)"""
    out = np.empty(counters.shape, dtype=np.uint32)
    for j in range(counters.shape[0]):
        r = philox4x32(counters[j, 0], counters[j, 1], counters[j, 2], counters[j, 3], key[0], key[1])
        for w in range(4):
            out[j, w] = np.uint32(r[w])
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def fill(keys, period, draw, lane, counts, normal_law, out):
    """``out[b, i]`` for ``i < counts[b]``: the uniform (``normal_law`` False) or standard
    normal of draw ``draw`` at ``(i, period)`` in ``lane`` under ``keys[b]``; 0 beyond."""
    for b in range(out.shape[0]):
        k0 = keys[b, 0]
        k1 = keys[b, 1]
        n = counts[b]
        for i in range(out.shape[1]):
            if i >= n:
                out[b, i] = 0.0
            elif normal_law:
                out[b, i] = normal(k0, k1, i, period, draw, lane)
            else:
                out[b, i] = uniform(k0, k1, i, period, draw, lane)


def draws(
    keys: np.ndarray, period: int, counts: np.ndarray, width: int, law: str = "uniform", draw: int = 0, lane: int = 0
) -> np.ndarray:
    """A ``(batch, width)`` array of one mechanism's numbers for the numpy sub-models:
    ``keys`` is ``(batch, 2)`` (that mechanism's keys), slot ``i < counts[b]`` gets its
    uniform or normal (``law``) of ``draw`` at ``(i, period)``, the rest 0."""
    out = np.empty((keys.shape[0], int(width)))
    fill(keys, int(period), int(draw), int(lane), np.asarray(counts, dtype=np.int64), law == "normal", out)
    return out
