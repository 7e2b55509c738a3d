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
from typing import Protocol

import numpy as np

from valuecapture.model.params import ModelParams
from valuecapture.model.population import CustomerBase, Network

NOT_YET, ACTIVE, LOST = 0, 1, 2


class RandomStreams(Protocol):
    """Where the sub-models' random numbers come from, handed in by the run layer
    (:class:`valuecapture.run.seeds.KeyedStreams`): one Generator per replication of the
    batch for each mechanism and period, whose numbers depend only on the seed, the
    replication, the mechanism and the period (period 0: set-up draws)."""

    def period(self, mechanism: str, period: int) -> list[np.random.Generator]:  # pragma: no cover - protocol
        ...


BLOCK = 512

#: Per-period firm series recorded for every replication: name -> (units, description).
PERIOD_SERIES: dict[str, tuple[str, str]] = {
    "revenue": ("currency/period", "Revenue from all active relationships."),
    "economic_profit": (
        "currency/period",
        "Firm economic profit: relationship economic profit minus fixed, complexity, capability, change and acquisition costs after tax.",
    ),
    "relationship_economic_profit": (
        "currency/period",
        "Sum of relationship economic profit (NOPAT minus capital charge).",
    ),
    "nopat": ("currency/period", "Net operating profit after tax of all relationships."),
    "invested_capital": ("currency", "Capital tied up in relationships (receivables, inventory, dedicated assets)."),
    "fixed_cost": ("currency/period", "Firm and business-model fixed costs (before tax)."),
    "complexity_cost": (
        "currency/period",
        "Complexity cost of running several business models in parallel (before tax).",
    ),
    "capability_spend": (
        "currency/period",
        "Spending on capabilities: customer insight, account managers, modular platform, reviews (before tax).",
    ),
    "change_cost": (
        "currency/period",
        "One-off business-model costs: set-up of a model first used, switching of relationships (before tax).",
    ),
    "acquisition_cost": ("currency/period", "Cost of customers won this period (before tax)."),
    "customers_active": ("customers", "Active relationships at the end of the period (after churn)."),
    "acquired": ("customers", "Customers won at the start of the period."),
    "churned": ("customers", "Relationships lost at the end of the period."),
    "mean_trust": ("index 0-1", "Mean trust over relationships active during the period."),
    "mean_share_of_wallet": ("fraction", "Mean share of wallet over relationships active during the period."),
}


