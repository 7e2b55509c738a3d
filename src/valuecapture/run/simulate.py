"""The runner: seeds, batches, executors, assembly into one Dataset.

``simulate`` splits the replications into contiguous batches, runs each batch
(serially or in a local process pool) and writes each batch's rows into the
preallocated result arrays at the batch's replication indices.  A replication's
random streams depend only on the seed and its number (see
:mod:`valuecapture.run.seeds`), and every reduction over customers is a row-wise
reduction of that replication's own row, so results are bit-identical whatever
the batch size, worker count or executor.
"""

from __future__ import annotations

import math
import os
import sys
from contextlib import closing
from typing import Any, Callable, Iterator

import numpy as np
import xarray as xr

from valuecapture.model.engine import Engine
from valuecapture.run.executors import EXECUTORS, run_task, run_tasks
from valuecapture.model.submodels import default_components
from valuecapture.model.state import ALIGNMENT_SERIES, PERIOD_SERIES, BatchState, initial_state
from valuecapture.run.budget import memory_plan
from valuecapture.model.params import ModelParams, slot_count
from valuecapture.model.policies import get_policy, policy_class
from valuecapture.model.population import generate_customers, generate_network
from valuecapture.scenario.load import Scenario, field_by_path
from valuecapture.run.seeds import batch_streams

#: Elements (batch x slots) a batch aims at: one batch's state is then about 70 MB.
#: Speed is flat from about 4 to 16 replications per batch at 21,504 slots (the
#: engine is bound by memory traffic, not by per-call overhead there); this keeps
#: the lower memory end of that range (8 replications of 21,504 slots).
TARGET_BATCH_ELEMENTS = 172_032
#: Outputs kept only for the first ``outputs.relationship_detail`` replications.
DETAIL_NAMES = ("relationship_value", "periods_active", "acquired_period", "segment", "wallet", "final_business_model", "net_price", "cost_to_serve", "final_misalignment")


