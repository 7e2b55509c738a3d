"""Two-sided portfolios: the customer's view, misalignment, interaction spaces, class tracking.

Operationalisation of Clarke, Freytag & Zolkiewski (2017) as proposed in
MODEL.md §4 (every parameter *assumed*; docs/alignment.md):

* the **firm's view** of a relationship is revealed by its treatment: the
  treatment level ``t`` of the business model serving it (1 richest, 0 leanest);
* the **customer's view** of the supplier is a Kraljic class from its purchase
  importance ``P = wallet / (wallet + median wallet)`` (fixed) and its perceived
  supply risk ``R``; the class sets the treatment the customer expects,
  ``c = alignment.kraljic_levels[class]``.  ``R`` reverts to the customer's
  structural risk ``R*`` (uniform on [0, 1]) at rate ``reassess`` with noise
  ``view_noise`` per period; the initial ``R`` is ``R*`` plus noise of the
  stationary standard deviation, so without interaction spaces views neither
  converge nor diverge on average;
* **misalignment** ``m = |t - c|``; effects: trust gain ``trust_up (1 - trust_effect m)``,
  churn hazard ``x exp(churn_effect m)``, share-of-wallet logit ``- sow_effect m``,
  and over-serving waste ``service cost x waste x max(t - c, 0)``;
* **interaction spaces** (``[[interactions]]``): every ``cadence`` periods the
  eligible active relationships (by business model, or those a policy chose;
  capacity: highest observed profit first) take part at ``cost_per_contact``;
  each contact raises trust by ``trust_boost (1 - trust)`` and, with probability
  ``p_align``, moves ``R`` by ``step (t - c)`` (the customer's view toward the
  firm's treatment); for ``legitimacy_window`` periods the firm then knows the
  customer's view and a downgrade counts as explained (see
  :func:`downgrade_trust_loss`).

Random numbers: ``alignment`` (one normal per filled slot per period, and the
set-up draws in period 0) and ``interaction`` (one uniform per filled slot and
space per occurrence), keyed as everywhere else.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from valuecapture.model import philox
from valuecapture.model.engine import Component
from valuecapture.model.portfolio_models import Kraljic, class_labels, get_portfolio_model
from valuecapture.model.state import ACTIVE, ALIGNMENT_SERIES, AlignmentState, BatchState, PortfolioTrack, rowsum

NEVER = -(10**6)


def init_alignment(state: BatchState) -> None:
    """Set-up draws: structural supply risk and initial perception of every slot, into a new
    :class:`~valuecapture.model.state.AlignmentState` (the treatment follows the assignment)."""
    p = state.params
    b, n = state.shape
    every = np.full(b, n, dtype=np.int64)
    keys = state.key("alignment")
    draws = np.stack([philox.draws(keys, 0, every, n, "uniform", 0), philox.draws(keys, 0, every, n, "normal", 1)])
    a = AlignmentState(
        treatment=np.zeros((b, n)),
        purchase_importance=state.base.wallet / (state.base.wallet + p.wallet_median),
        structural_risk=draws[0],
        supply_risk=np.clip(draws[0] + stationary_sd(p) * draws[1], 0.0, 1.0),
        customer_level=np.zeros((b, n)),
        misalignment=np.zeros((b, n)),
        last_contact=np.full((b, n), NEVER, dtype=np.int64),
    )
    state.alignment = a
    for name in ALIGNMENT_SERIES:
        state.records[name] = np.zeros((b, p.periods))
    a.customer_level[...] = customer_level(state, slice(None))


def aligned(state: BatchState) -> AlignmentState:
    """The batch's alignment state (the caller runs only with alignment on)."""
    assert state.alignment is not None, "alignment state used with alignment.enabled off"
    return state.alignment


def stationary_sd(p: object) -> float:
    """Stationary sd of the AR(1) perception R - R* (the view noise if reassess = 0)."""
    a = 1.0 - p.view_reassess  # type: ignore[attr-defined]
    sigma = p.view_noise  # type: ignore[attr-defined]
    return float(sigma / np.sqrt(1.0 - a * a)) if a < 1.0 else float(sigma)


def customer_level(state: BatchState, cols: slice) -> np.ndarray:
    """Treatment the customer expects: level of its Kraljic class of the supplier."""
    a = aligned(state)
    view = SimpleNamespace(purchase_importance=a.purchase_importance[:, cols], supply_risk=a.supply_risk[:, cols])
    return np.asarray(state.params.kraljic_levels)[Kraljic().classify(view)]


