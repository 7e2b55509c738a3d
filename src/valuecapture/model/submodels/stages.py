"""Relationship stages: a Markov chain of relationship development with stage-specific economics.

Relationship life-cycle research describes discrete stages -- awareness, exploration, expansion,
commitment and dissolution (Dwyer, Schurr & Oh 1987), acquaintance, friend, partner (Johnson &
Selnes 2004) -- and the classic customer-value models are Markov chains over such states
(Pfeifer & Carraway 2000).  With ``stages.enabled`` every relationship has a stage
(docs/model.md, "Relationship stages"):

* a new customer starts in the first stage; an initial customer in a stage drawn from
  ``stages.initial`` (one uniform of the set-up, period 0, ``stages`` key);
* during a period its stage sets a factor on its margin, a factor on its cost to serve, an
  economic profit added per period, and a factor on its churn hazard (applied inside the
  economics and retention parts of the period step);
* at the end of the period, after retention, each relationship still active moves to the
  stage the period's uniform of its slot picks from its stage's row of the transition matrix
  (``stages`` key, one uniform per filled slot and period, so a policy cannot change what a
  relationship draws); with an end column, the relationship may end instead (it is lost at the
  end of the period, counted among the period's churned, and its neighbours count a defection);
* the row can be shifted by the relationship's trust and adaptation (after this period's update)
  and the business model serving it: entry ``(i, j)`` times ``exp(x c_j)``, renormalised, with
  ``x = trust_shift (T - 0.5) + adaptation_shift A + model_shift[model]`` and ``c_j`` the
  destination's closeness (0 for the end).

With fixed transitions ``Q`` among the stages (the end column dropped), margins ``m`` per period
and the per-period discount factor ``d``, a relationship that starts period 1 in stage ``s`` is
worth ``[d (I - d Q)^-1 m]_s`` and is active ``[(I - Q)^-1 1]_s`` periods on average
(tests/test_stages.py checks the simulation against both).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from valuecapture.model import philox
from valuecapture.model.engine import Part
from valuecapture.model.kernels import exp
from valuecapture.model.state import ACTIVE, LOST, BatchState, StageState


class Stages(Part):
    """The end-of-period stage transition of every relationship still active (or its end).

    Runs after retention in the period step: it reads trust and adaptation after this
    period's update and the business model serving the relationship (the shifts), and writes
    the stage of the next period, the stage counts and transition counts of the period, and
    for relationships that end, their status, the period's churned and active counts and,
    through the churners' list, the neighbours' count of defections.  At the horizon, each
    surviving relationship's hazard also counts its stage's probability of ending, which the
    run-off terminal value reads (``1 - (1 - h)(1 - e)``).
    """

    name = "stages"
    reads = (
        "next_free",
        "status",
        "trust",
        "adaptation",
        "business_model",
        "hazard",
        "stages.stage",
        "stages.counts",
        "stages.transitions",
    )
    writes = (
        "status",
        "hazard",
        "contagion",
        "records.churned",
        "records.customers_active",
        "stages.stage",
        "stages.counts",
        "stages.transitions",
    )


class StageTerms(NamedTuple):
    """What the period step's parts need of the stages, in one record for the kernel; the
    flags say which effects are on (:data:`NO_STAGES` when stages are off: every flag false,
    arrays of the same types, so one compiled version)."""

    on: bool  # stages.enabled
    economic: bool  # a margin factor, margin or cost-to-serve factor differs from neutral
    churn: bool  # a churn multiplier differs from 1
    ends: bool  # the matrix has an end column
    shifted: bool  # trust, adaptation or business model shift the transitions
    fold: bool  # this is the last period: fold the end probability into the hazard
    period: int
    stage: np.ndarray  # (batch, slots) int8
    margin_factor: np.ndarray  # (K,)
    margin_period: np.ndarray  # (K,) after tax
    cost_to_serve_extra: np.ndarray  # (K,) factor - 1
    churn_multiplier: np.ndarray  # (K,)
    transitions: np.ndarray  # (K, C)
    cumulative: np.ndarray  # (K, C)
    closeness: np.ndarray  # (C,)
    trust_shift: float
    adaptation_shift: float
    model_shift: np.ndarray  # (business models,)
    adaptation_cost: np.ndarray  # (batch,) adaptation cost after the platform (cost to serve x (1 + a_c A))
    counts: np.ndarray  # (batch, periods, K) int32
    moves: np.ndarray  # (batch, K, C) int64

    @classmethod
    def of(cls, state: BatchState, period: int) -> StageTerms:
        """The terms of ``period`` (:data:`NO_STAGES` when stages are off)."""
        g = state.params.stages
        st = state.stages
        if g is None or st is None:
            return NO_STAGES
        p = state.params
        return cls(
            on=True,
            economic=g.economic,
            churn=bool(np.any(g.churn_multiplier != 1.0)),
            ends=g.ends,
            shifted=g.shifted,
            fold=g.ends and period == p.periods,
            period=int(period),
            stage=st.stage,
            margin_factor=g.margin_factor,
            margin_period=g.margin_period,
            cost_to_serve_extra=g.cost_to_serve_factor - 1.0,
            churn_multiplier=g.churn_multiplier,
            transitions=g.transitions,
            cumulative=g.cumulative,
            closeness=g.closeness,
            trust_shift=g.trust_shift,
            adaptation_shift=g.adaptation_shift,
            model_shift=g.model_shift,
            adaptation_cost=p.adaptation_cost * (1.0 - p.platform_effect * state.platform_level),
            counts=st.counts,
            moves=st.transitions,
        )


_ONE = np.zeros(1)
NO_STAGES = StageTerms(
    False, False, False, False, False, False, 0, np.zeros((1, 1), dtype=np.int8), _ONE, _ONE, _ONE, _ONE,
    np.zeros((1, 1)), np.zeros((1, 1)), _ONE, 0.0, 0.0, _ONE, _ONE, np.zeros((1, 1, 1), dtype=np.int32),
    np.zeros((1, 1, 1), dtype=np.int64),
)  # fmt: skip


def init_stages(state: BatchState) -> None:
    """The batch's :class:`~valuecapture.model.state.StageState`: every slot in the first stage but
    the initial customers, whose stage is the inverse of ``stages.initial``'s distribution at their
    slot's set-up uniform (period 0, ``stages`` key; drawn only when more than one stage has weight)."""
    p = state.params
    g = p.stages
    assert g is not None
    b, n = state.shape
    stage = np.zeros((b, n), dtype=np.int8)
    if np.count_nonzero(g.initial) > 1 and p.n_initial:
        u = philox.draws(state.key("stages"), 0, np.full(b, p.n_initial, dtype=np.int64), p.n_initial)
        cum = np.cumsum(g.initial)
        cum[int(np.flatnonzero(g.initial > 0)[-1]) :] = 1.0
        stage[:, : p.n_initial] = np.searchsorted(cum, u, side="right").astype(np.int8)
    else:
        stage[:, : p.n_initial] = int(np.flatnonzero(g.initial > 0)[0])
    state.stages = StageState(
        stage=stage,
        initial=stage.copy(),
        counts=np.zeros((b, p.periods, g.n), dtype=np.int32),
        transitions=np.zeros((b, g.n, g.transitions.shape[1]), dtype=np.int64),
    )


