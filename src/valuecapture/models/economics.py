"""Economics: revenue, costs, NOPAT, invested capital, economic profit, value capture."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import BatchState


class Economics(Component):
    """Economic profit of every active relationship this period (Storbacka & Nenonen 2009).

    ``volume = demand * share_of_wallet`` (list-price value bought from us);
    ``revenue = volume * price * price_factor[bm]``; ``COGS = volume * cogs_ratio``;
    ``cost_to_serve = revenue * cts * cts_factor[bm] * (1 + adaptation_cost * A)``;
    ``NOPAT = (revenue - COGS - cost_to_serve - service_cost[bm] dt) (1 - tax)``;
    ``IC = annual revenue * (DSO/365 + dedicated_assets * A) + annual COGS * inventory_days/365``;
    ``EP = NOPAT - wacc_period * IC``.  Flows of period t are discounted by
    ``(1 + wacc_period)^-t``.  Fixed costs: the firm's plus those of every
    business model serving at least one active customer.
    """

    name = "economics"
    phase = 30
    reads = ("demand", "share_of_wallet", "business_model", "adaptation", "status", "trust")
    writes = ("revenue", "economic_profit", "value", "periods_active")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        bmt = p.business_models
        bm = state.business_model
        alive = state.active
        a = state.adaptation
        volume = state.demand * state.share_of_wallet * alive
        revenue = volume * (state.base.price * bmt.price_factor[bm])
        cogs = volume * p.cogs_ratio
        cts = revenue * state.base.cost_to_serve * bmt.cost_to_serve_factor[bm] * (1.0 + p.adaptation_cost * a)
        service = np.where(alive, bmt.service_cost[bm] * p.dt, 0.0)
        nopat = (revenue - cogs - cts - service) * (1.0 - p.tax_rate)
        capital = (revenue * (p.dso_years + p.dedicated_assets * a) + cogs * p.inventory_years) / p.dt
        ep = nopat - p.wacc_period * capital
        state.revenue = revenue
        state.economic_profit = ep
        state.value += ep * state.discount(period)
        state.periods_active += alive
        fixed = np.full(state.shape[0], p.firm_fixed_cost_period)
        for k in range(len(bmt)):
            if bmt.fixed_cost[k] > 0:
                fixed += bmt.fixed_cost[k] * p.dt * np.any(alive & (bm == k), axis=1)
        rec = state.records
        t = period - 1
        n_alive = alive.sum(axis=1)
        rel_ep = ep.sum(axis=1)
        rec["revenue"][:, t] = revenue.sum(axis=1)
        rec["nopat"][:, t] = nopat.sum(axis=1)
        rec["invested_capital"][:, t] = capital.sum(axis=1)
        rec["relationship_economic_profit"][:, t] = rel_ep
        rec["fixed_cost"][:, t] = fixed
        rec["economic_profit"][:, t] = rel_ep - fixed - rec["acquisition_cost"][:, t]
        with np.errstate(invalid="ignore", divide="ignore"):
            rec["mean_trust"][:, t] = np.where(n_alive > 0, (state.trust * alive).sum(axis=1) / n_alive, np.nan)
            rec["mean_share_of_wallet"][:, t] = np.where(n_alive > 0, (state.share_of_wallet * alive).sum(axis=1) / n_alive, np.nan)


class Valuation(Component):
    """Terminal value at the horizon (``economics.terminal_value``).

    ``'runoff'``: each relationship alive after the last period continues with
    its last economic profit and its last retention ``r = 1 - h``, no new
    customers: ``TV_i = EP_iT / (i + h_iT)`` discounted to time 0, where ``i`` is
    the per-period WACC (the closed form of sum_k r^(k-1) EP / (1+i)^k).  Fixed
    costs run off in proportion to revenue:
    ``TV_fixed = F_T / R_T * sum_i R_iT / (i + h_iT)``.  ``'none'``: zero.
    """

    name = "valuation"
    phase = 95
    reads = ("economic_profit", "revenue", "hazard", "status")
    writes = ("terminal_relationship", "terminal_fixed")

    def __init__(self, at: int):
        self.start = int(at)
        self.cadence = int(at)

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        df = state.discount(period)
        if p.terminal_value == "none":
            state.terminal_relationship = np.zeros(state.shape)
            state.terminal_fixed = np.zeros(state.shape[0])
            return
        alive = state.active
        annuity = np.where(alive, df / (p.wacc_period + state.hazard), 0.0)
        state.terminal_relationship = state.economic_profit * annuity
        revenue_T = state.records["revenue"][:, period - 1]
        fixed_T = state.records["fixed_cost"][:, period - 1]
        runoff_revenue = (state.revenue * annuity).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            state.terminal_fixed = np.where(revenue_T > 0, fixed_T / revenue_T * runoff_revenue, 0.0)
