"""The random-number floor: the time just to draw the random numbers the model needs.

No implementation of the model can be faster than drawing its random numbers, so
the engine's time is compared with the time one process takes to draw the same
numbers from the same bit generator (numpy's SFC64) with the same methods
(``standard_normal``, ``random``, ``beta``, ``standard_gamma``, ``integers``) in
large blocks -- no model arithmetic, no per-period stream creation, nothing kept.

Each kind of number is drawn in up to three ways and the fastest counts (:func:`draw_time`):
numpy's bulk methods (``gen.standard_normal(out=block)``), a numba-compiled loop
that calls the same Generator's method once per number (numba compiles numpy's
algorithms: the numbers are bit-identical, ``tests/test_benchmark_baselines.py``), and
-- for the per-period normals and uniforms -- the engine's own counter-based numbers
(Philox4x32-10 and the ziggurat, vectorized; model/philox.py), which are the fastest on the
development machine (about 2.5 ns a normal and 1.5 ns a uniform): a floor timed with a
slower method would not be a floor.

The numbers are counted from what the engine reports for the measured
replications (:func:`counts_from_dataset`), in two variants:

``minimal``
    what any implementation of the model must draw: per customer active in a
    period a demand normal, a quality normal and a churn uniform; per customer
    active at the start of a period a referral uniform; per customer and
    business-model review an insight normal; per period the market and segment
    normals and the prospecting uniform; per customer ever acquired the six copula
    normals and the churn-propensity beta; per initial customer the initial trust
    and adaptation betas and the age gamma; per network tie among the customers
    ever acquired, four draws.  This is the floor the targets refer to.
``keyed``
    what the engine computes: the per-period numbers for every *filled* slot (also
    customers already lost: the period step computes a block's numbers in a loop
    without branches), the attributes and ties of every slot including unused
    headroom.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba import njit

from valuecapture.model import philox

#: Draw kinds and how they are drawn.
KINDS = ("normal", "uniform", "beta", "gamma", "integers")


def counts_from_dataset(ds: Any, p: Any, variant: str = "minimal") -> dict[str, float]:
    """How many numbers of each kind the engine's replications in ``ds`` needed.

    ``ds`` is the Dataset of a ``valuecapture.simulate`` run of the comparison
    scenario, ``p`` its ``ModelParams``.  Counts are totals over all replications.
    """
    reps = ds.sizes["replication"]
    churned = ds["churned"].values
    acquired = ds["acquired"].values
    active_during = ds["customers_active"].values + churned  # active in the period (earned in it)
    active_start = active_during - acquired  # active at the start (may refer)
    filled = p.n_initial + np.cumsum(acquired, axis=1)  # filled slots during the period
    review_periods = np.arange(1, p.periods + 1, p.review_interval) - 1
    ties_per_node = p.mean_degree / 2.0 if p.network_generator != "none" else 0.0
    per_period_common = reps * p.periods * (1 + p.n_segments)  # market + segment levels
    if variant == "minimal":
        ever = ds["customers_ever"].values.sum()
        return {
            "normal": 2 * active_during.sum() + active_during[:, review_periods].sum() + per_period_common + 6 * ever,
            "uniform": active_during.sum() + active_start.sum() + reps * p.periods + 2 * ties_per_node * ever,
            "beta": ever + 2 * reps * p.n_initial,
            "gamma": reps * p.n_initial,
            "integers": 2 * ties_per_node * ever,
        }
    if variant == "keyed":
        slots = reps * p.n_slots
        return {
            "normal": 2 * filled.sum() + filled[:, review_periods].sum() + per_period_common + 6 * slots,
            "uniform": 2 * filled.sum() + reps * p.periods + 2 * ties_per_node * slots,
            "beta": slots + 2 * reps * p.n_initial,
            "gamma": reps * p.n_initial,
            "integers": 2 * ties_per_node * slots,
        }
    raise ValueError(f"unknown variant {variant!r}")


#: The parameters of each kind's draws (as the engine's scenario uses them).
BETA = (2.0, 18.0)
GAMMA_SHAPE = 2.0
INTEGERS_HIGH = 1 << 20


def _numpy_draws(gen: np.random.Generator, buf: np.ndarray) -> dict[str, Any]:
    """numpy's bulk methods, into ``buf[:n]`` where numpy allows ``out=``."""
    return {
        "normal": lambda n: gen.standard_normal(out=buf[:n]),
        "uniform": lambda n: gen.random(out=buf[:n]),
        "beta": lambda n: gen.beta(*BETA, size=n),
        "gamma": lambda n: gen.standard_gamma(GAMMA_SHAPE, size=n),
        "integers": lambda n: gen.integers(0, INTEGERS_HIGH, size=n),
    }


