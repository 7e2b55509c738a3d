"""Where batches run: in this process, in a local process pool, in threads, or on a Dask cluster.

Every executor runs the same pure function, :func:`~valuecapture.run.batch.run_job`, whose
result depends only on its job, and :func:`run_jobs` yields results as they complete (in
any order).  The caller places each batch at its replication rows, so the assembled result
is bit-identical whatever the executor, the number of workers or the order of completion.

There is one submission loop for all four (:func:`run_jobs`): at most two jobs per worker
are in flight, so memory stays bounded by the batch size whatever the number of jobs, and
jobs are taken from the (lazy) job iterator only as slots free up.  The executors differ
only in how a job is submitted and how the loop waits for one to finish (:class:`_Serial`,
:class:`_Pool`, :class:`_Threads`, :class:`_Dask`).

``dask`` uses ``dask.distributed``: with ``scheduler=None`` it starts a ``LocalCluster``
(``workers`` single-threaded worker processes on 127.0.0.1, serving nothing over HTTP);
with ``scheduler="tcp://host:port"`` it sends the jobs to that existing cluster (whose
workers must have the same valuecapture installed; see docs/scaling.md).  dask and
distributed are the optional ``dask`` extra (``pip install 'valuecapture[dask]'``), imported
only when the Dask executor starts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from valuecapture.run.batch import Job, run_job

EXECUTORS = ("serial", "process", "threads", "dask")
#: Seconds the loop waits for a job before it looks at ``stop`` again.
POLL = 0.2

Result = tuple[int, int, dict[str, np.ndarray]]


def run_jobs(
    jobs: Iterable[Job],
    executor: str,
    workers: int,
    scheduler: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> Generator[Result, None, None]:
    """Yield ``(variant index, start, outputs)`` of every job, as they complete.

    ``stop`` is polled between jobs and a few times a second while waiting; when it returns
    True the executor is stopped and KeyboardInterrupt raised here, at a known point (a
    signal handler that only sets a flag cannot be swallowed by whatever code happens to
    run when the signal arrives).  Closing the generator (or any error) stops the workers."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise ValueError("a scheduler address needs the dask executor (--executor dask)")
    backend: _Backend
    if executor == "serial":
        backend = _Serial()
    elif executor == "process":
        backend = _Pool(workers)
    elif executor == "threads":
        backend = _Threads(workers)
    else:
        backend = _Dask(workers, scheduler)
    finished = False
    try:
        queue = iter(jobs)
        pending: set[Any] = set()

        def fill() -> None:
            for job in queue:
                pending.add(backend.submit(job))
                if len(pending) >= backend.in_flight:
                    break

        fill()
        while pending:
            done = backend.wait(pending, POLL)
            if stop is not None and stop():
                raise KeyboardInterrupt
            for fut in done:
                pending.discard(fut)
                yield backend.result(fut)
            fill()
        finished = True
    finally:
        backend.close(finished)


class _Backend:
    """How jobs are submitted and awaited; :func:`run_jobs` is the loop around it."""

    in_flight: int = 1

    def submit(self, job: Job) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def wait(self, pending: set[Any], timeout: float) -> set[Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def result(self, fut: Any) -> Result:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self, finished: bool) -> None:
        pass


class _Done:
    """A finished job's result, standing in for a future (hashed by identity)."""

    __slots__ = ("value",)

    def __init__(self, value: Result):
        self.value = value


class _Serial(_Backend):
    """Each job runs in this process when it is submitted."""

    def submit(self, job: Job) -> Any:
        return _Done(run_job(job))

    def wait(self, pending: set[Any], timeout: float) -> set[Any]:
        return set(pending)

    def result(self, fut: Any) -> Result:
        return fut.value  # type: ignore[no-any-return]


class _Pool(_Backend):
    """A local pool of spawned processes that leave Ctrl-C to this one and die with it."""

    def __init__(self, workers: int):
        self.pool = make_pool(workers)
        self.in_flight = 2 * workers

    def submit(self, job: Job) -> Any:
        return submit_shielded(self.pool, run_job, job)

    def wait(self, pending: set[Any], timeout: float) -> set[Any]:
        done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        return done

    def result(self, fut: Any) -> Result:
        return fut.result()  # type: ignore[no-any-return]

    def close(self, finished: bool) -> None:
        if finished:
            self.pool.shutdown(wait=True)
        else:  # interrupted or failed: drop queued batches and stop the running ones
            stop_pool(self.pool)


