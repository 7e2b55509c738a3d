"""Domain sub-models, each a small vectorized engine component.

Each component declares the state it ``reads`` and ``writes``; :func:`default_components`
composes them in the order the engine runs them within a period.

The components are imported on first use (``valuecapture.model.submodels.Demand`` works as
usual): the per-period ones are compiled with numba, and a process that never steps
the engine -- the parent of a multi-worker run, ``valuecapture validate`` -- then
never loads numba and its compiler (about 60 MB).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from valuecapture.model.engine import Component

#: Component class -> the module that defines it.
_WHERE = {
    "Acquisition": "acquisition",
    "Alignment": "alignment",
    "PortfolioTracker": "alignment",
    "Demand": "demand",
    "Economics": "economics",
    "PeriodStep": "period",
    "Valuation": "economics",
    "Relationship": "relationship",
    "Retention": "retention",
    "Review": "review",
    "Stages": "stages",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_components(
    review_interval: int,
    periods: int,
    alignment: bool = False,
    portfolio_models: tuple[str, ...] = (),
    stages: bool = False,
) -> list[Component]:
    """The sub-models, ordered by phase within a period: demand, economics, relationship
    and retention run fused in one compiled loop (:class:`PeriodStep`), split in two around
    the alignment sub-model when ``alignment.enabled``, with the relationship stages' move
    after retention in the same loop when ``stages.enabled``; the portfolio tracker runs only
    when ``portfolio.track``."""
    # compiled with numba: imported on first use, not by a process that never steps the engine
    from valuecapture.model.submodels.acquisition import Acquisition
    from valuecapture.model.submodels.alignment import Alignment, PortfolioTracker
    from valuecapture.model.submodels.economics import Valuation
    from valuecapture.model.submodels.period import PeriodStep
    from valuecapture.model.submodels.review import Review

    comps: list[Component] = [Review(cadence=review_interval), Acquisition()]
    staged = ("stages",) if stages else ()
    if alignment:  # the customer's view moves between economics and relationship
        comps += [
            PeriodStep(("demand", "economics"), phase=20),
            Alignment(),
            PeriodStep(("relationship", "retention", *staged), phase=40),
        ]
    else:
        comps.append(PeriodStep(("demand", "economics", "relationship", "retention", *staged), phase=20))
    comps.append(Valuation(at=periods))
    if portfolio_models:
        comps.append(PortfolioTracker(portfolio_models))
    return comps


__all__ = [
    "Alignment",
    "PortfolioTracker",
    "Acquisition",
    "Demand",
    "Economics",
    "PeriodStep",
    "Relationship",
    "Retention",
    "Review",
    "Stages",
    "Valuation",
    "default_components",
]
