"""Retention: complementary log-log churn hazard with trust and contagion."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from valuecapture.model.engine import Component
from valuecapture.model.kernels import NO_SLOTS, exp, expm1, kernel
from valuecapture.model.params import ModelParams
from valuecapture.model.state import ACTIVE, LOST, BatchState


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
    reads = (
        "next_free",
        "status",
        "trust",
        "contagion",
        "log_survival",
        "alignment.misalignment",
    )
    writes = (
        "status",
        "contagion",
        "hazard",
        "records.churned",
        "records.customers_active",
    )

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        u = state.keyed(state.streams("retention", period), "random")
        k = RetentionCoefficients.of(p)
        misalignment = state.alignment.misalignment if k.aligned else NO_SLOTS  # type: ignore[union-attr]
        churned = np.zeros(state.shape[0], dtype=np.int64)
        active = np.zeros(state.shape[0], dtype=np.int64)
        net = state.network
        step_retention(state.next_free, state.slots(), misalignment, u, k, net.indptr, net.indices, churned, active)
        state.records["churned"][:, period - 1] = churned
        state.records["customers_active"][:, period - 1] = active


class RetentionCoefficients(NamedTuple):
    """The :class:`Retention` hazard's coefficients, in one record for the kernel."""

    trust_effect: float
    log_contagion: float
    contagion_decay: float
    aligned: bool  # misalignment raises the hazard
    churn_effect: float

    @classmethod
    def of(cls, p: ModelParams) -> RetentionCoefficients:
        return cls(
            trust_effect=float(p.churn_trust_effect),
            log_contagion=float(p.log_contagion),
            contagion_decay=float(p.contagion_decay),
            aligned=bool(p.alignment and p.align_churn_effect),
            churn_effect=float(p.align_churn_effect),
        )


@kernel
def step_retention(filled, s, misalignment, u, k, indptr, indices, churned, active):
    """Hazard and churn of the filled slots (``[b, :filled[b]]``) of the
    :class:`~valuecapture.model.state.Slots` record ``s``, in place, with coefficients ``k``
    (:class:`RetentionCoefficients`); then, with contagion on,
    every slot's count of defected neighbours decays and gains 1 per neighbour that
    churned now (the network's adjacency lists ``indptr``/``indices`` over flat nodes
    ``b * slots + i``).  ``u`` is the slot's uniform;
    ``churned[b]`` and ``active[b]`` (active after churn) are filled in."""
    status, trust, contagion, log_survival, hazard = s.status, s.trust, s.contagion, s.log_survival, s.hazard
    trust_effect, log_contagion, aligned, churn_effect = k.trust_effect, k.log_contagion, k.aligned, k.churn_effect
    contagion_decay = k.contagion_decay
    n_batch, n_slots = status.shape
    churners = np.empty(filled.sum(), dtype=np.int64)  # flat nodes that churned now
    n_churners = 0
    for b in range(n_batch):
        for i in range(filled[b]):  # the hazard of every slot, in two loops the compiler vectorizes
            eta = trust_effect * (trust[b, i] - 0.5) + log_contagion * contagion[b, i]
            if aligned:
                eta += churn_effect * misalignment[b, i]
            hazard[b, i] = log_survival[b, i] * exp(eta)
        for i in range(filled[b]):
            hazard[b, i] = -expm1(hazard[b, i])
        n_active = 0
        n_churned = 0
        for i in range(filled[b]):  # churn of the active ones (no branch on the status: lost
            alive = status[b, i] == ACTIVE  # customers are scattered among active ones)
            churn = alive & (u[b, i] < hazard[b, i])
            n_active += alive
            n_churned += churn
            if churn:  # rare
                status[b, i] = LOST
                churners[n_churners] = b * n_slots + i
                n_churners += 1
        churned[b] = n_churned
        active[b] = n_active - n_churned
    if log_contagion > 0.0:
        flat = contagion.reshape(-1)
        for v in range(flat.size):  # also slots not yet filled
            flat[v] *= contagion_decay
        for c in range(n_churners):
            node = churners[c]
            for e in range(indptr[node], indptr[node + 1]):
                flat[indices[e]] += 1.0
