"""The scenario's business models as data: their elements' intimacy scores, internal fit
and effective price and cost-to-serve factors (MODEL.md §3; the equations are in
:mod:`valuecapture.model.business_models`, which uses these).  Here, below the model, so
that calibration (``valuecapture.data``) can undo what the engine will apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from valuecapture.scenario.load import Scenario

CHANNEL_SCORE: dict[str, float] = {
    "key_account_team": 1.0,
    "field_sales": 0.7,
    "inside_sales": 0.4,
    "distributor": 0.2,
    "e_channel": 0.0,
}
PLATFORM_SCORE: dict[str, float] = {"standard": 0.0, "modular": 0.5, "dedicated": 1.0}
#: Capital intensity (fraction of annual revenue) that scores 1.
CAPITAL_FULL = 0.3


def element_scores(bm: Mapping[str, Any]) -> dict[str, float]:
    """Intimacy scores in [0, 1] of a business model's elements."""
    return {
        "adaptation": float(bm["adaptation"]),
        "price_level": float(np.clip((bm["price_factor"] - 0.8) / 0.4, 0.0, 1.0)),
        "service_level": float(bm["quality"]),
        "channel": CHANNEL_SCORE[bm["channel"]],
        "account_management": float(bm["account_management"]),
        "capital_intensity": float(np.clip(bm["capital_intensity"] / CAPITAL_FULL, 0.0, 1.0)),
        "platform": PLATFORM_SCORE[bm["platform"]],
    }


def internal_fit(bm: Mapping[str, Any]) -> float:
    """Internal fit phi in [0, 1] of a business model (1 = all elements consistent)."""
    x = np.array(list(element_scores(bm).values()))
    return float(np.clip(1.0 - 2.0 * np.abs(x - x.mean()).mean(), 0.0, 1.0))


def effective_factors(sc: Scenario, model: int = 0) -> tuple[float, float]:
    """Business model ``model``'s price factor and its cost-to-serve factor after the internal-fit
    penalty ``(1 + fit_cost (1 - phi))``: what the engine multiplies a customer's net price and
    cost to serve by while that model serves it."""
    bm = sc.business_models[model]
    penalty = 1.0 + float(sc.get("business.fit_cost")) * (1.0 - internal_fit(bm))
    return float(bm["price_factor"]), float(bm["cost_to_serve_factor"]) * penalty
