"""Retention: complementary log-log churn hazard with trust and contagion."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import LOST, BatchState


class Retention(Component):
    """Churn at the end of the period.

    ``h = 1 - exp(-exp(eta))`` with
    ``eta = log(-log(1 - p_i dt-adjusted)) + beta_T (T - 0.5) + log(m_c) C_i + log(m_ref) referred``,
    computed as ``h = -expm1(dt log(1 - p_i) exp(eta - eta_0))``.  ``C_i`` is the
    decayed count of recently defected neighbours (contagion multiplies the
    hazard by ``m_c`` per defection).  One uniform per slot per period.
    """

    name = "retention"
    phase = 50
    reads = ("status", "trust", "referred", "contagion", "log_survival")
    writes = ("status", "contagion", "hazard")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        u = state.draw("retention", "random")
        lin = p.churn_trust_effect * (state.trust - 0.5)
        if p.log_referral_churn != 0.0:
            lin = lin + p.log_referral_churn * state.referred
        if p.log_contagion > 0.0:
            lin = lin + p.log_contagion * state.network.neighbour_sum(state.contagion)
        hazard = -np.expm1(state.log_survival * np.exp(lin))
        alive = state.active
        churn = alive & (u < hazard)
        state.status[churn] = LOST
        state.contagion = p.contagion_decay * state.contagion + churn
        state.hazard = hazard
        state.records["churned"][:, period - 1] = churn.sum(axis=1)
        state.records["customers_active"][:, period - 1] = (alive & ~churn).sum(axis=1)
