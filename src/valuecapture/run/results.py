"""Result Datasets: schema, units, provenance, and the on-disk run directory.

A run directory ``results/<scenario-name>/`` holds ``result.nc`` (the Dataset,
NetCDF4 via h5netcdf), ``summary.txt`` and ``figures/*.png``.  It is written in
a hidden sibling directory and moved into place only when complete, so a failed
or interrupted write never leaves a half-written result under the final name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from valuecapture.model.params import ModelParams
from valuecapture.model.population import estimated_parameter_names
from valuecapture.model.portfolio_models import class_labels
from valuecapture.model.state import ALIGNMENT_SERIES, PERIOD_SERIES
from valuecapture.run.outputs import atomic_dir, write_file
from valuecapture.run.seeds import MECHANISMS, root_entropy
from valuecapture.scenario.load import Scenario
from valuecapture.scenario.schema import CURRENCY_PATTERN
from valuecapture.version import __version__

RESULT_FILE = "result.nc"


class Output(NamedTuple):
    """What the result says of one output variable: its units (UDUNITS form; ``"currency"`` is money,
    written as the scenario's ISO 4217 code), a short ``long_name``, a ``description`` and, for
    values over a time cell, CF ``cell_methods``."""

    units: str
    long_name: str
    description: str
    cell_methods: str = ""


#: Per-replication outputs.
REPLICATION_VARS: dict[str, Output] = {
    "firm_value": Output(
        "currency",
        "firm value",
        "Firm value: sum of relationship value capture minus present value of firm-level costs (incl. terminal "
        "values).",
    ),
    "value_capture": Output(
        "currency",
        "relationship value capture",
        "Sum over relationships (present and future) of discounted economic profit, net of acquisition cost, incl. "
        "terminal value.",
    ),
    "pv_firm_costs": Output(
        "currency",
        "present value of firm-level costs",
        "Present value after tax (they are deductible) of firm-level costs: firm and business-model fixed costs, "
        "complexity cost, capability spend, set-up and switching costs, incl. their terminal value.",
    ),
    "pv_complexity_cost": Output(
        "currency",
        "present value of the complexity cost",
        "Present value after tax of the complexity cost of running several business models in parallel (horizon only).",
    ),
    "pv_capability_spend": Output(
        "currency",
        "present value of capability spend",
        "Present value after tax of capability spend: customer insight, account managers, platform, reviews (horizon "
        "only).",
    ),
    "terminal_value": Output(
        "currency",
        "terminal value",
        "Terminal value at the horizon (relationships minus fixed costs), discounted to time 0.",
    ),
    "customers_ever": Output(
        "1", "relationships in the horizon", "Relationships that existed at some point in the horizon."
    ),
    "slots_exhausted": Output(
        "1",
        "acquisitions dropped for lack of slots",
        "Acquisitions dropped because every customer slot was used (raise customers.max_slots if > 0).",
    ),
    "value_created": Output(
        "currency", "value created", "Sum of the value of relationships with positive value capture."
    ),
    "value_destroyed": Output(
        "currency", "value destroyed", "Minus the sum of the value of relationships with negative value capture."
    ),
    "stobachoff_peak": Output(
        "1",
        "Stobachoff curve peak (fraction of total value)",
        "Peak of the Stobachoff curve: value created / total value (1 = no value-destroying relationships; NaN "
        "when the total is zero or negative, where the curve has no peak as a fraction of the total).",
    ),
    "stobachoff_peak_position": Output(
        "1",
        "Stobachoff peak position (fraction of relationships)",
        "Share of relationships (most valuable first) at which the Stobachoff curve peaks.",
    ),
    "stobachoff_index": Output(
        "1", "Stobachoff index", "Value destroyed / value created (0: no relationship destroys value)."
    ),
    "top20_share": Output(
        "1",
        "top-20% share of value",
        "Value of the most valuable 20% of relationships / total value (NaN when the total is zero or negative).",
    ),
    # the customer network among the customers ever acquired (model/network_outputs.py)
    "network_ties": Output(
        "1",
        "network ties among the customers",
        "Ties of the customer network whose two ends are customers acquired by the horizon (a pair drawn twice "
        "counts twice, as in contagion).",
    ),
    "network_mean_degree": Output(
        "1",
        "mean degree of the customer network",
        "2 x network_ties / customers_ever: mean number of ties of a customer to other customers (NaN: none).",
    ),
    "network_transitivity": Output(
        "1",
        "global clustering coefficient of the customer network",
        "Transitivity of the customers' network (each connected pair once): 3 x triangles / connected triples "
        "(NaN: no connected triple).",
    ),
    "network_within_segment": Output(
        "1",
        "share of network ties within a segment",
        "Share of network_ties whose two customers are in the same segment (NaN: no tie).",
    ),
}

#: The customers by number of ties, per replication (``replication x degree``).
DEGREE_VAR = Output(
    "1",
    "customers by degree",
    "Customers acquired by the horizon by their number of ties to other such customers (the degree coordinate; "
    "its last value counts that many ties or more).",
)

#: The ties among the customers of each detail replication (``outputs.network``; ``detail_replication x tie``).
TIE_VARS: dict[str, Output] = {
    "tie_first": Output(
        "1",
        "customer at the first end of the tie",
        "Customer slot (the customer coordinate) at the first end of each tie between customers acquired by the "
        "horizon, below tie_second; ties sorted by (tie_first, tie_second), a pair drawn twice listed twice; -1: no "
        "tie (padding to the ties drawn per replication).",
    ),
    "tie_second": Output(
        "1",
        "customer at the second end of the tie",
        "Customer slot (the customer coordinate) at the second end of each tie, above tie_first; -1: no tie (padding).",
    ),
}

#: Per-relationship outputs kept for the first ``outputs.relationship_detail`` replications.
DETAIL_VARS: dict[str, Output] = {
    "relationship_value": Output(
        "currency",
        "relationship value capture",
        "Value capture of each relationship: discounted economic profit minus acquisition cost plus terminal value "
        "(NaN: slot never filled).",
    ),
    "periods_active": Output(
        "1",
        "periods active",
        "Periods in which the relationship earned (was active) (-1: slot never filled, as acquired_period).",
    ),
    "acquired_period": Output(
        "1",
        "period the customer was won",
        "Period at whose start the customer was won (0: customer at the start; -1: slot never filled).",
    ),
    "segment": Output("1", "segment index", "Segment of the customer (index into the segment_name coordinate)."),
    "wallet": Output(
        "currency/year",
        "annual wallet at list price",
        "Customer's annual wallet at list price at the start of the horizon (NaN: slot never filled).",
    ),
    "final_business_model": Output(
        "1",
        "final business model index",
        "Business model serving the relationship at its end or at the horizon (index into business_model; -1: slot "
        "never filled).",
    ),
    "net_price": Output(
        "1",
        "net price (fraction of list price)",
        "Net price under the final business model, as a fraction of list price (NaN: slot never filled).",
    ),
    "cost_to_serve": Output(
        "1",
        "cost to serve (fraction of revenue)",
        "Cost to serve under the final business model, as a fraction of revenue, incl. fit penalty (NaN: slot never "
        "filled).",
    ),
    "final_misalignment": Output(
        "1",
        "final misalignment",
        "Misalignment (0 to 1) at the relationship's end or at the horizon (only with alignment.enabled).",
    ),
    "initial_age": Output(
        "year",
        "initial relationship age",
        "Age of an initial customer's relationship at the start of the horizon, as drawn or given (the engine counts "
        "it in whole periods; NaN: a customer won during the run; only with outputs.revenue_panel).",
    ),
    "active_at_horizon": Output(
        "1",
        "active at the horizon",
        "1: the relationship is active at the horizon; 0: lost; -1: slot never filled (with outputs.revenue_panel).",
    ),
    "initial_stage": Output(
        "1",
        "initial relationship stage",
        "Stage the relationship started in (index into the stage coordinate; -1: slot never filled; only with "
        "stages.enabled).",
    ),
    "final_stage": Output(
        "1",
        "final relationship stage",
        "Stage of the relationship at its end or at the horizon (index into the stage coordinate; -1: slot never "
        "filled; only with stages.enabled).",
    ),
}

#: Per-relationship revenue by year of the horizon (``outputs.revenue_panel``).
PANEL_VARS: dict[str, Output] = {
    "relationship_revenue": Output(
        "currency",
        "relationship revenue in the year",
        "Revenue of each relationship in each year of the horizon (the last year is partial when the horizon is not a "
        "whole number of years; 0 in years it was not active; NaN: slot never filled).",
        "horizon_year: sum",
    ),
}

#: Outputs by business model: name -> (dims after replication, output).
MODEL_VARS: dict[str, tuple[tuple[str, ...], Output]] = {
    "value_by_model": (
        ("business_model",),
        Output(
            "currency",
            "value capture by business model",
            "Value capture by business model: discounted economic profit earned while served by it, net of acquisition "
            "costs of customers who started in it, incl. terminal value.",
        ),
    ),
    "customers_by_model": (
        ("period", "business_model"),
        Output(
            "1",
            "active relationships by business model",
            "Active relationships served by each business model during the period.",
            "time: point",
        ),
    ),
}

#: The per-period series of model/state.py (units and descriptions there): name -> (long_name, cell_methods).
#: Money series are amounts in the period (``time: sum``); counts at its end are ``time: point``.
SERIES_CF: dict[str, tuple[str, str]] = {
    "revenue": ("revenue", "time: sum"),
    "economic_profit": ("firm economic profit", "time: sum"),
    "relationship_economic_profit": ("relationship economic profit", "time: sum"),
    "nopat": ("net operating profit after tax", "time: sum"),
    "invested_capital": ("invested capital", "time: mean"),
    "fixed_cost": ("fixed costs", "time: sum"),
    "complexity_cost": ("complexity cost", "time: sum"),
    "capability_spend": ("capability spend", "time: sum"),
    "change_cost": ("business-model change costs", "time: sum"),
    "acquisition_cost": ("acquisition cost", "time: sum"),
    "customers_active": ("active relationships", "time: point"),
    "acquired": ("customers won", "time: sum"),
    "churned": ("relationships lost", "time: sum"),
    "mean_trust": ("mean trust", "time: mean"),
    "mean_share_of_wallet": ("mean share of wallet", "time: mean"),
    "aligned_share": ("share of aligned relationships", "time: mean"),
    "mean_misalignment": ("mean misalignment", "time: mean"),
    "mean_internal_misalignment": ("mean internal misalignment", "time: mean"),
    "interaction_contacts": ("interaction-space contacts", "time: sum"),
    "interaction_cost": ("interaction-space cost", "time: sum"),
}

#: Variables stored as float32 (docs/results.md): per-relationship detail, whose 7 significant digits are far finer
#: than any use of one relationship's numbers, and series of means and shares of 0-1 quantities.  Money totals,
#: money series and counts stay float64: sums and the common-random-number differences between policies need it;
#: so does ``relationship_revenue``, the books that ``export-customers`` writes to the cent.
FLOAT32 = frozenset(
    {
        "relationship_value",
        "wallet",
        "net_price",
        "cost_to_serve",
        "final_misalignment",
        "initial_age",
        "mean_trust",
        "mean_share_of_wallet",
        "aligned_share",
        "mean_misalignment",
        "mean_internal_misalignment",
        "stage_share",
    }
)

#: The default valuation date when the scenario has none (horizon.start empty, no customers.source).
DEFAULT_START = "2000-01-01"
CF_CONVENTIONS = "CF-1.10"


def currency_of(ds: xr.Dataset) -> str:
    """The ISO 4217 code of a result's money (``attrs["currency"]``), or ``""`` for results written before
    valuecapture recorded one."""
    c = ds.attrs.get("currency")
    return c if isinstance(c, str) and CURRENCY_PATTERN.fullmatch(c) else ""


def is_money(var: xr.DataArray | xr.Variable, currency: str) -> bool:
    """Whether ``var`` holds money: its units are ``currency`` (an amount), ``"<code> year-1"`` (per year) or
    ``"<code>2"`` (a variance); ``"currency"`` (results written before ISO codes) counts too."""
    units = str(var.attrs.get("units", ""))
    codes = {"currency", currency} if currency else {"currency"}
    return any(units == c or units.startswith((c + " ", c + "/", c + "2", c + "^")) for c in codes)


def money_units(units: str, currency: str) -> str:
    """``units`` with the placeholder ``currency`` (and its legacy spellings ``currency/year``,
    ``currency/period``, ``currency^2``) in CF form with the ISO code: ``EUR``, ``EUR year-1``, ``EUR2``."""
    if not currency:
        return units
    spelled = {
        "currency": currency,
        "currency/period": currency,
        "currency/customer": currency,
        "currency/contact": currency,
        "currency/review": currency,
        "currency/year": f"{currency} year-1",
        "currency/year/customer": f"{currency} year-1",
        "currency^2": f"{currency}2",
    }
    return spelled.get(units, units)


def _time_coords(p: ModelParams, start: str) -> dict[str, Any]:
    """The CF time coordinate of the period axis and its bounds (docs/results.md): the end of each
    period as a calendar date from the valuation date ``start``, periods of 12 / periods_per_year
    months when that is whole (a day past the end of a shorter month is its last day), else of
    365.2425 / periods_per_year days."""
    k = np.arange(p.periods + 1)
    ppy = p.periods_per_year
    t0 = np.datetime64(start, "D")
    if 12 % ppy == 0:
        month0 = np.datetime64(start, "M")
        firsts = (month0 + k * (12 // ppy)).astype("datetime64[D]")
        lasts = (month0 + k * (12 // ppy) + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
        edges = np.minimum(firsts + (t0 - month0.astype("datetime64[D]")), lasts).astype("datetime64[s]")
    else:
        seconds = np.round(k * (365.2425 * 86400 / ppy)).astype(np.int64)
        edges = t0.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    time_attrs = {
        "standard_name": "time",
        "long_name": "end of the period",
        "axis": "T",
        "bounds": "time_bounds",
        "description": (
            f"Calendar date at the end of the period, counted from the valuation date {start} (horizon.start); the "
            "model itself counts equal periods of 1 / periods_per_year years (the year coordinate)."
        ),
    }
    return {
        "time": ("period", edges[1:], time_attrs),
        "time_bounds": (
            ("period", "bounds"),
            np.stack([edges[:-1], edges[1:]], axis=1),
            {"description": "Start and end of the period (CF bounds of time)."},
        ),
    }


def valuation_date(scenario: Scenario, p: ModelParams) -> str:
    """The date of t = 0: ``horizon.start``, else the actual customers' as-of date, else :data:`DEFAULT_START`."""
    start = str(scenario.get("horizon.start") or "")
    if not start and p.initial_customers is not None:
        start = str(p.initial_customers.as_of)
    return start or DEFAULT_START


def _stage_coords(p: ModelParams) -> dict[str, Any]:
    """The ``stage`` and ``stage_to`` coordinates of the relationship stages (``stage_to`` ends with
    ``ended`` when the transition matrix has an end column)."""
    assert p.stages is not None
    names = list(p.stages.names)
    to = names + (["ended"] if p.stages.ends else [])
    return {
        "stage": (
            "stage",
            np.array(names, dtype=object),
            {"long_name": "relationship stage", "description": "Relationship stages of stages.names, in order."},
        ),
        "stage_to": (
            "stage_to",
            np.array(to, dtype=object),
            {
                "long_name": "relationship stage after the move",
                "description": "Stage after the end-of-period move ('ended': the relationship ended).",
            },
        ),
    }


def _stage_variables(p: ModelParams, arrays: dict[str, np.ndarray], currency: str) -> dict[str, xr.Variable]:
    """Stage shares by period and transition counts (docs/model.md, "Relationship stages")."""
    return {
        "stage_share": _variable(
            ("replication", "period", "stage"),
            arrays["stage_share"],
            Output(
                "1",
                "share of active relationships in the stage",
                "Share of the relationships active at the end of the period that are in each stage after the "
                "period's move (NaN: none active).",
                "time: point",
            ),
            currency,
        ),
        "stage_transitions": _variable(
            ("replication", "stage", "stage_to"),
            arrays["stage_transitions"],
            Output(
                "1",
                "stage transitions",
                "End-of-period moves summed over the horizon: relationships active after retention in the stage "
                "(row) that moved to the stage (column) or ended; a row divided by its sum estimates the "
                "transition probabilities.",
            ),
            currency,
        ),
    }


def _variable(dims: tuple[str, ...], values: np.ndarray, out: Output, currency: str) -> xr.Variable:
    attrs = {"long_name": out.long_name, "units": money_units(out.units, currency), "description": out.description}
    if out.cell_methods:
        attrs["cell_methods"] = out.cell_methods
    return xr.Variable(dims, values, attrs)


def build_dataset(
    scenario: Scenario, seed: int, replications: int, p: ModelParams, arrays: dict[str, np.ndarray]
) -> xr.Dataset:
    """Wrap the collected arrays in a Dataset with coordinates, CF-1.10 metadata (units, long names,
    cell methods, a time coordinate; docs/results.md) and provenance."""
    cur = str(scenario.get("economics.currency"))
    rep = np.arange(replications)
    period = np.arange(1, p.periods + 1)
    data_vars: dict[str, Any] = {}
    for name, out in REPLICATION_VARS.items():
        data_vars[name] = _variable(("replication",), arrays[name], out, cur)
    for table in (PERIOD_SERIES, ALIGNMENT_SERIES):
        for name, (units, desc) in table.items():
            if name in arrays:
                long_name, cell = SERIES_CF.get(name, (name.replace("_", " "), ""))
                data_vars[name] = _variable(
                    ("replication", "period"), arrays[name], Output(units, long_name, desc, cell), cur
                )
    if "portfolio_class_count" in arrays:
        labels = class_labels(p.portfolio_models)
        coords_pc = {
            "portfolio_class": (
                "portfolio_class",
                np.array(labels, dtype=object),
                {
                    "long_name": "portfolio class",
                    "description": "Class of a portfolio model, as 'model:class' (docs/alignment.md).",
                },
            ),
            "portfolio_class_to": (
                "portfolio_class_to",
                np.array(labels, dtype=object),
                {"long_name": "portfolio class a year later", "description": "Class a year later (transitions)."},
            ),
            "portfolio_model": (
                "portfolio_class",
                np.array([x.split(":")[0] for x in labels], dtype=object),
                {"long_name": "portfolio model", "description": "Portfolio model of the class."},
            ),
        }
        data_vars["portfolio_class_count"] = _variable(
            ("replication", "period", "portfolio_class"),
            arrays["portfolio_class_count"],
            Output(
                "1",
                "active relationships by portfolio class",
                "Active relationships in each class at the end of the period (shares: divide by the model's total).",
                "time: point",
            ),
            cur,
        )
        data_vars["portfolio_transitions"] = _variable(
            ("replication", "portfolio_class", "portfolio_class_to"),
            arrays["portfolio_transitions"],
            Output(
                "1",
                "year-to-year portfolio class transitions",
                "Year-to-year class transitions summed over the horizon: relationships in class (row) at the end of a "
                "year and in class (column) at the end of the next, within the same portfolio model.",
            ),
            cur,
        )
    else:
        coords_pc = {}
    if p.stages is not None and "stage_share" in arrays:
        data_vars.update(_stage_variables(p, arrays, cur))
        coords_pc.update(_stage_coords(p))
    for name, (dims, out) in MODEL_VARS.items():
        data_vars[name] = _variable(("replication",) + dims, arrays[name], out, cur)
    if "estimated_parameters" in arrays:
        data_vars["estimated_parameters"] = xr.Variable(
            ("replication", "estimated_parameter"),
            arrays["estimated_parameters"],
            {
                "long_name": "drawn value of an estimated parameter",
                "description": (
                    "The estimated distribution parameters this replication drew (parameter_uncertainty; shared by "
                    "the parameter_uncertainty.per_draw replications of a group)."
                ),
                "comment": (
                    "No units attribute: each parameter is in its own input's units (a lognormal's scale in its "
                    "input's, shapes dimensionless)."
                ),
                "per_draw": int(p.parameter_per_draw),
            },
        )
        coords_pc["estimated_parameter"] = (
            "estimated_parameter",
            np.array(estimated_parameter_names(p), dtype=object),
            {
                "long_name": "estimated parameter",
                "description": "Estimated parameter, as uncertainties.<input>.<parameter> ([[estimates]]).",
            },
        )
    start = valuation_date(scenario, p)
    coords: dict[str, Any] = {
        **coords_pc,
        "business_model": (
            "business_model",
            np.array(p.business_models.names, dtype=object),
            {
                "long_name": "business model",
                "description": "Business models declared in [[choices.business_models]], by name.",
            },
        ),
        "internal_fit": (
            "business_model",
            p.business_models.fit,
            {
                "long_name": "internal fit of the business model",
                "units": "1",
                "description": "Internal fit (0 to 1) of the business model's elements (1 = consistent).",
            },
        ),
        "replication": (
            "replication",
            rep,
            {
                "long_name": "replication number",
                "description": (
                    "Monte Carlo replication number (its random streams depend only on the seed and this number)."
                ),
            },
        ),
        "period": (
            "period",
            period,
            {
                "long_name": "period number",
                "units": "1",
                "description": "Period number, from 1; flows of period t are valued at its end.",
            },
        ),
        "year": (
            "period",
            period / p.periods_per_year,
            {
                "long_name": "years since the start of the horizon",
                "units": "year",
                "description": (
                    "Time at the end of the period, in years of the model from t = 0 (period / periods_per_year)."
                ),
            },
        ),
        **_time_coords(p, start),
        "segment_name": (
            "segment_index",
            np.array(list(scenario.get("customers.segments")), dtype=object),
            {"long_name": "segment name", "description": "Segment names by index."},
        ),
    }
    if "network_degree_count" in arrays:
        data_vars["network_degree_count"] = _variable(
            ("replication", "degree"), arrays["network_degree_count"], DEGREE_VAR, cur
        )
        coords["degree"] = (
            "degree",
            np.arange(arrays["network_degree_count"].shape[1]),
            {
                "long_name": "number of ties",
                "units": "1",
                "description": "Number of ties of a customer to other customers; the last value: that many or more.",
            },
        )
    if "relationship_value" in arrays:
        n_detail = arrays["relationship_value"].shape[0]
        coords["detail_replication"] = (
            "detail_replication",
            np.arange(n_detail),
            {
                "long_name": "replication number of the per-relationship detail",
                "description": (
                    "Replications whose per-relationship detail is kept (the first outputs.relationship_detail)."
                ),
            },
        )
        coords["customer"] = (
            "customer",
            np.arange(p.n_slots),
            {
                "long_name": "customer slot",
                "description": (
                    "Customer slot: 0..count-1 are the initial customers, later slots fill with acquisitions in order."
                ),
            },
        )
        if p.initial_customers is not None:
            ids = np.full(p.n_slots, "", dtype=object)
            ids[: p.initial_customers.n] = p.initial_customers.ids
            coords["customer_id"] = (
                "customer",
                ids,
                {
                    "long_name": "customer id",
                    "description": "The firm's id of an actual customer (customers.source); empty: won during the run.",
                },
            )
        for name, out in DETAIL_VARS.items():
            if name in arrays:
                data_vars[name] = _variable(("detail_replication", "customer"), arrays[name], out, cur)
        if "active_at_horizon" in data_vars:
            data_vars["active_at_horizon"].attrs.update(
                flag_values=np.array([-1, 0, 1], dtype=arrays["active_at_horizon"].dtype),
                flag_meanings="never_filled lost active",
            )
        if "tie_first" in arrays:
            coords["tie"] = (
                "tie",
                np.arange(arrays["tie_first"].shape[1]),
                {"long_name": "tie number", "units": "1", "description": "Position in the list of ties."},
            )
            for name, out in TIE_VARS.items():
                data_vars[name] = _variable(("detail_replication", "tie"), arrays[name], out, cur)
        if "relationship_revenue" in arrays:
            coords["horizon_year"] = (
                "horizon_year",
                np.arange(1, arrays["relationship_revenue"].shape[2] + 1),
                {
                    "long_name": "year of the horizon",
                    "units": "1",
                    "description": "Year of the horizon, from 1: the periods_per_year periods that follow year y - 1.",
                },
            )
            for name, out in PANEL_VARS.items():
                data_vars[name] = _variable(("detail_replication", "customer", "horizon_year"), arrays[name], out, cur)
    attrs = {
        "Conventions": CF_CONVENTIONS,
        "title": f"valuecapture run of scenario {scenario.name!r}",
        "source": f"valuecapture {__version__} Monte Carlo simulation",
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
        "valuation_date": start,
        "valuecapture_version": __version__,
        "numpy_version": np.__version__,
        "currency": cur,
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


# ---------------------------------------------------------------------------
# On disk: CF-1.10 NetCDF4, compressed (docs/results.md)
# ---------------------------------------------------------------------------

#: Deflate level of every stored variable (with the shuffle filter): zlib is in every NetCDF4/HDF5 build, so
#: R, Panoply, NCO and netCDF-C read the files without plugins; levels above 4 gain < 1% (docs/results.md).
COMPRESSION_LEVEL = 4
#: Largest chunk, uncompressed: the inner dimensions (a replication's periods, customers or years) are kept
#: whole and the outer ones (replication, detail_replication, policy...) cut to fit.
CHUNK_BYTES = 1 << 20
#: Variables smaller than this are stored contiguous and uncompressed.
SMALL_BYTES = 4096
#: A label stored for a text-valued dimension: CF coordinate variables are numeric, so ``policy(policy)`` of
#: names is written as the dimension with an auxiliary ``policy_label(policy)`` and restored by :func:`read_netcdf`.
LABEL_SUFFIX = "_label"
#: Units spelled the way earlier results and other modules wrote them, and their UDUNITS form.
UDUNITS = {
    "fraction": "1",
    "fraction of total": "1",
    "fraction of customers": "1",
    "fraction of list price": "1",
    "fraction of revenue": "1",
    "ratio": "1",
    "index": "1",
    "index 0-1": "1",
    "flag": "1",
    "customers": "1",
    "contacts": "1",
    "relationship-years": "1",
    "periods": "1",
    "period": "1",
    "replications": "1",
    "years": "year",
    "1/year": "year-1",
    "%": "percent",
    # the scenario schema's units (docs/scenarios.md), as sweeps and optimisations copy them onto their levers
    "-": "1",
    "1/period": "1",
    "1/sqrt(year)": "year^-0.5",
    "correlation": "1",
    "customers/manager": "1",
    "customers/year": "year-1",
    "factor": "1",
    "factor/period": "1",
    "fraction/index": "1",
    "index/index": "1",
    "log-hazard/index": "1",
    "logit": "1",
    "logit/index": "1",
    "managers": "1",
    "probability": "1",
    "probability/period": "1",
    "probability/year": "year-1",
    "ties": "1",
    "weight": "1",
}


def chunk_shape(shape: tuple[int, ...], itemsize: int, limit: int = CHUNK_BYTES) -> tuple[int, ...]:
    """HDF5 chunks for the usual reads: a whole variable, or one replication's (or one policy's) rows.
    The inner dimensions are kept whole and the outer ones cut, from the outermost, until a chunk holds
    at most ``limit`` bytes (a single dimension longer than that is cut too)."""
    chunk = [max(1, n) for n in shape]
    for i in range(len(chunk)):
        if itemsize * math.prod(chunk[i:]) <= limit:
            break
        rest = itemsize * math.prod(chunk[i + 1 :])
        chunk[i] = max(1, limit // rest)
        if rest <= limit:
            break
    return tuple(chunk)


def _cf_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A shallow copy of ``ds`` whose every variable has a ``long_name`` and UDUNITS ``units`` (money: the
    result's ISO code): what :func:`build_dataset` gives its own variables, for those that analyses add."""
    out = ds.copy(deep=False)
    cur = currency_of(ds)
    for name, var in out.variables.items():
        attrs = dict(var.attrs)
        if "units" in attrs and var.dtype.kind in "OUS":
            del attrs["units"]  # text has no units (a date lever: its values say it)
        elif "units" in attrs and isinstance(attrs["units"], str):
            attrs["units"] = UDUNITS.get(attrs["units"], money_units(attrs["units"], cur))
        if not attrs.get("long_name") and name not in ("time_bounds",):
            attrs["long_name"] = str(name).replace("_", " ")
        var.attrs = attrs
    if "valuecapture_version" in ds.attrs:
        out.attrs.setdefault("Conventions", CF_CONVENTIONS)
    return out


def stored_dtype(name: Hashable, var: xr.Variable) -> np.dtype:
    """The dtype ``var`` is stored with: float32 for :data:`FLOAT32`, its own otherwise."""
    if name in FLOAT32 and var.dtype.kind == "f":
        return np.dtype(np.float32)
    return var.dtype


def as_stored(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` as :func:`read_netcdf` gives it back after :func:`write_netcdf`: the :data:`FLOAT32` variables
    rounded to float32, ``long_name`` and UDUNITS units on every variable."""
    out = _cf_attrs(ds)
    for name in list(out.variables):
        var = out.variables[name]
        dt = stored_dtype(name, var)
        if dt != var.dtype:
            out[name] = var.astype(dt)
    return out


def to_disk(ds: xr.Dataset) -> tuple[xr.Dataset, dict[Hashable, dict[str, Any]]]:
    """The Dataset as it is written and the encoding of each variable: CF attributes (:func:`_cf_attrs`),
    text-valued dimension coordinates as labels, the time axis in days since the valuation date,
    :data:`FLOAT32` as float32, deflate and chunks for every variable of more than :data:`SMALL_BYTES`."""
    out = _cf_attrs(ds)
    labels = {d: f"{d}{LABEL_SUFFIX}" for d in out.dims if d in out.coords and out[d].dtype.kind in "OUS"}
    for d, label in labels.items():
        if label in out.variables:
            raise ValueError(f"cannot store the text dimension {d!r}: the Dataset already has a variable {label!r}")
    if labels:
        out = out.drop_indexes(list(labels)).rename_vars(labels)
    start = str(ds.attrs.get("valuation_date") or DEFAULT_START)
    encoding: dict[Hashable, dict[str, Any]] = {}
    for name, var in out.variables.items():
        enc: dict[str, Any] = {}
        if var.dtype.kind == "M":
            enc.update(units=f"days since {start} 00:00:00", calendar="standard", dtype="float64", _FillValue=None)
        elif var.dtype.kind in "fiu":
            dt = stored_dtype(name, var)
            if dt != var.dtype:
                enc["dtype"] = dt.name
            if name in out.coords:
                enc["_FillValue"] = None  # CF: coordinates have no missing values
            if var.ndim and var.size * dt.itemsize > SMALL_BYTES:
                enc.update(
                    zlib=True,
                    complevel=COMPRESSION_LEVEL,
                    shuffle=True,
                    chunksizes=chunk_shape(var.shape, dt.itemsize),
                )
        encoding[name] = enc
    return out, encoding


def netcdf_bytes(ds: xr.Dataset) -> memoryview:
    """``ds`` as a NetCDF4 file image (:func:`to_disk`), built in memory by h5netcdf."""
    disk, encoding = to_disk(ds)
    return memoryview(disk.to_netcdf(engine="h5netcdf", encoding=encoding))


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """``ds`` as compressed CF-1.10 NetCDF4 at ``path`` (:func:`to_disk`): built in memory by h5netcdf,
    written with plain file I/O (a full disk is then an ``OSError``, never a crash inside HDF5)."""
    write_file(path, netcdf_bytes(ds))


def from_disk(ds: xr.Dataset) -> xr.Dataset:
    """A Dataset read from a file :func:`write_netcdf` wrote, with its text-valued dimensions restored."""
    labels: dict[Hashable, str] = {
        f"{d}{LABEL_SUFFIX}": str(d)
        for d in ds.dims
        if d not in ds.variables
        and f"{d}{LABEL_SUFFIX}" in ds.variables
        and ds[f"{d}{LABEL_SUFFIX}"].dims == (d,)
        and ds[f"{d}{LABEL_SUFFIX}"].dtype.kind in "OUS"
    }
    ds = ds.rename_vars(labels)
    for d in labels.values():
        ds = ds.set_xindex([d])
    # text values that are not an index (a sweep's text factor, per point) come back as fixed-width strings:
    # object arrays again, as they were in memory (the analysis treats object values as categories)
    text = [n for n, v in ds.variables.items() if v.dtype.kind in "US" and n not in ds.indexes]
    return ds.assign({n: ds[n].astype(object) for n in text if n in ds.data_vars}).assign_coords(
        {n: ds[n].astype(object) for n in text if n in ds.coords}
    )


def open_netcdf(path: str | Path) -> xr.Dataset:
    """Open a file :func:`write_netcdf` wrote (lazily; ``.load()`` it): times as ``datetime64[s]``, which reach
    far beyond the nanosecond type's 1678-2262, and text-valued dimensions restored (:func:`from_disk`)."""
    ds = xr.open_dataset(path, engine="h5netcdf", decode_times=xr.coders.CFDatetimeCoder(time_unit="s"))
    return from_disk(ds)
