"""The domain-free engine: cadence and ordering of components."""

from __future__ import annotations

import pytest

from valuecapture.model.engine import Component, Engine
from valuecapture.model.submodels import default_components


class Recorder(Component):
    def __init__(self, name: str, phase: int, cadence: int = 1, start: int = 1):
        self.name, self.phase, self.cadence, self.start = name, phase, cadence, start

    def step(self, state: list, period: int) -> None:
        state.append((period, self.name))


def test_cadence_and_phase_order() -> None:
    comps = [
        Recorder("yearly", 5, cadence=4),
        Recorder("b", 30),
        Recorder("a", 20),
        Recorder("once", 95, cadence=6, start=6),
    ]
    log: list = []
    trace = Engine(comps, periods=6).run(log)
    assert log == trace
    assert log == [
        (1, "yearly"),
        (1, "a"),
        (1, "b"),
        (2, "a"),
        (2, "b"),
        (3, "a"),
        (3, "b"),
        (4, "a"),
        (4, "b"),
        (5, "yearly"),
        (5, "a"),
        (5, "b"),
        (6, "a"),
        (6, "b"),
        (6, "once"),
    ]


def test_duplicate_phases_rejected() -> None:
    with pytest.raises(ValueError, match="distinct phases"):
        Engine([Recorder("a", 10), Recorder("b", 10)], periods=2)


def test_default_components_declare_state() -> None:
    comps = default_components(4, 40)
    assert [c.name for c in sorted(comps, key=lambda c: c.phase)] == [
        "review",
        "acquisition",
        "demand+economics+relationship+retention",  # one fused step (model/submodels/period.py)
        "valuation",
    ]
    aligned = default_components(4, 40, alignment=True)
    assert [c.name for c in sorted(aligned, key=lambda c: c.phase)] == [
        "review",
        "acquisition",
        "demand+economics",
        "alignment",
        "relationship+retention",
        "valuation",
    ]
    for c in comps:
        assert c.writes, c.name
