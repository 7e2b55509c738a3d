"""Business models, their internal fit, capabilities and the cost of running several.

A business model is an internally consistent set of elements (MODEL.md §3):
offering adaptation, price level, service level (quality), channel,
account-management intensity, capital intensity and production platform.
Each element is mapped to an *intimacy score* in [0, 1] (how close and
tailored the relationship it implies is).  **Internal fit** is high when the
elements agree:

    phi_k = clip(1 - 2 * mean_j |x_kj - mean(x_k)|, 0, 1)

(*assumed* form: a key-account model with every element high fits, and so does
a lean transactional model with every element low; a tailored offering sold
through an e-channel does not).  Misfit raises cost to serve by
``fit_cost * (1 - phi)`` and lowers delivered quality by ``fit_quality * (1 - phi)``.

Running ``K`` business models in parallel costs ``C1 * K^b`` a year
(complexity cost; ``b`` about 0.26-0.43, *assumed*), reduced by the modular
platform capability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from valuecapture.scenario.business import internal_fit

#: Account-management intensity from which a relationship needs a dedicated account manager.
MANAGER_THRESHOLD = 0.5


def complexity_cost(
    k: np.ndarray | int, c1: float, b: float, platform_level: np.ndarray | float = 0.0, platform_effect: float = 0.0
) -> np.ndarray:
    """Yearly complexity cost of running ``k`` business models in parallel.

    ``C1 * K^b * (1 - platform_effect * platform_level)``; zero for ``K <= 1``
    (one business model has no coordination overhead beyond its fixed cost).
    """
    k = np.asarray(k, dtype=float)
    base = np.where(k > 1, c1 * np.power(np.maximum(k, 1.0), b), 0.0)
    return base * (1.0 - platform_effect * np.asarray(platform_level, dtype=float))


@dataclass(frozen=True)
class BusinessModelTable:
    """Business-model elements as arrays indexed by business-model number."""

    names: tuple[str, ...]
    quality: np.ndarray  # delivered quality, after the fit penalty
    adaptation: np.ndarray
    service_cost: np.ndarray  # currency/year/customer
    price_factor: np.ndarray
    cost_to_serve_factor: np.ndarray  # after the fit penalty
    fixed_cost: np.ndarray  # currency/year
    setup_cost: np.ndarray  # currency, once when first used
    switching_cost: np.ndarray  # currency per relationship moved into the model
    account_management: np.ndarray  # intensity; >= MANAGER_THRESHOLD needs an account manager
    capital_intensity: np.ndarray  # extra invested capital, fraction of annual revenue
    fit: np.ndarray
    elements: tuple[dict[str, Any], ...]

    @classmethod
    def from_scenario(cls, sc: Any) -> BusinessModelTable:
        bms = sc.business_models
        fit_cost = sc.get("business.fit_cost")
        fit_quality = sc.get("business.fit_quality")

        def col(key: str) -> np.ndarray:
            return np.array([bm[key] for bm in bms], dtype=float)

        fit = np.array([internal_fit(bm) for bm in bms])
        return cls(
            names=tuple(bm["name"] for bm in bms),
            quality=col("quality") * (1.0 - fit_quality * (1.0 - fit)),
            adaptation=col("adaptation"),
            service_cost=col("service_cost"),
            price_factor=col("price_factor"),
            cost_to_serve_factor=col("cost_to_serve_factor") * (1.0 + fit_cost * (1.0 - fit)),
            fixed_cost=col("fixed_cost"),
            setup_cost=col("setup_cost"),
            switching_cost=col("switching_cost"),
            account_management=col("account_management"),
            capital_intensity=col("capital_intensity"),
            fit=fit,
            elements=tuple(dict(bm, fit=float(f)) for bm, f in zip(bms, fit, strict=True)),
        )

    def __len__(self) -> int:
        return len(self.names)

    @property
    def needs_manager(self) -> np.ndarray:
        return self.account_management >= MANAGER_THRESHOLD

    @property
    def treatment(self) -> np.ndarray:
        """Treatment level of each model in [0, 1]: 1 the richest, 0 the leanest, evenly
        spaced by rank in :meth:`by_intensity` (0.5 with a single model)."""
        k = len(self)
        if k == 1:
            return np.array([0.5])
        out = np.empty(k)
        out[self.by_intensity()] = 1.0 - np.arange(k) / (k - 1)
        return out

    def by_intensity(self) -> np.ndarray:
        """Model indices from the richest (most service per customer) to the leanest."""
        score = self.service_cost + 1e-9 * self.quality
        return np.argsort(-score, kind="stable")