#: Per-period series recorded only when ``alignment.enabled``: name -> (units, description).
ALIGNMENT_SERIES: dict[str, tuple[str, str]] = {
    "aligned_share": ("fraction", "Share of active relationships whose misalignment is below alignment.aligned_below."),
    "mean_misalignment": (
        "index 0-1",
        "Mean misalignment |firm's treatment - customer's expected treatment| over active relationships.",
    ),
    "mean_internal_misalignment": (
        "index 0-1",
        "Mean internal misalignment |sales' view - operations' treatment| (0 unless alignment.internal).",
    ),
    "interaction_contacts": ("contacts", "Relationships that took part in an interaction space this period."),
    "interaction_cost": ("currency/period", "Cost of interaction spaces: contacts and fixed costs (before tax)."),
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


@dataclass
class BatchState:
    params: ModelParams
    base: CustomerBase
    network: Network
    random: RandomStreams
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
    width: int = 0
    # two-sided portfolios (only when params.alignment; see models/alignment.py)
    treatment: np.ndarray | None = None  # (batch, slots) firm's treatment level of the assigned model, 0-1
    purchase_importance: np.ndarray | None = None  # customer's importance of the purchase, 0-1 (fixed)
    structural_risk: np.ndarray | None = None  # customer's structural supply risk, 0-1 (fixed)
    supply_risk: np.ndarray | None = None  # customer's perceived supply risk, 0-1 (drifts; interaction spaces move it)
    customer_level: np.ndarray | None = None  # treatment the customer expects (Kraljic class level)
    misalignment: np.ndarray | None = None  # |treatment - customer_level|
    last_contact: np.ndarray | None = None  # period of the last interaction-space contact
    interaction_choice: dict[str, np.ndarray] = field(default_factory=dict)  # policy-chosen participants by space
    portfolio_prev: dict[str, np.ndarray] = field(default_factory=dict)  # class a year ago, by portfolio model
    class_counts: np.ndarray | None = None  # (batch, periods, labels)
    transitions: np.ndarray | None = None  # (batch, labels, labels) year-to-year class transitions
    records: dict[str, np.ndarray] = field(default_factory=dict)
    slots_exhausted: np.ndarray | None = None
    terminal_relationship: np.ndarray | None = None  # (batch, slots)
    terminal_fixed: np.ndarray | None = None  # (batch,)

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

    def streams(self, mechanism: str, period: int) -> list[np.random.Generator]:
        return self.random.period(mechanism, period)

    def keyed(self, gens: list[np.random.Generator], method: str, counts: np.ndarray | None = None) -> np.ndarray:
        """Per-slot draws on the prefix: slot ``i`` of replication ``b`` gets the next
        number ``i`` of ``gens[b]``; only the replication's filled slots are drawn
        (``counts``, default ``next_free``), the rest of the prefix is zero."""
        counts = self.next_free if counts is None else counts
        if method == "standard_normal":  # the same numbers, faster (kernels.py)
            from valuecapture.model.kernels import fill_standard_normal as fill  # numba: loaded on first use
        else:

            def fill(gen: np.random.Generator, out: np.ndarray) -> None:
                getattr(gen, method)(out=out)

        out = np.empty((len(gens), self.width))  # each number written once: drawn or zero
        for b, gen in enumerate(gens):
            n = int(counts[b])
            fill(gen, out[b, :n])
            out[b, n:] = 0.0
        return out

    def view(self, name: str) -> np.ndarray:
        """The prefix ``[:, :width]`` of a per-slot array (a view: writes go through)."""
        return getattr(self, name)[:, : self.width]


def initial_state(
    p: ModelParams, base: CustomerBase, network: Network, random: RandomStreams, policy: object
) -> BatchState:
    b = base.wallet.shape[0]
    n = p.n_slots
    initial = np.broadcast_to(np.arange(n) < p.n_initial, (b, n))
    state = BatchState(
        params=p,
        base=base,
        network=network,
        random=random,
        policy=policy,
        status=np.where(initial, ACTIVE, NOT_YET).astype(np.int8),
        trust=_initial_prefix(base.initial_trust, n, p.new_trust),
        adaptation=_initial_prefix(base.initial_adaptation, n, 0.0),
        share_of_wallet=np.zeros((b, n)),
        origin=_initial_prefix(
            1.0 - np.round(base.initial_age * p.periods_per_year), n, 0.0
        ),  # age at period 1 = drawn age
        business_model=np.zeros((b, n), dtype=np.int16),
        log_survival=p.dt * np.log1p(-base.churn),
        wallet_dt=base.wallet * p.dt,
        log1p_growth=np.log1p(base.growth),
        idio=np.zeros((b, n)),
        contagion=np.zeros((b, n)),
        value=np.zeros((b, n)),
        acquired_period=np.where(initial, 0, -1).astype(np.int32),
        periods_active=np.zeros((b, n), dtype=np.int32),
        next_free=np.full(b, p.n_initial, dtype=np.int64),
        demand=np.zeros((b, n)),
        revenue=np.zeros((b, n)),
        hazard=np.zeros((b, n)),
        margin_base=np.zeros((b, n)),
        margin_adaptation=np.zeros((b, n)),
        capital_base=np.zeros((b, n)),
        capital_adaptation=np.zeros((b, n)),
        service=np.zeros((b, n)),
        price=np.zeros((b, n)),
        cost_to_serve=np.zeros((b, n)),
        bm_quality=np.zeros((b, n)),
        bm_adaptation=np.zeros((b, n)),
        observed=np.zeros((b, n)),
        ep_history=np.zeros((p.insight_lag + 1, b, n)),
        insight_level=np.full(b, p.insight_level),
        platform_level=np.full(b, p.platform_level),
        account_managers=np.full(b, p.account_managers, dtype=np.int64),
        used_ever=np.zeros((b, len(p.business_models)), dtype=bool),
        value_by_model=np.zeros((b, len(p.business_models))),
        model_counts=np.zeros((b, p.periods, len(p.business_models)), dtype=np.int64),
        market=np.zeros(b),
        sector=np.zeros((b, p.n_segments)),
        records={name: np.zeros((b, p.periods)) for name in PERIOD_SERIES},
        slots_exhausted=np.zeros(b, dtype=np.int64),
    )
    state.share_of_wallet = share_of_wallet(p, state.trust, state.adaptation)
    state.update_width()
    if p.alignment:
        from valuecapture.model.submodels.alignment import init_alignment

        init_alignment(state)
    apply_assignment(state, state.business_model)
    return state


def _initial_prefix(initial: np.ndarray, n_slots: int, later: float) -> np.ndarray:
    """(batch, n_slots) array: the initial customers' values in the first slots, ``later``
    (a new customer's start) in the rest."""
    out = np.full((initial.shape[0], n_slots), later)
    out[:, : initial.shape[1]] = initial
    return out


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


def share_of_wallet(
    p: ModelParams, trust: np.ndarray, adaptation: np.ndarray, misalignment: np.ndarray | None = None
) -> np.ndarray:
    """logistic(sow_intercept + sow_trust * trust + sow_adaptation * adaptation [- sow_effect * misalignment])."""
    logit = p.sow_intercept + p.sow_trust * trust + p.sow_adaptation * adaptation
    if misalignment is not None and p.align_sow_effect:
        logit = logit - p.align_sow_effect * misalignment
    return 1.0 / (1.0 + np.exp(-logit))


def apply_assignment(state: BatchState, assignment: np.ndarray) -> None:
    """Set business models and refresh the per-slot quantities that follow from them.

    Economic profit per period of an active relationship is linear in its volume
    ``V`` (list-price value bought) given its adaptation ``A``:
    ``EP = V (m0 + m1 A) - (1 - tax) service`` with
    ``m0 = P ((1-tax)(1-C) - k DSO) - c ((1-tax) + k INV)`` and
    ``m1 = -P ((1-tax) C a_c + k D)``, where ``P`` is the effective net price,
    ``C`` the effective cost-to-serve rate (incl. the fit penalty), ``c`` the COGS
    ratio, ``a_c`` the adaptation cost (reduced by the modular platform), ``D``
    dedicated assets per unit adaptation, ``DSO`` includes the business model's
    capital intensity, and
    ``k = wacc_period / dt`` turns annual-revenue capital into a per-period
    charge.  Invested capital is ``V (k0 + k1 A)`` with ``k0 = (P DSO + c INV)/dt``
    and ``k1 = P D / dt``.
    """
    from valuecapture.model.submodels.economics import assign_economics

    p = state.params
    t = p.business_models
    state.business_model = assignment.astype(np.int16)
    adaptation_cost = p.adaptation_cost * (1.0 - p.platform_effect * state.platform_level)  # per replication
    assign_economics(
        state.business_model, state.base.price, state.base.cost_to_serve, t.price_factor, t.cost_to_serve_factor, t.capital_intensity,
        t.service_cost, t.quality, t.adaptation, adaptation_cost, 1.0 - p.tax_rate, p.wacc_period / p.dt, p.cogs_ratio, p.dso_years,
        p.inventory_years, p.dedicated_assets, p.dt,
        state.price, state.cost_to_serve, state.margin_base, state.margin_adaptation, state.capital_base, state.capital_adaptation,
        state.service, state.bm_quality, state.bm_adaptation,
    )  # fmt: skip
    if p.alignment:
        state.treatment = t.treatment[state.business_model]
