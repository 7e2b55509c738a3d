"""Business-model review: the policy assigns a business model to every slot."""

from __future__ import annotations

import numpy as np

from ..engine import Component
from ..policies import make_view
from .state import BatchState, apply_assignment


class Review(Component):
    """Relationship performance review, once a year (every periods_per_year periods).

    The policy sees a read-only :class:`~valuecapture.policies.PortfolioView`
    and returns a business-model index for every slot (slots not yet filled get
    the model they will start with).  Draws no random numbers.
    """

    name = "review"
    phase = 5
    reads = ("status", "revenue", "economic_profit", "trust", "share_of_wallet", "adaptation", "origin", "business_model")
    writes = ("business_model", "margin_base", "margin_adaptation", "capital_base", "capital_adaptation", "service", "price", "bm_quality", "bm_adaptation")

    def __init__(self, cadence: int = 1):
        self.cadence = int(cadence)

    def step(self, state: BatchState, period: int) -> None:
        n_models = len(state.params.business_models)
        view = make_view(
            period=period,
            active=state.active,
            revenue=state.revenue,
            economic_profit=state.economic_profit,
            trust=state.trust,
            share_of_wallet=state.share_of_wallet,
            adaptation=state.adaptation,
            age=period - state.origin,
            segment=state.base.segment,
            business_model=state.business_model,
            n_business_models=n_models,
        )
        decision = np.asarray(state.policy.assign(view))  # type: ignore[attr-defined]
        if decision.shape != state.shape or not np.issubdtype(decision.dtype, np.integer):
            raise ValueError(f"policy returned {decision.dtype} array of shape {decision.shape}; expected integers of shape {state.shape}")
        if decision.size and (decision.min() < 0 or decision.max() >= n_models):
            raise ValueError(f"policy returned business-model indices outside 0..{n_models - 1}")
        if not np.array_equal(decision, state.business_model):
            apply_assignment(state, decision)
