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
import os
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from valuecapture.scenario.load import Scenario

EXECUTORS = ("serial", "process", "dask")

Task = tuple[Scenario, int, int, int]


def run_task(task: Task) -> tuple[int, dict[str, np.ndarray]]:
    """Run one batch ``(scenario, seed, start, stop)``; returns ``(start, outputs)``."""
    from valuecapture.run.simulate import run_batch

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
    pool = make_pool(workers)
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
        if finished:
            pool.shutdown(wait=True)
        else:  # interrupted or failed: drop queued batches and stop the running ones
            stop_pool(pool)


def stop_pool(pool: ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Stop a pool at once: terminate its workers, drop queued tasks, and let its manager thread end.

    A worker terminated while it was sending a result leaves half a message in the result
    pipe; the pool's manager thread would wait for the rest forever (and the interpreter
    with it, at exit).  This process's own copy of the pipe's write end is closed once the
    workers are gone, so the manager thread reads end-of-file and shuts the pool down."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    thread = getattr(pool, "_executor_manager_thread", None)  # shutdown() drops these references
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout)
    pool.shutdown(wait=False, cancel_futures=True)
    if writer is not None:
        try:
            writer.close()
        except OSError:
            pass
    if thread is not None:
        thread.join(timeout)


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


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that leave Ctrl-C to this one and die with it."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=worker_init, initargs=(os.getpid(),))


def worker_init(parent: int) -> None:
    """Set up a worker process: Ctrl-C is left to the parent (which stops the workers and
    says how to resume), and the worker dies with its parent however the parent dies
    (:func:`die_with_parent`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    die_with_parent(parent)


#: Seconds between two checks of the watchdog thread where the kernel cannot send a signal.
WATCH_INTERVAL = 1.0


def die_with_parent(parent: int) -> None:
    """Make this process exit when the process ``parent`` is gone, even after ``kill -9``.

    On Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``);
    elsewhere a daemon thread checks every :data:`WATCH_INTERVAL` seconds whether the parent
    changed.  A parent that died before this ran is caught by the first check."""
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0:  # PR_SET_PDEATHSIG = 1
                if os.getppid() != parent:  # the parent died before the prctl
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(WATCH_INTERVAL)

    threading.Thread(target=watch, name="valuecapture-watch-parent", daemon=True).start()


def local_cluster(workers: int) -> Any:
    """A Dask ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1 that
    serves nothing over HTTP: no dashboard, and the scheduler's and workers' HTTP servers
    (which Dask starts anyway) have no routes (no metrics, no info pages, no proxy)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)


def _dask(tasks: Iterable[Task], workers: int, scheduler: str | None) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ValueError(f"the dask executor needs dask.distributed: {exc}") from None
    cluster = None
    try:
        if scheduler is None:
            cluster = local_cluster(workers)
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
