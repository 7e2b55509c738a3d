"""Memory a run will need, estimated from the scenario before anything is allocated.

A run holds, at its peak, one batch's state in every worker (slots x replications in
the batch x the per-slot arrays of the sub-models), and in the parent the consolidated
result twice (the arrays and the NetCDF image built from them, see
:mod:`valuecapture.run.outputs`).  :func:`memory_plan` estimates both from the scenario alone;
the runner refuses a run whose estimate exceeds the memory available to this process
(``MemAvailable``, and the cgroup limit where one is set) with one line that gives the
estimate, the limit and what to change.  The per-slot figures are measured
(docs/safety.md) and err on the high side; ``tests/test_safety.py`` checks the estimate
against a measured peak.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from valuecapture.model.params import slot_count
from valuecapture.scenario.load import Scenario

#: Resident memory of a worker or parent process with valuecapture, numpy, numba and xarray loaded.
PROCESS_BYTES = 320 * 2**20
#: Bytes per customer slot and replication of a batch's state, before the terms below:
#: about 40 float64 arrays of state, draws and temporaries (measured: 365 B with the
#: baseline scenario's insight lag 4 and mean degree 4, against 472 B estimated).
SLOT_BYTES = 8 * 40
#: Per slot, per period of insight lag (the ring buffer of economic profit).
LAG_BYTES = 8
#: Per slot, per unit of mean network degree (adjacency lists and the ties' draws).
DEGREE_BYTES = 28
#: Per slot with alignment on (the customer's view and its draws).
ALIGNMENT_BYTES = 8 * 24
#: Per kept per-relationship detail value (nine outputs per slot, mostly float64).
DETAIL_BYTES = 64
#: Per slot with relationship stages on (the stage now and at the start, int8).
STAGE_BYTES = 2
#: Per-period firm series of a replication (fifteen, five more with alignment).
PERIOD_SERIES, ALIGNMENT_SERIES = 15, 5


class MemoryRefused(ValueError):
    """The run cannot fit in the memory available (bad input: exit code 2)."""


@dataclass(frozen=True)
class MemoryPlan:
    """Estimated peak memory of a run, in bytes."""

    workers: int
    batch_size: int
    batch: int  # one batch's state
    result: int  # the consolidated result (held twice while it is written)
    total: int
    available: int | None

    @property
    def fits(self) -> bool:
        return self.available is None or self.total <= self.available

    def describe(self) -> str:
        where = (
            f"{self.workers} worker{'s' if self.workers > 1 else ''} x {_size(PROCESS_BYTES + self.batch)}"
            if self.workers > 1
            else f"one process, {_size(self.batch)} per batch"
        )
        avail = "unknown" if self.available is None else _size(self.available)
        return (
            f"about {_size(self.total)} ({where} of {self.batch_size} replication{'s' if self.batch_size > 1 else ''}, "
            f"result {_size(self.result)}); available {avail}"
        )

    def check(self) -> None:
        """Raise :class:`MemoryRefused` saying what to change when the run cannot fit."""
        if self.fits:
            return
        raise MemoryRefused(
            f"this run needs {self.describe()}; it is refused before it starts: lower customers.count or "
            "customers.max_slots (slots per replication), outputs.relationship_detail, --replications, --workers or "
            "--batch-size"
        )


def _size(n: float) -> str:
    for div, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB")):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n / 2**10:.0f} KiB"


def batch_bytes(scenario: Scenario, batch_size: int) -> int:
    """Estimated peak bytes of one batch of ``batch_size`` replications."""
    slots = slot_count(scenario)
    g = scenario.get
    degree = (
        g("network.mean_degree") if g("network.generator") != "none" and g("heterogeneity.interdependence") else 0.0
    )
    per_slot = SLOT_BYTES + LAG_BYTES * (g("capabilities.insight_lag") + 1) + DEGREE_BYTES * degree
    if g("alignment.enabled"):
        per_slot += ALIGNMENT_BYTES
    if g("stages.enabled"):
        per_slot += STAGE_BYTES
    return int(math.ceil(per_slot * slots * batch_size)) + batch_size * replication_bytes(scenario)


def replication_bytes(scenario: Scenario) -> int:
    """Bytes one replication adds to the result, per-relationship detail aside."""
    g = scenario.get
    periods = g("horizon.periods")
    models = len(scenario.business_models)
    series = PERIOD_SERIES + (ALIGNMENT_SERIES if g("alignment.enabled") else 0)
    n = 8 * (20 + series * periods + models * (periods + 1))
    n += 8 * (4 + 51)  # the network summaries and customers by degree 0..50 (model/network_outputs.py)
    if g("portfolio.track"):
        labels = 6 * 8 + 4  # at most the built-ins' classes
        n += 4 * (periods * labels + labels * labels)
    if g("stages.enabled"):  # stage shares by period (and the counts behind them), transition counts
        k = len(g("stages.names"))
        n += 12 * periods * k + 8 * k * (k + 1)
    return n


def result_bytes(scenario: Scenario, replications: int, detail: bool = True) -> int:
    """Bytes of the consolidated result of ``replications`` replications."""
    n = replications * replication_bytes(scenario)
    if detail:
        per_slot = DETAIL_BYTES
        if scenario.get("outputs.revenue_panel"):  # revenue by year, initial age, active flag
            per_slot += 8 * -(-scenario.get("horizon.periods") // scenario.get("horizon.periods_per_year")) + 9
        if scenario.get("stages.enabled"):  # initial and final stage
            per_slot += 2
        rows = min(replications, scenario.get("outputs.relationship_detail"))
        n += rows * slot_count(scenario) * per_slot
        if scenario.get("outputs.network"):  # two int32 slots per tie drawn: at most slots x (mean_degree / 2 + 1)
            n += rows * 8 * int(slot_count(scenario) * (scenario.get("network.mean_degree") / 2 + 1))
    return n


def memory_plan(
    scenario: Scenario,
    replications: int,
    workers: int,
    batch_size: int,
    variants: int = 1,
    detail: bool = True,
    threads: bool = False,
) -> MemoryPlan:
    """The estimated peak of ``variants`` runs of ``scenario`` joined into one result (``threads``:
    the workers are threads of this process, each with a batch, instead of processes)."""
    batch = batch_bytes(scenario, batch_size)
    result = variants * result_bytes(scenario, replications, detail)
    in_flight = 2 * workers * batch_size * replication_bytes(scenario)
    if threads:
        total = PROCESS_BYTES + 2 * result + in_flight + workers * batch
    elif workers > 1:
        total = PROCESS_BYTES + 2 * result + in_flight + workers * (PROCESS_BYTES + batch)
    else:
        total = PROCESS_BYTES + 2 * result + batch
    return MemoryPlan(workers, batch_size, batch, result, total, available_memory())


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smaller of the kernel's ``MemAvailable``
    and what the cgroup limit leaves (None where neither can be read)."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            current = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            found.append(max(0, int(limit) - current))
    except (OSError, ValueError):
        pass
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError):
            pass
    return min(found) if found else None
