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
        # Idiosyncratic level: AR(1) step for every filled slot, then a stationary
        # start for the customers acquired this period (the slots they filled).
        idio = state.view("idio")
        if period == 1:  # every customer present starts in the stationary law
            np.multiply(z, s_e * stat, out=idio)
        else:
            new = state.records["acquired"][:, period - 1]
            fresh = [(b, int(state.next_free[b]) - int(k), int(state.next_free[b])) for b, k in enumerate(new) if k]
            starts = [(s_e * stat) * z[b, lo:hi] for b, lo, hi in fresh]
            idio *= phi
            z *= s_e
            idio += z
            for (b, lo, hi), start in zip(fresh, starts):  # per replication, not per customer
                idio[b, lo:hi] = start
        # log level = (market - V/2 + segment level) + idio + growth, the first term
        # gathered from a (batch x segments) table by each slot's segment
        variance = sd * sd * stat * stat
        level = (state.market[:, None] - 0.5 * variance) + state.sector
        log_level = np.take(level.ravel(), self.segment_index(state))
        log_level += idio
        log_level += (period * p.dt) * state.view("log1p_growth")
        np.exp(log_level, out=log_level)
        np.multiply(state.view("wallet_dt"), log_level, out=state.demand[:, : state.width])

    def segment_index(self, state: BatchState) -> np.ndarray:
        """Flat index ``b * n_segments + segment`` of every slot of the prefix into the
        (batch x segments) table, computed once per batch (segments never change)."""
        cached = getattr(self, "_segment_index", None)
        if cached is None or cached[0] is not state:
            flat = state.base.segment.astype(np.intp) + state.params.n_segments * np.arange(state.shape[0])[:, None]
            cached = self._segment_index = (state, flat)
        return cached[1][:, : state.width]
