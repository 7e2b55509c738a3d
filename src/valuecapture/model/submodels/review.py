"""Relationship performance review: the policy (re)assigns business models."""

from __future__ import annotations

import numpy as np

from valuecapture.model.engine import Component
from valuecapture.model.kernels import kernel
from valuecapture.model.policies import make_view, normalize_decision
from valuecapture.model.state import ACTIVE, BatchState, enforce_capacity
from valuecapture.model.submodels.alignment import customer_view, downgrade_trust_loss
from valuecapture.model.submodels.economics import apply_assignment


def observed_profit(state: BatchState, period: int) -> None:
    """Economic profit per slot as the firm sees it before ``period``, into ``state.observed``.

    Customer insight level ``L`` sets the delay ``round(insight_lag (1 - L))``
    periods and the relative noise ``insight_noise (1 - L)`` (the slot's standard
    normal of the period, ``insight`` key, whatever the level).  Before any profit has been observed the firm sees zero.
    """
    p = state.params
    eps = state.draws("insight", period, "normal")
    lag = np.rint(p.insight_lag * (1.0 - state.insight_level)).astype(np.int64)
    seen = period - 1 - lag  # the period whose profit is seen
    rows = np.where(seen >= 1, seen % state.ep_history.shape[0], -1)  # -1: nothing seen yet
    noise = p.insight_noise * (1.0 - state.insight_level)
    observe(state.ep_history, rows, noise, eps, state.observed)


@kernel
def observe(history, rows, noise, eps, observed):
    """``observed[b, i] = history[rows[b], b, i] (1 + noise[b] eps[b, i])`` on the prefix of
    ``eps`` (zero where ``rows[b]`` is -1: no profit seen yet)."""
    for b in range(eps.shape[0]):
        row = rows[b]
        for i in range(eps.shape[1]):
            seen = history[row, b, i] if row >= 0 else 0.0
            observed[b, i] = seen * (1.0 + noise[b] * eps[b, i])


class Review(Component):
    """Review every ``capabilities.review_interval`` periods (default yearly).

    The policy sees a read-only :class:`~valuecapture.model.policies.PortfolioView`
    and returns a business model for every slot (slots not yet filled get the
    model they will start with) and optionally capability levels.  Relationships
    beyond the account managers' capacity fall back to the leanest model without
    one; relationships moved to another model cost its switching cost; each
    review costs ``review_cost``.  With alignment on, the view includes what the
    firm knows of each customer's view (from interaction spaces), a policy may
    choose interaction-space participants, and downgrades cost trust (less
    when explained; :func:`~valuecapture.model.submodels.alignment.downgrade_trust_loss`).
    With relationship stages on, the view includes each relationship's stage.
    """

    name = "review"
    phase = 5
    reads = (
        "next_free",
        "status",
        "ep_history",
        "insight_level",
        "revenue",
        "price",
        "cost_to_serve",
        "trust",
        "share_of_wallet",
        "adaptation",
        "origin",
        "business_model",
        "account_managers",
        "platform_level",
        "records.change_cost",
        "records.capability_spend",
        "alignment.last_contact",
        "alignment.customer_level",
        "alignment.treatment",
        "stages.stage",
    )
    writes = (
        "observed",
        "insight_level",
        "platform_level",
        "account_managers",
        "business_model",
        "price",
        "cost_to_serve",
        "margin_base",
        "margin_adaptation",
        "capital_base",
        "capital_adaptation",
        "service",
        "bm_quality",
        "bm_adaptation",
        "trust",
        "records.change_cost",
        "records.capability_spend",
        "alignment.treatment",
        "alignment.interaction_choice",
    )
    reads_previous = (
        "next_free",
        "records.change_cost",
        "records.capability_spend",
        "status",
        "ep_history",
        "revenue",
        "price",
        "cost_to_serve",
        "trust",
        "share_of_wallet",
        "adaptation",
        "origin",
        "business_model",
        "alignment.customer_level",
        "alignment.last_contact",
        "alignment.treatment",
        "stages.stage",
    )

    def __init__(self, cadence: int = 1):
        self.cadence = int(cadence)

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        t = p.business_models
        observed_profit(state, period)
        view = make_view(
            period=period,
            periods_per_year=p.periods_per_year,
            active=state.active,
            observed_profit=state.observed,
            revenue=state.revenue,
            price=state.price,
            cost_to_serve=state.cost_to_serve,
            trust=state.trust,
            share_of_wallet=state.share_of_wallet,
            adaptation=state.adaptation,
            age=period - state.origin,
            segment=state.base.segment,
            growth=state.base.growth,
            customer_view=customer_view(state, period),
            business_model=state.business_model,
            business_models=tuple(dict(e, needs_manager=bool(t.needs_manager[k])) for k, e in enumerate(t.elements)),
            account_capacity=state.account_managers * p.accounts_per_manager,
            insight_level=state.insight_level,
            platform_level=state.platform_level,
            account_managers=state.account_managers,
            stage=None if state.stages is None else state.stages.stage,
            stage_names=() if p.stages is None else p.stages.names,
        )
        decision = normalize_decision(state.policy.decide(view), state.shape, len(t))  # type: ignore[attr-defined]
        caps = decision.capabilities
        platform_before = state.platform_level
        if "insight_level" in caps:
            state.insight_level = np.clip(
                np.broadcast_to(np.asarray(caps["insight_level"], dtype=float), state.shape[:1]), 0.0, 1.0
            ).copy()
        if "platform_level" in caps:
            state.platform_level = np.clip(
                np.broadcast_to(np.asarray(caps["platform_level"], dtype=float), state.shape[:1]), 0.0, 1.0
            ).copy()
        if "account_managers" in caps:
            state.account_managers = np.maximum(
                0, np.broadcast_to(np.asarray(caps["account_managers"]), state.shape[:1]).astype(np.int64)
            ).copy()
        if "interactions" in caps:
            unknown = set(caps["interactions"]) - {sp.name for sp in p.interactions}
            if unknown:
                raise ValueError(
                    f"policy chose participants for unknown interaction spaces {sorted(unknown)}; "
                    f"declared: {', '.join(sp.name for sp in p.interactions) or 'none'}"
                )
            if state.alignment is not None:  # interaction spaces run with alignment only
                state.alignment.interaction_choice = {
                    k: np.broadcast_to(np.asarray(v, dtype=bool), state.shape).copy()
                    for k, v in caps["interactions"].items()
                }
        assignment = enforce_capacity(state, decision.assignment)
        changed = assignment != state.business_model
        moved = changed & (state.status == ACTIVE)
        switching = (
            np.where(moved, t.switching_cost[assignment], 0.0).sum(axis=1)
            if t.switching_cost.any() and moved.any()
            else 0.0
        )
        state.records["change_cost"][:, period - 1] += switching
        state.records["capability_spend"][:, period - 1] += p.review_cost
        if p.alignment:
            downgrade_trust_loss(state, t.treatment[assignment], period)
        # apply_assignment's per-slot quantities follow from the assignment, the
        # platform level and fixed customer attributes: skip it when neither changed
        if changed.any() or not np.array_equal(state.platform_level, platform_before):
            apply_assignment(state, assignment)
