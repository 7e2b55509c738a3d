"""Relationship dynamics: experienced quality, trust, adaptation, share of wallet."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from .state import BatchState


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
        # In place, in the same floating-point order as the docstring's formulas.
        quality = np.multiply(adaptation, p.adaptation_quality)
        quality += state.view("bm_quality")
        if p.quality_noise:
            noise *= p.quality_noise
            quality += noise
        np.clip(quality, 0.0, 1.0, out=quality)
        gap = np.subtract(quality, trust, out=quality)
        misalignment = state.view("misalignment") if p.alignment else None
        # trust += (trust_up if gap > 0 else trust_down) * gap, computed as
        # trust_up * max(gap, 0) + trust_down * min(gap, 0) (exact: one term is zero;
        # cheaper than np.where)
        gain = np.clip(gap, 0.0, np.inf)
        if misalignment is not None and p.align_trust_effect:
            gain *= p.trust_up * (1.0 - p.align_trust_effect * misalignment)
        else:
            gain *= p.trust_up
        trust += gain
        loss = np.clip(gap, -np.inf, 0.0, out=gap)
        loss *= p.trust_down
        trust += loss
        step = np.subtract(state.view("bm_adaptation"), adaptation, out=gain)
        step *= p.adaptation_rate
        adaptation += step
        # share of wallet (state.share_of_wallet) in place: 1 / (1 + exp(-logit)) with
        # the negated logit -a - b T - c A [+ sow_effect m] summed term by term
        # (negation is exact, so the result is the same to the last bit)
        sow = np.multiply(trust, -p.sow_trust, out=state.share_of_wallet[:, : state.width])
        sow += -p.sow_intercept
        sow += np.multiply(adaptation, -p.sow_adaptation, out=step)
        if misalignment is not None and p.align_sow_effect:
            sow += p.align_sow_effect * misalignment
        np.exp(sow, out=sow)
        sow += 1.0
        np.divide(1.0, sow, out=sow)
