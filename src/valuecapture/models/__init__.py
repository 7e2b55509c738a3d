"""Domain sub-models, each a small vectorized engine component.

Each component declares the state it ``reads`` and ``writes``; :func:`default_components`
composes them in the order the engine runs them within a period.
"""

from __future__ import annotations

from ..engine import Component
from .acquisition import Acquisition
from .demand import Demand
from .economics import Economics, Valuation
from .relationship import Relationship
from .retention import Retention
from .review import Review


def default_components(review_interval: int, periods: int) -> list[Component]:
    """The sub-models of the core model, ordered by phase within a period."""
    return [
        Review(cadence=review_interval),
        Acquisition(),
        Demand(),
        Economics(),
        Relationship(),
        Retention(),
        Valuation(at=periods),
    ]


__all__ = ["Acquisition", "Demand", "Economics", "Relationship", "Retention", "Review", "Valuation", "default_components"]
