"""One batch of replications through the model: population, network, state, engine, outputs.

:func:`simulate_batch` is all the run layer calls: it hands in the model parameters and
the policy (built once per run), the set-up generators and the counter-based keys
of the batch's replications (:mod:`valuecapture.run.seeds`), and gets back each
replication's outputs as arrays with the replication as their first axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from valuecapture.model.engine import Component, Engine
from valuecapture.model.params import ModelParams
from valuecapture.model.population import CustomerBase, Network, generate_customers, generate_network
from valuecapture.model.state import (
    ACTIVE,
    ALIGNMENT_SERIES,
    NOT_YET,
    PERIOD_SERIES,
    BatchState,
)
from valuecapture.model.submodels import default_components
from valuecapture.model.submodels.revenue_panel import RevenuePanel, horizon_years

#: Outputs kept only for the first ``outputs.relationship_detail`` replications (per relationship).
DETAIL_NAMES = (
    "relationship_value",
    "periods_active",
    "acquired_period",
    "segment",
    "wallet",
    "final_business_model",
    "net_price",
    "cost_to_serve",
    "final_misalignment",
    "relationship_revenue",
    "initial_age",
    "active_at_horizon",
    "initial_stage",
    "final_stage",
    "tie_first",
    "tie_second",
)

#: The detail outputs that only ``outputs.revenue_panel`` adds.
PANEL_NAMES = ("relationship_revenue", "initial_age", "active_at_horizon")


def simulate_batch(
    p: ModelParams,
    policy: Any,
    setup: Mapping[str, list[np.random.Generator]],
    keys: np.ndarray,
    detail_rows: int,
) -> dict[str, np.ndarray]:
    """Simulate the replications whose set-up generators are ``setup[mechanism][b]``
    (``population``, ``network``; ``parameters`` for a draw of estimated parameters) and whose
    per-period numbers are counter-based under ``keys`` (``(batch, mechanisms, 2)`` uint32,
    :mod:`valuecapture.model.philox`); keep the per-relationship detail of the first
    ``detail_rows`` of them."""
    base = generate_customers(p, setup["population"], setup.get("parameters"))
    network = generate_network(p, base.segment, setup["network"])
    state = initial_state(p, base, network, keys, policy, panel_rows=detail_rows)
    Engine(components(p), p.periods).run(state)
    return batch_outputs(state, detail_rows)


def components(p: ModelParams) -> list[Component]:
    """The engine's components for ``p``: the sub-models, and the revenue panel with
    ``outputs.revenue_panel``."""
    comps = default_components(p.review_interval, p.periods, p.alignment, p.portfolio_models, p.stages is not None)
    if p.revenue_panel:
        comps.append(RevenuePanel())
    return comps


def initial_state(
    p: ModelParams,
    base: CustomerBase,
    network: Network,
    keys: np.ndarray,
    policy: object,
    panel_rows: int | None = None,
) -> BatchState:
    """The state of a batch at the start of the horizon: the initial customers in the first
    slots with their drawn attributes, every business model 0 until the first review.  With
    ``outputs.revenue_panel``, the revenue panel of the first ``panel_rows`` replications
    (default: all of the batch's) starts at zero."""
    # the sub-models are compiled with numba: imported here, in processes that step the engine
    from valuecapture.model.submodels.alignment import init_alignment
    from valuecapture.model.submodels.economics import apply_assignment
    from valuecapture.model.submodels.relationship import share_of_wallet
    from valuecapture.model.submodels.stages import init_stages

    b = base.wallet.shape[0]
    n = p.n_slots
    initial = np.broadcast_to(np.arange(n) < p.n_initial, (b, n))
    state = BatchState(
        params=p,
        base=base,
        network=network,
        keys=keys,
        policy=policy,
        status=np.where(initial, ACTIVE, NOT_YET).astype(np.int8),
        trust=_initial_prefix(base.initial_trust, n, p.new_trust),
        adaptation=_initial_prefix(base.initial_adaptation, n, 0.0),
        share_of_wallet=np.zeros((b, n)),
        origin=_initial_prefix(
            1.0 - np.round(base.initial_age * p.periods_per_year), n, 0.0
        ),  # age at period 1 = drawn age
        business_model=np.zeros((b, n), dtype=np.int16),
        log_survival=p.dt * np.log1p(-base.churn),
        wallet_dt=base.wallet * p.dt,
        log1p_growth=np.log1p(base.growth),
        idio=np.zeros((b, n)),
        contagion=np.zeros((b, n)),
        value=np.zeros((b, n)),
        acquired_period=np.where(initial, 0, -1).astype(np.int32),
        periods_active=np.zeros((b, n), dtype=np.int32),
        next_free=np.full(b, p.n_initial, dtype=np.int64),
        demand=np.zeros((b, n)),
        revenue=np.zeros((b, n)),
        hazard=np.zeros((b, n)),
        margin_base=np.zeros((b, n)),
        margin_adaptation=np.zeros((b, n)),
        capital_base=np.zeros((b, n)),
        capital_adaptation=np.zeros((b, n)),
        service=np.zeros((b, n)),
        price=np.zeros((b, n)),
        cost_to_serve=np.zeros((b, n)),
        bm_quality=np.zeros((b, n)),
        bm_adaptation=np.zeros((b, n)),
        observed=np.zeros((b, n)),
        ep_history=np.zeros((p.insight_lag + 1, b, n)),
        insight_level=np.full(b, p.insight_level),
        platform_level=np.full(b, p.platform_level),
        account_managers=np.full(b, p.account_managers, dtype=np.int64),
        used_ever=np.zeros((b, len(p.business_models)), dtype=bool),
        value_by_model=np.zeros((b, len(p.business_models))),
        model_counts=np.zeros((b, p.periods, len(p.business_models)), dtype=np.int64),
        market=np.zeros(b),
        sector=np.zeros((b, p.n_segments)),
        records={name: np.zeros((b, p.periods)) for name in PERIOD_SERIES},
        slots_exhausted=np.zeros(b, dtype=np.int64),
    )
    if p.revenue_panel:
        rows = b if panel_rows is None else max(0, min(b, panel_rows))
        state.relationship_revenue = np.zeros((rows, n, horizon_years(p.periods, p.periods_per_year)))
    state.share_of_wallet = share_of_wallet(p, state.trust, state.adaptation)
    state.update_width()
    if p.alignment:
        init_alignment(state)
    if p.stages is not None:
        init_stages(state)
    apply_assignment(state, state.business_model)
    return state


def _initial_prefix(initial: np.ndarray, n_slots: int, later: float) -> np.ndarray:
    """(batch, n_slots) array: the initial customers' values in the first slots, ``later``
    (a new customer's start) in the rest."""
    out = np.full((initial.shape[0], n_slots), later)
    out[:, : initial.shape[1]] = initial
    return out


def batch_outputs(state: BatchState, detail_rows: int) -> dict[str, np.ndarray]:
    """Per-replication outputs of a finished batch: firm value and its parts, heterogeneity
    summaries, the per-period series, and the per-relationship detail (:data:`DETAIL_NAMES`)
    of the first ``detail_rows`` replications of the batch."""
    p = state.params
    assert state.terminal_relationship is not None and state.terminal_fixed is not None
    ever = state.acquired_period >= 0
    rel_value = state.value + state.terminal_relationship
    discount = (1.0 + p.wacc_period) ** -np.arange(1, p.periods + 1)
    rec = state.records
    firm_costs = rec["fixed_cost"] + rec["complexity_cost"] + rec["capability_spend"] + rec["change_cost"]
    if "interaction_cost" in rec:
        firm_costs = firm_costs + rec["interaction_cost"]
    tax1 = 1.0 - p.tax_rate
    pv_firm_costs = tax1 * ((firm_costs * discount).sum(axis=1) + state.terminal_fixed)
    value_capture = np.where(ever, rel_value, 0.0).sum(axis=1)
    out: dict[str, np.ndarray] = {
        "firm_value": value_capture - pv_firm_costs,
        "value_capture": value_capture,
        "pv_firm_costs": pv_firm_costs,
        "pv_complexity_cost": tax1 * (rec["complexity_cost"] * discount).sum(axis=1),
        "pv_capability_spend": tax1 * (rec["capability_spend"] * discount).sum(axis=1),
        "terminal_value": state.terminal_relationship.sum(axis=1) - tax1 * state.terminal_fixed,
        "customers_ever": ever.sum(axis=1),
        "slots_exhausted": state.slots_exhausted.copy(),
        "value_by_model": state.value_by_model.copy(),
        "customers_by_model": state.model_counts.copy(),
    }
    if state.base.parameters is not None:
        out["estimated_parameters"] = state.base.parameters
    out.update(heterogeneity_summary(rel_value, ever))
    from valuecapture.model.network_outputs import network_summaries, network_tie_list, tie_capacity  # compiled

    out.update(network_summaries(state.network, ever, state.base.segment))
    for name in PERIOD_SERIES:
        out[name] = state.records[name]
    if p.alignment:
        for name in ALIGNMENT_SERIES:
            out[name] = state.records[name]
    if state.portfolio is not None:
        out["portfolio_class_count"] = state.portfolio.class_counts
        out["portfolio_transitions"] = state.portfolio.transitions
    if state.stages is not None:
        counts = state.stages.counts
        total = counts.sum(axis=2, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["stage_share"] = np.where(total > 0, counts / np.maximum(total, 1), np.nan)
        out["stage_transitions"] = state.stages.transitions
    n_detail = max(0, min(state.shape[0], detail_rows))
    if n_detail:
        out["relationship_value"] = np.where(ever, rel_value, np.nan)[:n_detail]
        out["periods_active"] = np.where(ever, state.periods_active, -1)[:n_detail]
        out["acquired_period"] = state.acquired_period[:n_detail]
        out["segment"] = state.base.segment[:n_detail].astype(np.int16)
        out["wallet"] = np.where(ever, state.base.wallet, np.nan)[:n_detail]
        out["final_business_model"] = np.where(ever, state.business_model, -1)[:n_detail].astype(np.int16)
        out["net_price"] = np.where(ever, state.price, np.nan)[:n_detail]
        out["cost_to_serve"] = np.where(ever, state.cost_to_serve, np.nan)[:n_detail]
        if state.alignment is not None:
            out["final_misalignment"] = np.where(ever, state.alignment.misalignment, np.nan)[:n_detail]
        if state.stages is not None:
            out["initial_stage"] = np.where(ever, state.stages.initial, -1)[:n_detail].astype(np.int8)
            out["final_stage"] = np.where(ever, state.stages.stage, -1)[:n_detail].astype(np.int8)
        if p.network_output:
            out.update(network_tie_list(state.network, ever[:n_detail], tie_capacity(p)))
        if state.relationship_revenue is not None:
            panel = state.relationship_revenue[:n_detail]
            out["relationship_revenue"] = np.where(ever[:n_detail, :, None], panel, np.nan)
            age = np.full((n_detail, state.shape[1]), np.nan)
            age[:, : p.n_initial] = state.base.initial_age[:n_detail]
            out["initial_age"] = age
            out["active_at_horizon"] = np.where(ever, state.status == ACTIVE, -1)[:n_detail].astype(np.int8)
    return out


def heterogeneity_summary(values: np.ndarray, ever: np.ndarray) -> dict[str, np.ndarray]:
    """Per-replication Stobachoff summaries of relationship value.

    ``values`` and ``ever`` are (replications, slots); only slots that ever held
    a customer count.
    """
    v = np.where(ever, values, 0.0)
    created = np.where(v > 0, v, 0.0).sum(axis=1)
    destroyed = -np.where(v < 0, v, 0.0).sum(axis=1)
    n = ever.sum(axis=1)
    ordered = -np.sort(np.where(ever, -values, np.inf), axis=1)  # descending, never-acquired last (-inf)
    ordered = np.where(np.isfinite(ordered), ordered, 0.0)
    cum = np.cumsum(ordered, axis=1)
    k20 = np.maximum(1, np.ceil(0.2 * n).astype(np.int64)) - 1
    top20 = np.take_along_axis(cum, k20[:, None], axis=1)[:, 0]
    total = created - destroyed
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "value_created": created,
            "value_destroyed": destroyed,
            # the curve's peak and the top-20% share are fractions of a positive total: NaN when the
            # relationships destroy at least as much value as they create (total <= 0)
            "stobachoff_peak": np.where(total > 0, created / total, np.nan),
            "stobachoff_peak_position": np.where(n > 0, (v > 0).sum(axis=1) / n, np.nan),
            "stobachoff_index": np.where(created > 0, destroyed / created, np.nan),
            "top20_share": np.where(total > 0, top20 / total, np.nan),
        }
