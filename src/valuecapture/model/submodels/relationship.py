"""Relationship dynamics: experienced quality, trust, adaptation, share of wallet."""

from __future__ import annotations

from typing import NamedTuple

from numba import njit

from valuecapture.model.engine import Component
from valuecapture.model.kernels import NO_SLOTS, exp, kernel
from valuecapture.model.params import ModelParams
from valuecapture.model.state import BatchState
from valuecapture.model.state import sow_logit as _sow_logit

sow_logit = njit(inline="always", error_model="numpy")(_sow_logit)  # the one equation, compiled


class Relationship(Component):
    """Trust moves toward experienced quality, faster down than up.

    ``Q = clip(quality[bm] + adaptation_quality * A + quality_noise * eta, 0, 1)``;
    ``T += (trust_up if Q > T else trust_down) * (Q - T)``;
    ``A += adaptation_rate * (adaptation[bm] - A)``;
    share of wallet for the next period is ``logistic(a + b T + c A)``.  With
    alignment on, misalignment ``m`` slows trust gains (``trust_up (1 - trust_effect m)``)
    and lowers share of wallet (``- sow_effect m`` on the logit).
    Age is derived (period minus the slot's origin), never stepped.
    """

    name = "relationship"
    phase = 40
    reads = (
        "next_free",
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

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        noise = state.keyed(state.streams("relationship", period), "standard_normal")
        k = RelationshipCoefficients.of(p)
        misalignment = state.alignment.misalignment if k.aligned else NO_SLOTS  # type: ignore[union-attr]
        step_relationship(state.next_free, state.slots(), noise, misalignment, k)


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


@kernel
def step_relationship(filled, s, noise, misalignment, k):
    """One period of the :class:`Relationship` equations, in place, for the filled slots
    (``[b, :filled[b]]``; the others wait for their customer, who starts afresh) of the
    :class:`~valuecapture.model.state.Slots` record ``s``, with coefficients ``k``
    (:class:`RelationshipCoefficients`).

    ``noise`` is the slot's standard normal quality shock.
    """
    for b in range(s.trust.shape[0]):
        for i in range(filled[b]):
            a = s.adaptation[b, i]
            t = s.trust[b, i]
            quality = min(max(s.bm_quality[b, i] + k.adaptation_quality * a + k.quality_noise * noise[b, i], 0.0), 1.0)
            gap = quality - t
            if gap > 0.0:
                up = k.trust_up * (1.0 - k.trust_effect * misalignment[b, i]) if k.aligned else k.trust_up
                t += up * gap
            else:
                t += k.trust_down * gap
            a += k.adaptation_rate * (s.bm_adaptation[b, i] - a)
            logit = sow_logit(k.sow_intercept, k.sow_trust, k.sow_adaptation, t, a)
            if k.aligned:
                logit -= k.sow_effect * misalignment[b, i]
            s.trust[b, i] = t
            s.adaptation[b, i] = a
            s.share_of_wallet[b, i] = 1.0 / (1.0 + exp(-logit))
