"""The fused period step: demand, economics, relationship, retention (and stages) in one compiled loop.

Each of the four sub-models is written once, as the scalar equations of one active slot
(:func:`~valuecapture.model.submodels.demand.demand_slot`,
:func:`~valuecapture.model.submodels.economics.economics_slot`,
:func:`~valuecapture.model.submodels.relationship.relationship_slot`,
:func:`~valuecapture.model.submodels.retention.hazard_slot`), next to the documentation of
its model, and declares what it reads and writes (:class:`~valuecapture.model.engine.Part`);
with relationship stages on, a fifth part moves each relationship to its next stage after
retention (:func:`~valuecapture.model.submodels.stages.stages_block`).
:func:`step_period` runs them for each slot of a replication in turn, with the slot's
random numbers computed in the loop (counter-based, :mod:`valuecapture.model.philox`), so a
customer's state is read and written once per period, no array of draws is made, and a
slot whose customer is lost costs one comparison.  numba inlines the four functions into
the loop.

:class:`PeriodStep` is the engine component: with alignment off one step runs all four
parts (phase 20); with alignment on, the alignment sub-model (phase 35) sits between
economics and relationship, so one step runs demand and economics (phase 20) and another
relationship and retention (phase 40).  The order of the parts inside a step is the order
of the equations of a period (docs/model.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from valuecapture.model.engine import Component, Part, fused_declarations
from valuecapture.model.kernels import NO_SLOTS, kernel
from valuecapture.model.philox import MECHANISM_INDEX, SLOT_LANE, normals_into, uniforms_into
from valuecapture.model.state import BatchState
from valuecapture.model.submodels.demand import Demand, DemandTerms, demand_block
from valuecapture.model.submodels.economics import Economics, EconomicsArrays, EconomicsTerms, economics_block
from valuecapture.model.submodels.relationship import Relationship, RelationshipCoefficients, relationship_block
from valuecapture.model.submodels.retention import (
    Retention,
    RetentionCoefficients,
    retention_block,
    spread_contagion,
)
from valuecapture.model.submodels.stages import Stages, StageTerms, stages_block

_DEMAND = MECHANISM_INDEX["demand"]
_RELATIONSHIP = MECHANISM_INDEX["relationship"]
_RETENTION = MECHANISM_INDEX["retention"]
_STAGES = MECHANISM_INDEX["stages"]

#: Slots of one replication that the four parts run over in turn (docs/performance.md).
SLOT_BLOCK = 1024

#: The parts in the order of a period's equations.
ORDER = ("demand", "economics", "relationship", "retention", "stages")
PARTS: dict[str, type[Part]] = {
    "demand": Demand,
    "economics": Economics,
    "relationship": Relationship,
    "retention": Retention,
    "stages": Stages,
}


class Which(NamedTuple):
    """The parts a :func:`step_period` call runs."""

    demand: bool
    economics: bool
    relationship: bool
    retention: bool
    stages: bool = False


class PeriodStep(Component):
    """Runs the named parts (:data:`ORDER`) over every active slot in one compiled loop."""

    def __init__(self, names: Sequence[str], phase: int):
        unknown = set(names) - set(ORDER)
        if unknown:
            raise ValueError(f"unknown period parts {sorted(unknown)}; allowed: {ORDER}")
        if "stages" in names and "retention" not in names:
            raise ValueError("the stages part moves relationships after retention: run it in retention's step")
        self.parts = [PARTS[n]() for n in ORDER if n in names]
        self.which = Which(*(n in names for n in ORDER))
        self.name = "+".join(q.name for q in self.parts)
        self.phase = int(phase)
        self.reads, self.writes, self.reads_previous = fused_declarations(self.parts)

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        w = self.which
        n_batch = state.shape[0]
        n_models = len(p.business_models)
        dk, fresh_from, level = Demand.terms(state, period) if w.demand else _NO_DEMAND
        ek, ea = Economics.terms(state, period) if w.economics else _NO_ECONOMICS
        rk = RelationshipCoefficients.of(p)
        tk = RetentionCoefficients.of(p)
        a = state.alignment
        misalignment = a.misalignment if a is not None and (rk.aligned or tk.aligned) else NO_SLOTS
        counts = np.zeros((n_batch, n_models), dtype=np.int64)
        ep_by_model = np.zeros((n_batch, n_models))
        sums = np.zeros((n_batch, 5))  # economic profit, capital, revenue, trust, share of wallet
        churned = np.zeros(n_batch, dtype=np.int64)
        active = np.zeros(n_batch, dtype=np.int64)
        gk = StageTerms.of(state, period)
        net = state.network
        step_period(
            w, state.next_free, state.slots(), state.base.segment, period, state.keys, dk, fresh_from, level, ek, ea,
            rk, tk, misalignment, net.indptr, net.indices, counts, ep_by_model, sums, churned, active, gk,
        )  # fmt: skip
        if w.economics:
            Economics.finish(state, period, counts, ep_by_model, sums)
        if w.retention:
            Retention.finish(state, period, churned, active)


_NO_DEMAND = (DemandTerms(0.0, 0.0, 0.0, 0.0), np.zeros(1, dtype=np.int64), NO_SLOTS)
_NO_ECONOMICS = (EconomicsTerms(0.0, False, 0.0, 0.0, 0.0), EconomicsArrays(NO_SLOTS, NO_SLOTS, NO_SLOTS, NO_SLOTS))


@kernel
def step_period(w, filled, s, segment, period, keys, dk, fresh_from, level, ek, ea, rk, tk, misalignment, indptr,
                indices, counts, ep_by_model, sums, churned, active, gk):  # fmt: skip
    """One period of the parts ``w`` (:class:`Which`) for the filled slots (``[b, :filled[b]]``)
    of the :class:`~valuecapture.model.state.Slots` record ``s``, in place: demand (terms
    ``dk``, ``fresh_from``, ``level`` by segment), economics (``ek``, ``ea``), relationship
    (``rk``) and retention (``tk``), in that order, with the slots' standard normals (demand,
    quality noise) and uniforms (churn) of ``period`` under the replication's ``keys``.  Per
    replication: the active relationships and economic profit by business model (``counts``,
    ``ep_by_model``), the sums of economic profit, capital, revenue, trust and share of
    wallet over active relationships (``sums[b]``, slot by slot in order: they depend on the
    replication's own slots only), and after the churn ``churned[b]``, ``active[b]`` and the
    spread of contagion over the network (``indptr``/``indices``).  With relationship stages
    (``gk``, :class:`~valuecapture.model.submodels.stages.StageTerms`), economics and retention
    apply the slots' stage effects and the stages part (``w.stages``) moves every relationship
    still active after retention to its next stage, or ends it (a churner like retention's).

    Why it is laid out so (docs/performance.md): the four parts run over a block of
    :data:`SLOT_BLOCK` slots of one replication, one part after the other, then over the
    next block, so the block's state (about 200 bytes a slot) stays in the core's
    second-level cache and comes from memory once per period; each part is a loop or two
    without branches over 1-d views of the block, which the compiler vectorizes (one loop
    over all four parts per slot is about three times slower: the chained ``exp`` of demand,
    share of wallet and hazard then run one slot at a time); a part's random numbers are
    computed just before it, into a buffer in the first-level cache.  The arrays are taken
    out of their records once, before the loops (taking an array out of a record inside a
    loop costs a reference count each time)."""
    status, idio, demand, wallet_dt, log1p_growth = s.status, s.idio, s.demand, s.wallet_dt, s.log1p_growth
    revenue, value, periods_active, business_model = s.revenue, s.value, s.periods_active, s.business_model
    trust, adaptation, sow, bm_quality, bm_adaptation = (
        s.trust, s.adaptation, s.share_of_wallet, s.bm_quality, s.bm_adaptation,
    )  # fmt: skip
    price, cost_to_serve, service = s.price, s.cost_to_serve, s.service
    margin_base, margin_adaptation = s.margin_base, s.margin_adaptation
    capital_base, capital_adaptation = s.capital_base, s.capital_adaptation
    log_survival, contagion, hazard = s.log_survival, s.contagion, s.hazard
    ep_now, treatment, customer_level, internal_m = ea.ep_now, ea.treatment, ea.customer_level, ea.internal_misalignment
    n_batch, n_slots = status.shape
    churners = np.empty(n_slots, dtype=np.int64)
    draws = np.empty(SLOT_BLOCK)  # one part's random numbers of the block
    work = np.empty(SLOT_BLOCK, dtype=np.uint64)
    for b in range(n_batch):
        ab = b if ek.aligned else 0  # the alignment arrays' row (NO_SLOTS without alignment)
        mb = b if (rk.aligned or tk.aligned) else 0
        gb = b if gk.on else 0  # the stage array's row (a dummy without stages)
        n_active = 0
        n_churners = 0
        for lo in range(0, filled[b], SLOT_BLOCK):
            hi = min(lo + SLOT_BLOCK, filled[b])
            n = hi - lo
            m = misalignment[mb, lo:hi]
            stage = gk.stage[gb, lo:hi]
            if w.demand:
                normals_into(keys[b, _DEMAND, 0], keys[b, _DEMAND, 1], period, 0, SLOT_LANE, lo, n, draws, work)
                demand_block(
                    n, draws, fresh_from[b] - lo, idio[b, lo:hi], demand[b, lo:hi], wallet_dt[b, lo:hi],
                    log1p_growth[b, lo:hi], segment[b, lo:hi], level[b], dk,
                )  # fmt: skip
            if w.economics:
                economics_block(
                    n, status[b, lo:hi], demand[b, lo:hi], sow[b, lo:hi], adaptation[b, lo:hi], trust[b, lo:hi],
                    price[b, lo:hi], cost_to_serve[b, lo:hi], margin_base[b, lo:hi], margin_adaptation[b, lo:hi],
                    capital_base[b, lo:hi], capital_adaptation[b, lo:hi], service[b, lo:hi],
                    business_model[b, lo:hi], revenue[b, lo:hi], value[b, lo:hi], periods_active[b, lo:hi],
                    ep_now[b, lo:hi], treatment[ab, lo:hi], customer_level[ab, lo:hi], internal_m[ab, lo:hi],
                    counts[b], ep_by_model[b], sums[b], ek, stage, gk, b,
                )  # fmt: skip
            if w.relationship:
                normals_into(keys[b, _RELATIONSHIP, 0], keys[b, _RELATIONSHIP, 1], period, 0, SLOT_LANE, lo, n, draws,
                             work)  # fmt: skip
                relationship_block(
                    n, draws, trust[b, lo:hi], adaptation[b, lo:hi], sow[b, lo:hi], bm_quality[b, lo:hi],
                    bm_adaptation[b, lo:hi], m, rk,
                )  # fmt: skip
            if w.retention:
                uniforms_into(keys[b, _RETENTION, 0], keys[b, _RETENTION, 1], period, 0, SLOT_LANE, lo, n, draws)
                block_active, n_churners = retention_block(
                    n, draws, status[b, lo:hi], trust[b, lo:hi], contagion[b, lo:hi], log_survival[b, lo:hi],
                    hazard[b, lo:hi], m, tk, churners, n_churners, b * n_slots + lo, stage, gk,
                )  # fmt: skip
                n_active += block_active
            if w.stages:
                uniforms_into(keys[b, _STAGES, 0], keys[b, _STAGES, 1], period, 0, SLOT_LANE, lo, n, draws)
                n_churners = stages_block(
                    n, draws, status[b, lo:hi], trust[b, lo:hi], adaptation[b, lo:hi], business_model[b, lo:hi],
                    hazard[b, lo:hi], stage, gk, b, churners, n_churners, b * n_slots + lo,
                )  # fmt: skip
        if w.retention:
            churned[b] = n_churners
            active[b] = n_active - n_churners
            if tk.log_contagion > 0.0:
                spread_contagion(contagion, b, n_slots, churners, n_churners, indptr, indices, tk.contagion_decay)
