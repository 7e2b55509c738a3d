"""Domain sub-models, each a small vectorized engine component.

Each component declares the state it ``reads`` and ``writes``; :func:`default_components`
composes them in the order the engine runs them within a period.
"""

from __future__ import annotations

from ..engine import Component
from .acquisition import Acquisition
from .alignment import Alignment, PortfolioTracker
from .demand import Demand
from .economics import Economics, Valuation
from .relationship import Relationship
from .retention import Retention
from .review import Review


def default_components(review_interval: int, periods: int, alignment: bool = False, portfolio_models: tuple[str, ...] = ()) -> list[Component]:
    """The sub-models, ordered by phase within a period.  The alignment sub-model runs
    only when ``alignment.enabled``; the portfolio tracker only when ``portfolio.track``."""
    comps: list[Component] = [
        Review(cadence=review_interval),
        Acquisition(),
        Demand(),
        Economics(),
        Relationship(),
        Retention(),
        Valuation(at=periods),
    ]
    if alignment:
        comps.append(Alignment())
    if portfolio_models:
        comps.append(PortfolioTracker(portfolio_models))
    return comps


__all__ = ["Alignment", "PortfolioTracker", "Acquisition", "Demand", "Economics", "Relationship", "Retention", "Review", "Valuation", "default_components"]
