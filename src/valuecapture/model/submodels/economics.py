"""Economics: revenue, costs, NOPAT, invested capital, economic profit, value capture."""

from __future__ import annotations

import numpy as np

from valuecapture.model.business_models import complexity_cost
from valuecapture.model.engine import Component
from valuecapture.model.kernels import NO_SLOTS, kernel
from valuecapture.model.state import ACTIVE, BatchState, rowsum


def alignment_costs(state: BatchState, period: int, w: int) -> np.ndarray:
    """After-tax per-slot costs of misalignment on the prefix ``[:, :w]`` (zero for slots
    not active): over-serving waste ``service x waste x max(t - c, 0)`` (``service``
    already after tax) and, with ``alignment.internal``, friction
    ``(1 - tax) revenue C internal_cost m_int``."""
    p = state.params
    alive = state.view("status") == ACTIVE
    out = np.zeros(alive.shape)
    if p.align_waste:
        over = np.maximum(state.treatment[:, :w] - state.customer_level[:, :w], 0.0)  # type: ignore[index]
        out += state.view("service") * p.align_waste * over * alive
    if p.internal_alignment and p.internal_cost:
        from valuecapture.model.submodels.alignment import internal_misalignment

        revenue = state.view("demand") * state.view("share_of_wallet") * alive * state.view("price")
        out += (
            (1.0 - p.tax_rate)
            * revenue
            * state.view("cost_to_serve")
            * p.internal_cost
            * internal_misalignment(state, period)[:, :w]
        )
    return out


def recurring_capability_spend(state: BatchState) -> np.ndarray:
    """Per-period cost of the capability levels held (before tax): customer insight,
    account managers and the modular platform.  Reviews are charged when held."""
    p = state.params
    return (
        state.insight_level * p.insight_cost_period
        + state.account_managers * p.manager_cost_period
        + state.platform_level * p.platform_cost_period
    )


