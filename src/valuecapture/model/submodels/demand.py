"""Demand: each customer's wallet this period, with one-factor correlated shocks."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from valuecapture.model.engine import Part
from valuecapture.model.kernels import exp
from valuecapture.model.philox import REPLICATION_LANE, normal
from valuecapture.model.state import BatchState


class Demand(Part):
    """Wallet at list price this period.

    The log demand shock of customer ``i`` in segment ``s`` is
    ``x_it = m_t + z_st + e_it``: a market level, a segment level and an
    idiosyncratic level, each an AR(1) with persistence ``phi`` and innovation
    standard deviations ``sigma sqrt(rho_across)``, ``sigma sqrt(rho_within -
    rho_across)`` and ``sigma sqrt(1 - rho_within)`` (``sigma`` = volatility x
    sqrt(dt)).  Two customers' shocks therefore correlate ``rho_within`` inside a
    segment and ``rho_across`` between segments (one-factor model).  Every level
    starts in its stationary distribution (at period 1, and for a new customer's
    idiosyncratic level at acquisition), so ``Var(x) = sigma^2 / (1 - phi^2)`` and
    the shock enters as ``exp(x - Var(x)/2)``, with mean one.  Wallets grow at
    the customer's growth rate from the start of the horizon.

    Random numbers (``demand`` key): the market's innovation is replication-level draw 0
    of the period, segment ``s``'s draw ``1 + s``; customer slot ``i``'s innovation is the
    slot's normal of the period.
    """

    name = "demand"
    reads = (
        "next_free",
        "status",
        "idio",
        "market",
        "sector",
        "wallet_dt",
        "log1p_growth",
        "records.acquired",
    )
    writes = (
        "idio",
        "market",
        "sector",
        "demand",
    )

    @staticmethod
    def terms(state: BatchState, period: int) -> tuple[DemandTerms, np.ndarray, np.ndarray]:
        """Step the market and segment levels; return this period's terms of the slots' step,
        the first slot acquired this period (``(batch,)``: those from there on start afresh)
        and the level ``market - Var(x)/2 + segment level`` by replication and segment."""
        p = state.params
        phi = p.persistence
        sd = p.volatility_period
        stat = 1.0 / np.sqrt(1.0 - phi * phi)  # stationary sd per unit innovation sd
        common = common_shocks(state.key("demand"), period, 1 + p.n_segments)  # market, then segments
        s_m = sd * np.sqrt(p.rho_across)
        s_s = sd * np.sqrt(p.rho_within - p.rho_across)
        s_e = sd * np.sqrt(1.0 - p.rho_within)
        if period == 1:
            state.market = s_m * stat * common[:, 0]
            state.sector = s_s * stat * common[:, 1:]
        else:
            state.market = phi * state.market + s_m * common[:, 0]
            state.sector = phi * state.sector + s_s * common[:, 1:]
        # The idiosyncratic level steps as an AR(1); the customers acquired this period
        # (the last ``acquired`` filled slots) start in the stationary law instead, as does
        # everyone at period 1.
        if period == 1:
            fresh_from = np.zeros(state.shape[0], dtype=np.int64)
        else:
            fresh_from = state.next_free - state.records["acquired"][:, period - 1].astype(np.int64)
        variance = sd * sd * stat * stat
        level = (state.market[:, None] - 0.5 * variance) + state.sector  # (batch x segments)
        terms = DemandTerms(phi=float(phi), s_e=float(s_e), stat=float(stat), years=period * p.dt)
        return terms, fresh_from, np.ascontiguousarray(level)


class DemandTerms(NamedTuple):
    """This period's terms of the idiosyncratic demand step."""

    phi: float  # persistence
    s_e: float  # idiosyncratic innovation sd per period
    stat: float  # stationary sd per unit innovation sd, 1 / sqrt(1 - phi^2)
    years: float  # time since the start of the horizon


def common_shocks(keys: np.ndarray, period: int, n: int) -> np.ndarray:
    """``(batch, n)`` standard normals: replication-level draws ``0..n-1`` of ``period``."""
    out = np.empty((keys.shape[0], n))
    _common(keys, period, out)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _common(keys, period, out):
    for b in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[b, j] = normal(keys[b, 0], keys[b, 1], j, period, 0, REPLICATION_LANE)


@njit(inline="always", error_model="numpy")
def demand_block(n, z, fresh_from, idio, demand, wallet_dt, log1p_growth, segment, level, k):
    """The demand step of ``n`` consecutive slots of one replication (1-d views of its arrays):
    each slot's idiosyncratic level steps with its normal ``z`` (slots from ``fresh_from`` on
    start afresh), and its wallet this period is ``wallet_dt exp(level[segment] + x + years
    log(1 + growth))``.  Two loops without a branch, which the compiler vectorizes."""
    for j in range(n):
        x = idio_step(idio[j], z[j], j >= fresh_from, k)
        idio[j] = x
        demand[j] = level[segment[j]] + x + k.years * log1p_growth[j]  # the log of the shock x growth
    for j in range(n):  # a separate loop: the exp after the gather of the segment level
        demand[j] = wallet_dt[j] * exp(demand[j])


@njit(inline="always", error_model="numpy")
def idio_step(idio, z, fresh, k):
    """A slot's idiosyncratic level after this period: an AR(1) step of ``idio`` with the
    standard normal innovation ``z``, or (``fresh``: acquired now) a start in the stationary
    law."""
    return (k.s_e * k.stat) * z if fresh else k.phi * idio + k.s_e * z
