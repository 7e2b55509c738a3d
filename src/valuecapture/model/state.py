"""Struct-of-arrays state of a batch of replications.

Every per-customer array is shaped ``(batch, slots)``; per-period records are
``(batch, periods)``.  Slot status: 0 = not yet a customer, 1 = active,
2 = lost.  Slots fill in order as customers are acquired, so at any time only a
prefix of the slots has ever held a customer.  The compiled per-period
sub-models loop over each replication's own filled slots (``next_free``); the
numpy ones work on the prefix ``[:, :width]`` (``width`` = the batch's filled
slots rounded up to a block of :data:`BLOCK`), where slots beyond a replication's
filled ones are exactly zero in every sum.  numpy sums over customers are taken
block by block and the block sums added left to right (:func:`rowsum`), so a
replication's sums do not depend on the width, that is on which other
replications share its batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from valuecapture.model.params import ModelParams
from valuecapture.model.population import CustomerBase, Network

NOT_YET, ACTIVE, LOST = 0, 1, 2


BLOCK = 512

#: Per-period firm series recorded for every replication: name -> (units, description).  Units in UDUNITS form,
#: ``"1"`` for counts, shares and 0-1 indices; ``"currency"`` is money, which the result writes in the scenario's
#: currency (its ISO 4217 code); money series are amounts in the period (run/results.py gives them their CF
#: ``cell_methods``).
PERIOD_SERIES: dict[str, tuple[str, str]] = {
    "revenue": ("currency", "Revenue from all active relationships in the period."),
    "economic_profit": (
        "currency",
        "Firm economic profit in the period: relationship economic profit minus fixed, complexity, capability, "
        "change and acquisition costs after tax.",
    ),
    "relationship_economic_profit": (
        "currency",
        "Sum of relationship economic profit in the period (NOPAT minus capital charge).",
    ),
    "nopat": ("currency", "Net operating profit after tax of all relationships in the period."),
    "invested_capital": (
        "currency",
        "Capital tied up in relationships in the period (receivables, inventory, dedicated assets).",
    ),
    "fixed_cost": ("currency", "Firm and business-model fixed costs in the period (before tax)."),
    "complexity_cost": (
        "currency",
        "Complexity cost of running several business models in parallel in the period (before tax).",
    ),
    "capability_spend": (
        "currency",
        "Spending on capabilities in the period: customer insight, account managers, modular platform, reviews "
        "(before tax).",
    ),
    "change_cost": (
        "currency",
        "One-off business-model costs in the period: set-up of a model first used, switching of relationships "
        "(before tax).",
    ),
    "acquisition_cost": ("currency", "Cost of customers won this period (before tax)."),
    "customers_active": ("1", "Active relationships at the end of the period (after churn)."),
    "acquired": ("1", "Customers won at the start of the period."),
    "churned": ("1", "Relationships lost at the end of the period."),
    "mean_trust": ("1", "Mean trust (0 to 1) over relationships active during the period."),
    "mean_share_of_wallet": ("1", "Mean share of wallet over relationships active during the period."),
}


#: Per-period series recorded only when ``alignment.enabled``: name -> (units, description), as :data:`PERIOD_SERIES`.
ALIGNMENT_SERIES: dict[str, tuple[str, str]] = {
    "aligned_share": ("1", "Share of active relationships whose misalignment is below alignment.aligned_below."),
    "mean_misalignment": (
        "1",
        "Mean misalignment (0 to 1) |firm's treatment - customer's expected treatment| over active relationships.",
    ),
    "mean_internal_misalignment": (
        "1",
        "Mean internal misalignment (0 to 1) |sales' view - operations' treatment| (0 unless alignment.internal).",
    ),
    "interaction_contacts": ("1", "Relationships that took part in an interaction space this period."),
    "interaction_cost": (
        "currency",
        "Cost of interaction spaces in the period: contacts and fixed costs (before tax).",
    ),
}


def rowsum(x: np.ndarray) -> np.ndarray:
    """Row sums of a (batch, width) array, width a multiple of BLOCK, independent of width.

    Each block of BLOCK slots is summed (numpy's pairwise sum over a fixed
    length), then block sums are accumulated left to right; trailing blocks of
    zeros add exactly nothing.
    """
    b, w = x.shape
    if w == 0:
        return np.zeros(b)
    blocks = x.reshape(b, w // BLOCK, BLOCK).sum(axis=2)
    return np.cumsum(blocks, axis=1)[:, -1]


class Slots(NamedTuple):
    """The per-slot arrays of a batch, ``(batch, slots)`` each, as one record for the
    compiled loops: a kernel takes ``slots`` and reads ``slots.trust[b, i]`` by name, so a
    new per-slot quantity is one field here and one in :class:`BatchState`, not a new
    position in every kernel's argument list.  The fields are the state's own arrays
    (no copy); :meth:`BatchState.slots` builds the record afresh, as some arrays are
    replaced (a new business-model assignment)."""

    status: np.ndarray  # int8: NOT_YET, ACTIVE, LOST
    trust: np.ndarray
    adaptation: np.ndarray
    share_of_wallet: np.ndarray
    origin: np.ndarray
    business_model: np.ndarray  # int16
    log_survival: np.ndarray
    wallet_dt: np.ndarray
    log1p_growth: np.ndarray
    idio: np.ndarray
    contagion: np.ndarray
    value: np.ndarray
    acquired_period: np.ndarray  # int32
    periods_active: np.ndarray  # int32
    demand: np.ndarray
    revenue: np.ndarray
    hazard: np.ndarray
    margin_base: np.ndarray
    margin_adaptation: np.ndarray
    capital_base: np.ndarray
    capital_adaptation: np.ndarray
    service: np.ndarray
    price: np.ndarray
    cost_to_serve: np.ndarray
    bm_quality: np.ndarray
    bm_adaptation: np.ndarray

    @classmethod
    def zeros(cls, shape: tuple[int, int], **given: np.ndarray) -> Slots:
        """A record of zero arrays of ``shape`` in each field's type, except the ``given`` ones."""
        ints = {"status": np.int8, "business_model": np.int16, "acquired_period": np.int32, "periods_active": np.int32}
        return cls(
            **{f: given[f] if f in given else np.zeros(shape, dtype=ints.get(f, np.float64)) for f in cls._fields}
        )


