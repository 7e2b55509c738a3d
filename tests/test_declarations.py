"""The sub-models' declarations of the state they read and write, checked by running them.

Each sub-model is run, at several periods of a real simulation, on two copies of the state
just before its step: a clean one, and one whose fields it does not declare in ``reads``
are poisoned (floats NaN, integers shifted by one, booleans flipped).  A field it changes
that is not in ``writes`` fails (the clean step is compared with the state before it);
an undeclared read fails, because the poisoned step then writes other values than the
clean one.  Exact comparisons: the same code runs on the same numbers and random
streams, so nothing is statistical here.  The engine's own check of the phase order
against the declarations (``reads_previous``) is tested at the end.
"""

from __future__ import annotations

import copy
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from valuecapture.model.batch import components, initial_state
from valuecapture.model.engine import Component, Engine, check_order
from valuecapture.model.params import ModelParams
from valuecapture.model.policies import get_policy
from valuecapture.model.population import generate_customers, generate_network
from valuecapture.model.state import BatchState
from valuecapture.model.submodels import default_components
from valuecapture.run.seeds import batch_streams, philox_keys
from valuecapture.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["customers.count=300", "horizon.periods=12", "acquisition.prospects_per_year=200"]
CASES = {
    # every sub-model and feature: alignment with internal alignment and two interaction
    # spaces, portfolio tracking, contagion and referrals, capacity-bound account managers
    "alignment": ("alignment.toml", [*SMALL, "capabilities.account_managers=1"]),
    "baseline": ("baseline.toml", SMALL),
    # the revenue panel (outputs.revenue_panel) on top of the baseline's sub-models
    "revenue_panel": ("classroom.toml", ["outputs.revenue_panel=true", "horizon.periods=12"]),
    # relationship stages with every effect and shift, on the alignment scenario (the split period step)
    "stages": ("classroom_stages.toml", ["horizon.periods=12", "alignment.enabled=true"]),
}
#: Fields that are not state: the run's parameters and inputs, and the prefix width (derived from next_free).
CONTEXT = {"params", "base", "network", "keys", "policy", "width", "alignment", "portfolio", "stages", "records"}
PERIODS_CHECKED = (1, 4, 5, 8, 12)


def _names(state: BatchState) -> dict[str, Any]:
    """Every declarable field of ``state`` by its declared name."""
    out = {f.name: getattr(state, f.name) for f in fields(state) if f.name not in CONTEXT}
    out.update({f"records.{k}": v for k, v in state.records.items()})
    for rec in ("alignment", "portfolio", "stages"):
        sub = getattr(state, rec)
        if sub is not None:
            out.update({f"{rec}.{f.name}": getattr(sub, f.name) for f in fields(sub)})
    return out


def _poisoned(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _poisoned(v) for k, v in x.items()}
    if not isinstance(x, np.ndarray):
        return x
    if x.dtype == bool:
        return ~x
    if np.issubdtype(x.dtype, np.integer):
        return x + np.ones((), dtype=x.dtype)
    return np.full_like(x, np.nan)


def _assign(state: BatchState, name: str, value: Any) -> None:
    head, _, tail = name.partition(".")
    if head == "records":
        state.records[tail] = value
    elif tail:
        setattr(getattr(state, head), tail, value)
    else:
        setattr(state, head, value)


def _same(a: Any, b: Any) -> np.ndarray | bool:
    """Elementwise 'unchanged' (NaN equals NaN) for arrays; whole-value for the rest."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape:
        return (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(np.all(_same(a[k], b[k])) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    return a == b


def _snapshots(case: str) -> tuple[list[Component], dict[tuple[str, int], BatchState]]:
    """The state just before each component's step at each checked period, from one run."""
    path, overrides = CASES[case]
    sc = load_scenario(ROOT / "scenarios" / path, overrides)
    p = ModelParams.from_scenario(sc)
    reps = range(3)
    setup, keys = batch_streams(sc.get("run.seed"), reps), philox_keys(sc.get("run.seed"), reps)
    base = generate_customers(p, setup["population"])
    state = initial_state(
        p, base, generate_network(p, base.segment, setup["network"]), keys, get_policy(sc.get("choices.policy"))
    )
    comps = components(p)  # the sub-models, and the revenue panel with outputs.revenue_panel
    taken: dict[tuple[str, int], BatchState] = {}
    for c in comps:
        step = c.step

        def watched(s: BatchState, period: int, c: Component = c, step: Any = step) -> None:
            if period in PERIODS_CHECKED or period == p.periods:
                taken[c.name, period] = copy.deepcopy(s)
            step(s, period)

        c.step = watched  # type: ignore[method-assign]
    Engine(comps, p.periods).run(state)
    for c in comps:
        del c.step  # the class's own step again
    return comps, taken


