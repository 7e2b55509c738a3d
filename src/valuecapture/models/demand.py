"""Demand: each customer's wallet this period, with one-factor correlated shocks."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import BatchState


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
    reads = ("idio", "market", "sector", "wallet_dt", "log1p_growth", "acquired_period")
    writes = ("idio", "market", "sector", "demand")

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
        idio = state.view("idio")
        fresh = state.view("acquired_period") >= period - 1 if period == 1 else state.view("acquired_period") == period
        idio[...] = np.where(fresh, (s_e * stat) * z, phi * idio + s_e * z)
        seg = np.take_along_axis(state.sector, state.base.segment[:, : state.width].astype(np.intp), axis=1)
        variance = sd * sd * stat * stat
        log_level = (state.market[:, None] - 0.5 * variance) + seg + idio + (period * p.dt) * state.view("log1p_growth")
        state.demand[:, : state.width] = state.view("wallet_dt") * np.exp(log_level)
