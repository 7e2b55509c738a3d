"""The runner: one way from scenarios to a result Dataset, for every command.

:func:`simulate` runs one scenario; :func:`simulate_variants` runs several variants of a
scenario (policies, heterogeneity switches, design points) on the same seed and joins them
along a new dimension.  Both describe the run as a :class:`Plan` and hand it to a
:class:`Runner`, which prepares each variant once (model parameters, policy), cuts the
replications into batches, sends the batches through the one submission loop of
:mod:`valuecapture.run.executors` (serial, process pool or Dask), and either keeps each
batch in memory or streams it to a locked, resumable store (:mod:`valuecapture.run.store`).
:func:`~valuecapture.run.precision.simulate_to_precision` drives the same runner chunk by
chunk.

A replication's random streams depend only on the seed and its number (see
:mod:`valuecapture.run.seeds`), and every reduction over customers is a row-wise reduction
of that replication's own row, so results are bit-identical whatever the batch size,
worker count, executor, order of completion, or whether the run was interrupted and
resumed.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from valuecapture.model.batch import DETAIL_NAMES
from valuecapture.model.params import ModelParams, slot_count
from valuecapture.model.validate import check_scenario
from valuecapture.run.batch import Job, Reducer, Variant
from valuecapture.run.budget import memory_plan
from valuecapture.run.executors import EXECUTORS, run_jobs
from valuecapture.run.outputs import WriteFailure
from valuecapture.run.results import build_dataset
from valuecapture.run.store import RunStore, StoreError, scenario_sha256
from valuecapture.scenario.load import Scenario, field_by_path
from valuecapture.version import __version__

#: Elements (batch x slots) a batch aims at: one batch's state is then about 70 MB
#: (docs/performance.md: speed is flat from about 4 to 16 replications per batch).
TARGET_BATCH_ELEMENTS = 172_032
#: Largest number of replications and seed, as the scenario schema allows them.
MAX_REPLICATIONS = int(field_by_path("run.replications").hi)  # type: ignore[arg-type]
MAX_SEED = int(field_by_path("run.seed").hi)  # type: ignore[arg-type]
#: What a run keeps of each variant: every output, or the per-replication ones only.
KEEP = ("all", "replication")


def default_batch_size(n_slots: int, replications: int, workers: int) -> int:
    """Replications per batch: bounded by memory (:data:`TARGET_BATCH_ELEMENTS`) and by balance across workers."""
    by_memory = max(1, TARGET_BATCH_ELEMENTS // max(1, n_slots))
    by_balance = max(1, math.ceil(replications / max(1, workers)))
    return int(max(1, min(256, by_memory, by_balance)))


@dataclass(frozen=True)
class Plan:
    """Everything a run's result depends on.

    ``labels`` name the variants along ``dim`` (``None``: one scenario, no extra
    dimension).  Batches are cut within chunks of ``chunk`` replications (the interval of
    sequential stopping; ``replications`` otherwise), so their boundaries never depend on
    where a run stops.  ``keep`` is ``"all"`` or ``"replication"`` (only per-replication
    outputs, plus ``reduce``'s statistics of every relationship)."""

    scenarios: tuple[Scenario, ...]
    labels: tuple[str, ...] | None
    dim: str | None
    seed: int
    replications: int
    batch_size: int
    chunk: int
    keep: str = "all"
    reduce: Reducer | None = None

    def batches(self, upto: int | None = None) -> Iterator[tuple[int, int]]:
        """Batch ranges ``(start, stop)`` of replications below ``upto`` (default all)."""
        end = self.replications if upto is None else min(upto, self.replications)
        for c in range(0, end, self.chunk):
            for a in range(c, min(c + self.chunk, self.replications), self.batch_size):
                yield a, min(a + self.batch_size, c + self.chunk, self.replications)

    def meta(self) -> dict[str, Any]:
        """The plan as run.json stores it (reducers by name, with their variables)."""
        return {
            "variants": [
                {
                    "label": None if self.labels is None else self.labels[i],
                    "scenario_toml": sc.to_toml(),
                    "scenario_source": sc.source,
                    "overrides": list(sc.overrides),
                    "sha256": scenario_sha256(sc),
                }
                for i, sc in enumerate(self.scenarios)
            ],
            "dim": self.dim,
            "seed": self.seed,
            "replications": self.replications,
            "batch_size": self.batch_size,
            "chunk": self.chunk,
            "keep": self.keep,
            "reduce": None
            if self.reduce is None
            else {"name": self.reduce.name, "variables": {k: list(v) for k, v in self.reduce.variables.items()}},
        }


def check_run(
    scenario: Scenario,
    replications: int,
    seed: int,
    workers: int,
    batch_size: int | None,
    executor: str | None = None,
    scheduler: str | None = None,
    variants: int = 1,
    detail: bool = True,
) -> None:
    """Refuse, before anything is allocated, a run that is badly specified or cannot fit in memory.

    Raises :class:`~valuecapture.scenario.ScenarioError` for a plugin the scenario names that
    does not exist, ValueError (bad input) naming the argument and what is allowed, or
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
    check_scenario(scenario)  # every plugin it names exists
    local_workers = workers if executor in (None, "process", "threads", "dask") and not scheduler and workers > 1 else 1
    bs = batch_size if batch_size is not None else default_batch_size(slot_count(scenario), replications, workers)
    memory_plan(
        scenario,
        replications,
        local_workers,
        min(bs, replications),
        variants=variants,
        detail=detail,
        threads=executor == "threads",
    ).check()


def executor_for(executor: str | None, workers: int, scheduler: str | None) -> str:
    """The executor a run uses: as asked, else Dask with a scheduler, serial for one worker, else a process pool."""
    return executor or ("dask" if scheduler else "serial" if workers == 1 else "process")


class Runner:
    """Runs a :class:`Plan`: its batches through an executor, into memory or into a store.

    ``store``: stream every finished batch to this folder (created; with ``resume``, the
    store already there must hold the same plan, and its finished batches are not run
    again).  ``stop``: polled by the submission loop; when it returns True the run stops
    with KeyboardInterrupt.  ``on_batch(start, stop)`` is called after each batch."""

    def __init__(
        self,
        plan: Plan,
        *,
        workers: int = 1,
        executor: str | None = None,
        scheduler: str | None = None,
        progress: bool = False,
        store: str | Path | None = None,
        resume: bool = False,
        stop: Callable[[], bool] | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ):
        self.plan = plan
        self.workers = workers
        self.executor = executor_for(executor, workers, scheduler)
        self.scheduler = scheduler
        self.progress = progress
        self.stop = stop
        self.on_batch = on_batch
        self.variants = [Variant.of(sc) for sc in plan.scenarios]  # parameters and policy, built once per variant
        self.parts: dict[tuple[int, int, int], dict[str, np.ndarray]] = {}
        self.store: RunStore | None = None
        if store is not None:
            self.store = _open_store(Path(store), plan) if resume else RunStore.create(store, plan.meta())
            self.store.clean()

    def done(self) -> set[tuple[int, int, int]]:
        return set(self.store.finished()) if self.store is not None else set(self.parts)

    def run(self, upto: int | None = None) -> None:
        """Run every batch below ``upto`` replications (default all) that is not done yet."""
        p = self.plan
        done = self.done()
        todo = [(i, a, b) for a, b in p.batches(upto) for i in range(len(self.variants)) if (i, a, b) not in done]
        if not todo:
            return
        jobs = (Job(self.variants[i], i, p.seed, a, b, detail=p.keep == "all", reduce=p.reduce) for i, a, b in todo)
        total = len(self.variants) * (p.replications if upto is None else min(upto, p.replications))
        bar = _progress(total, self.progress)
        bar.update(sum(b - a for _, a, b in done))
        try:
            with closing(run_jobs(jobs, self.executor, self.workers, self.scheduler, self.stop)) as results:
                for i, start, out in results:
                    n = len(out["firm_value"])
                    self._keep(i, start, out)
                    bar.update(n)
                    if self.on_batch:
                        self.on_batch(start, start + n)
                    if self.stop is not None and self.stop():  # an interrupt swallowed by code that ignores exceptions
                        raise KeyboardInterrupt
        finally:
            bar.close()

    def _keep(self, i: int, start: int, out: dict[str, np.ndarray]) -> None:
        stop = start + len(out["firm_value"])
        if self.store is None:
            self.parts[(i, start, stop)] = out
            return
        try:
            self.store.write_batch(i, start, out)
        except OSError as exc:
            raise WriteFailure(
                f"cannot write to {self.store.batches_dir}: {exc.strerror or exc}; the "
                f"{self.store.replications_done()} replications already saved there are kept"
            ) from None

    def _batches(self, upto: int) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
        """The finished batches below ``upto``, one at a time, in replication order."""
        if self.store is None:
            for (i, a, _), out in sorted(self.parts.items()):
                if a < upto:
                    yield i, a, out
            return
        for (_, a, _), f in self.store.finished().items():
            if a < upto:
                yield self.store.read_batch(f)

    def column(self, name: str, upto: int, variant: int = 0) -> np.ndarray:
        """Per-replication output ``name`` of replications ``0..upto-1`` of one variant."""
        parts = [(a, out[name]) for i, a, out in self._batches(upto) if i == variant]
        return np.concatenate([x for _, x in sorted(parts, key=lambda t: t[0])])

    def dataset(self, upto: int | None = None) -> xr.Dataset:
        """The result of replications ``0..upto-1`` (default all), every variant joined along the plan's dimension."""
        n = self.plan.replications if upto is None else upto
        collectors = [_Collector(v.params, n) for v in self.variants]
        for i, a, out in self._batches(n):
            collectors[i].add(a, out)
        return assemble(self.plan, [v.params for v in self.variants], [c.arrays for c in collectors], n)


def _open_store(path: Path, plan: Plan) -> RunStore:
    """The store in ``path``, which must hold ``plan`` (one line naming what differs)."""
    store = RunStore.load(path)
    m = store.meta
    mine = plan.meta()
    if [v["sha256"] for v in m["variants"]] != [v["sha256"] for v in mine["variants"]] or [
        v["label"] for v in m["variants"]
    ] != [v["label"] for v in mine["variants"]]:
        raise StoreError(
            f"--resume: the interrupted run in {path} was started with a different scenario (or --set overrides); "
            "rerun with the same ones, or use --fresh to start over"
        )
    if m.get("valuecapture_version") != __version__:
        raise StoreError(
            f"--resume: the interrupted run in {path} was started with valuecapture {m.get('valuecapture_version')}, "
            f"this is {__version__} (its numbers can differ); use --fresh to start over"
        )
    if m["seed"] != plan.seed or m["replications"] != plan.replications:
        raise StoreError(
            f"--resume: the interrupted run in {path} has seed {m['seed']} and {m['replications']} replications, not "
            f"{plan.seed} and {plan.replications}; use the same, or --fresh to start over"
        )
    for key in ("dim", "batch_size", "chunk", "keep", "reduce"):
        if m.get(key) != mine[key]:
            raise StoreError(
                f"--resume: the interrupted run in {path} has another {key} ({m.get(key)!r}); use --fresh to start over"
            )
    return store


def stored_plan(path: str | Path, reduce: Reducer | None = None) -> Plan:
    """The plan of the store in ``path`` with its stored batch size and chunk (what ``--resume`` must use)."""
    store = RunStore.load(path)
    m = store.meta
    labels = [v["label"] for v in m["variants"]]
    return Plan(
        tuple(store.scenarios()),
        None if m["dim"] is None else tuple(labels),
        m["dim"],
        m["seed"],
        m["replications"],
        m["batch_size"],
        m["chunk"],
        m["keep"],
        reduce,
    )


def assemble(
    plan: Plan, params: list[ModelParams], arrays: list[dict[str, np.ndarray]], replications: int
) -> xr.Dataset:
    """The result Dataset of ``replications`` replications from every variant's collected arrays."""
    runs = []
    for sc, p, arr in zip(plan.scenarios, params, arrays, strict=True):
        ds = build_dataset(sc, plan.seed, replications, p, arr)
        if plan.keep == "replication":
            ds = ds[[n for n, v in ds.data_vars.items() if v.dims == ("replication",)]]
            ds = ds.drop_vars([c for c in ds.coords if c != "replication"])
        if plan.reduce is not None:
            for name, (units, desc) in plan.reduce.variables.items():
                ds[name] = xr.Variable(
                    ("replication",),
                    arr[name],
                    {"units": units, "description": desc + " (all relationships of every replication)"},
                )
        runs.append(ds)
    if plan.dim is None:
        return runs[0]
    attrs = dict(runs[0].attrs)
    for ds in runs:
        ds.attrs = {}
    out = xr.concat(runs, dim=plan.dim, data_vars="all", coords="minimal", compat="override", join="exact")
    assert plan.labels is not None
    out = out.assign_coords(
        {
            plan.dim: (
                plan.dim,
                np.array(plan.labels, dtype=object),
                {"description": f"Variant of the scenario along {plan.dim}."},
            )
        }
    )
    attrs["variants"] = json.dumps(list(plan.labels))
    out.attrs = attrs
    return out


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
    store: str | Path | None = None,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Run the Monte Carlo simulation of a scenario and return its Dataset.

    Parameters
    ----------
    scenario
        A validated :class:`~valuecapture.scenario.Scenario`.
    replications, seed
        Default to the scenario's ``run.replications`` and ``run.seed``.
    workers
        Worker processes (``None``: all cores).  Never changes the result.
    batch_size
        Replications per batch (``None``: automatic).  Never changes the result.
    executor
        ``"serial"``, ``"process"`` or ``"dask"`` (default: serial for one worker, else a
        local process pool; ``"dask"`` when ``scheduler`` is given).  Never changes the result.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:port``).
    progress
        Show a progress bar (only on a terminal).
    store, resume
        Stream each finished batch to this folder (see :mod:`valuecapture.run.store`);
        with ``resume``, continue the interrupted run in it.  Never changes the result.
    """
    return simulate_variants(
        {"": scenario},
        None,
        replications,
        seed,
        workers=workers,
        batch_size=batch_size,
        executor=executor,
        scheduler=scheduler,
        progress=progress,
        store=store,
        resume=resume,
        stop=stop,
        on_batch=on_batch,
    )


def simulate_variants(
    variants: Mapping[str, Scenario],
    dim: str | None,
    replications: int | None = None,
    seed: int | None = None,
    *,
    keep: str = "all",
    reduce: Reducer | None = None,
    workers: int | None = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    store: str | Path | None = None,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Run every variant ``{label: scenario}`` with the same seed (common random numbers) and
    join their results along the new dimension ``dim`` (labelled by the variants' labels).

    ``replications`` and ``seed`` default to the first variant's; ``keep="replication"``
    keeps only per-replication outputs (with ``reduce``'s statistics of every relationship,
    computed in the workers); the other arguments are those of :func:`simulate`.  With
    ``dim=None`` there must be one variant, and its Dataset is returned as it is.
    """
    scenarios = tuple(variants.values())
    if not scenarios or (dim is None and len(scenarios) != 1):
        raise ValueError("simulate_variants needs at least one variant, and a dimension for more than one")
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
    first = scenarios[0]
    replications = int(first.get("run.replications") if replications is None else replications)
    seed = int(first.get("run.seed") if seed is None else seed)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    for sc in scenarios:
        check_run(
            sc,
            replications,
            seed,
            workers,
            batch_size,
            executor,
            scheduler,
            variants=len(scenarios),
            detail=keep == "all",
        )
    if resume and store is not None:
        plan = stored_plan(
            store, reduce
        )  # the stored batch size and chunk: batch boundaries must match the files already written
        plan = Plan(
            scenarios,
            None if dim is None else tuple(variants),
            dim,
            seed,
            replications,
            plan.batch_size,
            plan.chunk,
            keep,
            reduce,
        )
    else:
        bs = batch_size if batch_size is not None else default_batch_size(slot_count(first), replications, workers)
        plan = Plan(
            scenarios,
            None if dim is None else tuple(variants),
            dim,
            seed,
            replications,
            min(bs, replications),
            replications,
            keep,
            reduce,
        )
    runner = Runner(
        plan,
        workers=workers,
        executor=executor,
        scheduler=scheduler,
        progress=progress,
        store=store,
        resume=resume,
        stop=stop,
        on_batch=on_batch,
    )
    runner.run()
    return runner.dataset()


