"""Economics: revenue, costs, NOPAT, invested capital, economic profit, value capture."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from valuecapture.model.business_models import BusinessModelTable, complexity_cost
from valuecapture.model.engine import Component, Part
from valuecapture.model.kernels import NO_SLOTS, kernel
from valuecapture.model.params import ModelParams
from valuecapture.model.state import ACTIVE, BatchState, rowsum
from valuecapture.model.submodels.alignment import aligned, internal_misalignment
from valuecapture.model.submodels.stages import stage_economics


def recurring_capability_spend(state: BatchState) -> np.ndarray:
    """Per-period cost of the capability levels held (before tax): customer insight,
    account managers and the modular platform.  Reviews are charged when held."""
    p = state.params
    return (
        state.insight_level * p.insight_cost_period
        + state.account_managers * p.manager_cost_period
        + state.platform_level * p.platform_cost_period
    )


class Economics(Part):
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
    relationship in the period).  With alignment on, misalignment costs: over-serving
    waste ``service x waste x max(t - c, 0)`` (``service`` already after tax) and, with
    ``alignment.internal``, friction ``(1 - tax) revenue C internal_cost m_int``.  With
    relationship stages on, the stage's margin factor, cost-to-serve factor and margin
    (:func:`~valuecapture.model.submodels.stages.stage_economics`).
    """

    name = "economics"
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
        "stages.stage",
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
        "stages.stage",
    )

    @staticmethod
    def terms(state: BatchState, period: int) -> tuple[EconomicsTerms, EconomicsArrays]:
        """This period's terms of the slots' economics, and the arrays they need besides the slots."""
        p = state.params
        a = state.alignment
        internal = bool(a is not None and p.internal_alignment and p.internal_cost)
        terms = EconomicsTerms(
            df=state.discount(period),
            aligned=a is not None,
            waste=float(p.align_waste) if a is not None else 0.0,
            internal_cost=float(p.internal_cost) if internal else 0.0,
            tax1=1.0 - p.tax_rate,
        )
        arrays = EconomicsArrays(
            ep_now=state.ep_history[period % state.ep_history.shape[0]],
            treatment=aligned(state).treatment if a is not None else NO_SLOTS,
            customer_level=aligned(state).customer_level if a is not None else NO_SLOTS,
            internal_misalignment=internal_misalignment(state, period) if internal else NO_SLOTS,
        )
        return terms, arrays

    @staticmethod
    def finish(state: BatchState, period: int, counts: np.ndarray, ep_by_model: np.ndarray, sums: np.ndarray) -> None:
        """The firm-level bookkeeping of the period from the slots' sums: ``counts`` and
        ``ep_by_model`` by replication and business model, ``sums`` of economic profit,
        capital, revenue, trust and share of wallet over active relationships."""
        p = state.params
        bmt = p.business_models
        df = state.discount(period)
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


class EconomicsTerms(NamedTuple):
    """This period's constants of the slots' economics."""

    df: float  # discount factor of the period's flows
    aligned: bool  # misalignment costs apply
    waste: float  # over-serving waste per unit of excess treatment
    internal_cost: float  # friction per unit of internal misalignment (0: none)
    tax1: float  # 1 - tax rate


class EconomicsArrays(NamedTuple):
    """The per-slot arrays the slots' economics use besides the slots' own."""

    ep_now: np.ndarray  # (batch, slots): this period's row of the economic-profit history
    treatment: np.ndarray  # (batch, slots) with alignment, else NO_SLOTS
    customer_level: np.ndarray
    internal_misalignment: np.ndarray  # (batch, slots) with internal friction, else NO_SLOTS


@njit(inline="always", error_model="numpy")
def economics_block(n, status, demand, sow, adaptation, trust, price, cost_to_serve, margin_base, margin_adaptation,
                    capital_base, capital_adaptation, service, business_model, revenue, value, periods_active, ep_now,
                    treatment, customer_level, internal_m, counts, ep_by_model, sums, k, stage, g, b):  # fmt: skip
    """The :class:`Economics` equations of ``n`` consecutive slots of one replication (1-d
    views): revenue, economic profit (into ``ep_now``), value and periods active of the active
    ones (the others get zero revenue and economic profit); their count and economic profit
    by business model are added to ``counts`` and ``ep_by_model``, and their economic profit,
    capital, revenue, trust and share of wallet to ``sums`` (the replication's rows), slot by
    slot in order.  ``treatment``, ``customer_level`` and ``internal_m`` are read only with
    alignment (``k``), the slots' ``stage`` only with stage effects (:class:`StageTerms` ``g``
    of replication ``b``)."""
    s_ep, s_capital, s_revenue, s_trust, s_sow = sums[0], sums[1], sums[2], sums[3], sums[4]
    internal = k.internal_cost != 0.0
    for j in range(n):
        if status[j] != ACTIVE:
            revenue[j] = 0.0
            ep_now[j] = 0.0
            continue
        over = treatment[j] - customer_level[j] if k.aligned else 0.0
        m_int = internal_m[j] if internal else 0.0
        rev, ep, capital = economics_slot(
            demand[j] * sow[j], adaptation[j], price[j], cost_to_serve[j], margin_base[j], margin_adaptation[j],
            capital_base[j], capital_adaptation[j], service[j], over, m_int, k, stage[j] if g.economic else 0, g, b,
        )  # fmt: skip
        revenue[j] = rev
        ep_now[j] = ep
        value[j] += ep * k.df
        periods_active[j] += 1
        model = business_model[j]
        counts[model] += 1
        ep_by_model[model] += ep
        s_ep += ep
        s_capital += capital
        s_revenue += rev
        s_trust += trust[j]
        s_sow += sow[j]
    sums[0], sums[1], sums[2], sums[3], sums[4] = s_ep, s_capital, s_revenue, s_trust, s_sow


@njit(inline="always", error_model="numpy")
def economics_slot(volume, a, price, cost_to_serve, margin_base, margin_adaptation, capital_base, capital_adaptation,
                   service, over, internal_m, k, stage, g, b):  # fmt: skip
    """One active slot's economics this period with the constants ``k`` (:class:`EconomicsTerms`):
    its revenue, economic profit and invested capital, from the list-price value it buys from
    us ``volume`` (demand x share of wallet), its adaptation ``a`` and the per-slot
    consequences of its business model (:func:`assign_economics`); with alignment, ``over``
    is the treatment in excess of the customer's level and ``internal_m`` the internal
    misalignment; with stage effects (:class:`StageTerms` ``g``) ``stage`` is the slot's stage
    and ``b`` its replication."""
    rev = volume * price
    contribution = (margin_base + margin_adaptation * a) * volume
    if g.economic:
        contribution = stage_economics(contribution, rev, cost_to_serve, a, k.tax1, stage, g, b)
    ep = contribution - service
    if k.aligned:
        if over > 0.0:
            ep -= service * k.waste * over
        if k.internal_cost != 0.0:
            ep -= k.tax1 * rev * cost_to_serve * k.internal_cost * internal_m
    capital = (capital_base + capital_adaptation * a) * volume
    return rev, ep, capital


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
