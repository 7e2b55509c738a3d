"""Economics: revenue, costs, NOPAT, invested capital, economic profit, value capture."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from ..business_models import complexity_cost
from .state import ACTIVE, BatchState, rowsum


def alignment_costs(state: BatchState, period: int, revenue: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """After-tax per-slot costs of misalignment (prefix ``[:, :width]``): over-serving waste
    ``service x waste x max(t - c, 0)`` (``service`` already after tax) and, with
    ``alignment.internal``, friction ``(1 - tax) revenue C internal_cost m_int``."""
    p = state.params
    w = state.width
    out = np.zeros(alive.shape)
    if p.align_waste:
        over = np.maximum(state.treatment[:, :w] - state.customer_level[:, :w], 0.0)  # type: ignore[index]
        out += state.view("service") * p.align_waste * over * alive
    if p.internal_alignment and p.internal_cost:
        from .alignment import internal_misalignment

        cts = state.base.cost_to_serve[:, :w] * p.business_models.cost_to_serve_factor[state.business_model[:, :w]]
        out += (1.0 - p.tax_rate) * revenue * cts * p.internal_cost * internal_misalignment(state, period)[:, :w]
    return out


def recurring_capability_spend(state: BatchState) -> np.ndarray:
    """Per-period cost of the capability levels held (before tax): customer insight,
    account managers and the modular platform.  Reviews are charged when held."""
    p = state.params
    return state.insight_level * p.insight_cost_period + state.account_managers * p.manager_cost_period + state.platform_level * p.platform_cost_period


class Economics(Component):
    """Economic profit of every active relationship this period (Storbacka & Nenonen 2009).

    ``V = demand * share_of_wallet`` is the list-price value bought from us;
    ``revenue = V P`` (``P`` = net price x business-model price factor);
    ``COGS = V c``; ``cost_to_serve = revenue C (1 + adaptation_cost A)``;
    ``NOPAT = (revenue - COGS - cost_to_serve - service_cost dt)(1 - tax)``;
    ``IC = annual revenue (DSO/365 + dedicated_assets A) + annual COGS inventory_days/365``;
    ``EP = NOPAT - wacc_period IC`` -- evaluated in the equivalent linear form of
    :func:`~valuecapture.models.state.apply_assignment`.  Flows of period ``t``
    are discounted by ``(1 + wacc_period)^-t``.  Firm-level costs (tax-deductible,
    so they reduce firm value after tax): the firm's fixed cost; the fixed cost of
    every business model serving at least one active customer, and its set-up
    cost the first period it does; the complexity cost ``C1 K^b`` of the ``K``
    business models in use (reduced by the platform); capability spend
    (insight, account managers, platform, reviews); switching costs.  Value
    capture is also accumulated by business model (the model serving the
    relationship in the period).
    """

    name = "economics"
    phase = 30
    reads = ("demand", "share_of_wallet", "adaptation", "status", "trust", "margin_base", "margin_adaptation", "capital_base", "capital_adaptation", "service", "price")
    writes = ("revenue", "economic_profit", "value", "periods_active", "ep_history", "model_counts", "value_by_model", "used_ever")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        w = state.width
        alive = state.view("status") == ACTIVE
        a = state.view("adaptation")
        # Same expressions as the docstring, evaluated in place into the state's
        # own arrays (fewer temporaries; results are unchanged bit for bit).
        volume = state.view("demand") * state.view("share_of_wallet")
        volume *= alive
        revenue = np.multiply(volume, state.view("price"), out=state.revenue[:, :w])
        ep = np.multiply(state.view("margin_adaptation"), a, out=state.economic_profit[:, :w])
        ep += state.view("margin_base")
        ep *= volume
        ep -= state.view("service") * alive
        if p.alignment:
            ep -= alignment_costs(state, period, revenue, alive)
        capital = state.view("capital_adaptation") * a
        capital += state.view("capital_base")
        capital *= volume
        df = state.discount(period)
        state.view("value")[...] += ep * df
        state.view("periods_active")[...] += alive
        state.ep_history[period % state.ep_history.shape[0], :, :w] = ep
        rec = state.records
        t = period - 1
        bmt = p.business_models
        bm = state.view("business_model")
        n_alive = np.count_nonzero(alive, axis=1)
        rel_ep = rowsum(ep)
        # Per business model (arrays batch x models): active relationships, their
        # economic profit, the models in use.  With one business model for every
        # slot of the batch (a single-model policy) the per-model masks would select
        # all or nothing: skip them (same sums).
        n_models = len(bmt)
        counts = np.zeros((state.shape[0], n_models), dtype=n_alive.dtype)
        ep_by_model = np.zeros((state.shape[0], n_models))
        if bm.size == 0:
            pass
        elif bm.min() == bm.max():
            counts[:, bm[0, 0]] = n_alive
            ep_by_model[:, bm[0, 0]] = rel_ep
        else:
            for k in range(n_models):  # a handful of business models, not customers
                in_k = alive & (bm == k)
                counts[:, k] = np.count_nonzero(in_k, axis=1)
                ep_by_model[:, k] = rowsum(np.where(in_k, ep, 0.0))
        state.model_counts[:, t, :] = counts
        state.value_by_model += ep_by_model * df
        used = counts > 0
        first = used & ~state.used_ever
        state.used_ever |= used
        fixed = p.firm_fixed_cost_period + (used * (bmt.fixed_cost * p.dt)).sum(axis=1)  # before tax
        rec["change_cost"][:, t] += (first * bmt.setup_cost).sum(axis=1)
        in_use = used.sum(axis=1)
        if in_use.max(initial=0) > 1:  # zero for one business model
            rec["complexity_cost"][:, t] = complexity_cost(in_use, p.complexity_c1_period, p.complexity_exponent, state.platform_level, p.platform_effect)
        rec["capability_spend"][:, t] += recurring_capability_spend(state)
        capital_sum = rowsum(capital)
        rec["revenue"][:, t] = rowsum(revenue)
        rec["invested_capital"][:, t] = capital_sum
        rec["nopat"][:, t] = rel_ep + p.wacc_period * capital_sum
        rec["relationship_economic_profit"][:, t] = rel_ep
        rec["fixed_cost"][:, t] = fixed
        # firm-level costs are operating expenses: they reduce NOPAT, so they enter after tax
        tax1 = 1.0 - p.tax_rate
        firm_costs = fixed + rec["complexity_cost"][:, t] + rec["capability_spend"][:, t] + rec["change_cost"][:, t]
        rec["economic_profit"][:, t] = rel_ep - tax1 * (firm_costs + rec["acquisition_cost"][:, t])
        some = n_alive > 0  # NaN when no relationship is active
        np.divide(rowsum(state.view("trust") * alive), n_alive, out=rec["mean_trust"][:, t], where=some)
        np.divide(rowsum(state.view("share_of_wallet") * alive), n_alive, out=rec["mean_share_of_wallet"][:, t], where=some)
        rec["mean_trust"][~some, t] = np.nan
        rec["mean_share_of_wallet"][~some, t] = np.nan


class Valuation(Component):
    """Terminal value at the horizon (``economics.terminal_value``).

    ``'runoff'``: each relationship alive after the last period continues with
    its last economic profit and its last retention ``r = 1 - h``, no new
    customers: ``TV_i = EP_iT / (i + h_iT)`` discounted to time 0, where ``i`` is
    the per-period WACC (the closed form of sum_k r^(k-1) EP / (1+i)^k).  Fixed
    firm-level costs (fixed, complexity, capabilities and reviews at their
    last-period rate) run off in proportion to revenue:
    ``TV_fixed = F_T / R_T * sum_i R_iT / (i + h_iT)``.  ``'none'``: zero.
    """

    name = "valuation"
    phase = 95
    reads = ("economic_profit", "revenue", "hazard", "status")
    writes = ("terminal_relationship", "terminal_fixed", "value_by_model")

    def __init__(self, at: int):
        self.start = int(at)
        self.cadence = int(at)

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        df = state.discount(period)
        state.terminal_relationship = np.zeros(state.shape)
        state.terminal_fixed = np.zeros(state.shape[0])
        if p.terminal_value == "none":
            return
        w = state.width
        alive = state.view("status") == ACTIVE
        annuity = np.where(alive, df / (p.wacc_period + state.view("hazard")), 0.0)
        state.terminal_relationship[:, :w] = state.view("economic_profit") * annuity
        for k in range(len(p.business_models)):
            state.value_by_model[:, k] += rowsum(np.where(state.view("business_model") == k, state.terminal_relationship[:, :w], 0.0))
        rec = state.records
        t = period - 1
        revenue_T = rec["revenue"][:, t]
        recurring_T = rec["fixed_cost"][:, t] + rec["complexity_cost"][:, t] + recurring_capability_spend(state) + p.review_cost / p.review_interval
        if "interaction_cost" in rec:  # interaction spaces at their average rate over the last year
            recurring_T = recurring_T + rec["interaction_cost"][:, max(0, t + 1 - p.periods_per_year): t + 1].mean(axis=1)
        runoff_revenue = rowsum(state.view("revenue") * annuity)
        with np.errstate(invalid="ignore", divide="ignore"):
            state.terminal_fixed = np.where(revenue_T > 0, recurring_T / revenue_T * runoff_revenue, 0.0)