def open_store(path: str | Path) -> xr.Dataset:
    """The finished batches of an in-progress, interrupted or complete store, as one Dataset.

    The ``replication`` coordinate and ``attrs['replications_done']`` say which replications
    it holds (those finished in every variant; all of them once the run is complete)."""
    store = RunStore.load(path)
    m = store.meta
    scenarios = store.scenarios()
    variables = (m.get("reduce") or {}).get("variables", {})
    reduce = Reducer(lambda v: {}, {k: tuple(v) for k, v in variables.items()}) if variables else None
    labels = [v["label"] for v in m["variants"]]
    plan = Plan(
        tuple(scenarios),
        None if m["dim"] is None else tuple(labels),
        m["dim"],
        m["seed"],
        m["replications"],
        m["batch_size"],
        m["chunk"],
        m["keep"],
        reduce,
    )
    ranges: dict[tuple[int, int], list[Path]] = {}
    for (_, a, b), f in store.finished().items():
        ranges.setdefault((a, b), []).append(f)
    complete = sorted(r for r, files in ranges.items() if len(files) == len(scenarios))
    if not complete:
        raise StoreError(f"{path}: no finished batch yet")
    reps = np.concatenate([np.arange(a, b) for a, b in complete])
    params = [ModelParams.from_scenario(sc) for sc in scenarios]
    collectors = [_Collector(p, int(reps.size)) for p in params]
    row = 0
    for a, b in complete:  # one batch in memory at a time; rows in replication order
        for f in ranges[(a, b)]:
            i, start, out = store.read_batch(f)
            collectors[i].add_rows(row, start, out)
        row += b - a
    ds = assemble(plan, params, [c.arrays for c in collectors], int(reps.size))
    ds = ds.assign_coords(replication=("replication", reps, ds["replication"].attrs))
    ds.attrs.update(
        {
            "replications": int(m["replications"]),
            "replications_done": int(reps.size),
            "partial": int(reps.size < m["replications"]),
        }
    )
    return ds


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
                fill = (
                    (np.nan if arr.dtype.kind == "f" else -1) if detail else 0
                )  # detail rows of missing batches stay "never filled"
                self.arrays[name] = np.full((rows,) + arr.shape[1:], fill, dtype=arr.dtype)
            if detail:
                if n_detail_rows and start == row:
                    self.arrays[name][start : start + n_detail_rows] = arr[:n_detail_rows]
            else:
                self.arrays[name][row : row + arr.shape[0]] = arr


def _progress(total: int, enabled: bool) -> Any:
    return tqdm(
        total=total,
        unit="rep",
        desc="simulating",
        disable=not (enabled and sys.stderr.isatty()),
        file=sys.stderr,
        smoothing=0.1,
    )
