"""Retention: complementary log-log churn hazard with trust and contagion."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import ACTIVE, BatchState


class Retention(Component):
    """Churn at the end of the period.

    ``h = 1 - exp(-exp(eta))`` (complementary log-log) with
    ``eta = log(-dt log(1 - p_i)) + log(m_ref) referred + beta_T (T - 0.5) + log(m_c) C_i``,
    evaluated as ``h = -expm1(dt log(1 - p_i) m_ref^referred exp(beta_T (T - 0.5) + log(m_c) C_i))``.
    ``p_i`` is the customer's annual churn probability, ``C_i`` the decayed
    count of recently defected neighbours (each multiplies the hazard by
    ``m_c``).  With alignment on, ``+ churn_effect x misalignment`` on ``eta``.
    One uniform per filled slot per period.
    """

    name = "retention"
    phase = 50
    reads = ("status", "trust", "contagion", "log_survival")
    writes = ("status", "contagion", "hazard")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        gens = state.streams("retention", period)
        u = state.keyed(gens, "random")
        w = state.width
        lin = state.view("trust") - 0.5
        lin *= p.churn_trust_effect
        if p.log_contagion > 0.0:
            # state.contagion holds each slot's decayed count of defected neighbours
            lin += p.log_contagion * state.view("contagion")
        if p.alignment and p.align_churn_effect:
            lin += p.align_churn_effect * state.view("misalignment")
        np.exp(lin, out=lin)
        lin *= state.view("log_survival")
        hazard = np.negative(np.expm1(lin, out=lin), out=state.hazard[:, :w])
        status = state.view("status")
        alive = status == ACTIVE
        churn = u < hazard
        churn &= alive
        status += churn  # ACTIVE (1) -> LOST (2)
        if p.log_contagion > 0.0:
            # sum over neighbours l of C_l, where C_l decays and gains 1 when l churns:
            # decay every slot's count (also slots not yet filled), then add this
            # period's defections to their neighbours (cost ~ churners x degree).
            state.contagion *= p.contagion_decay
            flat = np.flatnonzero(churn)  # index b * width + slot
            nodes = (flat // w) * state.shape[1] + flat % w  # node b * slots + slot
            state.network.add_to_neighbours(state.contagion.reshape(-1), nodes)
        churned = np.count_nonzero(churn, axis=1)
        state.records["churned"][:, period - 1] = churned
        state.records["customers_active"][:, period - 1] = np.count_nonzero(alive, axis=1) - churned