class Economics(Component):
    """Economic profit of every active relationship this period (Storbacka & Nenonen 2009).

    ``V = demand * share_of_wallet`` is the list-price value bought from us;
    ``revenue = V P`` (``P`` = net price x business-model price factor);
    ``COGS = V c``; ``cost_to_serve = revenue C (1 + adaptation_cost A)``;
    ``NOPAT = (revenue - COGS - cost_to_serve - service_cost dt)(1 - tax)``;
    ``IC = annual revenue (DSO/365 + dedicated_assets A) + annual COGS inventory_days/365``;
    ``EP = NOPAT - wacc_period IC`` -- evaluated in the equivalent linear form of
    :func:`~valuecapture.model.state.apply_assignment`.  Flows of period ``t``
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
    reads = (
        "demand",
        "share_of_wallet",
        "adaptation",
        "status",
        "trust",
        "margin_base",
        "margin_adaptation",
        "capital_base",
        "capital_adaptation",
        "service",
        "price",
    )
    writes = (
        "revenue",
        "economic_profit",
        "value",
        "periods_active",
        "ep_history",
        "model_counts",
        "value_by_model",
        "used_ever",
    )

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        w = state.width
        bmt = p.business_models
        n_batch = state.shape[0]
        extra = alignment_costs(state, period, w) if p.alignment else NO_SLOTS
        df = state.discount(period)
        counts = np.zeros((n_batch, len(bmt)), dtype=np.int64)
        ep_by_model = np.zeros((n_batch, len(bmt)))
        sums = np.zeros((n_batch, 5))  # economic profit, capital, revenue, trust, share of wallet
        step_economics(
            state.next_free, state.status, state.demand, state.share_of_wallet, state.adaptation, state.trust, state.price,
            state.margin_base, state.margin_adaptation, state.capital_base, state.capital_adaptation, state.service,
            state.business_model, extra, bool(p.alignment), df, state.revenue, state.value,
            state.periods_active, state.ep_history[period % state.ep_history.shape[0]], counts, ep_by_model, sums,
        )  # fmt: skip
        rel_ep, capital_sum, revenue_sum, trust_sum, sow_sum = sums.T
        rec = state.records
        t = period - 1
        n_alive = counts.sum(axis=1)
        state.model_counts[:, t, :] = counts
        state.value_by_model += ep_by_model * df
        used = counts > 0
        first = used & ~state.used_ever
        state.used_ever |= used
        fixed = p.firm_fixed_cost_period + (used * (bmt.fixed_cost * p.dt)).sum(axis=1)  # before tax
        rec["change_cost"][:, t] += (first * bmt.setup_cost).sum(axis=1)
        in_use = used.sum(axis=1)
        if in_use.max(initial=0) > 1:  # zero for one business model
            rec["complexity_cost"][:, t] = complexity_cost(
                in_use, p.complexity_c1_period, p.complexity_exponent, state.platform_level, p.platform_effect
            )
        rec["capability_spend"][:, t] += recurring_capability_spend(state)
        rec["revenue"][:, t] = revenue_sum
        rec["invested_capital"][:, t] = capital_sum
        rec["nopat"][:, t] = rel_ep + p.wacc_period * capital_sum
        rec["relationship_economic_profit"][:, t] = rel_ep
        rec["fixed_cost"][:, t] = fixed
        # firm-level costs are operating expenses: they reduce NOPAT, so they enter after tax
        tax1 = 1.0 - p.tax_rate
        firm_costs = fixed + rec["complexity_cost"][:, t] + rec["capability_spend"][:, t] + rec["change_cost"][:, t]
        rec["economic_profit"][:, t] = rel_ep - tax1 * (firm_costs + rec["acquisition_cost"][:, t])
        some = n_alive > 0  # NaN when no relationship is active
        np.divide(trust_sum, n_alive, out=rec["mean_trust"][:, t], where=some)
        np.divide(sow_sum, n_alive, out=rec["mean_share_of_wallet"][:, t], where=some)
        rec["mean_trust"][~some, t] = np.nan
        rec["mean_share_of_wallet"][~some, t] = np.nan


@kernel
def step_economics(filled, status, demand, sow, adaptation, trust, price, margin_base, margin_adaptation, capital_base, capital_adaptation,
                   service, business_model, extra, aligned, df, revenue, value, periods_active, ep_now,
                   counts, ep_by_model, sums):  # fmt: skip
    """The :class:`Economics` equations for the filled slots (``[b, :filled[b]]``; the
    others have no customer yet): per slot revenue,
    economic profit (into ``ep_now``, this period's row of the history), value
    (discount factor ``df``) and periods active; per replication the active
    relationships and economic profit by business model and the sums of economic
    profit, capital, revenue, trust and share of wallet over active relationships
    (``sums[b]``, in that order).  ``extra`` holds the after-tax misalignment costs
    when ``aligned``.  Sums run over the slots in order (not over the batch's width):
    they depend on the replication's own slots only."""
    for b in range(status.shape[0]):
        s_ep = 0.0
        s_capital = 0.0
        s_revenue = 0.0
        s_trust = 0.0
        s_sow = 0.0
        for i in range(filled[b]):
            if status[b, i] != ACTIVE:
                revenue[b, i] = 0.0
                ep_now[b, i] = 0.0
                continue
            a = adaptation[b, i]
            volume = demand[b, i] * sow[b, i]  # list-price value bought from us
            rev = volume * price[b, i]
            ep = (margin_base[b, i] + margin_adaptation[b, i] * a) * volume - service[b, i]
            if aligned:
                ep -= extra[b, i]
            capital = (capital_base[b, i] + capital_adaptation[b, i] * a) * volume
            revenue[b, i] = rev
            ep_now[b, i] = ep
            value[b, i] += ep * df
            periods_active[b, i] += 1
            k = business_model[b, i]
            counts[b, k] += 1
            ep_by_model[b, k] += ep
            s_ep += ep
            s_capital += capital
            s_revenue += rev
            s_trust += trust[b, i]
            s_sow += sow[b, i]
        sums[b, 0] = s_ep
        sums[b, 1] = s_capital
        sums[b, 2] = s_revenue
        sums[b, 3] = s_trust
        sums[b, 4] = s_sow


@kernel
def assign_economics(bm, base_price, base_cts, price_factor, cts_factor, capital_intensity, service_cost, quality, adaptation,
                     adaptation_cost, tax1, k, c, dso, inventory, dedicated, dt,
                     price, cts, margin_base, margin_adaptation, capital_base, capital_adaptation, service, bm_quality, bm_adaptation):  # fmt: skip
    """The per-slot quantities of :func:`~valuecapture.model.state.apply_assignment`
    for business models ``bm`` (every slot, also those not yet filled), in place:
    model ``m``'s factors and elements by slot, ``adaptation_cost[b]`` per replication."""
    margin_c = c * (tax1 + k * inventory)
    capital_c = c * inventory
    for b in range(bm.shape[0]):
        for i in range(bm.shape[1]):
            m = bm[b, i]
            p = base_price[b, i] * price_factor[m]
            r = base_cts[b, i] * cts_factor[m]
            receivables = dso + capital_intensity[m]  # business-model capital scales with revenue too
            price[b, i] = p
            cts[b, i] = r
            margin_base[b, i] = p * (tax1 * (1.0 - r) - k * receivables) - margin_c
            margin_adaptation[b, i] = -p * (tax1 * r * adaptation_cost[b] + k * dedicated)
            capital_base[b, i] = (p * receivables + capital_c) / dt
            capital_adaptation[b, i] = p * dedicated / dt
            service[b, i] = tax1 * service_cost[m] * dt
            bm_quality[b, i] = quality[m]
            bm_adaptation[b, i] = adaptation[m]


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
    reads = ("ep_history", "revenue", "hazard", "status")
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
        last_ep = state.ep_history[period % state.ep_history.shape[0], :, :w]  # this (the last) period's
        state.terminal_relationship[:, :w] = last_ep * annuity
        for k in range(len(p.business_models)):
            state.value_by_model[:, k] += rowsum(
                np.where(state.view("business_model") == k, state.terminal_relationship[:, :w], 0.0)
            )
        rec = state.records
        t = period - 1
        revenue_T = rec["revenue"][:, t]
        recurring_T = (
            rec["fixed_cost"][:, t]
            + rec["complexity_cost"][:, t]
            + recurring_capability_spend(state)
            + p.review_cost / p.review_interval
        )
        if "interaction_cost" in rec:  # interaction spaces at their average rate over the last year
            recurring_T = recurring_T + rec["interaction_cost"][:, max(0, t + 1 - p.periods_per_year) : t + 1].mean(
                axis=1
            )
        runoff_revenue = rowsum(state.view("revenue") * annuity)
        with np.errstate(invalid="ignore", divide="ignore"):
            state.terminal_fixed = np.where(revenue_T > 0, recurring_T / revenue_T * runoff_revenue, 0.0)
