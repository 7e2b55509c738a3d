"""A batch of replications as a task: what a worker receives, runs and sends back.

A run prepares each of its scenario variants once (:class:`Variant`: the model parameters
and the policy), cuts the replications into batches and sends every batch as a
:class:`Job` to an executor.  :func:`run_job` is the pure function every executor runs:
its result depends only on the job, so it is the same whichever process, machine or
order runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from valuecapture.model.batch import DETAIL_NAMES, simulate_batch
from valuecapture.model.params import ModelParams
from valuecapture.model.policies import get_policy
from valuecapture.run.seeds import batch_streams, philox_keys
from valuecapture.scenario.load import Scenario


@dataclass(frozen=True)
class Reducer:
    """Per-replication statistics computed in the worker from every relationship's value,
    before the per-relationship detail is dropped (decompositions and sweeps keep them for
    all replications): ``fn(values)`` maps a (replications, slots) array of relationship
    values (NaN: slot never filled) to ``{name: array per replication}``; ``variables``
    gives each name's units and description."""

    fn: Callable[[np.ndarray], Mapping[str, np.ndarray]]
    variables: Mapping[str, tuple[str, str]]

    @property
    def name(self) -> str:
        return f"{self.fn.__module__}.{self.fn.__qualname__}"


@dataclass(frozen=True)
class Variant:
    """A scenario prepared once for a run: its model parameters and its policy instance."""

    scenario: Scenario
    params: ModelParams
    policy: Any

    @classmethod
    def of(cls, scenario: Scenario) -> Variant:
        return cls(
            scenario,
            ModelParams.from_scenario(scenario),
            get_policy(scenario.get("choices.policy"), **scenario.get("choices.policy_parameters")),
        )


@dataclass(frozen=True)
class Job:
    """Replications ``start..stop-1`` of variant number ``index`` of a run seeded with ``seed``.

    ``detail``: keep the per-relationship detail of replications below the scenario's
    ``outputs.relationship_detail`` (else none); ``reduce``: also compute its statistics
    for every replication of the batch."""

    variant: Variant
    index: int
    seed: int
    start: int
    stop: int
    detail: bool = True
    reduce: Reducer | None = None


def run_job(job: Job) -> tuple[int, int, dict[str, np.ndarray]]:
    """Run one job in this process; returns ``(variant index, start, outputs)``."""
    p = job.variant.params
    rows = job.stop - job.start
    keep = max(0, min(rows, p.relationship_detail - job.start)) if job.detail else 0
    reps = range(job.start, job.stop)
    out = simulate_batch(
        p,
        job.variant.policy,
        batch_streams(job.seed, reps, p.parameter_per_draw),
        philox_keys(job.seed, reps),
        rows if job.reduce else keep,
    )
    if job.reduce is not None:
        values = out.get("relationship_value")
        stats = job.reduce.fn(values if values is not None else np.full((rows, 1), np.nan))
        for name in job.reduce.variables:
            out[name] = np.asarray(stats[name])
        for name in DETAIL_NAMES:
            if name in out:
                if keep:
                    out[name] = out[name][:keep]
                else:
                    del out[name]
    return job.index, job.start, out


def run_batch(scenario: Scenario, seed: int, start: int, stop: int, policy: Any = None) -> dict[str, np.ndarray]:
    """Simulate replications ``start..stop-1`` of ``scenario`` in this process and return their outputs
    (for tests and benchmarks; runs go through :func:`~valuecapture.run.simulate.simulate`)."""
    variant = Variant.of(scenario)
    if policy is not None:
        variant = Variant(scenario, variant.params, policy)
    return run_job(Job(variant, 0, seed, start, stop))[2]
