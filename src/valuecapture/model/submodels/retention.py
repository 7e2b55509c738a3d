"""Retention: complementary log-log churn hazard with trust and contagion."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from valuecapture.model.engine import Part
from valuecapture.model.kernels import exp, expm1
from valuecapture.model.params import ModelParams
from valuecapture.model.state import ACTIVE, LOST, BatchState


class Retention(Part):
    """Churn at the end of the period.

    ``h = 1 - exp(-exp(eta))`` (complementary log-log) with
    ``eta = log(-dt log(1 - p_i)) + log(m_ref) referred + beta_T (T - 0.5) + log(m_c) C_i``,
    evaluated as ``h = -expm1(dt log(1 - p_i) m_ref^referred exp(beta_T (T - 0.5) + log(m_c) C_i))``.
    ``p_i`` is the customer's annual churn probability, ``C_i`` the decayed
    count of recently defected neighbours (each multiplies the hazard by
    ``m_c``).  With alignment on, ``+ churn_effect x misalignment`` on ``eta``.
    One uniform per filled slot and period (``retention`` key): an active customer churns
    when it falls below ``h``.  Every slot's count of defected neighbours, filled or not, then
    decays by ``contagion_decay`` and gains 1 per neighbour that churned now.  With relationship
    stages on, the stage's churn multiplier ``k_s`` multiplies the exponent
    (``h = 1 - (1 - h0)^k_s``, proportional hazards).
    """

    name = "retention"
    reads = (
        "next_free",
        "status",
        "trust",
        "contagion",
        "log_survival",
        "alignment.misalignment",
        "stages.stage",
    )
    writes = (
        "status",
        "contagion",
        "hazard",
        "records.churned",
        "records.customers_active",
    )
    reads_previous = ("stages.stage",)  # the stage during the period, before its end-of-period move

    @staticmethod
    def finish(state: BatchState, period: int, churned: np.ndarray, active: np.ndarray) -> None:
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


@njit(inline="always", error_model="numpy")
def retention_block(n, u, status, trust, contagion, log_survival, hazard, misalignment, k, churners, n_churners, node,
                    stage, g):  # fmt: skip
    """Hazard and churn of ``n`` consecutive slots of one replication (1-d views), whose first
    is the flat node ``node`` (``b * slots + lo``), with their uniforms ``u``: each churner's node
    is appended to ``churners`` after the ``n_churners`` there.  With stage churn multipliers
    (:class:`~valuecapture.model.submodels.stages.StageTerms` ``g``), the slots' ``stage`` sets
    theirs.  Returns the block's active customers (before churn) and the new count of churners."""
    for j in range(n):  # the hazard, in two loops the compiler vectorizes
        m = misalignment[j] if k.aligned else 0.0
        hazard[j] = hazard_exponent(trust[j], contagion[j], log_survival[j], m, k)
    if g.churn:
        for j in range(n):
            hazard[j] *= g.churn_multiplier[stage[j]]
    for j in range(n):
        hazard[j] = churn_probability(hazard[j])
    n_active = 0
    for j in range(n):  # no branch on the status: lost customers are scattered among active ones
        alive = status[j] == ACTIVE
        n_active += alive
        if alive & (u[j] < hazard[j]):  # rare
            status[j] = LOST
            churners[n_churners] = node + j
            n_churners += 1
    return n_active, n_churners


@njit(inline="always", error_model="numpy")
def hazard_exponent(trust, contagion, log_survival, misalignment, k):
    """``dt log(1 - p) m_ref^referred exp(eta)`` of a slot, with coefficients ``k``
    (:class:`RetentionCoefficients`); ``misalignment`` is read only when ``k.aligned``."""
    eta = k.trust_effect * (trust - 0.5) + k.log_contagion * contagion
    if k.aligned:
        eta += k.churn_effect * misalignment
    return log_survival * exp(eta)


@njit(inline="always", error_model="numpy")
def churn_probability(x):
    """The hazard ``h = 1 - exp(x) = -expm1(x)`` of the :func:`hazard_exponent` ``x``."""
    return -expm1(x)


@njit(inline="always", error_model="numpy")
def spread_contagion(contagion, b, n_slots, churners, n_churners, indptr, indices, decay):
    """Replication ``b``'s counts of defected neighbours after this period: every slot's
    decays, then each of the ``n_churners`` flat nodes in ``churners`` adds 1 to its
    neighbours' (adjacency lists ``indptr``/``indices`` over flat nodes ``b * slots + i``)."""
    for i in range(n_slots):  # also slots not yet filled
        contagion[b, i] *= decay
    flat = contagion.reshape(-1)
    for c in range(n_churners):
        node = churners[c]
        for e in range(indptr[node], indptr[node + 1]):
            flat[indices[e]] += 1.0
