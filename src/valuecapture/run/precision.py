"""Sequential stopping: run replications in fixed chunks until the mean is known precisely enough.

Replication ``r``'s result depends only on the seed and ``r`` (see
:mod:`valuecapture.run.seeds`), so replications ``a..b-1`` can be run on their own and
joined: the rows equal those of one run of the larger total, bit for bit.
:func:`simulate_to_precision` runs chunks of a fixed size (``chunk`` replications,
independent of the workers) through the common :class:`~valuecapture.run.simulate.Runner`
and checks the stopping rule only at chunk boundaries.  The same seed therefore gives the
same number of replications and the same Dataset, whatever ``workers``, ``batch_size`` or
executor; the Dataset is identical to ``simulate(scenario, n, seed)`` for the ``n`` it
stopped at, and a run interrupted and resumed from its store stops at the same ``n``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import stats as sps

from valuecapture.model.params import slot_count
from valuecapture.run.simulate import Plan, Runner, check_run, default_batch_size, stored_plan
from valuecapture.scenario.load import Scenario

#: Default chunk size of sequential stopping (replications between two checks).
DEFAULT_CHUNK = 100
#: Default cap on replications of a ``--precision`` run.
DEFAULT_MAX_REPLICATIONS = 100_000
#: Default level of the confidence interval.
LEVEL = 0.95


def mean_ci_halfwidth(x: np.ndarray, level: float = LEVEL) -> float:
    """Half-width of the t confidence interval of the mean: ``t_{n-1} s / sqrt(n)``."""
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 2:
        return float("inf")
    return float(sps.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))


def precision_met(x: np.ndarray, precision: float, level: float = LEVEL) -> tuple[bool, float]:
    """Whether the CI half-width of the mean is at most ``precision * |mean|``; and the relative half-width."""
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return False, float("inf")
    half = mean_ci_halfwidth(x, level)
    m = abs(float(x.mean()))
    rel = half / m if m > 0 else (0.0 if half == 0 else float("inf"))
    return bool(half <= precision * m), rel


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
        return (
            f"stop when the {self.level:.0%} CI half-width of mean {self.variable} <= {self.precision:g} x |mean|, "
            f"checked every {self.chunk} replications from {self.min_replications}, at most {self.max_replications}"
        )


def simulate_to_precision(
    scenario: Scenario,
    rule: StoppingRule,
    seed: int | None = None,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    store: str | Path | None = None,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
) -> xr.Dataset:
    """Run replications chunk by chunk until ``rule`` is met (or its cap is reached).

    The result is ``simulate(scenario, n, seed)`` for the ``n`` at which it stopped
    (bit-identical), with the stopping rule and its outcome in attrs (``precision*``).
    Tighter precision never stops earlier: the rule is checked at the same chunk
    boundaries on the same replications, and a boundary that meets a tight target meets
    every looser one.  ``store``/``resume`` stream the batches to a store as
    :func:`~valuecapture.run.simulate.simulate` does; a resumed run stops at the same ``n``.
    """
    seed = int(scenario.get("run.seed") if seed is None else seed)
    check_run(scenario, rule.max_replications, seed, workers, batch_size, executor, scheduler)
    if resume and store is not None:
        bs = stored_plan(store).batch_size
    else:
        bs = batch_size if batch_size is not None else default_batch_size(slot_count(scenario), rule.chunk, workers)
    plan = Plan((scenario,), None, None, seed, rule.max_replications, min(bs, rule.chunk), rule.chunk)
    runner = Runner(
        plan, workers=workers, executor=executor, scheduler=scheduler, store=store, resume=resume, stop=stop
    )
    n = 0
    met, rel = False, float("inf")
    while n < rule.max_replications:
        n = min(rule.max_replications, n + rule.chunk)
        runner.run(upto=n)
        met, rel = precision_met(runner.column(rule.variable, n), rule.precision, rule.level)
        if progress and sys.stderr.isatty():
            print(
                f"\r{n} replications: CI half-width {rel:.2%} of |mean| (target {rule.precision:.2%})",
                end="",
                file=sys.stderr,
                flush=True,
            )
        if met and n >= rule.min_replications:
            break
    if progress and sys.stderr.isatty():
        print(file=sys.stderr)
    ds = runner.dataset(upto=n)
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
            "reproduce": f"valuecapture reproduce <this file>  (or: valuecapture run <scenario> --seed {seed} "
            f"--precision {rule.precision:g} --chunk {rule.chunk} --max-replications {rule.max_replications}; the "
            f"same seed stops at the same {n} replications)",
        }
    )
    ds.attrs["precision_json"] = json.dumps(
        {
            "precision": rule.precision,
            "chunk": rule.chunk,
            "min_replications": rule.min_replications,
            "max_replications": rule.max_replications,
            "level": rule.level,
            "variable": rule.variable,
        }
    )
    return ds