@dataclass
class AlignmentState:
    """The two-sided portfolio's state of a batch (``alignment.enabled`` only;
    :mod:`valuecapture.model.submodels.alignment`), per slot ``(batch, slots)``."""

    treatment: np.ndarray  # the firm's treatment level of the assigned model, 0-1
    purchase_importance: np.ndarray  # the customer's importance of the purchase, 0-1 (fixed)
    structural_risk: np.ndarray  # the customer's structural supply risk, 0-1 (fixed)
    supply_risk: np.ndarray  # the customer's perceived supply risk, 0-1 (drifts; interaction spaces move it)
    customer_level: np.ndarray  # the treatment the customer expects (its Kraljic class's level)
    misalignment: np.ndarray  # |treatment - customer_level|
    last_contact: np.ndarray  # period of the last interaction-space contact (int64)
    interaction_choice: dict[str, np.ndarray] = field(default_factory=dict)  # policy-chosen participants by space


@dataclass
class PortfolioTrack:
    """Class counts of the tracked portfolio models (``portfolio.track`` only;
    :class:`~valuecapture.model.submodels.alignment.PortfolioTracker`)."""

    class_counts: np.ndarray  # (batch, periods, labels)
    transitions: np.ndarray  # (batch, labels, labels) year-to-year class transitions
    previous: dict[str, np.ndarray] = field(default_factory=dict)  # class a year ago, by portfolio model


@dataclass
class StageState:
    """The relationship stages of a batch (``stages.enabled`` only;
    :mod:`valuecapture.model.submodels.stages`)."""

    stage: np.ndarray  # (batch, slots) int8: the stage during the period (0, the first, until a slot is filled)
    initial: np.ndarray  # (batch, slots) int8: the stage the relationship started in
    counts: np.ndarray  # (batch, periods, stages) int32: active relationships by stage at the end of the period
    transitions: np.ndarray  # (batch, stages, stages [+ 1: ended]) int64: end-of-period moves, summed over periods


