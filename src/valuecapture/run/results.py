"""Result Datasets: schema, units, provenance, and the on-disk run directory.

A run directory ``results/<scenario-name>/`` holds ``result.nc`` (the Dataset,
NetCDF4 via h5netcdf), ``summary.txt`` and ``figures/*.png``.  It is written in
a hidden sibling directory and moved into place only when complete, so a failed
or interrupted write never leaves a half-written result under the final name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.model.params import ModelParams
from valuecapture.model.population import estimated_parameter_names
from valuecapture.model.portfolio_models import class_labels
from valuecapture.model.state import ALIGNMENT_SERIES, PERIOD_SERIES
from valuecapture.run.outputs import atomic_dir, write_file
from valuecapture.run.seeds import MECHANISMS, root_entropy
from valuecapture.scenario.load import Scenario
from valuecapture.version import __version__

RESULT_FILE = "result.nc"

#: Per-replication outputs: name -> (units, description).
REPLICATION_VARS: dict[str, tuple[str, str]] = {
    "firm_value": (
        "currency",
        (
            "Firm value: sum of relationship value capture minus present value of firm-level costs (incl. terminal "
            "values)."
        ),
    ),
    "value_capture": (
        "currency",
        (
            "Sum over relationships (present and future) of discounted economic profit, net of acquisition cost, "
            "incl. terminal value."
        ),
    ),
    "pv_firm_costs": (
        "currency",
        (
            "Present value after tax (they are deductible) of firm-level costs: firm and business-model fixed costs, "
            "complexity cost, capability spend, set-up and switching costs, incl. their terminal value."
        ),
    ),
    "pv_complexity_cost": (
        "currency",
        "Present value after tax of the complexity cost of running several business models in parallel (horizon only).",
    ),
    "pv_capability_spend": (
        "currency",
        (
            "Present value after tax of capability spend: customer insight, account managers, platform, reviews "
            "(horizon only)."
        ),
    ),
    "terminal_value": (
        "currency",
        "Terminal value at the horizon (relationships minus fixed costs), discounted to time 0.",
    ),
    "customers_ever": ("customers", "Relationships that existed at some point in the horizon."),
    "slots_exhausted": (
        "customers",
        "Acquisitions dropped because every customer slot was used (raise customers.max_slots if > 0).",
    ),
    "value_created": ("currency", "Sum of the value of relationships with positive value capture."),
    "value_destroyed": ("currency", "Minus the sum of the value of relationships with negative value capture."),
    "stobachoff_peak": (
        "fraction of total",
        "Peak of the Stobachoff curve: value created / total value (1 = no value-destroying relationships).",
    ),
    "stobachoff_peak_position": (
        "fraction of customers",
        "Share of relationships (most valuable first) at which the Stobachoff curve peaks.",
    ),
    "stobachoff_index": ("ratio", "Value destroyed / value created (0: no relationship destroys value)."),
    "top20_share": ("fraction of total", "Value of the most valuable 20% of relationships / total value."),
}

#: Per-relationship outputs kept for the first ``outputs.relationship_detail`` replications.
DETAIL_VARS: dict[str, tuple[str, str]] = {
    "relationship_value": (
        "currency",
        (
            "Value capture of each relationship: discounted economic profit minus acquisition cost plus terminal "
            "value (NaN: slot never filled)."
        ),
    ),
    "periods_active": ("periods", "Periods in which the relationship earned (was active)."),
    "acquired_period": (
        "period",
        "Period at whose start the customer was won (0: customer at the start; -1: slot never filled).",
    ),
    "segment": ("index", "Segment of the customer (index into the segment coordinate)."),
    "wallet": (
        "currency/year",
        "Customer's annual wallet at list price at the start of the horizon (NaN: slot never filled).",
    ),
    "final_business_model": (
        "index",
        (
            "Business model serving the relationship at its end or at the horizon (index into business_model; -1: "
            "slot never filled)."
        ),
    ),
    "net_price": ("fraction of list price", "Net price under the final business model (NaN: slot never filled)."),
    "cost_to_serve": (
        "fraction of revenue",
        "Cost to serve under the final business model, incl. fit penalty (NaN: slot never filled).",
    ),
    "final_misalignment": (
        "index 0-1",
        "Misalignment at the relationship's end or at the horizon (only with alignment.enabled).",
    ),
    "initial_age": (
        "years",
        (
            "Age of an initial customer's relationship at the start of the horizon, as drawn or given (the engine "
            "counts it in whole periods; NaN: a customer won during the run; only with outputs.revenue_panel)."
        ),
    ),
    "active_at_horizon": (
        "flag",
        "1: the relationship is active at the horizon; 0: lost; -1: slot never filled (with outputs.revenue_panel).",
    ),
}

#: Per-relationship revenue by year of the horizon (``outputs.revenue_panel``): name -> (units, description).
PANEL_VARS: dict[str, tuple[str, str]] = {
    "relationship_revenue": (
        "currency/year",
        (
            "Revenue of each relationship in each year of the horizon (the last year is partial when the horizon is "
            "not a whole number of years; 0 in years it was not active; NaN: slot never filled)."
        ),
    ),
}

#: Outputs by business model: name -> (dims after replication, units, description).
MODEL_VARS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "value_by_model": (
        ("business_model",),
        "currency",
        (
            "Value capture by business model: discounted economic profit earned while served by it, net of "
            "acquisition costs of customers who started in it, incl. terminal value."
        ),
    ),
    "customers_by_model": (
        ("period", "business_model"),
        "customers",
        "Active relationships served by each business model during the period.",
    ),
}


def build_dataset(
    scenario: Scenario, seed: int, replications: int, p: ModelParams, arrays: dict[str, np.ndarray]
) -> xr.Dataset:
    """Wrap the collected arrays in a Dataset with coordinates, units and provenance."""
    rep = np.arange(replications)
    period = np.arange(1, p.periods + 1)
    data_vars: dict[str, Any] = {}
    for name, (units, desc) in REPLICATION_VARS.items():
        data_vars[name] = xr.Variable(("replication",), arrays[name], {"units": units, "description": desc})
    for name, (units, desc) in PERIOD_SERIES.items():
        data_vars[name] = xr.Variable(("replication", "period"), arrays[name], {"units": units, "description": desc})
    for name, (units, desc) in ALIGNMENT_SERIES.items():
        if name in arrays:
            data_vars[name] = xr.Variable(
                ("replication", "period"), arrays[name], {"units": units, "description": desc}
            )
    if "portfolio_class_count" in arrays:
        labels = class_labels(p.portfolio_models)
        coords_pc = {
            "portfolio_class": (
                "portfolio_class",
                np.array(labels, dtype=object),
                {"description": "Class of a portfolio model, as 'model:class' (docs/alignment.md)."},
            ),
            "portfolio_class_to": (
                "portfolio_class_to",
                np.array(labels, dtype=object),
                {"description": "Class a year later (transitions)."},
            ),
            "portfolio_model": (
                "portfolio_class",
                np.array([x.split(":")[0] for x in labels], dtype=object),
                {"description": "Portfolio model of the class."},
            ),
        }
        data_vars["portfolio_class_count"] = xr.Variable(
            ("replication", "period", "portfolio_class"),
            arrays["portfolio_class_count"],
            {
                "units": "customers",
                "description": (
                    "Active relationships in each class at the end of the period (shares: divide by the model's total)."
                ),
            },
        )
        data_vars["portfolio_transitions"] = xr.Variable(
            ("replication", "portfolio_class", "portfolio_class_to"),
            arrays["portfolio_transitions"],
            {
                "units": "relationship-years",
                "description": (
                    "Year-to-year class transitions summed over the horizon: relationships in class (row) at the end "
                    "of a year and in class (column) at the end of the next, within the same portfolio model."
                ),
            },
        )
    else:
        coords_pc = {}
    for name, (dims, units, desc) in MODEL_VARS.items():
        data_vars[name] = xr.Variable(("replication",) + dims, arrays[name], {"units": units, "description": desc})
    if "estimated_parameters" in arrays:
        data_vars["estimated_parameters"] = xr.Variable(
            ("replication", "estimated_parameter"),
            arrays["estimated_parameters"],
            {
                "units": "as the parameter",
                "description": (
                    "The estimated distribution parameters this replication drew (parameter_uncertainty; shared by "
                    "the parameter_uncertainty.per_draw replications of a group)."
                ),
                "per_draw": int(p.parameter_per_draw),
            },
        )
        coords_pc["estimated_parameter"] = (
            "estimated_parameter",
            np.array(estimated_parameter_names(p), dtype=object),
            {"description": "Estimated parameter, as uncertainties.<input>.<parameter> ([[estimates]])."},
        )
    coords: dict[str, Any] = {
        **coords_pc,
        "business_model": (
            "business_model",
            np.array(p.business_models.names, dtype=object),
            {"description": "Business models declared in [[choices.business_models]], by name."},
        ),
        "internal_fit": (
            "business_model",
            p.business_models.fit,
            {"units": "index 0-1", "description": "Internal fit of the business model's elements (1 = consistent)."},
        ),
        "replication": (
            "replication",
            rep,
            {
                "description": (
                    "Monte Carlo replication number (its random streams depend only on the seed and this number)."
                )
            },
        ),
        "period": (
            "period",
            period,
            {"units": "period", "description": "Period number; flows of period t are valued at its end."},
        ),
        "year": (
            "period",
            period / p.periods_per_year,
            {"units": "year", "description": "Time at the end of the period."},
        ),
        "segment_name": (
            "segment_index",
            np.array(list(scenario.get("customers.segments")), dtype=object),
            {"description": "Segment names by index."},
        ),
    }
    if "relationship_value" in arrays:
        n_detail = arrays["relationship_value"].shape[0]
        coords["detail_replication"] = (
            "detail_replication",
            np.arange(n_detail),
            {
                "description": (
                    "Replications whose per-relationship detail is kept (the first outputs.relationship_detail)."
                )
            },
        )
        coords["customer"] = (
            "customer",
            np.arange(p.n_slots),
            {
                "description": (
                    "Customer slot: 0..count-1 are the initial customers, later slots fill with acquisitions in order."
                )
            },
        )
        if p.initial_customers is not None:
            ids = np.full(p.n_slots, "", dtype=object)
            ids[: p.initial_customers.n] = p.initial_customers.ids
            coords["customer_id"] = (
                "customer",
                ids,
                {"description": "The firm's id of an actual customer (customers.source); empty: won during the run."},
            )
        for name, (units, desc) in DETAIL_VARS.items():
            if name in arrays:
                data_vars[name] = xr.Variable(
                    ("detail_replication", "customer"), arrays[name], {"units": units, "description": desc}
                )
        if "relationship_revenue" in arrays:
            coords["horizon_year"] = (
                "horizon_year",
                np.arange(1, arrays["relationship_revenue"].shape[2] + 1),
                {
                    "units": "year",
                    "description": "Year of the horizon, from 1: the periods_per_year periods that follow year y - 1.",
                },
            )
            for name, (units, desc) in PANEL_VARS.items():
                data_vars[name] = xr.Variable(
                    ("detail_replication", "customer", "horizon_year"),
                    arrays[name],
                    {"units": units, "description": desc},
                )
    attrs = {
        "title": f"valuecapture run of scenario {scenario.name!r}",
        "scenario_name": scenario.name,
        "scenario_source": scenario.source,
        "scenario_overrides": json.dumps(list(scenario.overrides)),
        "scenario_toml": scenario.to_toml(),
        "seed": int(seed),
        "root_entropy": str(root_entropy(seed)),
        "seed_scheme": "numpy SeedSequence(seed, spawn_key=(replication, mechanism)); mechanisms: "
        + ", ".join(MECHANISMS),
        "replications": int(replications),
        "customer_slots": int(p.n_slots),
        "periods_per_year": int(p.periods_per_year),
        "valuecapture_version": __version__,
        "numpy_version": np.__version__,
        "currency": "scenario currency units",
        "interaction_spaces": ", ".join(sp.name for sp in p.interactions),
        "reproduce": (
            f"valuecapture reproduce <this file>  (or: valuecapture run <scenario> --seed {int(seed)} --replications "
            f"{int(replications)})"
        ),
    }
    if p.initial_customers is not None:
        attrs["customers_source"] = p.initial_customers.path
        attrs["customers_source_sha256"] = p.initial_customers.sha256
        attrs["customers_as_of"] = p.initial_customers.as_of
    return xr.Dataset(data_vars=data_vars, coords=coords, attrs=attrs)


def write_result(
    ds: xr.Dataset,
    out_dir: str | Path,
    summary: str,
    draw: Callable[[xr.Dataset, Path], Any] | None = None,
    extra: dict[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``ds``, its ``summary`` text and (``draw(ds, folder)``) its figures atomically to ``out_dir``.

    Everything is written to a hidden temporary directory next to ``out_dir`` and
    renamed into place at the end, with a ``manifest.json`` of what it holds
    (:func:`~valuecapture.run.outputs.atomic_dir`).  An existing ``out_dir`` is replaced
    only with ``overwrite`` and only if it is a valuecapture result; otherwise
    :class:`~valuecapture.run.outputs.OutputError` is raised before anything is written.
    On any error the temporary directory is removed and ``out_dir`` is left as it was.
    (:func:`valuecapture.write_run` is this with the standard summary and figures.)
    """
    with atomic_dir(out_dir, "a result", overwrite=overwrite) as tmp:
        write_netcdf(ds, tmp / RESULT_FILE)
        write_file(tmp / "summary.txt", summary + "\n")
        for name, text in (extra or {}).items():
            write_file(tmp / name, text)
        if draw is not None:
            draw(ds, tmp / "figures")
    return Path(out_dir)


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """``ds`` as NetCDF4 at ``path``: built in memory by h5netcdf, written with plain file I/O
    (a full disk is then an ``OSError``, never a crash inside HDF5)."""
    write_file(path, ds.to_netcdf(engine="h5netcdf"))