@njit(inline="always", error_model="numpy")
def stage_economics(contribution, rev, cost_to_serve, a, tax1, stage, g, b):
    """A slot's margin contribution ``(m0 + m1 A) V`` (after tax) in its stage ``stage``
    (:class:`StageTerms` ``g``, replication ``b``): less the extra cost to serve of the stage,
    ``(factor - 1) (1 - tax) revenue C (1 + a_c A)``, times the stage's margin factor, plus the
    stage's economic profit per period (after tax)."""
    extra = tax1 * rev * cost_to_serve * g.cost_to_serve_extra[stage] * (1.0 + g.adaptation_cost[b] * a)
    return (contribution - extra) * g.margin_factor[stage] + g.margin_period[stage]


@njit(inline="always", error_model="numpy")
def stages_block(n, u, status, trust, adaptation, business_model, hazard, stage, g, b, churners, n_churners, node):
    """The end-of-period transition of ``n`` consecutive slots of replication ``b`` (1-d views),
    with their uniforms ``u`` of the period (``stages`` key): each active slot moves to the stage
    its uniform picks from its (shifted) row, or ends (its flat node ``node + j`` appended to
    ``churners`` after the ``n_churners`` there).  Adds the stage counts of the period and the
    transition counts into ``g``; returns the new count of churners."""
    n_stages = g.transitions.shape[0]
    n_cols = g.transitions.shape[1]
    counts = g.counts[b, g.period - 1]
    moves = g.moves[b]
    for j in range(n):
        if status[j] != ACTIVE:
            continue
        s = stage[j]
        to = n_cols - 1
        if g.shifted:
            x = g.trust_shift * (trust[j] - 0.5) + g.adaptation_shift * adaptation[j]
            x += g.model_shift[business_model[j]]
            total = 0.0
            for c in range(n_cols):
                if g.transitions[s, c] > 0.0:
                    total += g.transitions[s, c] * exp(x * g.closeness[c])
            target = u[j] * total
            acc = 0.0
            for c in range(n_cols):
                if g.transitions[s, c] > 0.0:
                    acc += g.transitions[s, c] * exp(x * g.closeness[c])
                    to = c
                    if target < acc:
                        break
        else:  # the first column whose running sum exceeds u: the count of those it does not (no branch)
            to = 0
            for c in range(n_cols - 1):
                to += u[j] >= g.cumulative[s, c]
        moves[s, to] += 1
        if g.ends and to == n_stages:
            status[j] = LOST
            churners[n_churners] = node + j
            n_churners += 1
            continue
        stage[j] = to
        counts[to] += 1
        if g.fold:
            end = end_probability(to, trust[j], adaptation[j], business_model[j], g)
            hazard[j] = 1.0 - (1.0 - hazard[j]) * (1.0 - end)
    return n_churners


@njit(inline="always", error_model="numpy")
def end_probability(s, trust, adaptation, model, g):
    """The probability that a relationship in stage ``s`` ends at the end of a period (its row's end
    column, shifted as the transitions are)."""
    end = g.transitions.shape[1] - 1
    if not g.shifted:
        return g.transitions[s, end]
    x = g.trust_shift * (trust - 0.5) + g.adaptation_shift * adaptation + g.model_shift[model]
    total = 0.0
    for c in range(g.transitions.shape[1]):
        if g.transitions[s, c] > 0.0:
            total += g.transitions[s, c] * exp(x * g.closeness[c])
    return g.transitions[s, end] * exp(x * g.closeness[end]) / total
