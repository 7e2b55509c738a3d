"""Economics: revenue, costs, NOPAT, invested capital, economic profit, value capture."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from valuecapture.model.business_models import BusinessModelTable, complexity_cost
from valuecapture.model.engine import Component
from valuecapture.model.kernels import NO_SLOTS, kernel
from valuecapture.model.params import ModelParams
from valuecapture.model.state import ACTIVE, BatchState, rowsum
from valuecapture.model.submodels.alignment import aligned, internal_misalignment


def alignment_costs(state: BatchState, period: int, w: int) -> np.ndarray:
    """After-tax per-slot costs of misalignment on the prefix ``[:, :w]`` (zero for slots
    not active): over-serving waste ``service x waste x max(t - c, 0)`` (``service``
    already after tax) and, with ``alignment.internal``, friction
    ``(1 - tax) revenue C internal_cost m_int``."""
    p = state.params
    a = aligned(state)
    alive = state.view("status") == ACTIVE
    out = np.zeros(alive.shape)
    if p.align_waste:
        over = np.maximum(a.treatment[:, :w] - a.customer_level[:, :w], 0.0)
        out += state.view("service") * p.align_waste * over * alive
    if p.internal_alignment and p.internal_cost:
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
    :func:`assign_economics`.  Flows of period ``t``
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
        "next_free",
        "status",
        "demand",
        "share_of_wallet",
        "adaptation",
        "trust",
        "price",
        "cost_to_serve",
        "margin_base",
        "margin_adaptation",
        "capital_base",
        "capital_adaptation",
        "service",
        "business_model",
        "value",
        "periods_active",
        "value_by_model",
        "used_ever",
        "insight_level",
        "platform_level",
        "account_managers",
        "observed",
        "revenue",
        "origin",
        "records.change_cost",
        "records.capability_spend",
        "records.complexity_cost",
        "records.acquisition_cost",
        "alignment.treatment",
        "alignment.customer_level",
        "alignment.purchase_importance",
        "alignment.supply_risk",
    )
    writes = (
        "revenue",
        "value",
        "periods_active",
        "ep_history",
        "model_counts",
        "value_by_model",
        "used_ever",
        "records.revenue",
        "records.economic_profit",
        "records.relationship_economic_profit",
        "records.nopat",
        "records.invested_capital",
        "records.fixed_cost",
        "records.complexity_cost",
        "records.capability_spend",
        "records.change_cost",
        "records.mean_trust",
        "records.mean_share_of_wallet",
    )
    reads_previous = (
        "status",
        "share_of_wallet",
        "adaptation",
        "trust",
        "value_by_model",
        "alignment.customer_level",
        "alignment.supply_risk",
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
        aligned = bool(p.alignment)
        ep_now = state.ep_history[period % state.ep_history.shape[0]]
        step_economics(state.next_free, state.slots(), extra, aligned, df, ep_now, counts, ep_by_model, sums)
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
def step_economics(filled, s, extra, aligned, df, ep_now, counts, ep_by_model, sums):
    """The :class:`Economics` equations for the filled slots (``[b, :filled[b]]``; the
    others have no customer yet): per slot revenue,
    economic profit (into ``ep_now``, this period's row of the history), value
    (discount factor ``df``) and periods active; per replication the active
    relationships and economic profit by business model and the sums of economic
    profit, capital, revenue, trust and share of wallet over active relationships
    (``sums[b]``, in that order).  ``extra`` holds the after-tax misalignment costs
    when ``aligned``.  Sums run over the slots in order (not over the batch's width):
    they depend on the replication's own slots only.  ``s`` is the
    :class:`~valuecapture.model.state.Slots` record."""
    status, demand, sow, adaptation, trust, price = (
        s.status,
        s.demand,
        s.share_of_wallet,
        s.adaptation,
        s.trust,
        s.price,
    )
    margin_base, margin_adaptation, capital_base, capital_adaptation = (
        s.margin_base,
        s.margin_adaptation,
        s.capital_base,
        s.capital_adaptation,
    )
    service, business_model, revenue, value, periods_active = (
        s.service,
        s.business_model,
        s.revenue,
        s.value,
        s.periods_active,
    )
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


def apply_assignment(state: BatchState, assignment: np.ndarray) -> None:
    """Set business models and refresh the per-slot quantities that follow from them
    (:func:`assign_economics`); with alignment on, the treatment level too."""
    p = state.params
    t = p.business_models
    state.business_model = assignment.astype(np.int16)
    adaptation_cost = p.adaptation_cost * (1.0 - p.platform_effect * state.platform_level)  # per replication
    assign_economics(
        state.slots(),
        state.base.price,
        state.base.cost_to_serve,
        ModelElements.of(t),
        adaptation_cost,
        AssignmentTerms.of(p),
    )
    if state.alignment is not None:
        state.alignment.treatment = t.treatment[state.business_model]


class ModelElements(NamedTuple):
    """The business models' elements that set a relationship's economics, by model number."""

    price_factor: np.ndarray
    cost_to_serve_factor: np.ndarray
    capital_intensity: np.ndarray
    service_cost: np.ndarray
    quality: np.ndarray
    adaptation: np.ndarray

    @classmethod
    def of(cls, t: BusinessModelTable) -> ModelElements:
        return cls._make([getattr(t, f) for f in cls._fields])


class AssignmentTerms(NamedTuple):
    """Firm-wide constants of :func:`assign_economics`."""

    tax1: float  # 1 - tax rate
    k: float  # wacc_period / dt: annual-revenue capital to a per-period charge
    cogs: float  # COGS ratio
    dso: float  # years
    inventory: float  # years
    dedicated: float  # dedicated assets per unit adaptation, fraction of annual revenue
    dt: float  # years per period

    @classmethod
    def of(cls, p: ModelParams) -> AssignmentTerms:
        return cls(
            tax1=1.0 - p.tax_rate,
            k=p.wacc_period / p.dt,
            cogs=float(p.cogs_ratio),
            dso=float(p.dso_years),
            inventory=float(p.inventory_years),
            dedicated=float(p.dedicated_assets),
            dt=float(p.dt),
        )


@kernel
def assign_economics(s, base_price, base_cts, m, adaptation_cost, k):
    """The per-slot quantities that follow from the business model ``s.business_model`` of
    every slot (also those not yet filled), in place in the
    :class:`~valuecapture.model.state.Slots` record ``s``; ``m`` the models' elements
    (:class:`ModelElements`), ``adaptation_cost[b]`` per replication, ``k`` the
    :class:`AssignmentTerms`.

    Economic profit per period of an active relationship is linear in its volume
    ``V`` (list-price value bought) given its adaptation ``A``, the :class:`Economics`
    equations rearranged: ``EP = V (m0 + m1 A) - (1 - tax) service dt`` with
    ``m0 = P ((1-tax)(1-C) - k DSO) - c ((1-tax) + k INV)`` and
    ``m1 = -P ((1-tax) C a_c + k D)``, where ``P`` is the effective net price,
    ``C`` the effective cost-to-serve rate (incl. the fit penalty), ``c`` the COGS
    ratio, ``a_c`` the adaptation cost (reduced by the modular platform), ``D``
    dedicated assets per unit adaptation, ``DSO`` includes the business model's
    capital intensity, and ``k = wacc_period / dt`` turns annual-revenue capital into
    a per-period charge.  Invested capital is ``V (k0 + k1 A)`` with
    ``k0 = (P DSO + c INV)/dt`` and ``k1 = P D / dt``."""
    bm = s.business_model
    tax1, dso, dedicated, dt = k.tax1, k.dso, k.dedicated, k.dt
    margin_c = k.cogs * (tax1 + k.k * k.inventory)
    capital_c = k.cogs * k.inventory
    for b in range(bm.shape[0]):
        for i in range(bm.shape[1]):
            j = bm[b, i]
            p = base_price[b, i] * m.price_factor[j]
            r = base_cts[b, i] * m.cost_to_serve_factor[j]
            receivables = dso + m.capital_intensity[j]  # business-model capital scales with revenue too
            s.price[b, i] = p
            s.cost_to_serve[b, i] = r
            s.margin_base[b, i] = p * (tax1 * (1.0 - r) - k.k * receivables) - margin_c
            s.margin_adaptation[b, i] = -p * (tax1 * r * adaptation_cost[b] + k.k * dedicated)
            s.capital_base[b, i] = (p * receivables + capital_c) / dt
            s.capital_adaptation[b, i] = p * dedicated / dt
            s.service[b, i] = tax1 * m.service_cost[j] * dt
            s.bm_quality[b, i] = m.quality[j]
            s.bm_adaptation[b, i] = m.adaptation[j]


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
    reads = (
        "status",
        "hazard",
        "ep_history",
        "revenue",
        "business_model",
        "value_by_model",
        "insight_level",
        "platform_level",
        "account_managers",
        "records.revenue",
        "records.fixed_cost",
        "records.complexity_cost",
        "records.interaction_cost",
    )
    writes = (
        "terminal_relationship",
        "terminal_fixed",
        "value_by_model",
    )

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