@dataclass
class BatchState:
    params: ModelParams
    base: CustomerBase
    network: Network
    keys: np.ndarray  # (batch, mechanisms, 2) uint32: the counter-based keys (model/philox.py)
    policy: object
    status: np.ndarray
    trust: np.ndarray
    adaptation: np.ndarray
    share_of_wallet: np.ndarray
    origin: np.ndarray  # age in periods = period - origin
    business_model: np.ndarray
    log_survival: np.ndarray  # per-period log(1 - churn probability) at reference trust (x referral factor)
    wallet_dt: np.ndarray  # wallet per period at list price (start of horizon)
    log1p_growth: np.ndarray
    idio: np.ndarray  # idiosyncratic AR(1) log demand shock
    contagion: np.ndarray  # decayed count of defected neighbours: sum over neighbours of (1 when it churned, decaying)
    value: np.ndarray  # discounted economic profit accumulated, minus acquisition cost (currency)
    acquired_period: np.ndarray  # -1 never, 0 initial, t acquired at start of t
    periods_active: np.ndarray
    next_free: np.ndarray  # (batch,) first free slot
    demand: np.ndarray  # this period's wallet at list price (currency/period)
    revenue: np.ndarray  # last period, per slot
    hazard: np.ndarray  # last period churn probability
    # cached per-slot consequences of the business-model assignment (refreshed at each review)
    margin_base: np.ndarray
    margin_adaptation: np.ndarray
    capital_base: np.ndarray
    capital_adaptation: np.ndarray
    service: np.ndarray  # (1 - tax) x service cost per period
    price: np.ndarray  # effective net price (fraction of list)
    cost_to_serve: np.ndarray  # effective cost-to-serve rate of the assigned model (fraction of revenue)
    bm_quality: np.ndarray
    bm_adaptation: np.ndarray
    observed: np.ndarray  # observed profit at the last review (the policy's view; capacity priority)
    ep_history: np.ndarray  # (lag + 1, batch, slots) ring buffer of economic profit by period
    insight_level: np.ndarray  # (batch,)
    platform_level: np.ndarray  # (batch,)
    account_managers: np.ndarray  # (batch,) int
    used_ever: np.ndarray  # (batch, models) bool: model has served a customer
    value_by_model: np.ndarray  # (batch, models) value capture by business model
    model_counts: np.ndarray  # (batch, periods, models) active relationships by business model
    market: np.ndarray  # (batch,) market AR(1) level
    sector: np.ndarray  # (batch, segments) segment AR(1) levels
    slots_exhausted: np.ndarray  # (batch,) customers not won for want of a free slot
    width: int = 0
    alignment: AlignmentState | None = None  # two-sided portfolios, only when params.alignment
    portfolio: PortfolioTrack | None = None  # class tracking, only when portfolio.track
    stages: StageState | None = None  # relationship stages, only when stages.enabled
    records: dict[str, np.ndarray] = field(default_factory=dict)
    terminal_relationship: np.ndarray | None = None  # (batch, slots)
    terminal_fixed: np.ndarray | None = None  # (batch,)
    # (detail rows, slots, horizon years) revenue of each relationship by year, only with outputs.revenue_panel
    relationship_revenue: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.status.shape  # type: ignore[return-value]

    @property
    def active(self) -> np.ndarray:
        return self.status == ACTIVE

    def discount(self, period: int) -> float:
        """Discount factor of flows at the end of ``period``."""
        return float((1.0 + self.params.wacc_period) ** (-period))

    def update_width(self) -> None:
        hi = int(self.next_free.max()) if self.next_free.size else 0
        self.width = min(self.shape[1], -(-hi // BLOCK) * BLOCK)

    def key(self, mechanism: str) -> np.ndarray:
        """The ``(batch, 2)`` counter-based keys of ``mechanism`` (a contiguous copy)."""
        from valuecapture.model.philox import MECHANISM_INDEX  # numba: loaded on first use

        return np.ascontiguousarray(self.keys[:, MECHANISM_INDEX[mechanism], :])

    def draws(self, mechanism: str, period: int, law: str = "uniform", draw: int = 0) -> np.ndarray:
        """Per-slot numbers on the prefix for the numpy sub-models: slot ``i < next_free[b]`` gets
        its uniform or standard normal (``law``) of ``draw`` at (slot, ``period``) of
        ``mechanism``; the rest of the prefix is zero."""
        from valuecapture.model.philox import draws  # numba: loaded on first use

        return draws(self.key(mechanism), period, self.next_free, self.width, law, draw)

    def slots(self) -> Slots:
        """The per-slot arrays as one :class:`Slots` record for the compiled loops."""
        return Slots._make([getattr(self, f) for f in Slots._fields])

    def view(self, name: str) -> np.ndarray:
        """The prefix ``[:, :width]`` of a per-slot array (a view: writes go through)."""
        return getattr(self, name)[:, : self.width]


def fallback_model(p: ModelParams) -> int:
    """The leanest business model that needs no account manager."""
    t = p.business_models
    return int([k for k in t.by_intensity() if not t.needs_manager[k]][-1])


def enforce_capacity(state: BatchState, assignment: np.ndarray) -> np.ndarray:
    """Demote relationships beyond the account managers' capacity to the fallback model.

    Among active relationships assigned to models that need an account manager,
    each replication keeps the ``managers x accounts_per_manager`` with the highest
    observed profit (ties: lower slot first, so the newest customers go first).
    """
    p = state.params
    needs = p.business_models.needs_manager
    if not needs.any():
        return assignment
    capacity = state.account_managers * p.accounts_per_manager
    # active relationships lie in the filled prefix; compare per model (no gather)
    w = state.width
    managed = np.zeros((assignment.shape[0], w), dtype=bool)
    for k in np.flatnonzero(needs):
        managed |= assignment[:, :w] == k
    managed &= state.status[:, :w] == ACTIVE
    count = managed.sum(axis=1)
    over = np.flatnonzero(count > capacity)
    if over.size == 0:
        return assignment
    assignment = assignment.copy()
    fallback = fallback_model(p)
    for b in over:  # per replication, not per customer
        idx = np.flatnonzero(managed[b])
        order = idx[np.argsort(-state.observed[b, idx], kind="stable")]
        assignment[b, order[int(capacity[b]) :]] = fallback
    return assignment


def sow_logit(intercept: float, trust_coef: float, adaptation_coef: float, trust: Any, adaptation: Any) -> Any:
    """The share-of-wallet logit ``a + b T + c A`` (MODEL.md §1.2), for numbers or arrays;
    the relationship kernel compiles this same function
    (:func:`~valuecapture.model.submodels.relationship.relationship_slot`)."""
    return intercept + trust_coef * trust + adaptation_coef * adaptation
