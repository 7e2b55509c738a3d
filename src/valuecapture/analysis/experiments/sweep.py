"""Running an experiment: every design point through the common runner, on one seed (common random numbers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.experiments.design import DesignTable, design, point_scenario
from valuecapture.analysis.experiments.spec import Experiment
from valuecapture.analysis.heterogeneity import RELATIONSHIP_REDUCER
from valuecapture.run.simulate import simulate_variants


def sweep(
    e: Experiment,
    replications: int | None = None,
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
    """Run every design point of ``e`` (same seed: common random numbers) and return one Dataset.

    Dims ``design_point`` x ``replication``; every per-replication output of
    :func:`~valuecapture.simulate` and the per-replication statistics of
    relationship value; the factor values as coordinates on ``design_point``
    (named by the factors' names, with the scenario field in attrs); the
    experiment (TOML), the base scenario, seed and version in attrs.  The run goes through
    :func:`~valuecapture.run.simulate.simulate_variants` (executors, ``store``/``resume``).
    """
    reps = int(e.replications if replications is None else replications)
    seed = int(e.seed if seed is None else seed)
    if reps < 2:
        raise ValueError(f"a sweep needs at least 2 replications per design point, got {reps}")
    table = design(e)
    scenarios = [point_scenario(e, row) for row in table.values]
    out = simulate_variants(
        {str(i): sc for i, sc in enumerate(scenarios)},
        "design_point",
        reps,
        seed,
        keep="replication",
        reduce=RELATIONSHIP_REDUCER,
        workers=workers,
        batch_size=batch_size,
        executor=executor,
        scheduler=scheduler,
        progress=progress,
        store=store,
        resume=resume,
        stop=stop,
    )
    ref = dict(out.attrs)
    coords: dict[str, Any] = {
        "design_point": (
            "design_point",
            np.arange(len(scenarios)),
            {
                "description": (
                    "Design point: a synthetic firm (the base scenario with the factors set as in the factor "
                    "coordinates)."
                )
            },
        )
    }
    for j, f in enumerate(e.factors):
        vals = [row[j] for row in table.values]
        arr = np.array(
            vals,
            dtype=object
            if f.kind == "str"
            else (bool if f.kind == "bool" else (np.int64 if f.kind == "int" else float)),
        )
        fattrs: dict[str, Any] = {
            "field": f.field,
            "units": f.units,
            "design": f.describe(),
            "description": f"Factor {f.field} ({f.describe()}): {f.doc}",
        }
        if f.is_range:
            fattrs.update({"range_low": f.low, "range_high": f.high})
        coords[f.name] = ("design_point", arr, fattrs)
    if e.design == "sobol":
        coords["sobol_block"] = (
            "design_point",
            np.array(table.block, dtype=object),
            {"description": "Saltelli scheme: 'A', 'B' or 'AB' (A with one factor's column from B)."},
        )
        coords["sobol_row"] = (
            "design_point",
            np.array(table.row),
            {"description": "Row of the base matrices A and B."},
        )
        coords["sobol_column"] = (
            "design_point",
            np.array(table.column),
            {"description": "For 'AB' points, the index of the factor taken from B; -1 otherwise."},
        )
    coords.update(_screening_coords(e, table))
    out = out.assign_coords(coords)
    base_attrs = {
        **ref,
        "scenario_name": e.base.name,
        "scenario_source": e.base.source,
        "scenario_overrides": json.dumps(list(e.base.overrides)),
        "scenario_toml": e.base.to_toml(),
    }
    attrs = {
        key: base_attrs[key]
        for key in (
            "scenario_name",
            "scenario_source",
            "scenario_overrides",
            "scenario_toml",
            "root_entropy",
            "seed_scheme",
            "valuecapture_version",
            "numpy_version",
            "currency",
        )
        if key in base_attrs
    }
    attrs.update(
        {
            "title": (
                f"valuecapture experiment {e.name!r}: {e.design} design over {', '.join(f.field for f in e.factors)}"
            ),
            "kind": "sweep",
            "experiment_name": e.name,
            "experiment_description": e.description,
            "experiment_source": e.source,
            "experiment_toml": e.text,
            "design": e.design,
            "design_points": int(len(scenarios)),
            **(
                {
                    "morris_trajectories": int(e.trajectories or 0),
                    "morris_levels": int(e.levels or 0),
                    "morris_trajectory_pool": int(e.trajectory_pool or 0),
                }
                if e.design == "morris"
                else {}
            ),
            "factors": json.dumps([f.name for f in e.factors]),
            "responses": json.dumps(list(e.responses)),
            "hypotheses": json.dumps(
                [{"response": h.response, "factor": h.factor, "direction": h.direction} for h in e.hypotheses]
            ),
            "seed": seed,
            "replications": reps,
            "comparison": "common random numbers: every design point ran the same replications with the same seed",
            "reproduce": (
                f"valuecapture reproduce <this file>  (or: valuecapture sweep {e.source} --seed {seed} --replications "
                f"{reps})"
            ),
        }
    )
    out.attrs = attrs
    return out


def _screening_coords(e: Experiment, table: DesignTable) -> dict[str, Any]:
    """The coordinates that tell the analysis how a Morris or one-at-a-time design's points hang together."""
    if e.design == "morris":
        return {
            "morris_trajectory": (
                "design_point",
                np.array(table.row),
                {"description": "Morris trajectory the point belongs to (d + 1 consecutive points each)."},
            ),
            "morris_factor": (
                "design_point",
                np.array(table.column),
                {"description": "Index of the factor moved from the previous point; -1 for a trajectory's first."},
            ),
            "morris_step": (
                "design_point",
                np.array(table.step, dtype=float),
                {"description": "That move on the unit scale of the factor's range (+-delta); 0 for first points."},
            ),
        }
    if e.design == "oat":
        return {
            "oat_end": (
                "design_point",
                np.array(table.block, dtype=object),
                {"description": "One-at-a-time design: 'base' (every factor at the base value), 'low' or 'high'."},
            ),
            "oat_factor": (
                "design_point",
                np.array(table.column),
                {"description": "Index of the factor moved to its low or high end; -1 for the base point."},
            ),
        }
    return {}
