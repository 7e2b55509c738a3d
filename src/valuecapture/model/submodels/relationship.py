"""Relationship dynamics: experienced quality, trust, adaptation, share of wallet."""

from __future__ import annotations

from valuecapture.model.engine import Component
from valuecapture.model.kernels import NO_SLOTS, exp, kernel
from valuecapture.model.state import BatchState


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
    reads = ("trust", "adaptation", "bm_quality", "bm_adaptation")
    writes = ("trust", "adaptation", "share_of_wallet")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        noise = state.keyed(state.streams("relationship", period), "standard_normal")
        aligned = bool(p.alignment and (p.align_trust_effect or p.align_sow_effect))
        misalignment = state.misalignment if aligned else NO_SLOTS
        step_relationship(
            state.next_free, state.trust, state.adaptation, state.share_of_wallet, state.bm_quality, state.bm_adaptation, noise, misalignment,
            p.adaptation_quality, p.quality_noise, p.trust_up, p.trust_down, p.adaptation_rate,
            p.sow_intercept, p.sow_trust, p.sow_adaptation, aligned, p.align_trust_effect, p.align_sow_effect,
        )  # fmt: skip


@kernel
def step_relationship(filled, trust, adaptation, sow, bm_quality, bm_adaptation, noise, misalignment,
                      adaptation_quality, quality_noise, trust_up, trust_down, adaptation_rate,
                      sow_intercept, sow_trust, sow_adaptation, aligned, trust_effect, sow_effect):  # fmt: skip
    """One period of the :class:`Relationship` equations, in place, for the filled slots
    (``[b, :filled[b]]``; the others wait for their customer, who starts afresh).

    ``noise`` is the slot's standard normal quality shock.
    """
    for b in range(trust.shape[0]):
        for i in range(filled[b]):
            a = adaptation[b, i]
            t = trust[b, i]
            quality = min(max(bm_quality[b, i] + adaptation_quality * a + quality_noise * noise[b, i], 0.0), 1.0)
            gap = quality - t
            if gap > 0.0:
                up = trust_up * (1.0 - trust_effect * misalignment[b, i]) if aligned else trust_up
                t += up * gap
            else:
                t += trust_down * gap
            a += adaptation_rate * (bm_adaptation[b, i] - a)
            logit = sow_intercept + sow_trust * t + sow_adaptation * a
            if aligned:
                logit -= sow_effect * misalignment[b, i]
            trust[b, i] = t
            adaptation[b, i] = a
            sow[b, i] = 1.0 / (1.0 + exp(-logit))
