"""Acquisition: customers won by prospecting (Poisson) and by referral."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..engine import Component
from .state import ACTIVE, BatchState, share_of_wallet


class Acquisition(Component):
    """New customers at the start of each period, filling the next free slots.

    Prospecting wins ``Poisson(prospects_per_year * dt)`` customers, drawn by
    inversion from one uniform per replication; each active customer refers a
    new one with probability ``referral_rate * dt * trust`` (one uniform per
    slot, drawn whether or not the slot is active, so the amount of randomness
    never depends on the state).  Referred customers fill slots first.
    """

    name = "acquisition"
    phase = 10
    reads = ("status", "trust", "next_free")
    writes = ("status", "trust", "adaptation", "age", "referred", "acquired_period", "share_of_wallet", "value", "next_free")

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        u_prospect = state.draw("acquisition", "random", 1)[:, 0]
        u_refer = state.draw("acquisition", "random")
        n_slots = state.shape[1]
        if p.prospects_per_period > 0:
            n_prospect = stats.poisson.ppf(u_prospect, p.prospects_per_period).astype(np.int64)
        else:
            n_prospect = np.zeros(state.shape[0], dtype=np.int64)
        refers = state.active & (u_refer < p.referral_prob_period * state.trust)
        n_refer = refers.sum(axis=1)
        wanted = n_prospect + n_refer
        take = np.minimum(wanted, n_slots - state.next_free)
        state.slots_exhausted += wanted - take
        slot = np.arange(n_slots)
        lo = state.next_free[:, None]
        new = (slot >= lo) & (slot < lo + take[:, None])
        by_referral = new & (slot < lo + np.minimum(n_refer, take)[:, None])
        state.status[new] = ACTIVE
        state.trust = np.where(new, p.new_trust, state.trust)
        state.adaptation = np.where(new, 0.0, state.adaptation)
        state.age = np.where(new, 0.0, state.age)
        state.referred |= by_referral
        state.acquired_period[new] = period
        state.share_of_wallet = np.where(new, share_of_wallet(p, state.trust, state.adaptation), state.share_of_wallet)
        cost = np.where(by_referral, p.acquisition_cost * p.referral_cost_factor, p.acquisition_cost) * new
        state.value -= cost * state.discount(period)
        state.records["acquisition_cost"][:, period - 1] = cost.sum(axis=1)
        state.records["acquired"][:, period - 1] = take
        state.next_free = state.next_free + take