def customer_view(state: BatchState, period: int) -> np.ndarray:
    """What the firm knows of the customer's view: its expected treatment where an
    interaction-space contact happened within ``legitimacy_window`` periods, else NaN."""
    a = state.alignment
    if a is None:
        return np.full(state.shape, np.nan)
    known = period - a.last_contact <= state.params.legitimacy_window
    return np.where(known, a.customer_level, np.nan)


def downgrade_trust_loss(state: BatchState, new_treatment: np.ndarray, period: int) -> None:
    """Trust lost by relationships moved to a leaner model: ``loss x (t_old - t_new)``,
    reduced by the share ``legitimacy`` when the downgrade is explained (a contact
    within ``legitimacy_window`` periods)."""
    p = state.params
    if not p.downgrade_trust_loss:
        return
    a = aligned(state)
    drop = np.maximum(a.treatment - new_treatment, 0.0) * (state.status == ACTIVE)
    explained = period - a.last_contact <= p.legitimacy_window
    loss = p.downgrade_trust_loss * drop * np.where(explained, 1.0 - p.legitimacy, 1.0)
    np.subtract(state.trust, loss, out=state.trust)
    np.clip(state.trust, 0.0, 1.0, out=state.trust)


def firm_view(state: BatchState, period: int) -> SimpleNamespace:
    """The attributes the supplier-side portfolio models classify from (the firm's view)."""
    p = state.params
    a = state.alignment
    return SimpleNamespace(
        period=period,
        periods_per_year=p.periods_per_year,
        active=state.status == ACTIVE,
        observed_profit=state.observed,
        revenue=state.revenue,
        price=state.price,
        cost_to_serve=state.cost_to_serve,
        trust=state.trust,
        growth=state.base.growth,
        age=period - state.origin,
        purchase_importance=None if a is None else a.purchase_importance,
        supply_risk=None if a is None else a.supply_risk,
    )