@njit(cache=True)
def _normals(gen, out):  # pragma: no cover - compiled
    for i in range(out.size):
        out[i] = gen.standard_normal()


@njit(cache=True)
def _uniforms(gen, out):  # pragma: no cover - compiled
    for i in range(out.size):
        out[i] = gen.random()


@njit(cache=True)
def _betas(gen, out, a, b):  # pragma: no cover - compiled
    for i in range(out.size):
        out[i] = gen.beta(a, b)


@njit(cache=True)
def _gammas(gen, out, shape):  # pragma: no cover - compiled
    for i in range(out.size):
        out[i] = gen.standard_gamma(shape)


@njit(cache=True)
def _integers(gen, out, high):  # pragma: no cover - compiled
    for i in range(out.size):
        out[i] = gen.integers(0, high)


def _compiled_draws(gen: np.random.Generator, buf: np.ndarray, ibuf: np.ndarray) -> dict[str, Any]:
    """numba-compiled loops drawing one number per call of the Generator's method."""
    return {
        "normal": lambda n: _normals(gen, buf[:n]),
        "uniform": lambda n: _uniforms(gen, buf[:n]),
        "beta": lambda n: _betas(gen, buf[:n], *BETA),
        "gamma": lambda n: _gammas(gen, buf[:n], GAMMA_SHAPE),
        "integers": lambda n: _integers(gen, ibuf[:n], INTEGERS_HIGH),
    }


@njit(cache=True)
def _counter_normals(out, work, offset):  # pragma: no cover - compiled
    philox.normals_into(np.uint64(0x9E3779B9), np.uint64(0x7F4A7C15), 1, 0, 0, offset, out.size, out, work)


@njit(cache=True)
def _counter_uniforms(out, offset):  # pragma: no cover - compiled
    philox.uniforms_into(np.uint64(0x9E3779B9), np.uint64(0x7F4A7C15), 1, 0, 0, offset, out.size, out)


def _counter_draws(buf: np.ndarray, work: np.ndarray) -> dict[str, Any]:
    """The engine's own counter-based numbers (Philox4x32-10; model/philox.py), by the same
    vectorized functions the period step uses; the set-up's kinds (beta, gamma, integers) come
    from the Generator, so this method has none of them."""
    offset = [0]

    def normals(n: int) -> None:
        _counter_normals(buf[:n], work[:n], offset[0])
        offset[0] += n

    def uniforms(n: int) -> None:
        _counter_uniforms(buf[:n], offset[0])
        offset[0] += n

    return {"normal": normals, "uniform": uniforms}


def draw_time(
    counts: dict[str, float], block: int = 1 << 16, repeat: int = 3, seed: int = 0, clock: str = "cpu"
) -> dict[str, Any]:
    """Seconds to draw ``counts`` numbers of each kind (best of ``repeat``), by kind and in total.

    ``clock``: ``"cpu"`` (process CPU time, as the ratios use) or ``"wall"``.

    Numbers are drawn into a preallocated block of ``block`` values at a time, from
    one SFC64 generator, by numpy's bulk methods and by a compiled loop (the module
    docstring); each kind counts with the faster of the two (``how[kind]``; both
    times are in ``by_method``).  The compiled loops are compiled (or loaded from
    numba's cache) before timing.
    """
    gen = np.random.Generator(np.random.SFC64(seed))
    buf = np.empty(block)
    ibuf = np.empty(block, dtype=np.int64)
    work = np.empty(block, dtype=np.uint64)
    methods = {
        "numpy": _numpy_draws(gen, buf),
        "compiled": _compiled_draws(gen, buf, ibuf),
        "counter": _counter_draws(buf, work),
    }
    for how in ("compiled", "counter"):
        for draw in methods[how].values():
            draw(1)  # compile or load before timing
    now = time.process_time if clock == "cpu" else time.perf_counter
    by_method: dict[str, dict[str, float]] = {m: {} for m in methods}
    for kind in KINDS:
        total = int(round(counts.get(kind, 0)))
        for m, draws in methods.items():
            if kind not in draws:
                continue
            best = float("inf")
            for _ in range(repeat):
                t0 = now()
                left = total
                while left > 0:
                    n = min(block, left)
                    draws[kind](n)
                    left -= n
                best = min(best, now() - t0)
            by_method[m][kind] = best if total else 0.0
    out: dict[str, Any] = {kind: min(t[kind] for t in by_method.values() if kind in t) for kind in KINDS}
    out["total"] = sum(out[k] for k in KINDS)
    out["how"] = {
        kind: min((m for m in methods if kind in by_method[m]), key=lambda m, k=kind: by_method[m][k]) for kind in KINDS
    }
    out["by_method"] = by_method
    return out