def default_batch_size(n_slots: int, replications: int, workers: int) -> int:
    by_memory = max(1, TARGET_BATCH_ELEMENTS // max(1, n_slots))
    by_balance = max(1, math.ceil(replications / max(1, workers)))
    return int(max(1, min(256, by_memory, by_balance)))


def run_batch(scenario: Scenario, seed: int, start: int, stop: int, policy: Any = None) -> dict[str, np.ndarray]:
    """Simulate replications ``start..stop-1`` and return their per-replication outputs."""
    p = ModelParams.from_scenario(scenario)
    reps = range(start, stop)
    streams = batch_streams(seed, reps)
    base = generate_customers(p, streams["population"])
    network = generate_network(p, base.segment, streams["network"])
    if policy is None:
        policy = get_policy(scenario.get("choices.policy"))
    state = initial_state(p, base, network, seed, reps, policy)
    Engine(default_components(p.review_interval, p.periods, p.alignment, p.portfolio_models), p.periods).run(state)
    return batch_outputs(state, start)


#: A small three-business-model firm on which :func:`review_view_for_check` builds a view.
CHECK_SCENARIO = """
[scenario]
name = "policy_check"
[horizon]
periods = 8
periods_per_year = 4
[customers]
count = 150
[acquisition]
prospects_per_year = 30
[capabilities]
account_managers = 2
accounts_per_manager = 10
review_interval = 2
[choices]
policy = "single"
fixed_cost = 100000
[[choices.business_models]]
name = "standard"
service_cost = 3000
fixed_cost = 50000
[[choices.business_models]]
name = "key_account"
quality = 0.85
adaptation = 0.7
service_cost = 20000
price_factor = 1.04
channel = "key_account_team"
account_management = 0.9
capital_intensity = 0.25
platform = "dedicated"
fixed_cost = 80000
[[choices.business_models]]
name = "transactional"
quality = 0.5
adaptation = 0.0
service_cost = 800
price_factor = 0.97
cost_to_serve_factor = 0.6
channel = "e_channel"
account_management = 0.0
capital_intensity = 0.03
platform = "standard"
fixed_cost = 30000
"""


def review_view_for_check(scenario: Scenario | None = None, seed: int = 0) -> Any:
    """A realistic read-only :class:`~valuecapture.model.policies.PortfolioView`.

    Runs two replications of ``scenario`` (default :data:`CHECK_SCENARIO`) under
    the ``tiered`` policy and returns a frozen copy of the view at its last
    review: mixed business models, observed profits of both signs, filled and
    unfilled slots.
    """
    from dataclasses import fields, replace

    from valuecapture.model.policies import TieredPolicy
    from valuecapture.scenario.load import loads

    sc = scenario if scenario is not None else loads(CHECK_SCENARIO, source="<policy check scenario>")

    class _Capture(TieredPolicy):
        last: Any = None

        def decide(self, view: Any) -> Any:
            _Capture.last = view
            frozen = {}
            for f in fields(view):
                val = getattr(view, f.name)
                if isinstance(val, np.ndarray):
                    val = val.copy()
                    val.flags.writeable = False
                frozen[f.name] = val
            _Capture.last = replace(view, **frozen)
            return super().decide(view)

    run_batch(sc, seed, 0, 2, policy=_Capture())
    return _Capture.last


def batch_outputs(state: BatchState, start: int) -> dict[str, np.ndarray]:
    p = state.params
    assert state.terminal_relationship is not None and state.terminal_fixed is not None
    ever = state.acquired_period >= 0
    rel_value = state.value + state.terminal_relationship
    discount = (1.0 + p.wacc_period) ** -np.arange(1, p.periods + 1)
    rec = state.records
    firm_costs = rec["fixed_cost"] + rec["complexity_cost"] + rec["capability_spend"] + rec["change_cost"]
    if "interaction_cost" in rec:
        firm_costs = firm_costs + rec["interaction_cost"]
    tax1 = 1.0 - p.tax_rate
    pv_firm_costs = tax1 * ((firm_costs * discount).sum(axis=1) + state.terminal_fixed)
    value_capture = np.where(ever, rel_value, 0.0).sum(axis=1)
    out: dict[str, np.ndarray] = {
        "firm_value": value_capture - pv_firm_costs,
        "value_capture": value_capture,
        "pv_firm_costs": pv_firm_costs,
        "pv_complexity_cost": tax1 * (rec["complexity_cost"] * discount).sum(axis=1),
        "pv_capability_spend": tax1 * (rec["capability_spend"] * discount).sum(axis=1),
        "terminal_value": state.terminal_relationship.sum(axis=1) - tax1 * state.terminal_fixed,
        "customers_ever": ever.sum(axis=1),
        "slots_exhausted": state.slots_exhausted.copy(),
        "value_by_model": state.value_by_model.copy(),
        "customers_by_model": state.model_counts.copy(),
    }
    out.update(heterogeneity_summary(rel_value, ever))
    for name in PERIOD_SERIES:
        out[name] = state.records[name]
    if p.alignment:
        for name in ALIGNMENT_SERIES:
            out[name] = state.records[name]
    if state.class_counts is not None:
        out["portfolio_class_count"] = state.class_counts
        out["portfolio_transitions"] = state.transitions
    n_detail = max(0, min(state.shape[0], p.relationship_detail - start))
    if n_detail:
        out["relationship_value"] = np.where(ever, rel_value, np.nan)[:n_detail]
        out["periods_active"] = state.periods_active[:n_detail]
        out["acquired_period"] = state.acquired_period[:n_detail]
        out["segment"] = state.base.segment[:n_detail].astype(np.int16)
        out["wallet"] = np.where(ever, state.base.wallet, np.nan)[:n_detail]
        out["final_business_model"] = np.where(ever, state.business_model, -1)[:n_detail].astype(np.int16)
        out["net_price"] = np.where(ever, state.price, np.nan)[:n_detail]
        out["cost_to_serve"] = np.where(ever, state.cost_to_serve, np.nan)[:n_detail]
        if p.alignment:
            out["final_misalignment"] = np.where(ever, state.misalignment, np.nan)[:n_detail]
    return out


def heterogeneity_summary(values: np.ndarray, ever: np.ndarray) -> dict[str, np.ndarray]:
    """Per-replication Stobachoff summaries of relationship value.

    ``values`` and ``ever`` are (replications, slots); only slots that ever held
    a customer count.
    """
    v = np.where(ever, values, 0.0)
    created = np.where(v > 0, v, 0.0).sum(axis=1)
    destroyed = -np.where(v < 0, v, 0.0).sum(axis=1)
    n = ever.sum(axis=1)
    ordered = -np.sort(np.where(ever, -values, np.inf), axis=1)  # descending, never-acquired last (-inf)
    ordered = np.where(np.isfinite(ordered), ordered, 0.0)
    cum = np.cumsum(ordered, axis=1)
    k20 = np.maximum(1, np.ceil(0.2 * n).astype(np.int64)) - 1
    top20 = np.take_along_axis(cum, k20[:, None], axis=1)[:, 0]
    total = created - destroyed
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "value_created": created,
            "value_destroyed": destroyed,
            "stobachoff_peak": np.where(total != 0, created / total, np.nan),
            "stobachoff_peak_position": np.where(n > 0, (v > 0).sum(axis=1) / n, np.nan),
            "stobachoff_index": np.where(created > 0, destroyed / created, np.nan),
            "top20_share": np.where(total != 0, top20 / total, np.nan),
        }


def _batches(replications: int, batch_size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, replications, batch_size):
        yield start, min(replications, start + batch_size)


def _run_batch_task(args: tuple[Scenario, int, int, int]) -> tuple[int, dict[str, np.ndarray]]:
    return run_task(args)


