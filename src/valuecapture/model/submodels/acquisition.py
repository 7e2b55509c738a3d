"""Acquisition: customers won by prospecting (Poisson) and by referral."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy.special import pdtr

from valuecapture.model.engine import Component
from valuecapture.model.kernels import kernel
from valuecapture.model.params import ModelParams
from valuecapture.model.philox import REPLICATION_LANE, SLOT_LANE, uniform
from valuecapture.model.state import ACTIVE, BatchState, enforce_capacity
from valuecapture.model.submodels.economics import apply_assignment
from valuecapture.model.submodels.relationship import share_of_wallet


def poisson_quantile(u: np.ndarray, mean: float) -> np.ndarray:
    """Smallest k with P(Poisson(mean) <= k) >= u, by table look-up (exact inversion)."""
    if mean <= 0:
        return np.zeros(np.shape(u), dtype=np.int64)
    cdf = _poisson_cdf_table(float(mean))
    return np.minimum(np.searchsorted(cdf, u, side="left"), cdf.size - 1).astype(np.int64)


@functools.lru_cache(maxsize=16)
def _poisson_cdf_table(mean: float) -> np.ndarray:
    """P(Poisson(mean) <= k) for k = 0..mean + 12 sqrt(mean) + 30 (computed once per mean)."""
    kmax = int(mean + 12.0 * np.sqrt(mean) + 30)
    return pdtr(np.arange(kmax + 1), mean)


class Acquisition(Component):
    """New customers at the start of each period, filling the next free slots.

    Prospecting wins ``Poisson(prospects_per_year * dt)`` customers, by
    inversion of the period's replication-level uniform (``acquisition`` key); each active
    customer refers a new one with probability ``referral_rate * dt * trust`` (its slot's
    uniform of the period).  Referred customers fill slots first; their
    churn hazard is multiplied by ``referral_churn_multiplier``.  Acquisition
    cost is paid at the start of the period (discounted to the end of the
    previous one) and is tax-deductible: it is charged after tax to the new
    relationship's value capture.  New customers start in the business model
    the last review set for their slot; those beyond the account managers'
    capacity start in the fallback model instead.
    """

    name = "acquisition"
    phase = 10
    reads = (
        "next_free",
        "status",
        "trust",
        "business_model",
        "log_survival",
        "value",
        "value_by_model",
        "slots_exhausted",
        "account_managers",
        "observed",
        "platform_level",
    )
    writes = (
        "status",
        "trust",
        "adaptation",
        "share_of_wallet",
        "origin",
        "acquired_period",
        "log_survival",
        "value",
        "value_by_model",
        "next_free",
        "slots_exhausted",
        "business_model",
        "price",
        "cost_to_serve",
        "margin_base",
        "margin_adaptation",
        "capital_base",
        "capital_adaptation",
        "service",
        "bm_quality",
        "bm_adaptation",
        "records.acquisition_cost",
        "records.acquired",
        "alignment.treatment",
    )
    reads_previous = (
        "status",
        "trust",
        "value",
        "value_by_model",
    )

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        keys = state.key("acquisition")
        u_prospect = np.empty(state.shape[0])
        n_refer = np.zeros(state.shape[0], dtype=np.int64)
        count_referrals(
            keys, period, state.next_free, state.status, state.trust, p.referral_prob_period, u_prospect, n_refer
        )
        n_prospect = poisson_quantile(u_prospect, p.prospects_per_period)
        wanted = n_prospect + n_refer
        take = np.minimum(wanted, state.shape[1] - state.next_free)
        state.slots_exhausted += wanted - take
        n_ref_taken = np.minimum(n_refer, take)
        cost = np.zeros(state.shape[0])
        terms = NewRelationships.of(p, period, state.discount(period - 1))
        acquire(state.next_free, take, n_ref_taken, state.slots(), terms, state.value_by_model, cost)
        state.records["acquisition_cost"][:, period - 1] = cost
        state.records["acquired"][:, period - 1] = take
        state.next_free = state.next_free + take
        state.update_width()
        if take.any():
            capped = enforce_capacity(state, state.business_model)
            if capped is not state.business_model:
                apply_assignment(state, capped)


@kernel
def count_referrals(keys, period, filled, status, trust, referral_prob, u_prospect, n_refer):
    """The acquisition draws of ``period`` under ``keys`` (``(batch, 2)``): the prospecting
    uniform ``u_prospect[b]`` (replication-level draw 0) and ``n_refer[b]``, the active
    customers of replication ``b`` whose slot's uniform falls below their referral
    probability ``referral_prob x trust`` (filled slots ``[b, :filled[b]]``; with
    ``referral_prob`` 0 none is drawn)."""
    for b in range(status.shape[0]):
        k0, k1 = keys[b, 0], keys[b, 1]
        u_prospect[b] = uniform(k0, k1, 0, period, 0, REPLICATION_LANE)
        n = 0
        if referral_prob > 0.0:
            for i in range(filled[b]):
                if status[b, i] == ACTIVE:
                    n += uniform(k0, k1, i, period, 0, SLOT_LANE) < referral_prob * trust[b, i]
        n_refer[b] = n


class NewRelationships(NamedTuple):
    """How this period's new relationships start, in one record for :func:`acquire`."""

    period: int
    trust: float
    share_of_wallet: float
    referral_churn: float  # multiplier of a referred customer's log survival
    cost_referred: float  # after-tax acquisition cost of a referred customer
    cost_prospected: float  # after-tax acquisition cost of a prospected one
    df: float  # discount factor of the start of the period

    @classmethod
    def of(cls, p: ModelParams, period: int, df: float) -> NewRelationships:
        cac = p.acquisition_cost * (1.0 - p.tax_rate)  # tax-deductible, paid at the start of the period
        return cls(
            period=int(period),
            trust=float(p.new_trust),
            share_of_wallet=float(share_of_wallet(p, np.array([p.new_trust]), np.array([0.0]))[0]),
            referral_churn=float(p.referral_churn_factor),
            cost_referred=float(cac * p.referral_cost_factor),
            cost_prospected=float(cac),
            df=float(df),
        )


@kernel
def acquire(next_free, take, referred, s, new, value_by_model, cost):
    """Start the ``take[b]`` new relationships of replication ``b`` in its next free slots,
    the ``referred[b]`` referred ones first: status, starting relationship state,
    the referral churn multiplier, and the after-tax acquisition cost (``cost_*``,
    discounted by ``df``) charged to the slot's value and its business model's;
    ``cost[b]`` is the undiscounted total.  ``s`` is the
    :class:`~valuecapture.model.state.Slots` record, ``new`` the :class:`NewRelationships`."""
    cost_referred, cost_prospected, df = new.cost_referred, new.cost_prospected, new.df
    for b in range(s.status.shape[0]):
        lo = next_free[b]
        mid = lo + referred[b]
        hi = lo + take[b]
        for i in range(lo, hi):
            s.status[b, i] = ACTIVE
            s.trust[b, i] = new.trust
            s.adaptation[b, i] = 0.0
            s.share_of_wallet[b, i] = new.share_of_wallet
            s.origin[b, i] = new.period
            s.acquired_period[b, i] = new.period
            if i < mid:  # referred
                s.log_survival[b, i] *= new.referral_churn
                charge = cost_referred * df
            else:
                charge = cost_prospected * df
            s.value[b, i] -= charge
            value_by_model[b, s.business_model[b, i]] -= charge
        cost[b] = cost_referred * (mid - lo) + cost_prospected * (hi - mid)
