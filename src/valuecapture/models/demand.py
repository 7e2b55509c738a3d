"""Demand: each customer's wallet this period, with one-factor correlated shocks."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import BatchState


class Demand(Component):
    """Wallet at list price this period.

    ``eps_it = sqrt(rho_across) M_t + sqrt(rho_within - rho_across) S_seg(i),t
    + sqrt(1 - rho_within) e_it`` (standard normals: market, segment,
    idiosyncratic), so two customers' shocks correlate ``rho_within`` inside a
    segment and ``rho_across`` between segments.  The log shock follows
    ``x_it = phi x_i,t-1 + sigma sqrt(dt) eps_it`` and enters as
    ``exp(x_it - Var(x_t)/2)`` so that it has mean one.  Wallets grow at the
    customer's growth rate from the start of the horizon.
    """

    name = "demand"
    phase = 20
    reads = ("shock", "log1p_growth")
    writes = ("shock", "demand")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        market = state.draw("demand", "standard_normal", 1)
        sector = state.draw("demand", "standard_normal", p.n_segments)
        idio = state.draw("demand", "standard_normal")
        seg = np.take_along_axis(sector, state.base.segment.astype(np.intp), axis=1)
        eps = np.sqrt(p.rho_across) * market + np.sqrt(p.rho_within - p.rho_across) * seg + np.sqrt(1.0 - p.rho_within) * idio
        state.shock = p.persistence * state.shock + p.volatility_period * eps
        state.shock_variance = p.persistence**2 * state.shock_variance + p.volatility_period**2
        years = period * p.dt
        level = np.exp(state.shock - 0.5 * state.shock_variance + years * state.log1p_growth)
        state.demand = state.base.wallet * p.dt * level
