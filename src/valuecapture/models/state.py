"""Struct-of-arrays state of a batch of replications.

Every per-customer array is shaped ``(batch, slots)``; per-period records are
``(batch, periods)``.  Slot status: 0 = not yet a customer, 1 = active,
2 = lost.  Slots fill in order as customers are acquired.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..params import ModelParams
from ..population import CustomerBase, Network

NOT_YET, ACTIVE, LOST = 0, 1, 2

#: Per-period firm series recorded for every replication: name -> (units, description).
PERIOD_SERIES: dict[str, tuple[str, str]] = {
    "revenue": ("currency/period", "Revenue from all active relationships."),
    "economic_profit": ("currency/period", "Firm economic profit: relationship economic profit minus fixed and acquisition costs."),
    "relationship_economic_profit": ("currency/period", "Sum of relationship economic profit (NOPAT minus capital charge)."),
    "nopat": ("currency/period", "Net operating profit after tax of all relationships."),
    "invested_capital": ("currency", "Capital tied up in relationships (receivables, inventory, dedicated assets)."),
    "fixed_cost": ("currency/period", "Firm and business-model fixed costs."),
    "acquisition_cost": ("currency/period", "Cost of customers won this period."),
    "customers_active": ("customers", "Active relationships at the end of the period (after churn)."),
    "acquired": ("customers", "Customers won at the start of the period."),
    "churned": ("customers", "Relationships lost at the end of the period."),
    "mean_trust": ("index 0-1", "Mean trust over relationships active during the period."),
    "mean_share_of_wallet": ("fraction", "Mean share of wallet over relationships active during the period."),
}


@dataclass
class BatchState:
    params: ModelParams
    base: CustomerBase
    network: Network
    streams: dict[str, list[np.random.Generator]]
    policy: object
    status: np.ndarray
    trust: np.ndarray
    adaptation: np.ndarray
    share_of_wallet: np.ndarray
    age: np.ndarray  # periods
    referred: np.ndarray
    business_model: np.ndarray
    log_survival: np.ndarray  # per-period log(1 - churn probability) at reference trust
    shock: np.ndarray  # AR(1) log demand shock
    contagion: np.ndarray  # decayed count of recent defections in this slot (0/1 decaying)
    value: np.ndarray  # discounted economic profit accumulated, minus acquisition cost (currency)
    acquired_period: np.ndarray  # -1 never, 0 initial, t acquired at start of t
    periods_active: np.ndarray
    next_free: np.ndarray  # (batch,) first free slot
    demand: np.ndarray  # this period's wallet at list price (currency/period)
    log1p_growth: np.ndarray
    revenue: np.ndarray  # last period, per slot
    economic_profit: np.ndarray  # last period, per slot
    hazard: np.ndarray  # last period churn probability
    shock_variance: float = 0.0
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

    def draw(self, mechanism: str, method: str, size: int | tuple[int, ...] | None = None) -> np.ndarray:
        """One draw per replication from its own stream, stacked on axis 0.

        ``method`` is ``"random"`` or ``"standard_normal"``; ``size`` is the
        per-replication shape (default: the slot count).
        """
        gens = self.streams[mechanism]
        size = self.shape[1] if size is None else size
        shape = (len(gens),) + ((size,) if isinstance(size, int) else tuple(size))
        out = np.empty(shape)
        for b, gen in enumerate(gens):
            getattr(gen, method)(out=out[b])
        return out


def initial_state(p: ModelParams, base: CustomerBase, network: Network, streams: dict[str, list[np.random.Generator]], policy: object) -> BatchState:
    b = base.wallet.shape[0]
    n = p.n_slots
    slot = np.arange(n)
    initial = np.broadcast_to(slot < p.n_initial, (b, n))
    status = np.where(initial, ACTIVE, NOT_YET).astype(np.int8)
    trust = np.where(initial, base.initial_trust, p.new_trust)
    adaptation = np.where(initial, base.initial_adaptation, 0.0)
    age = np.where(initial, np.round(base.initial_age * p.periods_per_year), 0.0)
    state = BatchState(
        params=p,
        base=base,
        network=network,
        streams=streams,
        policy=policy,
        status=status,
        trust=trust,
        adaptation=adaptation,
        share_of_wallet=np.zeros((b, n)),
        age=age,
        referred=np.zeros((b, n), dtype=bool),
        business_model=np.zeros((b, n), dtype=np.int16),
        log_survival=p.dt * np.log1p(-base.churn),
        shock=np.zeros((b, n)),
        contagion=np.zeros((b, n)),
        value=np.zeros((b, n)),
        acquired_period=np.where(initial, 0, -1).astype(np.int32),
        periods_active=np.zeros((b, n), dtype=np.int32),
        next_free=np.full(b, p.n_initial, dtype=np.int64),
        demand=np.zeros((b, n)),
        log1p_growth=np.log1p(base.growth),
        revenue=np.zeros((b, n)),
        economic_profit=np.zeros((b, n)),
        hazard=np.zeros((b, n)),
        records={name: np.zeros((b, p.periods)) for name in PERIOD_SERIES},
        slots_exhausted=np.zeros(b, dtype=np.int64),
    )
    state.share_of_wallet = share_of_wallet(p, state.trust, state.adaptation)
    return state


def share_of_wallet(p: ModelParams, trust: np.ndarray, adaptation: np.ndarray) -> np.ndarray:
    """logistic(sow_intercept + sow_trust * trust + sow_adaptation * adaptation)."""
    logit = p.sow_intercept + p.sow_trust * trust + p.sow_adaptation * adaptation
    return 1.0 / (1.0 + np.exp(-logit))
