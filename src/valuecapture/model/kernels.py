"""Compiled loops for the engine's hot sub-models.

The per-period sub-models (demand, economics, relationship, retention) and
acquisition's referral count each run one loop over the filled slots of every
replication of a batch, written as the scalar equations of
docs/model.md and compiled with numba: every per-slot array is read and written
once per period instead of once per numpy operation.  The loops live next to the
sub-model they implement (``model/submodels/*.py``); this module holds the common
compilation settings, the kernels' ``exp``/``expm1``, and the set-up's network loops
(:func:`adjacency`, :func:`segment_partners`).

Settings, and why:

* ``cache=True`` -- compiled code is stored next to the source (or in numba's user
  cache when that folder is read-only), so a worker process loads it instead of
  compiling again; the first run on a machine compiles (a few seconds).
* no ``fastmath`` and no ``parallel`` -- floating-point operations run in the order
  written, one thread per worker, so a slot's numbers depend only on its own inputs
  (results stay bit-identical whatever the batch size, worker count or executor).
* ``error_model="numpy"`` -- a division by zero gives inf/NaN as in numpy, instead
  of raising.

Every sub-model kernel takes the full ``(batch, slots)`` arrays (C-contiguous: one
compiled version per kernel) and ``filled``, each replication's number of filled slots
(``next_free``), to loop over.  Setting the
environment variable ``NUMBA_DISABLE_JIT=1`` runs the same loops as plain Python
(slow; for debugging).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic


def kernel(fn):
    """Compile ``fn`` with the engine's settings (see the module docstring)."""
    return njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(fn)


#: Stands in for a per-slot array a kernel reads only when a feature is on (the
#: misalignment with alignment off): the same array type, so one compiled version.
NO_SLOTS = np.zeros((1, 1))


@kernel
def adjacency(first, second, ties, n_slots):
    """Adjacency lists of a batch's undirected ties, over flat nodes ``b * n_slots + i``.

    Replication ``b``'s ties are ``first[k], second[k]`` for ``k`` in
    ``ties[b]..ties[b + 1] - 1`` (slot indices of that replication); a self-tie is
    dropped.  Returns ``indptr, indices``: the neighbours of node ``v`` are
    ``indices[indptr[v]:indptr[v + 1]]``, first the ties in which ``v`` is the second
    end, then those in which it is the first, each in the order drawn.  One
    replication at a time, so its counting sort stays in cache."""
    n_batch = ties.size - 1
    indptr = np.zeros(n_batch * n_slots + 1, dtype=np.int64)
    for b in range(n_batch):
        off = b * n_slots + 1
        for k in range(ties[b], ties[b + 1]):
            if first[k] != second[k]:
                indptr[off + first[k]] += 1
                indptr[off + second[k]] += 1
    for v in range(n_batch * n_slots):
        indptr[v + 1] += indptr[v]
    indices = np.empty(indptr[-1], dtype=np.int64)
    fill = indptr[:-1].copy()
    for b in range(n_batch):
        off = b * n_slots
        for k in range(ties[b], ties[b + 1]):
            i, j = first[k], second[k]
            if i != j:
                indices[fill[off + j]] = off + i
                fill[off + j] += 1
        for k in range(ties[b], ties[b + 1]):
            i, j = first[k], second[k]
            if i != j:
                indices[fill[off + i]] = off + j
                fill[off + i] += 1
    return indptr, indices


@kernel
def segment_partners(i, inside, u, anyone, segment, n_segments):
    """The second end of each ``segment_clusters`` tie (first end ``i``): where
    ``inside[k]`` a slot of ``i``'s segment picked by the uniform ``u[k]``
    (the ``floor(u * count)``-th in slot order), else ``anyone[k]``."""
    n = segment.size
    counts = np.zeros(n_segments, dtype=np.int64)
    for v in range(n):
        counts[segment[v]] += 1
    starts = np.zeros(n_segments, dtype=np.int64)
    for s in range(1, n_segments):
        starts[s] = starts[s - 1] + counts[s - 1]
    order = np.empty(n, dtype=np.int64)  # slots grouped by segment, in slot order
    fill = starts.copy()
    for v in range(n):
        order[fill[segment[v]]] = v
        fill[segment[v]] += 1
    out = np.empty(i.size, dtype=np.int64)
    for k in range(i.size):
        if inside[k]:
            s = segment[i[k]]
            out[k] = order[starts[s] + min(np.int64(u[k] * counts[s]), counts[s] - 1)]
        else:
            out[k] = anyone[k]
    return out


