"""Revenue panel: each relationship's revenue summed over each year of the horizon.

Only with ``outputs.revenue_panel``, and only for the replications whose per-relationship
detail is kept: what a firm's revenue panel holds (docs/data.md), so that a simulated firm
can be written in the input format of ``valuecapture calibrate``
(``valuecapture export-customers``).  It draws no random numbers and changes nothing
the other sub-models read, so switching it on leaves every other output as it was.
"""

from __future__ import annotations

from valuecapture.model.engine import Component
from valuecapture.model.state import BatchState


def horizon_years(periods: int, periods_per_year: int) -> int:
    """Years the horizon touches: the last one is partial when ``periods`` is not a whole
    number of years."""
    return -(-periods // periods_per_year)


class RevenuePanel(Component):
    """Adds every slot's revenue of the period (``revenue``: zero for a slot not active this
    period, as :class:`~valuecapture.model.submodels.economics.Economics` leaves it) to its
    year: ``relationship_revenue[b, i, y] += revenue[b, i]`` with ``y = (t - 1) // periods_per_year``
    for the state's first ``relationship_revenue.shape[0]`` replications (currency/year)."""

    name = "revenue_panel"
    phase = 60
    reads = ("revenue", "relationship_revenue")
    writes = ("relationship_revenue",)

    def step(self, state: BatchState, period: int) -> None:
        panel = state.relationship_revenue
        if panel is None or panel.shape[0] == 0:
            return
        w = state.width
        year = (period - 1) // state.params.periods_per_year
        panel[:, :w, year] += state.revenue[: panel.shape[0], :w]
