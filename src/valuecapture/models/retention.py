"""Retention: complementary log-log churn hazard with trust and contagion."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import ACTIVE, LOST, BatchState


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
        lin = p.churn_trust_effect * (state.view("trust") - 0.5)
        if p.log_contagion > 0.0:
            lin += p.log_contagion * state.network.neighbour_sum(state.contagion)[:, :w]
        if p.alignment and p.align_churn_effect:
            lin += p.align_churn_effect * state.view("misalignment")
        hazard = -np.expm1(state.view("log_survival") * np.exp(lin))
        status = state.view("status")
        alive = status == ACTIVE
        churn = alive & (u < hazard)
        status[churn] = LOST
        contagion = state.view("contagion")
        contagion *= p.contagion_decay
        contagion += churn
        state.hazard[:, :w] = hazard
        state.records["churned"][:, period - 1] = np.count_nonzero(churn, axis=1)
        state.records["customers_active"][:, period - 1] = np.count_nonzero(alive & ~churn, axis=1)
