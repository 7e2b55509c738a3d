"""Relationship dynamics: experienced quality, trust, adaptation, share of wallet."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import BatchState, share_of_wallet


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
        gens = state.streams("relationship", period)
        noise = state.keyed(gens, "standard_normal")
        trust = state.view("trust")
        adaptation = state.view("adaptation")
        quality = state.view("bm_quality") + p.adaptation_quality * adaptation
        if p.quality_noise:
            quality += p.quality_noise * noise
        np.clip(quality, 0.0, 1.0, out=quality)
        quality -= trust  # the gap
        misalignment = state.view("misalignment") if p.alignment else None
        if misalignment is not None and p.align_trust_effect:
            trust += np.where(quality > 0, p.trust_up * (1.0 - p.align_trust_effect * misalignment), p.trust_down) * quality
        else:
            trust += np.where(quality > 0, p.trust_up, p.trust_down) * quality
        adaptation += p.adaptation_rate * (state.view("bm_adaptation") - adaptation)
        state.share_of_wallet[:, : state.width] = share_of_wallet(p, trust, adaptation, misalignment)
