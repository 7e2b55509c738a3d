"""Relationship dynamics: experienced quality, trust, adaptation, share of wallet."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from valuecapture.model.engine import Part
from valuecapture.model.kernels import kernel, logistic
from valuecapture.model.params import ModelParams
from valuecapture.model.state import sow_logit as _sow_logit

sow_logit = njit(inline="always", error_model="numpy")(_sow_logit)  # the one equation, compiled


class Relationship(Part):
    """Trust moves toward experienced quality, faster down than up.

    ``Q = clip(quality[bm] + adaptation_quality * A + quality_noise * eta, 0, 1)``;
    ``T += (trust_up if Q > T else trust_down) * (Q - T)``;
    ``A += adaptation_rate * (adaptation[bm] - A)``;
    share of wallet for the next period is ``logistic(a + b T + c A)``.  With
    alignment on, misalignment ``m`` slows trust gains (``trust_up (1 - trust_effect m)``)
    and lowers share of wallet (``- sow_effect m`` on the logit).
    Age is derived (period minus the slot's origin), never stepped.  The quality noise
    ``eta`` is the slot's standard normal of the period (``relationship`` key), drawn only
    while the customer is active.
    """

    name = "relationship"
    reads = (
        "next_free",
        "status",
        "trust",
        "adaptation",
        "bm_quality",
        "bm_adaptation",
        "alignment.misalignment",
    )
    writes = (
        "trust",
        "adaptation",
        "share_of_wallet",
    )


class RelationshipCoefficients(NamedTuple):
    """The :class:`Relationship` equations' coefficients, in one record for the kernel."""

    adaptation_quality: float
    quality_noise: float
    trust_up: float
    trust_down: float
    adaptation_rate: float
    sow_intercept: float
    sow_trust: float
    sow_adaptation: float
    aligned: bool  # misalignment slows trust gains or lowers share of wallet
    trust_effect: float
    sow_effect: float

    @classmethod
    def of(cls, p: ModelParams) -> RelationshipCoefficients:
        return cls(
            adaptation_quality=float(p.adaptation_quality),
            quality_noise=float(p.quality_noise),
            trust_up=float(p.trust_up),
            trust_down=float(p.trust_down),
            adaptation_rate=float(p.adaptation_rate),
            sow_intercept=float(p.sow_intercept),
            sow_trust=float(p.sow_trust),
            sow_adaptation=float(p.sow_adaptation),
            aligned=bool(p.alignment and (p.align_trust_effect or p.align_sow_effect)),
            trust_effect=float(p.align_trust_effect),
            sow_effect=float(p.align_sow_effect),
        )


@njit(inline="always", error_model="numpy")
def relationship_block(n, noise, trust, adaptation, sow, bm_quality, bm_adaptation, misalignment, k):
    """The :class:`Relationship` step of ``n`` consecutive slots of one replication (1-d views),
    with their quality noise ``noise``; ``misalignment`` is read only when ``k.aligned``."""
    for j in range(n):
        m = misalignment[j] if k.aligned else 0.0
        t, a, share = relationship_slot(trust[j], adaptation[j], bm_quality[j], bm_adaptation[j], noise[j], m, k)
        trust[j] = t
        adaptation[j] = a
        sow[j] = share


@njit(inline="always", error_model="numpy")
def relationship_slot(t, a, bm_quality, bm_adaptation, noise, misalignment, k):
    """One active slot's :class:`Relationship` step with coefficients ``k``
    (:class:`RelationshipCoefficients`): trust ``t`` and adaptation ``a`` after this period,
    and the share of wallet for the next; ``noise`` is the standard normal quality shock,
    ``misalignment`` is read only when ``k.aligned``."""
    quality = min(max(bm_quality + k.adaptation_quality * a + k.quality_noise * noise, 0.0), 1.0)
    gap = quality - t
    if gap > 0.0:
        up = k.trust_up * (1.0 - k.trust_effect * misalignment) if k.aligned else k.trust_up
        t += up * gap
    else:
        t += k.trust_down * gap
    a += k.adaptation_rate * (bm_adaptation - a)
    logit = sow_logit(k.sow_intercept, k.sow_trust, k.sow_adaptation, t, a)
    if k.aligned:
        logit -= k.sow_effect * misalignment
    return t, a, logistic(logit)


@kernel
def _share_of_wallet(intercept, trust_coef, adaptation_coef, trust, adaptation, out):
    for j in range(out.size):
        out.flat[j] = logistic(sow_logit(intercept, trust_coef, adaptation_coef, trust.flat[j], adaptation.flat[j]))


def share_of_wallet(p: ModelParams, trust: np.ndarray, adaptation: np.ndarray) -> np.ndarray:
    """``logistic(sow_logit(T, A))`` of relationships without misalignment (at the start and at
    acquisition): the very function and ``exp`` of the period step (:func:`relationship_slot`)."""
    trust = np.ascontiguousarray(trust, dtype=np.float64)
    adaptation = np.ascontiguousarray(np.broadcast_to(adaptation, trust.shape), dtype=np.float64)
    out = np.empty(trust.shape)
    _share_of_wallet(float(p.sow_intercept), float(p.sow_trust), float(p.sow_adaptation), trust, adaptation, out)
    return out
