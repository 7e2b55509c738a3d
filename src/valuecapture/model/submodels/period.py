"""The fused period step: demand, economics, relationship and retention in one compiled loop.

Each of the four sub-models is written once, as the scalar equations of one active slot
(:func:`~valuecapture.model.submodels.demand.demand_slot`,
:func:`~valuecapture.model.submodels.economics.economics_slot`,
:func:`~valuecapture.model.submodels.relationship.relationship_slot`,
:func:`~valuecapture.model.submodels.retention.hazard_slot`), next to the documentation of
its model, and declares what it reads and writes (:class:`~valuecapture.model.engine.Part`).
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
from valuecapture.model.kernels import NO_SLOTS, exp, kernel
from valuecapture.model.philox import MECHANISM_INDEX, SLOT_LANE, normals_into, uniforms_into
from valuecapture.model.state import ACTIVE, LOST, BatchState
from valuecapture.model.submodels.demand import Demand, DemandTerms, idio_step
from valuecapture.model.submodels.economics import Economics, EconomicsArrays, EconomicsTerms, economics_slot
from valuecapture.model.submodels.relationship import Relationship, RelationshipCoefficients, relationship_slot
from valuecapture.model.submodels.retention import (
    Retention,
    RetentionCoefficients,
    churn_probability,
    hazard_exponent,
    spread_contagion,
)

_DEMAND = MECHANISM_INDEX["demand"]
_RELATIONSHIP = MECHANISM_INDEX["relationship"]
_RETENTION = MECHANISM_INDEX["retention"]

#: The parts in the order of a period's equations.
ORDER = ("demand", "economics", "relationship", "retention")
PARTS: dict[str, type[Part]] = {
    "demand": Demand,
    "economics": Economics,
    "relationship": Relationship,
    "retention": Retention,
}


class Which(NamedTuple):
    """The parts a :func:`step_period` call runs."""

    demand: bool
    economics: bool
    relationship: bool
    retention: bool


class PeriodStep(Component):
    """Runs the named parts (:data:`ORDER`) over every active slot in one compiled loop."""

    def __init__(self, names: Sequence[str], phase: int):
        unknown = set(names) - set(ORDER)
        if unknown:
            raise ValueError(f"unknown period parts {sorted(unknown)}; allowed: {ORDER}")
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
        net = state.network
        step_period(
            w, state.next_free, state.slots(), state.base.segment, period, state.keys, dk, fresh_from, level, ek, ea,
            rk, tk, misalignment, net.indptr, net.indices, counts, ep_by_model, sums, churned, active,
        )  # fmt: skip
        if w.economics:
            Economics.finish(state, period, counts, ep_by_model, sums)
        if w.retention:
            Retention.finish(state, period, churned, active)


_NO_DEMAND = (DemandTerms(0.0, 0.0, 0.0, 0.0), np.zeros(1, dtype=np.int64), NO_SLOTS)
_NO_ECONOMICS = (EconomicsTerms(0.0, False, 0.0, 0.0, 0.0), EconomicsArrays(NO_SLOTS, NO_SLOTS, NO_SLOTS, NO_SLOTS))


@kernel
def step_period(w, filled, s, segment, period, keys, dk, fresh_from, level, ek, ea, rk, tk, misalignment, indptr,
                indices, counts, ep_by_model, sums, churned, active):  # fmt: skip
    """One period of the parts ``w`` (:class:`Which`) for the filled slots (``[b, :filled[b]]``)
    of the :class:`~valuecapture.model.state.Slots` record ``s``, in place, one replication
    at a time: demand (terms ``dk``, ``fresh_from``, ``level`` by segment), economics (``ek``,
    ``ea``), relationship (``rk``) and retention (``tk``), in that order, with the slots'
    standard normals (demand, quality noise) and uniforms (churn) of ``period`` under the
    replication's ``keys``.  Per replication: the active relationships and economic profit by
    business model (``counts``, ``ep_by_model``), the sums of economic profit, capital,
    revenue, trust and share of wallet over active relationships (``sums[b]``), and after the
    churn ``churned[b]``, ``active[b]`` and the spread of contagion over the network
    (``indptr``/``indices``).  Sums run over the slots in order: they depend on the
    replication's own slots only.

    Why it is laid out so (docs/performance.md): a replication's slots (about 200 bytes
    each) stay in the core's second-level cache while its four parts run over them, one
    after the other; each part is one or two loops without branches that the compiler
    vectorizes (one loop over all four parts per slot is about three times slower: the
    chained ``exp`` of demand, share of wallet and hazard then run one slot at a time);
    the random numbers of a part are computed just before it, into a buffer that stays in
    the first-level cache.  The arrays are taken out of their records once, before the
    loops (taking an array out of a record inside a loop costs a reference count each
    time)."""
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
    internal = ek.internal_cost != 0.0
    n_batch, n_slots = status.shape
    churners = np.empty(n_slots, dtype=np.int64)
    draws = np.empty(n_slots)  # one part's random numbers of the replication
    work = np.empty(n_slots, dtype=np.uint64)
    for b in range(n_batch):
        n = filled[b]
        if w.demand:
            normals_into(keys[b, _DEMAND, 0], keys[b, _DEMAND, 1], period, 0, SLOT_LANE, n, draws, work)
            for i in range(n):
                x = idio_step(idio[b, i], draws[i], i >= fresh_from[b], dk)
                idio[b, i] = x
                demand[b, i] = level[b, segment[b, i]] + x + dk.years * log1p_growth[b, i]  # log of shock x growth
            for i in range(n):  # a separate loop, which the compiler vectorizes
                demand[b, i] = wallet_dt[b, i] * exp(demand[b, i])
        if w.economics:
            s_ep = 0.0
            s_capital = 0.0
            s_revenue = 0.0
            s_trust = 0.0
            s_sow = 0.0
            for i in range(n):
                if status[b, i] != ACTIVE:
                    revenue[b, i] = 0.0
                    ep_now[b, i] = 0.0
                    continue
                over = treatment[b, i] - customer_level[b, i] if ek.aligned else 0.0
                m_int = internal_m[b, i] if internal else 0.0
                rev, ep, capital = economics_slot(
                    demand[b, i] * sow[b, i], adaptation[b, i], price[b, i], cost_to_serve[b, i], margin_base[b, i],
                    margin_adaptation[b, i], capital_base[b, i], capital_adaptation[b, i], service[b, i], over, m_int,
                    ek,
                )  # fmt: skip
                revenue[b, i] = rev
                ep_now[b, i] = ep
                value[b, i] += ep * ek.df
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
        if w.relationship:
            normals_into(keys[b, _RELATIONSHIP, 0], keys[b, _RELATIONSHIP, 1], period, 0, SLOT_LANE, n, draws, work)
            for i in range(n):
                m = misalignment[b, i] if rk.aligned else 0.0
                t, a, share = relationship_slot(
                    trust[b, i], adaptation[b, i], bm_quality[b, i], bm_adaptation[b, i], draws[i], m, rk
                )
                trust[b, i] = t
                adaptation[b, i] = a
                sow[b, i] = share
        if w.retention:
            for i in range(n):  # the hazard, in two loops the compiler vectorizes
                m = misalignment[b, i] if tk.aligned else 0.0
                hazard[b, i] = hazard_exponent(trust[b, i], contagion[b, i], log_survival[b, i], m, tk)
            for i in range(n):
                hazard[b, i] = churn_probability(hazard[b, i])
            uniforms_into(keys[b, _RETENTION, 0], keys[b, _RETENTION, 1], period, 0, SLOT_LANE, n, draws)
            n_active = 0
            n_churners = 0
            for i in range(n):  # no branch on the status: lost customers are scattered among active ones
                alive = status[b, i] == ACTIVE
                churn = alive & (draws[i] < hazard[b, i])
                n_active += alive
                if churn:  # rare
                    status[b, i] = LOST
                    churners[n_churners] = b * n_slots + i
                    n_churners += 1
            churned[b] = n_churners
            active[b] = n_active - n_churners
            if tk.log_contagion > 0.0:
                spread_contagion(contagion, b, n_slots, churners, n_churners, indptr, indices, tk.contagion_decay)
