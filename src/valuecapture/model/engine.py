"""The domain-free engine: a simpy clock that runs components at their cadence.

The engine knows time and order, nothing about customers.  A component is any
object with ``name``, ``cadence`` (periods between runs), ``start`` (first
period), ``phase`` (order inside a period, 0-99) and ``step(state, period)``.
Each component runs as its own simpy process; within one period components run
in ascending ``phase`` (simpy time is measured in hundredths of a period, so
ordering is exact integer arithmetic).  ``step`` is a vectorized update of the
struct-of-arrays ``state``; the engine never loops over customers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import simpy

TICKS_PER_PERIOD = 100


class Component(ABC):
    """A sub-model scheduled by the engine.

    Subclasses set ``name``, ``phase``, optionally ``cadence`` and ``start``,
    declare the state variables they ``reads`` and ``writes``, and implement
    :meth:`step`.
    """

    name: str = "component"
    cadence: int = 1
    start: int = 1
    phase: int = 50
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    @abstractmethod
    def step(self, state: Any, period: int) -> None:
        """Advance ``state`` for ``period`` (1-based) in place."""


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

    def run(self, state: Any) -> list[tuple[int, str]]:
        """Run to the end of the horizon; returns the (period, component) trace."""
        env = simpy.Environment()
        trace: list[tuple[int, str]] = []
        for comp in self.components:
            env.process(self._process(env, comp, state, trace))
        env.run(until=self.periods * TICKS_PER_PERIOD)
        return trace

    def _process(
        self, env: simpy.Environment, comp: Component, state: Any, trace: list[tuple[int, str]]
    ) -> Iterator[simpy.Event]:
        period = comp.start
        yield env.timeout((period - 1) * TICKS_PER_PERIOD + comp.phase)
        while period <= self.periods:
            comp.step(state, period)
            trace.append((period, comp.name))
            period += comp.cadence
            if period > self.periods:
                return
            yield env.timeout(comp.cadence * TICKS_PER_PERIOD)