class Alignment(Component):
    """Customer's view, interaction spaces and misalignment, after economics each period."""

    name = "alignment"
    phase = 35
    reads = (
        "next_free",
        "status",
        "trust",
        "observed",
        "business_model",
        "revenue",
        "price",
        "cost_to_serve",
        "origin",
        "records.economic_profit",
        "alignment.supply_risk",
        "alignment.structural_risk",
        "alignment.purchase_importance",
        "alignment.treatment",
        "alignment.interaction_choice",
        "alignment.last_contact",
    )
    writes = (
        "trust",
        "alignment.supply_risk",
        "alignment.customer_level",
        "alignment.misalignment",
        "alignment.last_contact",
        "records.aligned_share",
        "records.mean_misalignment",
        "records.mean_internal_misalignment",
        "records.interaction_contacts",
        "records.interaction_cost",
        "records.economic_profit",
    )
    reads_previous = (
        "status",
        "trust",
    )

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        w = state.width
        t_ = period - 1
        cols = slice(0, w)
        a = aligned(state)
        eps = state.draws("alignment", period, "normal")
        risk = a.supply_risk[:, cols]
        risk += p.view_reassess * (a.structural_risk[:, cols] - risk) + p.view_noise * eps
        np.clip(risk, 0.0, 1.0, out=risk)
        alive = state.status[:, cols] == ACTIVE
        treatment = a.treatment[:, cols]
        level = customer_level(state, cols)
        cost = np.zeros(state.shape[0])
        contacts = np.zeros(state.shape[0])
        due = [j for j, sp in enumerate(p.interactions) if period % sp.cadence == 0]
        if due:
            u = self._uniforms(state, period, len(p.interactions))
            trust = state.view("trust")
            for j in due:
                sp = p.interactions[j]
                take = self._participants(state, sp, alive, cols)
                success = take & (u[:, :, j] < sp.p_align)
                risk += np.where(success, sp.step * (treatment - level), 0.0)
                np.clip(risk, 0.0, 1.0, out=risk)
                level = customer_level(state, cols)
                trust += np.where(take, sp.trust_boost * (1.0 - trust), 0.0)
                a.last_contact[:, cols][take] = period
                n = np.count_nonzero(take, axis=1)
                contacts += n
                cost += sp.cost_per_contact * n
        cost += sum(sp.fixed_cost_period for sp in p.interactions)
        a.customer_level[:, cols] = level
        m = np.abs(treatment - level)
        a.misalignment[:, cols] = m
        rec = state.records
        n_alive = np.count_nonzero(alive, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rec["aligned_share"][:, t_] = np.where(
                n_alive > 0, rowsum((alive & (m < p.aligned_below)).astype(float)) / n_alive, np.nan
            )
            rec["mean_misalignment"][:, t_] = np.where(n_alive > 0, rowsum(m * alive) / n_alive, np.nan)
            if p.internal_alignment:
                rec["mean_internal_misalignment"][:, t_] = np.where(
                    n_alive > 0, rowsum(internal_misalignment(state, period)[:, cols] * alive) / n_alive, np.nan
                )
        rec["interaction_contacts"][:, t_] = contacts
        rec["interaction_cost"][:, t_] = cost
        rec["economic_profit"][:, t_] -= (1.0 - p.tax_rate) * cost  # a firm-level cost, after tax

    @staticmethod
    def _uniforms(state: BatchState, period: int, spaces: int) -> np.ndarray:
        """One uniform per filled slot and space: slot i, space j takes draw j of the period."""
        return np.stack([state.draws("interaction", period, "uniform", j) for j in range(spaces)], axis=-1)

    @staticmethod
    def _participants(state: BatchState, sp: object, alive: np.ndarray, cols: slice) -> np.ndarray:
        chosen = aligned(state).interaction_choice.get(sp.name)  # type: ignore[attr-defined]
        if chosen is not None:
            take = alive & chosen[:, cols]
        elif sp.models is None:  # type: ignore[attr-defined]
            take = alive.copy()
        else:
            take = alive & np.isin(state.business_model[:, cols], sp.models)  # type: ignore[attr-defined]
        cap = sp.capacity  # type: ignore[attr-defined]
        if cap:
            for b in np.flatnonzero(take.sum(axis=1) > cap):  # per replication, not per customer
                idx = np.flatnonzero(take[b])
                order = idx[np.argsort(-state.observed[b, idx], kind="stable")]
                take[b, order[cap:]] = False
        return take


def internal_misalignment(state: BatchState, period: int) -> np.ndarray:
    """|sales' view (class level under ``alignment.sales_model``) - operations' treatment|."""
    model = get_portfolio_model(state.params.sales_model)
    sales = model.levels(model.classify(firm_view(state, period)))
    return np.abs(sales - aligned(state).treatment)


class PortfolioTracker(Component):
    """Class counts of every tracked portfolio model each period, and year-to-year transitions.

    Classes are taken at the end of the period over relationships still active.
    A transition counts a relationship active both at the end of a year and at the
    end of the next (periods that are multiples of ``periods_per_year``).
    """

    name = "portfolio"
    phase = 90
    reads = (
        "status",
        "observed",
        "revenue",
        "price",
        "cost_to_serve",
        "trust",
        "origin",
        "alignment.purchase_importance",
        "alignment.supply_risk",
        "portfolio.class_counts",
        "portfolio.transitions",
        "portfolio.previous",
    )
    writes = (
        "portfolio.class_counts",
        "portfolio.transitions",
        "portfolio.previous",
    )

    def __init__(self, models: tuple[str, ...]):
        self.models = tuple(models)
        self.offsets = {}
        k = 0
        for name in self.models:
            self.offsets[name] = k
            k += len(get_portfolio_model(name).classes)
        self.n_labels = k
        self.labels = class_labels(self.models)

    def step(self, state: BatchState, period: int) -> None:
        p = state.params
        b = state.shape[0]
        if state.portfolio is None:
            state.portfolio = PortfolioTrack(
                class_counts=np.zeros((b, p.periods, self.n_labels), dtype=np.int32),
                transitions=np.zeros((b, self.n_labels, self.n_labels), dtype=np.int32),
            )
        track = state.portfolio
        view = firm_view(state, period)
        alive = view.active
        year_end = period % p.periods_per_year == 0
        rows = np.arange(b)[:, None]
        for name in self.models:
            model = get_portfolio_model(name)
            off = self.offsets[name]
            cls = model.classify(view).astype(np.int64) + off
            labels = np.where(alive, cls, -1)
            flat = (rows * self.n_labels + labels)[alive]
            track.class_counts[:, period - 1, :] += (
                np.bincount(flat, minlength=b * self.n_labels).reshape(b, self.n_labels).astype(np.int32)
            )
            if year_end:
                prev = track.previous.get(name)
                if prev is not None:
                    both = (prev >= 0) & (labels >= 0)
                    idx = (rows * self.n_labels + prev) * self.n_labels + labels
                    counts = np.bincount(idx[both], minlength=b * self.n_labels * self.n_labels)
                    track.transitions += counts.reshape(b, self.n_labels, self.n_labels).astype(np.int32)
                track.previous[name] = labels
