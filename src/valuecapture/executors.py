"""Where batches run: in this process, in a local process pool, or on a Dask cluster.

Every executor runs the same pure task, ``run_batch(scenario, seed, start,
stop)``, whose result depends only on its arguments, and yields results as
they complete (in any order).  The caller places each batch at its replication
rows, so the assembled result is bit-identical whatever the executor, the
number of workers or the order of completion.  At most ``2 x workers``
batches are in flight, so memory stays bounded by the batch size.

``dask`` uses ``dask.distributed``: with ``scheduler=None`` it starts a
``LocalCluster`` (``workers`` single-threaded worker processes on 127.0.0.1);
with ``scheduler="tcp://host:port"`` it sends the batches to that existing
cluster (whose workers must have the same valuecapture installed; see
docs/scaling.md).
"""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .scenario import Scenario

EXECUTORS = ("serial", "process", "dask")

Task = tuple[Scenario, int, int, int]


def run_task(task: Task) -> tuple[int, dict[str, np.ndarray]]:
    """Run one batch ``(scenario, seed, start, stop)``; returns ``(start, outputs)``."""
    from .runner import run_batch

    scenario, seed, start, stop = task
    return start, run_batch(scenario, seed, start, stop)


def run_tasks(tasks: Iterable[Task], executor: str, workers: int, scheduler: str | None = None, stop: Callable[[], bool] | None = None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(start, outputs)`` of every task, as they complete.

    ``stop`` (process pool): polled a few times a second while waiting; when it
    returns True the pool is stopped and KeyboardInterrupt raised here, at a
    known point (a signal handler that only sets a flag cannot be swallowed by
    whatever code happens to run when the signal arrives)."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise ValueError("a scheduler address needs the dask executor (--executor dask)")
    if executor == "serial":
        for task in tasks:
            yield run_task(task)
    elif executor == "process":
        yield from _process_pool(tasks, workers, stop)
    else:
        yield from _dask(tasks, workers, scheduler)


def _process_pool(tasks: Iterable[Task], workers: int, stop: Callable[[], bool] | None = None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=ignore_sigint)
    finished = False
    try:
        pending: set[Future[Any]] = set()
        queue = iter(tasks)
        for task in queue:  # keep at most 2 batches per worker in flight: bounded memory
            pending.add(submit_shielded(pool, run_task, task))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if stop is not None and stop():
                raise KeyboardInterrupt
            for fut in done:
                yield fut.result()
            for task in queue:
                pending.add(submit_shielded(pool, run_task, task))
                if len(pending) >= 2 * workers:
                    break
        finished = True
    finally:
        if not finished:  # interrupted or failed: drop queued batches and stop the running ones
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
        pool.shutdown(wait=finished, cancel_futures=True)


def submit_shielded(pool: ProcessPoolExecutor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``pool.submit(fn, *args)`` with SIGINT blocked in this thread: a worker the submit
    spawns inherits the blocked signal mask, so a Ctrl-C that arrives while it is still
    starting cannot kill it (it is ignored once :func:`ignore_sigint`, the pool's
    initializer, runs; the parent gets it when unblocked)."""
    import signal

    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        return pool.submit(fn, *args)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(fn, *args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_sigint() -> None:
    """Worker processes leave Ctrl-C to the parent, which stops them and says how to resume."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _dask(tasks: Iterable[Task], workers: int, scheduler: str | None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ValueError(f"the dask executor needs dask.distributed: {exc}") from None
    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="10s")
    except (OSError, RuntimeError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        what = f"reach the Dask scheduler {scheduler}" if scheduler else "start a local Dask cluster"
        raise ValueError(f"cannot {what}: {exc}") from None
    try:
        limit = 2 * max(workers, len(client.scheduler_info().get("workers", {})) or 1)
        queue = iter(tasks)
        futures = [client.submit(run_task, t, pure=False) for _, t in zip(range(limit), queue)]
        ac = as_completed(futures)
        for fut in ac:
            result = fut.result()
            fut.release()
            yield result
            for task in queue:
                ac.add(client.submit(run_task, task, pure=False))
                break
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