@pytest.fixture(scope="module", params=sorted(CASES))
def snapshots(request: pytest.FixtureRequest) -> tuple[list[Component], dict[tuple[str, int], BatchState]]:
    return _snapshots(request.param)


def test_every_sub_model_writes_only_what_it_declares_and_reads_only_what_it_declares(
    snapshots: tuple[list[Component], dict[tuple[str, int], BatchState]],
) -> None:
    comps, taken = snapshots
    by_name = {c.name: c for c in comps}
    checked = set()
    for (name, period), before in taken.items():
        c = by_name[name]
        clean = copy.deepcopy(before)
        c.step(clean, period)
        was, now = _names(before), _names(clean)
        for f, value in now.items():
            if f not in c.writes:
                assert f in was and np.all(_same(value, was[f])), f"{name} (period {period}) changes {f!r} undeclared"
        poisoned = copy.deepcopy(before)
        for f, value in was.items():
            if f not in c.reads:
                _assign(poisoned, f, _poisoned(value))
        c.step(poisoned, period)
        got = _names(poisoned)
        for f in c.writes:
            if f not in now:
                continue  # a feature that is off
            if f not in was:  # created by the step: all of it is written
                assert np.all(_same(got.get(f), now[f])), f"{name} (period {period}) reads undeclared fields for {f!r}"
                continue
            changed = ~np.asarray(_same(now[f], was[f]), dtype=bool)
            ok = np.asarray(_same(got[f], now[f]), dtype=bool)
            assert np.all(ok | ~changed), f"{name} (period {period}): {f!r} depends on a field it does not read"
        checked.add(name)
    assert checked == set(by_name)  # every sub-model was run


def test_the_engine_checks_the_phase_order_against_the_declarations() -> None:
    comps = default_components(4, 12, alignment=True, portfolio_models=("kraljic",))
    check_order(comps)  # the shipped order agrees
    by_name = {c.name: c for c in comps}
    back, front = by_name["relationship+retention"], by_name["demand+economics"]
    back.phase = 25  # churn before the customer's view moves: retention would see old trust
    with pytest.raises(
        ValueError, match="'relationship\\+retention' \\(phase 25\\) reads 'trust', which 'alignment' writes later"
    ):
        Engine(comps, 12)
    back.phase = 40
    front.reads_previous = (*front.reads_previous, "demand")  # demand runs before economics, in the same step
    with pytest.raises(
        ValueError, match="'demand\\+economics' declares 'demand' as last period's value, but no component later"
    ):
        check_order(comps)
    front.reads_previous = tuple(f for f in front.reads_previous if f not in ("demand", "share_of_wallet"))
    with pytest.raises(
        ValueError,
        match="'demand\\+economics' .* reads 'share_of_wallet', which 'relationship\\+retention' writes later",
    ):
        check_order(comps)


def test_a_fused_step_declares_what_its_parts_do() -> None:
    """Last period's values inside a fused step are those written after the step, not by a
    later part of it (economics reads trust before relationship writes it: one step)."""
    fused = {c.name: c for c in default_components(4, 12)}["demand+economics+relationship+retention"]
    assert "trust" in fused.reads and "trust" in fused.writes and "trust" not in fused.reads_previous
    assert {"value_by_model", "records.acquired"} <= set(fused.reads)
    front = {c.name: c for c in default_components(4, 12, alignment=True)}["demand+economics"]
    assert {"trust", "share_of_wallet", "status", "alignment.customer_level"} <= set(front.reads_previous)


def test_a_misspelt_declaration_fails_when_the_engine_runs() -> None:
    class Typo(Component):
        name = "typo"
        phase = 1
        reads = ("trsut",)

        def step(self, state: Any, period: int) -> None:
            pass

    _, taken = _snapshots("baseline")
    state = next(iter(taken.values()))
    with pytest.raises(ValueError, match="'typo' declares 'trsut'"):
        Engine([Typo()], 1).run(state)