def simulate(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    *,
    workers: int | None = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Run the Monte Carlo simulation of a scenario and return its Dataset.

    Parameters
    ----------
    scenario
        A validated :class:`~valuecapture.scenario.load.Scenario`.
    replications, seed
        Default to the scenario's ``run.replications`` and ``run.seed``.
    workers
        Worker processes (``None``: all cores).  Never changes the result.
    batch_size
        Replications per batch (``None``: automatic).  Never changes the result.
    executor
        ``"serial"``, ``"process"`` or ``"dask"`` (default: serial for one
        worker, else a local process pool; ``"dask"`` when ``scheduler`` is
        given).  Never changes the result (:mod:`valuecapture.run.executors`).
    scheduler
        Address of an existing Dask scheduler (``tcp://host:port``).
    progress
        Show a progress bar (only on a terminal).
    """
    from valuecapture.run.results import build_dataset

    replications = int(scenario.get("run.replications") if replications is None else replications)
    seed = int(scenario.get("run.seed") if seed is None else seed)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    executor = executor or ("dask" if scheduler else "serial" if workers == 1 else "process")
    p = ModelParams.from_scenario(scenario)
    if batch_size is None and workers >= 1 and replications >= 1:
        batch_size = default_batch_size(p.n_slots, replications, workers)
    check_run(scenario, replications, seed, workers, batch_size, executor, scheduler)
    assert batch_size is not None
    collected = _Collector(p, replications)
    tasks = ((scenario, seed, a, b) for a, b in _batches(replications, batch_size))
    bar = _progress(replications, progress)
    try:
        with closing(run_tasks(tasks, executor, workers, scheduler)) as results:  # closed (workers stopped) on any error
            for start, out in results:
                n = len(out["firm_value"])
                collected.add(start, out)
                bar.update(n)
                if on_batch:
                    on_batch(start, start + n)
    finally:
        bar.close()
    return build_dataset(scenario, seed, replications, p, collected.arrays)


#: Largest number of replications and seed, as the scenario schema allows them.
MAX_REPLICATIONS = int(field_by_path("run.replications").hi)  # type: ignore[arg-type]
MAX_SEED = int(field_by_path("run.seed").hi)  # type: ignore[arg-type]


def check_run(scenario: Scenario, replications: int, seed: int, workers: int, batch_size: int | None, executor: str | None = None,
              scheduler: str | None = None, variants: int = 1, detail: bool = True) -> None:
    """Refuse, before anything is allocated, a run that is badly specified or cannot fit in memory.

    Raises ValueError (bad input) naming the argument and what is allowed, or
    :class:`~valuecapture.run.budget.MemoryRefused` with the estimate and the limit."""
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ValueError(f"replications must be an integer in [1, {MAX_REPLICATIONS}], got {replications}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {seed}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if executor is not None and executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if scheduler is not None and executor not in (None, "dask"):
        raise ValueError("a scheduler address needs the dask executor (--executor dask)")
    policy_class(scenario.get("choices.policy"))  # fail early on a bad policy
    local_workers = workers if executor in (None, "process", "dask") and not scheduler and workers > 1 else 1
    bs = batch_size if batch_size is not None else default_batch_size(slot_count(scenario), replications, workers)
    memory_plan(scenario, replications, local_workers, min(bs, replications), variants=variants, detail=detail).check()


class _Collector:
    """Preallocated result arrays filled batch by batch at their replication rows."""

    def __init__(self, p: ModelParams, replications: int):
        self.arrays: dict[str, np.ndarray] = {}
        self.replications = replications
        self.n_detail = min(replications, p.relationship_detail)

    def add(self, start: int, out: dict[str, np.ndarray]) -> None:
        self.add_rows(start, start, out)

    def add_rows(self, row: int, start: int, out: dict[str, np.ndarray]) -> None:
        """Place a batch whose first replication is ``start`` at result row ``row``
        (equal unless only some batches are collected, e.g. a partial store)."""
        n_detail_rows = max(0, min(self.n_detail, start + len(out["firm_value"])) - start)
        for name, arr in out.items():
            detail = name in DETAIL_NAMES
            rows = self.n_detail if detail else self.replications
            if name not in self.arrays:
                fill = (np.nan if arr.dtype.kind == "f" else -1) if detail else 0  # detail rows of missing batches stay "never filled"
                self.arrays[name] = np.full((rows,) + arr.shape[1:], fill, dtype=arr.dtype)
            if detail:
                if n_detail_rows and start == row:
                    self.arrays[name][start:start + n_detail_rows] = arr[:n_detail_rows]
            else:
                self.arrays[name][row:row + arr.shape[0]] = arr


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rep", desc="simulating", disable=not (enabled and sys.stderr.isatty()), file=sys.stderr, smoothing=0.1)