# -- standard normals ------------------------------------------------------------------
#
# numba compiles numpy's Generator methods from numpy's own algorithms (the same
# ziggurat, the same bit generator called through its C interface), so a compiled
# loop draws the very numbers ``gen.standard_normal(out=...)`` draws, and faster, as
# numpy's bulk method calls the bit generator and the ziggurat through function
# pointers per number.  Passing a Generator to compiled code has a fixed cost (numba
# reads its C interface through ctypes), so short draws stay with numpy
# (:data:`COMPILED_NORMALS_FROM`; the measurements are in docs/performance.md).
# tests/test_kernels.py checks the numbers bit for bit.

#: Fewest numbers for which :func:`fill_standard_normal` draws with the compiled loop.
COMPILED_NORMALS_FROM = 8192


@kernel
def _standard_normals(gen, out):
    for i in range(out.size):
        out[i] = gen.standard_normal()


def fill_standard_normal(gen: np.random.Generator, out: np.ndarray) -> None:
    """``gen.standard_normal(out=out)`` for a 1-d contiguous ``out``: the same numbers,
    by the compiled loop when there are at least :data:`COMPILED_NORMALS_FROM` of them."""
    if out.size >= COMPILED_NORMALS_FROM:
        _standard_normals(gen, out)
    else:
        gen.standard_normal(out=out)


# -- exp and expm1 for the kernels ---------------------------------------------------
#
# numba compiles ``math.exp`` to a call of the C library's scalar exp (about 9 ns
# here, and the call keeps the loop from being vectorized), several times the cost
# of numpy's SIMD exp.  The kernels therefore use the two functions below: pure
# IEEE arithmetic (a Cody-Waite range reduction and a degree-14 Taylor polynomial,
# no library call), so the compiler can vectorize the loop, and the same bits come
# out on every machine.  Accuracy: within 1 ulp of numpy's exp over the range the
# model uses (tests/test_kernels.py: exp within 1 ulp, expm1 within 2); arguments are clamped to
# [-708, 709], i.e. the result saturates instead of under- or overflowing (the
# model's arguments are a few units at most).

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two, so k ln 2 is exact in the high part
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5 * 2^52: adding and subtracting it rounds to an integer


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret the 64 bits of an int64 as a float64 (no conversion)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@njit(inline="always", error_model="numpy")
def _reduce(x):
    """``x = k ln 2 + r`` with ``k`` an integer (as a float) and ``|r| <= ln 2 / 2``;
    returns ``2^k`` and ``r`` (``x`` clamped to [-708, 709] first)."""
    x = min(max(x, -708.0), 709.0)
    k = (x * _LOG2E + _SHIFTER) - _SHIFTER
    r = (x - k * _LN2_HI) - k * _LN2_LO
    return _bits_to_float((np.int64(k) + 1023) << 52), r


@njit(inline="always", error_model="numpy")
def _taylor_expm1(r):
    """``r + r^2/2! + ... + r^14/14!`` by Horner's rule (for ``|r| <= ln 2 / 2`` the
    terms left out are below 1e-17 relative)."""
    p = 1.0 / 87178291200.0
    p = p * r + 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    return p * r


@njit(inline="always", error_model="numpy")
def exp(x):
    """``e^x = 2^k e^r = 2^k + 2^k (e^r - 1)``."""
    s, r = _reduce(x)
    return s + s * _taylor_expm1(r)


@njit(inline="always", error_model="numpy")
def expm1(x):
    """``e^x - 1 = (2^k - 1) + 2^k (e^r - 1)``: accurate also for small ``x``, where
    ``k = 0`` and the result is the series ``e^r - 1`` itself (``exp(x) - 1`` would
    cancel)."""
    s, r = _reduce(x)
    return (s - 1.0) + s * _taylor_expm1(r)


@njit(inline="always", error_model="numpy")
def logistic(x):
    """``1 / (1 + e^-x)`` with :func:`exp`: the one logistic of share of wallet (set-up,
    acquisition and the period step evaluate it alike)."""
    return 1.0 / (1.0 + exp(-x))
