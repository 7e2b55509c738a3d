"""Straightforward per-customer implementations of the core model: the benchmark's baselines.

Two schedulers drive the same per-customer model code (:class:`Replication`):

* :func:`run_loop` -- a plain Python loop: for each period, for each active customer;
* :func:`run_simpy` -- one simpy process per customer (plus a firm process), each
  waking up once per period.

Both implement, with plain Python floats and one scalar random draw at a time, the
model of docs/model.md that the vectorized engine computes for a scenario without
business-model and capability features (see ``workloads.comparison`` and
``workloads.check_neutral``):

* acquisition at the start of a period: ``Poisson(prospects_per_year dt)``
  prospects (inversion of a uniform, as the engine) plus one referral per customer
  active at the start of the period with probability ``referral_rate dt trust``;
  referred customers fill the next free slots first and get the referral cost and
  churn factors; acquisition cost after tax, discounted one period less;
* demand ``wallet dt exp(market + segment + idio - V/2) (1 + g)^(t dt)``, three
  AR(1) levels started in their stationary law;
* economics in the linear form ``EP = V (m0 + m1 A) - (1 - tax) service dt`` of
  ``valuecapture.model.submodels.economics.apply_assignment``;
* trust, adaptation and share of wallet as ``valuecapture.model.submodels.relationship``;
* churn with the complementary log-log hazard, trust effect and contagion: the
  decayed count of neighbours that churned in earlier periods;
* firm and business-model fixed costs after tax, terminal value ``runoff``/``none``.

Replication ``r`` starts from exactly the customers and network of replication
``r`` of ``valuecapture.simulate`` (the package's own generators fed with the
engine's population and network streams); the per-period draws come from Python's
``random`` seeded from ``(seed, r)``, so results agree with the engine in
distribution, not bit for bit (``tests/test_benchmark_baselines.py`` checks the
mean firm value within Monte Carlo error).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import simpy

from valuecapture.model.params import ModelParams
from valuecapture.model.population import generate_customers, generate_network
from valuecapture.model.submodels.acquisition import poisson_quantile
from valuecapture.run.seeds import replication_streams
from valuecapture.scenario.load import Scenario

__all__ = ["ReplicationResult", "Replication", "run_loop", "run_simpy"]


@dataclass
class ReplicationResult:
    firm_value: float
    value_capture: float
    pv_firm_costs: float
    customers_ever: int
    active_customer_periods: int  # customers active during a period, summed over periods
    churned: list[int] = field(default_factory=list)
    acquired: list[int] = field(default_factory=list)


class Customer:
    __slots__ = (
        "slot",
        "acquired",
        "trust",
        "adaptation",
        "sow",
        "idio",
        "log_survival",
        "value",
        "alive",
        "ep",
        "revenue",
        "hazard",
    )

    def __init__(self, slot: int, acquired: int, trust: float, adaptation: float, sow: float, log_survival: float):
        self.slot = slot
        self.acquired = acquired  # 0: present at the start; t: won at the start of period t
        self.trust = trust
        self.adaptation = adaptation
        self.sow = sow
        self.idio = 0.0
        self.log_survival = log_survival
        self.value = 0.0
        self.alive = True
        self.ep = self.revenue = self.hazard = 0.0


class Replication:
    """One replication of the core model, customer by customer (shared by both baselines)."""

    def __init__(self, scenario: Scenario, seed: int, replication: int, p: ModelParams | None = None):
        p = ModelParams.from_scenario(scenario) if p is None else p
        self.p = p
        streams = replication_streams(seed, replication)
        base = generate_customers(p, [streams["population"]])
        network = generate_network(p, base.segment, [streams["network"]])
        entropy = np.random.SeedSequence(seed, spawn_key=(int(replication), 0xBA5E)).generate_state(4)
        self.rng = random.Random(int.from_bytes(entropy.tobytes(), "little"))

        t = p.business_models
        tax1 = 1.0 - p.tax_rate
        k = p.wacc_period / p.dt
        price = base.price[0] * t.price_factor[0]
        cts = base.cost_to_serve[0] * t.cost_to_serve_factor[0]
        receivables = p.dso_years + float(t.capital_intensity[0])
        self.price = price.tolist()
        self.m0 = (
            price * (tax1 * (1.0 - cts) - k * receivables) - p.cogs_ratio * (tax1 + k * p.inventory_years)
        ).tolist()
        self.m1 = (
            -price
            * (tax1 * cts * p.adaptation_cost * (1.0 - p.platform_effect * p.platform_level) + k * p.dedicated_assets)
        ).tolist()
        self.wallet_dt = (base.wallet[0] * p.dt).tolist()
        self.log1p_growth = np.log1p(base.growth[0]).tolist()
        self.log_survival = (p.dt * np.log1p(-base.churn[0])).tolist()
        self.segment = base.segment[0].astype(int).tolist()
        self.initial_trust = base.initial_trust[0].tolist()
        self.initial_adaptation = base.initial_adaptation[0].tolist()
        self.service = tax1 * float(t.service_cost[0]) * p.dt
        self.bm_quality = float(t.quality[0])
        self.bm_adaptation = float(t.adaptation[0])
        self.fixed_in_use = p.firm_fixed_cost_period + float(t.fixed_cost[0]) * p.dt

        # neighbour lists; a tie drawn twice is listed twice
        n = p.n_slots
        self.neighbours: list[list[int]] = [[] for _ in range(n)]
        if network.n_edges:
            ind, ptr = network.indices.tolist(), network.indptr.tolist()
            for v in range(n):
                self.neighbours[v] = ind[ptr[v] : ptr[v + 1]]
        self.churned_in = [0] * n  # period of churn, 0 = not churned

        T = p.periods
        self.discount = [(1.0 + p.wacc_period) ** -s for s in range(T + 1)]
        phi = p.persistence
        self.stat = 1.0 / math.sqrt(1.0 - phi * phi)
        sd = p.volatility_period
        self.s_m = sd * math.sqrt(p.rho_across)
        self.s_s = sd * math.sqrt(p.rho_within - p.rho_across)
        self.s_e = sd * math.sqrt(1.0 - p.rho_within)
        self.half_var = 0.5 * sd * sd * self.stat * self.stat
        self.new_sow = self.logistic(p.new_trust, 0.0)

        self.market = 0.0
        self.sector = [0.0] * p.n_segments
        self.customers = [
            Customer(
                i,
                0,
                self.initial_trust[i],
                self.initial_adaptation[i],
                self.logistic(self.initial_trust[i], self.initial_adaptation[i]),
                self.log_survival[i],
            )
            for i in range(p.n_initial)
        ]
        self.next_free = p.n_initial
        self.referrals = 0
        self.value_capture = 0.0  # of relationships that ended, and acquisition costs
        self.pv_fixed = 0.0
        self.active_now = 0
        self.revenue_now = 0.0
        self.runoff_revenue = 0.0
        self.terminal_fixed = 0.0
        self.active_customer_periods = 0
        self.churned = [0] * T
        self.acquired = [0] * T

    def logistic(self, trust: float, adaptation: float) -> float:
        p = self.p
        return 1.0 / (1.0 + math.exp(-(p.sow_intercept + p.sow_trust * trust + p.sow_adaptation * adaptation)))

    # ---- firm-level steps -------------------------------------------------------------------------

    def open_period(self, t: int) -> None:
        """Market and segment demand levels of period ``t``."""
        p, gauss = self.p, self.rng.gauss
        if t == 1:
            self.market = self.s_m * self.stat * gauss(0.0, 1.0)
            self.sector = [self.s_s * self.stat * gauss(0.0, 1.0) for _ in self.sector]
        else:
            self.market = p.persistence * self.market + self.s_m * gauss(0.0, 1.0)
            self.sector = [p.persistence * s + self.s_s * gauss(0.0, 1.0) for s in self.sector]
        self.active_now = 0
        self.revenue_now = 0.0

    def refer(self, c: Customer) -> None:
        """A customer active at the start of the period may refer a new one."""
        if self.p.referral_prob_period > 0 and self.rng.random() < self.p.referral_prob_period * c.trust:
            self.referrals += 1

    def acquire(self, t: int) -> list[Customer]:
        """New customers at the start of ``t``: referred ones first, then prospects."""
        p = self.p
        n_prospect = int(poisson_quantile(np.array([self.rng.random()]), p.prospects_per_period)[0])
        n_refer, self.referrals = self.referrals, 0
        take = min(n_refer + n_prospect, p.n_slots - self.next_free)
        new = []
        for k in range(take):
            referred = k < n_refer
            i = self.next_free
            ls = self.log_survival[i] * (p.referral_churn_factor if referred else 1.0)
            c = Customer(i, t, p.new_trust, 0.0, self.new_sow, ls)
            c.value = (
                -(1.0 - p.tax_rate)
                * p.acquisition_cost
                * (p.referral_cost_factor if referred else 1.0)
                * self.discount[t - 1]
            )
            new.append(c)
            self.next_free += 1
        self.acquired[t - 1] = take
        return new

    def close_period(self, t: int) -> None:
        """Fixed costs of period ``t`` (and their terminal value at the horizon)."""
        p = self.p
        fixed = self.fixed_in_use if self.active_now > 0 else p.firm_fixed_cost_period
        self.pv_fixed += fixed * self.discount[t]
        self.active_customer_periods += self.active_now
        if t == p.periods and p.terminal_value != "none" and self.revenue_now > 0:
            self.terminal_fixed = fixed / self.revenue_now * self.runoff_revenue

    # ---- one customer, one period -----------------------------------------------------------------

    def customer_period(self, c: Customer, t: int) -> None:
        """Demand, economics, relationship and retention of customer ``c`` in period ``t``."""
        p = self.p
        rng = self.rng
        i = c.slot
        # demand: the idiosyncratic level starts in its stationary law in the first period
        if t == max(c.acquired, 1):
            c.idio = self.s_e * self.stat * rng.gauss(0.0, 1.0)
        else:
            c.idio = p.persistence * c.idio + self.s_e * rng.gauss(0.0, 1.0)
        demand = self.wallet_dt[i] * math.exp(
            self.market - self.half_var + self.sector[self.segment[i]] + c.idio + t * p.dt * self.log1p_growth[i]
        )
        # economics
        volume = demand * c.sow
        revenue = volume * self.price[i]
        ep = volume * (self.m0[i] + self.m1[i] * c.adaptation) - self.service
        c.value += ep * self.discount[t]
        self.active_now += 1
        self.revenue_now += revenue
        # relationship
        quality = self.bm_quality + p.adaptation_quality * c.adaptation
        if p.quality_noise:
            quality += p.quality_noise * rng.gauss(0.0, 1.0)
        gap = min(1.0, max(0.0, quality)) - c.trust
        c.trust += (p.trust_up if gap > 0 else p.trust_down) * gap
        c.adaptation += p.adaptation_rate * (self.bm_adaptation - c.adaptation)
        c.sow = self.logistic(c.trust, c.adaptation)
        # retention: contagion from neighbours that churned in earlier periods
        lin = p.churn_trust_effect * (c.trust - 0.5)
        if p.log_contagion > 0.0:
            exposure = 0.0
            churned_in = self.churned_in
            for j in self.neighbours[i]:
                tc = churned_in[j]
                if 0 < tc < t:
                    exposure += p.contagion_decay ** (t - 1 - tc)
            lin += p.log_contagion * exposure
        hazard = -math.expm1(c.log_survival * math.exp(lin))
        if rng.random() < hazard:
            c.alive = False
            self.churned_in[i] = t
            self.churned[t - 1] += 1
            self.value_capture += c.value
        elif t == p.periods:
            if p.terminal_value != "none":
                annuity = self.discount[t] / (p.wacc_period + hazard)
                c.value += ep * annuity
                self.runoff_revenue += revenue * annuity
            self.value_capture += c.value

    def result(self) -> ReplicationResult:
        p = self.p
        pv_firm_costs = (1.0 - p.tax_rate) * (self.pv_fixed + self.terminal_fixed)
        return ReplicationResult(
            firm_value=self.value_capture - pv_firm_costs,
            value_capture=self.value_capture,
            pv_firm_costs=pv_firm_costs,
            customers_ever=self.next_free,
            active_customer_periods=self.active_customer_periods,
            churned=self.churned,
            acquired=self.acquired,
        )


def run_loop(scenario: Scenario, seed: int, replication: int, p: ModelParams | None = None) -> ReplicationResult:
    """One replication as a plain loop: periods outside, active customers inside."""
    rep = Replication(scenario, seed, replication, p)
    active = list(rep.customers)
    for t in range(1, rep.p.periods + 1):
        rep.open_period(t)
        for c in active:
            rep.refer(c)
        active.extend(rep.acquire(t))
        for c in active:
            rep.customer_period(c, t)
        active = [c for c in active if c.alive]
        rep.close_period(t)
    return rep.result()


TICKS = 100  # simpy time per period; within a period: open 5, referrals 10, acquisition 15, customers 20, close 95


def run_simpy(scenario: Scenario, seed: int, replication: int, p: ModelParams | None = None) -> ReplicationResult:
    """One replication with one simpy process per customer and one for the firm."""
    rep = Replication(scenario, seed, replication, p)
    env = simpy.Environment()
    T = rep.p.periods

    def customer(c: Customer):
        t = max(c.acquired, 1)
        while True:
            if c.acquired < t:  # active at the start of the period: may refer
                yield env.timeout((t - 1) * TICKS + 10 - env.now)
                rep.refer(c)
            yield env.timeout((t - 1) * TICKS + 20 - env.now)
            rep.customer_period(c, t)
            if not c.alive or t == T:
                return
            t += 1

    def firm():
        for t in range(1, T + 1):
            yield env.timeout((t - 1) * TICKS + 5 - env.now)
            rep.open_period(t)
            yield env.timeout(10)  # customers active at the start have drawn their referrals
            for c in rep.acquire(t):
                env.process(customer(c))
            yield env.timeout(80)
            rep.close_period(t)

    env.process(firm())
    for c in rep.customers:
        env.process(customer(c))
    env.run()
    return rep.result()
