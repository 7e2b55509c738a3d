"""Running replications in fixed chunks: sequential stopping, and many runs on one pool.

Replication ``r``'s result depends only on the seed and ``r`` (see
:mod:`valuecapture.run.seeds`), so replications ``a..b-1`` can be run on their own
and concatenated: the rows equal those of one run of the larger total, bit for
bit.  This module uses that twice:

* :func:`simulate_to_precision` runs chunks of a fixed size (``chunk``
  replications, independent of the workers) and checks the stopping rule only
  at chunk boundaries.  The same seed therefore gives the same number of
  replications and the same Dataset, whatever ``workers`` or ``batch_size``;
  the Dataset is identical to ``simulate(scenario, n, seed)`` for the ``n`` it
  stopped at.
* :class:`BatchPool` runs the batches of several scenarios (the eight
  counterfactuals of a decomposition, the points of an experiment) on one
  process pool, and can reduce each batch's per-relationship values to
  per-replication statistics inside the worker (:data:`~valuecapture.analysis.heterogeneity.RELATIONSHIP_STATS`)
  before the detail is dropped.
"""

from __future__ import annotations

import json
import math
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import xarray as xr

from valuecapture.run.executors import make_pool, stop_pool, submit_shielded
from valuecapture.scenario.load import Scenario

#: Default chunk size of sequential stopping (replications between two checks).
DEFAULT_CHUNK = 100
#: Default cap on replications of a ``--precision`` run.
DEFAULT_MAX_REPLICATIONS = 100_000
#: Largest value ``outputs.relationship_detail`` accepts (scenario schema).
_DETAIL_CAP = 1_000_000


@dataclass(frozen=True)
class Job:
    """Replications ``start..stop-1`` of ``scenario`` with ``seed``.

    ``relationship_stats``: also return per-replication statistics of relationship
    value for every replication of the job.  ``keep_detail``: keep per-relationship
    detail for replications below this number (as ``outputs.relationship_detail``
    does); ``None`` keeps what the scenario says.
    """

    scenario: Scenario
    seed: int
    start: int
    stop: int
    relationship_stats: bool = False
    keep_detail: int | None = None


def run_job(job: Job) -> dict[str, np.ndarray]:
    """Run one job in this process (see :class:`Job`)."""
    from valuecapture.analysis.heterogeneity import relationship_stats
    from valuecapture.run.simulate import DETAIL_NAMES, run_batch

    detail_limit = int(job.scenario.get("outputs.relationship_detail")) if job.keep_detail is None else int(job.keep_detail)
    sc = job.scenario
    if job.relationship_stats and job.scenario.get("outputs.relationship_detail") < job.stop:
        # only what is reported changes; every random number stays where it was
        sc = job.scenario.with_values({"outputs.relationship_detail": min(job.stop, _DETAIL_CAP)})
    out = run_batch(sc, job.seed, job.start, job.stop)
    if job.relationship_stats:
        rows = job.stop - job.start
        vals = out.get("relationship_value")
        have = 0 if vals is None else vals.shape[0]
        stats = relationship_stats(vals) if have else {}
        for name, arr in (stats or relationship_stats(np.full((1, 1), np.nan))).items():
            full = np.full(rows, np.nan) if arr.dtype.kind == "f" else np.zeros(rows, dtype=arr.dtype)
            full[:have] = arr[:have]
            out[name] = full
    keep = max(0, min(job.stop - job.start, detail_limit - job.start))
    for name in DETAIL_NAMES:
        if name in out:
            if keep:
                out[name] = out[name][:keep]
            else:
                del out[name]
    return out


def _run_indexed(args: tuple[int, Job]) -> tuple[int, dict[str, np.ndarray]]:
    i, job = args
    return i, run_job(job)


class BatchPool:
    """Runs :class:`Job` s serially (one worker) or on a local process pool.

    Use as a context manager; :meth:`run` yields ``(index, outputs)`` as jobs
    finish (in order for one worker).  At most two jobs per worker are in flight,
    which bounds memory.
    """

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = int(workers)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> BatchPool:
        if self.workers > 1:
            # workers leave Ctrl-C to the parent, which stops the run and writes nothing
            self._pool = make_pool(self.workers)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            if exc[0] is None:
                self._pool.shutdown(wait=True)
            else:  # interrupted or failed: stop the workers now
                stop_pool(self._pool)
            self._pool = None

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        indexed = list(enumerate(jobs))
        if self._pool is None:
            for item in indexed:
                yield _run_indexed(item)
            return
        queue = iter(indexed)
        pending: set[Future[Any]] = set()

        def fill() -> None:
            for item in queue:
                pending.add(submit_shielded(self._pool, _run_indexed, item))  # type: ignore[arg-type]
                if len(pending) >= 2 * self.workers:
                    break

        fill()
        while pending:
            done, rest = wait(pending, return_when=FIRST_COMPLETED)
            pending.clear()
            pending.update(rest)
            for fut in done:
                yield fut.result()
            fill()


