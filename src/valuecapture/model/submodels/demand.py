"""Demand: each customer's wallet this period, with one-factor correlated shocks."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from valuecapture.model.engine import Component
from valuecapture.model.kernels import exp, kernel
from valuecapture.model.state import BatchState


class Demand(Component):
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
    """

    name = "demand"
    phase = 20
    reads = (
        "next_free",
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

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        phi = p.persistence
        sd = p.volatility_period
        stat = 1.0 / np.sqrt(1.0 - phi * phi)  # stationary sd per unit innovation sd
        gens = state.streams("demand", period)
        common = np.array([g.standard_normal(1 + p.n_segments) for g in gens])  # market, then segments
        z = state.keyed(gens, "standard_normal")
        s_m = sd * np.sqrt(p.rho_across)
        s_s = sd * np.sqrt(p.rho_within - p.rho_across)
        s_e = sd * np.sqrt(1.0 - p.rho_within)
        if period == 1:
            state.market = s_m * stat * common[:, 0]
            state.sector = s_s * stat * common[:, 1:]
        else:
            state.market = phi * state.market + s_m * common[:, 0]
            state.sector = phi * state.sector + s_s * common[:, 1:]
        # The idiosyncratic level steps as an AR(1) in every filled slot; the
        # customers acquired this period (the last ``acquired`` filled slots) start
        # in the stationary law instead, as does everyone at period 1.
        if period == 1:
            fresh_from = np.zeros(state.shape[0], dtype=np.int64)
        else:
            fresh_from = state.next_free - state.records["acquired"][:, period - 1].astype(np.int64)
        variance = sd * sd * stat * stat
        level = (state.market[:, None] - 0.5 * variance) + state.sector  # (batch x segments)
        k = DemandTerms(phi=float(phi), s_e=float(s_e), stat=float(stat), years=period * p.dt)
        step_demand(state.next_free, state.slots(), state.base.segment, z, fresh_from, level, k)


class DemandTerms(NamedTuple):
    """This period's constants of the idiosyncratic demand step."""

    phi: float  # persistence
    s_e: float  # idiosyncratic innovation sd per period
    stat: float  # stationary sd per unit innovation sd, 1 / sqrt(1 - phi^2)
    years: float  # time since the start of the horizon


@kernel
def step_demand(filled, s, segment, z, fresh_from, level, k):
    """Idiosyncratic AR(1) step and this period's wallet of the filled slots
    (``[b, :filled[b]]``) of the :class:`~valuecapture.model.state.Slots` record ``s``, in
    place, with the :class:`DemandTerms` ``k``.

    ``z`` is each slot's standard normal innovation, slots from ``fresh_from[b]`` on start
    in the stationary law, ``level[b, s]`` is ``market - Var(x)/2 + segment level s``.
    """
    idio, demand, wallet_dt, log1p_growth = s.idio, s.demand, s.wallet_dt, s.log1p_growth
    phi, s_e, stat, years = k.phi, k.s_e, k.stat, k.years
    for b in range(idio.shape[0]):
        for i in range(filled[b]):
            start = (s_e * stat) * z[b, i]  # stationary start of a customer new now
            step = phi * idio[b, i] + s_e * z[b, i]
            x = start if i >= fresh_from[b] else step
            idio[b, i] = x
            demand[b, i] = level[b, segment[b, i]] + x + years * log1p_growth[b, i]  # log of the shock x growth
        for i in range(filled[b]):  # a separate loop, which the compiler vectorizes
            demand[b, i] = wallet_dt[b, i] * exp(demand[b, i])
