"""Relationship dynamics: experienced quality, trust, adaptation, share of wallet, age."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import BatchState, share_of_wallet


class Relationship(Component):
    """Trust moves toward experienced quality, faster down than up.

    ``Q = clip(quality[bm] + adaptation_quality * A + quality_noise * eta, 0, 1)``;
    ``T += (trust_up if Q > T else trust_down) * (Q - T)``;
    ``A += adaptation_rate * (adaptation[bm] - A)``;
    share of wallet for the next period is ``logistic(a + b T + c A)``.
    """

    name = "relationship"
    phase = 40
    reads = ("trust", "adaptation", "business_model")
    writes = ("trust", "adaptation", "share_of_wallet", "age")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        bmt = p.business_models
        bm = state.business_model
        noise = state.draw("relationship", "standard_normal")
        quality = bmt.quality[bm] + p.adaptation_quality * state.adaptation + p.quality_noise * noise
        np.clip(quality, 0.0, 1.0, out=quality)
        gap = quality - state.trust
        state.trust = state.trust + np.where(gap > 0, p.trust_up, p.trust_down) * gap
        state.adaptation = state.adaptation + p.adaptation_rate * (bmt.adaptation[bm] - state.adaptation)
        state.share_of_wallet = share_of_wallet(p, state.trust, state.adaptation)
        state.age = state.age + 1.0