def split(start: int, stop: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` cut into consecutive batches of at most ``batch_size``."""
    return [(a, min(stop, a + batch_size)) for a in range(start, stop, batch_size)]


def batch_size_for(scenario: Scenario, replications: int, workers: int, batch_size: int | None = None) -> int:
    """The runner's automatic batch size for this many replications (or ``batch_size``)."""
    from valuecapture.model.params import slot_count
    from valuecapture.run.simulate import default_batch_size

    if batch_size is not None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        return int(batch_size)
    return default_batch_size(slot_count(scenario), replications, workers)


def concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join the outputs of consecutive replication ranges (in order) into one set of arrays."""
    names: list[str] = []
    for p in parts:
        names += [n for n in p if n not in names]
    return {n: np.concatenate([p[n] for p in parts if n in p], axis=0) for n in names}


def assemble(scenario: Scenario, seed: int, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """The result Dataset of replications ``0..n-1`` from their concatenated outputs."""
    from valuecapture.model.params import ModelParams
    from valuecapture.run.results import build_dataset

    n = int(arrays["firm_value"].shape[0])
    return build_dataset(scenario, int(seed), n, ModelParams.from_scenario(scenario), arrays)


def run_range(pool: BatchPool, scenario: Scenario, seed: int, start: int, stop: int, batch_size: int, **job: Any) -> dict[str, np.ndarray]:
    """Replications ``start..stop-1`` on ``pool``, as one set of arrays in replication order."""
    ranges = split(start, stop, batch_size)
    parts: list[dict[str, np.ndarray] | None] = [None] * len(ranges)
    for i, out in pool.run(Job(scenario, seed, a, b, **job) for a, b in ranges):
        parts[i] = out
    return concatenate([p for p in parts if p is not None])


# ---------------------------------------------------------------------------
# Sequential stopping
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoppingRule:
    """Stop when the ``level`` CI half-width of the mean of ``variable`` is at most ``precision * |mean|``.

    Checked only after whole chunks of ``chunk`` replications, from
    ``min_replications`` on; at most ``max_replications`` are run.
    """

    precision: float
    chunk: int = DEFAULT_CHUNK
    min_replications: int = DEFAULT_CHUNK
    max_replications: int = DEFAULT_MAX_REPLICATIONS
    level: float = 0.95
    variable: str = "firm_value"

    def __post_init__(self) -> None:
        if not (self.precision > 0 and math.isfinite(self.precision)):
            raise ValueError(f"precision must be a positive number, got {self.precision}")
        if self.chunk < 2:
            raise ValueError(f"chunk must be at least 2 replications, got {self.chunk}")
        if self.max_replications < 2:
            raise ValueError(f"max replications must be at least 2, got {self.max_replications}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")

    def describe(self) -> str:
        return (f"stop when the {self.level:.0%} CI half-width of mean {self.variable} <= {self.precision:g} x |mean|, "
                f"checked every {self.chunk} replications from {self.min_replications}, at most {self.max_replications}")


def simulate_to_precision(
    scenario: Scenario,
    rule: StoppingRule,
    seed: int | None = None,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    progress: bool = False,
) -> xr.Dataset:
    """Run replications chunk by chunk until ``rule`` is met (or its cap is reached).

    The result is ``simulate(scenario, n, seed)`` for the ``n`` at which it stopped
    (bit-identical), with the stopping rule and its outcome in attrs
    (``precision*``).  Tighter precision never stops earlier: the rule is checked
    at the same chunk boundaries on the same replications, and a boundary that
    meets a tight target meets every looser one.
    """
    from valuecapture.model.policies import get_policy
    from valuecapture.analysis.stats import precision_met

    seed = int(scenario.get("run.seed") if seed is None else seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    get_policy(scenario.get("choices.policy"))  # fail early on a bad policy
    bs = batch_size_for(scenario, rule.chunk, workers, batch_size)
    parts: list[dict[str, np.ndarray]] = []
    n = 0
    met, rel = False, float("inf")
    values: list[np.ndarray] = []
    with BatchPool(workers) as pool:
        while n < rule.max_replications:
            stop = min(rule.max_replications, n + rule.chunk)
            part = run_range(pool, scenario, seed, n, stop, bs)
            parts.append(part)
            values.append(part[rule.variable])
            n = stop
            x = np.concatenate(values)
            met, rel = precision_met(x, rule.precision, rule.level)
            if progress and sys.stderr.isatty():
                print(f"\r{n} replications: CI half-width {rel:.2%} of |mean| (target {rule.precision:.2%})", end="", file=sys.stderr, flush=True)
            if met and n >= rule.min_replications:
                break
    if progress and sys.stderr.isatty():
        print(file=sys.stderr)
    ds = assemble(scenario, seed, concatenate(parts))
    ds.attrs.update(
        {
            "precision": float(rule.precision),
            "precision_rule": rule.describe(),
            "precision_chunk": int(rule.chunk),
            "precision_min_replications": int(rule.min_replications),
            "precision_max_replications": int(rule.max_replications),
            "precision_level": float(rule.level),
            "precision_reached": int(bool(met and n >= rule.min_replications)),
            "precision_achieved": float(rel),
            "reproduce": f"valuecapture reproduce <this file>  (or: valuecapture run <scenario> --seed {seed} --precision {rule.precision:g} "
                         f"--chunk {rule.chunk} --max-replications {rule.max_replications}; the same seed stops at the same {n} replications)",
        }
    )
    ds.attrs["precision_json"] = json.dumps({"precision": rule.precision, "chunk": rule.chunk, "min_replications": rule.min_replications,
                                             "max_replications": rule.max_replications, "level": rule.level, "variable": rule.variable})
    return ds
