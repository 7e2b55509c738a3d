"""Measuring helpers: peak memory of a process tree, the machine, runs in fresh processes."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULT_TAG = "@@BENCH@@"
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class TreeMemorySampler(threading.Thread):
    """Samples the summed RSS and PSS of this process and all its descendants (Linux /proc).

    RSS counts shared pages (the numpy/scipy libraries every worker maps) once per
    process, so the RSS sum is an upper bound on the memory the tree uses; PSS
    splits shared pages among the processes that share them.
    """

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop_event = threading.Event()
        self.available = Path("/proc/self/statm").exists()

    def _tree(self) -> list[int]:
        try:  # /proc/PID/task/TID/children: cheap, no scan of every process
            tree, frontier = [os.getpid()], [os.getpid()]
            while frontier:
                nxt = []
                for pid in frontier:
                    for task in Path(f"/proc/{pid}/task").iterdir():
                        nxt.extend(int(c) for c in (task / "children").read_text().split())
                tree.extend(nxt)
                frontier = nxt
            return tree
        except OSError:
            pass
        parent: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_bytes()
                except OSError:
                    continue
                parent[int(d)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
        tree, frontier = [os.getpid()], {os.getpid()}
        while frontier:
            frontier = {pid for pid, pp in parent.items() if pp in frontier}
            tree.extend(frontier)
        return tree

    def sample(self, with_pss: bool | None = None) -> None:
        """RSS from /proc/PID/statm (cheap) every time, PSS from smaps_rollup (walks the
        page tables) every tenth time."""
        rss = pss = 0
        pids = self._tree()
        with_pss = self.samples % 10 == 0 if with_pss is None else with_pss
        for pid in pids:
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
                if with_pss:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
            except OSError:
                pass
        self.peak_rss = max(self.peak_rss, rss)
        if with_pss:
            self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, len(pids))
        self.samples += 1

    def run(self) -> None:
        while self.available and not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        if self.available:
            self.sample(with_pss=True)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import numba
    import numpy
    import scipy
    import simpy

    import valuecapture

    cpu = platform.processor() or platform.machine()
    caches = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for idx in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
            level, kind = (idx / "level").read_text().strip(), (idx / "type").read_text().strip()
            if kind != "Instruction":
                caches[f"L{level}"] = (idx / "size").read_text().strip()
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) * 1024 / 1e9, 1)
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable = os.cpu_count()
    commit = None
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
            or None
        )
        if (
            commit
            and subprocess.run(
                ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        ):
            commit += " (src/ modified)"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "caches_per_core": caches,
        "cpus_usable": usable,
        "cpu_count": os.cpu_count(),
        "memory_gb": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "simpy": simpy.__version__,
        "numba": numba.__version__,
        "valuecapture": valuecapture.__version__,
        "git_commit": commit,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def in_child(task: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``task`` of ``benchmarks/run.py`` in a fresh interpreter and return its result.

    A fresh process per measurement keeps peak memory its own (and its worker pool's)
    and starts every timing from the same state; interpreter start-up and imports
    are not timed.
    """
    cmd = [sys.executable, str(HERE / "run.py"), "--_child", task, json.dumps(spec)]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed (exit {proc.returncode}): {task} {spec}")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    raise RuntimeError(f"benchmark child printed no result: {proc.stdout[-2000:]}")


def report_child(result: dict[str, Any]) -> None:
    print(RESULT_TAG + json.dumps(result, default=_plain), flush=True)


def _plain(obj: Any) -> Any:
    """numpy scalars as Python numbers."""
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def rusage_mb() -> dict[str, float]:
    """Max RSS (getrusage) of this process and of the largest finished child, in MB."""
    return {
        "self_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
        "largest_child_max_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e6,
    }


def _cpu_seconds() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class Stopwatch:
    """Wall time and CPU time (user + system) of this process and of its children
    that finished inside the block (a worker pool shut down in it)."""

    def __enter__(self) -> Stopwatch:
        self.t0 = time.perf_counter()
        self.c0 = _cpu_seconds()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.t0
        c1 = _cpu_seconds()
        self.cpu = c1[0] - self.c0[0]
        self.cpu_children = c1[1] - self.c0[1]

    @property
    def cpu_total(self) -> float:
        """CPU seconds of this process and of its children."""
        return self.cpu + self.cpu_children


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[Stopwatch, Any, list[float]]:
    """Run ``fn`` ``repeat`` times: the Stopwatch and result of the run with the least
    CPU time, and every run's CPU seconds (the machine is shared: best of repeats)."""
    runs = []
    for _ in range(max(1, repeat)):
        with Stopwatch() as sw:
            result = fn()
        runs.append((sw, result))
    best = min(runs, key=lambda r: r[0].cpu_total)
    return best[0], best[1], [sw.cpu_total for sw, _ in runs]
