"""The domain-free engine: a simpy clock that runs components at their cadence.

The engine knows time and order, nothing about customers.  A component is any
object with ``name``, ``cadence`` (periods between runs), ``start`` (first
period), ``phase`` (order inside a period, 0-99) and ``step(state, period)``.
Each component runs as its own simpy process; within one period components run
in ascending ``phase`` (simpy time is measured in hundredths of a period, so
ordering is exact integer arithmetic).  ``step`` is a vectorized update of the
struct-of-arrays ``state``; the engine never loops over customers.

Each component declares the state it ``reads`` and ``writes`` (names of the state's
fields; ``records.x`` for a per-period record, ``alignment.x`` and ``portfolio.x`` for a
field of an optional sub-record), and which of its reads a component later in the
period also writes (``reads_previous``): it sees them before that write, that is last
period's value, or for a record of this period the contributions made so far.  The engine
checks the phase order against these declarations when it is built (:func:`check_order`)
and that every declared name exists on the state when it runs; tests/test_engine.py
checks the declarations themselves, by running each sub-model on a state whose
undeclared fields are poisoned.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Sequence
from typing import Any

import simpy

TICKS_PER_PERIOD = 100


class Component(ABC):
    """A sub-model scheduled by the engine.

    Subclasses set ``name``, ``phase``, optionally ``cadence`` and ``start``,
    declare the state variables they ``reads`` and ``writes`` (and which reads are
    last period's values, ``reads_previous``), and implement :meth:`step`.
    """

    name: str = "component"
    cadence: int = 1
    start: int = 1
    phase: int = 50
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    reads_previous: tuple[str, ...] = ()

    @abstractmethod
    def step(self, state: Any, period: int) -> None:
        """Advance ``state`` for ``period`` (1-based) in place."""


class Part:
    """A sub-model that runs inside a fused component instead of as its own process: it
    declares what it reads and writes like a :class:`Component` (``reads_previous``: what a
    part or component after it writes), and the fused component runs its equations for
    each slot in the order of its parts (:func:`fused_declarations`)."""

    name: str = "part"
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    reads_previous: tuple[str, ...] = ()


def fused_declarations(parts: Sequence[Part]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``reads``, ``writes`` and ``reads_previous`` of a component that runs ``parts`` in this
    order: everything they read and write; last period's values are those a part reads
    before a later part writes them no longer count (the fused component itself reads them
    before it writes them), those written after the component still do."""
    reads = tuple(dict.fromkeys(f for q in parts for f in q.reads))
    writes = tuple(dict.fromkeys(f for q in parts for f in q.writes))
    previous = []
    for k, q in enumerate(parts):
        later = {f for r in parts[k + 1 :] for f in r.writes}
        previous += [f for f in q.reads_previous if f not in later]
    return reads, writes, tuple(dict.fromkeys(previous))


class Engine:
    """Run components over ``periods`` periods with a simpy Environment."""

    def __init__(self, components: Iterable[Component], periods: int):
        self.components: Sequence[Component] = list(components)
        self.periods = int(periods)
        phases = [(c.phase, c.name) for c in self.components]
        if len({p for p, _ in phases}) != len(phases):
            raise ValueError(f"components must have distinct phases, got {phases}")
        for c in self.components:
            if not (0 <= c.phase < TICKS_PER_PERIOD and c.cadence >= 1 and c.start >= 1):
                raise ValueError(
                    f"component {c.name!r}: phase must be in [0, {TICKS_PER_PERIOD}), cadence and start >= 1"
                )
        check_order(self.components)

    def run(self, state: Any) -> list[tuple[int, str]]:
        """Run to the end of the horizon; returns the (period, component) trace."""
        check_names(self.components, state)
        env = simpy.Environment()
        trace: list[tuple[int, str]] = []
        for comp in self.components:
            env.process(self._process(env, comp, state, trace))
        env.run(until=self.periods * TICKS_PER_PERIOD)
        return trace

    def _process(
        self, env: simpy.Environment, comp: Component, state: Any, trace: list[tuple[int, str]]
    ) -> Generator[simpy.Event, Any, None]:
        period = comp.start
        yield env.timeout((period - 1) * TICKS_PER_PERIOD + comp.phase)
        while period <= self.periods:
            comp.step(state, period)
            trace.append((period, comp.name))
            period += comp.cadence
            if period > self.periods:
                return
            yield env.timeout(comp.cadence * TICKS_PER_PERIOD)


def check_order(components: Sequence[Component]) -> None:
    """Check the phase order against the declarations: a component that reads a field a
    later component of the period writes must declare it in ``reads_previous`` (it reads
    last period's value), and a field declared there that some component writes must be
    written by a later one.  So moving
    a component to another phase, or a wrong declaration, fails here instead of silently
    changing which value a sub-model sees."""
    ordered = sorted(components, key=lambda c: c.phase)
    written = {f for c in ordered for f in c.writes}
    for k, c in enumerate(ordered):
        if not set(c.reads_previous) <= set(c.reads):
            raise ValueError(f"component {c.name!r}: reads_previous must be among its reads")
        later = {f: w.name for w in reversed(ordered[k + 1 :]) for f in w.writes}
        for f in c.reads:
            if f in later and f not in c.reads_previous:
                raise ValueError(
                    f"component {c.name!r} (phase {c.phase}) reads {f!r}, which {later[f]!r} writes later in the "
                    "period: declare it in reads_previous if it means last period's value, or reorder the phases"
                )
        for f in c.reads_previous:
            if f in written and f not in later:  # (not written at all: a feature that is off)
                raise ValueError(
                    f"component {c.name!r} declares {f!r} as last period's value, "
                    "but no component later in the period writes it"
                )


def resolve(state: Any, name: str) -> Any:
    """The state field a declaration names (``x``, ``records.x``, ``alignment.x``, ...)."""
    head, _, tail = name.partition(".")
    obj = getattr(state, head)
    if not tail:
        return obj
    return obj[tail] if isinstance(obj, dict) else getattr(obj, tail)


def check_names(components: Sequence[Component], state: Any) -> None:
    """Every field a component declares exists on ``state`` (a misspelt declaration fails).
    Fields of a sub-record that is absent (``alignment`` off) and records that appear with
    a feature (the alignment series) are not required."""
    for c in components:
        for f in (*c.reads, *c.writes):
            head, _, tail = f.partition(".")
            obj = getattr(state, head, _MISSING)
            if obj is _MISSING or (tail and obj is not None and not isinstance(obj, dict) and not hasattr(obj, tail)):
                raise ValueError(f"component {c.name!r} declares {f!r}, which the state does not have")


_MISSING = object()