class _Threads(_Backend):
    """Threads of this process: the compiled sub-models release the GIL (``nogil``), so
    batches run side by side on several cores without a second copy of the interpreter,
    numba and the package in memory (one process instead of one per worker; the Python
    parts of a period take the GIL in turn).  A stop lets the running batches finish and
    drops the queued ones."""

    def __init__(self, workers: int):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="valuecapture")
        self.in_flight = 2 * workers

    def submit(self, job: Job) -> Any:
        return self.pool.submit(run_job, job)

    def wait(self, pending: set[Any], timeout: float) -> set[Any]:
        done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        return done

    def result(self, fut: Any) -> Result:
        return fut.result()  # type: ignore[no-any-return]

    def close(self, finished: bool) -> None:
        self.pool.shutdown(wait=True, cancel_futures=not finished)


class _Dask(_Backend):
    """A Dask cluster: a LocalCluster of ``workers`` processes, or the one at ``scheduler``."""

    def __init__(self, workers: int, scheduler: str | None):
        _, distributed = import_dask()
        self.distributed = distributed
        self.cluster = None
        try:
            if scheduler is None:
                self.cluster = local_cluster(workers)
                self.client = distributed.Client(self.cluster)
            else:
                self.client = distributed.Client(scheduler, timeout="10s")
        except (OSError, RuntimeError, TimeoutError) as exc:
            if self.cluster is not None:
                self.cluster.close()
            what = f"reach the Dask scheduler {scheduler}" if scheduler else "start a local Dask cluster"
            raise ValueError(f"cannot {what}: {exc}") from None
        self.in_flight = 2 * max(workers, len(self.client.scheduler_info().get("workers", {})) or 1)

    def submit(self, job: Job) -> Any:
        return self.client.submit(run_job, job, pure=False)

    def wait(self, pending: set[Any], timeout: float) -> set[Any]:
        try:
            done, _ = self.distributed.wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    def result(self, fut: Any) -> Result:
        out = fut.result()
        fut.release()
        return out  # type: ignore[no-any-return]

    def close(self, finished: bool) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


#: What a run with ``executor="dask"`` answers where dask is not installed (the ``dask`` extra).
DASK_MISSING = "the Dask executor needs dask and distributed, which are not installed: pip install 'valuecapture[dask]'"


def import_dask() -> tuple[Any, Any]:
    """The ``dask`` and ``distributed`` modules, imported on first use (about 0.5 s).

    They are the optional ``dask`` extra; without them this raises ValueError with
    :data:`DASK_MISSING` (the command line's one-line error, exit 2)."""
    try:
        import dask
        import distributed
    except ImportError:
        raise ValueError(DASK_MISSING) from None
    return dask, distributed


def local_cluster(workers: int) -> Any:
    """A Dask ``LocalCluster`` of ``workers`` single-threaded processes on 127.0.0.1 that
    serves nothing over HTTP: no dashboard, and the scheduler's and workers' HTTP servers
    (which Dask starts anyway) have no routes (no metrics, no info pages, no proxy)."""
    dask, distributed = import_dask()
    with dask.config.set({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}):
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )


# -- the process pool -------------------------------------------------------------------


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that leave Ctrl-C to this one and die with it."""
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context("spawn"), initializer=worker_init, initargs=(os.getpid(),)
    )


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
    starting cannot kill it (it is ignored once :func:`worker_init`, the pool's
    initializer, runs; the parent gets it when unblocked)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        return pool.submit(fn, *args)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(fn, *args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def worker_init(parent: int) -> None:
    """Set up a worker process: Ctrl-C is left to the parent (which stops the workers and
    says how to resume), and the worker dies with its parent however the parent dies
    (:func:`die_with_parent`)."""
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
    if sys.platform.startswith("linux"):
        import ctypes  # lazy: only the Linux branch calls prctl through it

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
