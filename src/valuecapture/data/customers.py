"""A firm's actual customers as the initial customers of a run (``[customers] source = "FILE"``).

The customers active at the end of observation become the customers at t = 0, in file order,
each with its own attributes where the table has them (docs/calibration.md, "Starting from
the actual customers"):

* **wallet** = annual revenue / (net price x the scenario's mean initial share of wallet), the
  mapping ``valuecapture calibrate`` uses (revenue of a customer with less than a year of
  tenure is scaled to a year);
* **net price** from ``net_price``; **cost to serve** = ``cost_to_serve`` / revenue /
  (1 + adaptation_cost E[A0]);
* **segment** by name among ``customers.segments``;
* **age** = tenure at the end of observation, and the **churn propensity** is drawn from its
  distribution *given that the customer survived that long*: with a Beta(a, b) annual churn
  probability (the shifted-beta-geometric model), a customer that survived ``t`` years has
  Beta(a, b + t) (Fader & Hardie 2007), so long-standing customers are the loyal ones.

What the table does not give (growth, initial trust and adaptation, and any column missing) is
drawn from the scenario's distributions as for any customer; new customers are drawn from them
too.  The file is read where the scenario says (relative to its folder, never outside it), and
nothing is written.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from valuecapture.data.calibrate import mean_share_of_wallet
from valuecapture.data.read import CustomerTable, DataError, parse_column_options, read_customers
from valuecapture.scenario.business import effective_factors
from valuecapture.scenario.load import Scenario, ScenarioError

#: Days in a year, for tenure.
YEAR_DAYS = 365.25


@dataclass(frozen=True)
class InitialCustomers:
    """The actual customers at t = 0: one entry per customer active at ``as_of`` (NaN: not in the
    table, so drawn like any customer's)."""

    path: str  # as the scenario gives it
    sha256: str
    as_of: str
    ids: np.ndarray  # object (str)
    wallet: np.ndarray  # currency/year at list price
    price: np.ndarray  # fraction of list
    cost_to_serve: np.ndarray  # fraction of revenue
    segment: np.ndarray  # int16 index into customers.segments
    age: np.ndarray  # years of tenure at as_of

    @property
    def n(self) -> int:
        return int(self.ids.size)


def resolve_source(scenario: Scenario) -> Path:
    """The customer file of ``scenario``: ``customers.source`` relative to the scenario file's
    folder, which it must not leave.  Raises :class:`ScenarioError`."""
    text = scenario.get("customers.source")
    where = Path(scenario.source).resolve().parent if scenario.source and scenario.source[0] != "<" else Path.cwd()
    rel = Path(text)
    target = (where / rel).resolve()
    if rel.is_absolute() or not target.is_relative_to(where):
        raise ScenarioError(
            scenario.source,
            "customers.source",
            f"{text!r} leaves the scenario's folder; allowed: a path inside {where} (relative to the scenario file)",
        )
    return target


def check_checksum(scenario: Scenario, sha256: str) -> None:
    """The customer file still has the checksum a result recorded (``reproduce``), else
    :class:`ScenarioError` saying the data changed."""
    path = resolve_source(scenario)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise ScenarioError(scenario.source, "customers.source", f"{path}: cannot be read ({err.strerror})") from None
    if digest != sha256:
        raise ScenarioError(
            scenario.source,
            "customers.source",
            f"{path} has changed since the run (SHA-256 {digest[:12]}..., the result recorded {sha256[:12]}...); "
            "restore the file the run used to reproduce it",
        )


def initial_customers(scenario: Scenario) -> InitialCustomers:
    """Read ``customers.source`` and map its active customers onto initial-customer attributes.
    Raises :class:`ScenarioError` (one line naming the scenario field, and the file, row and
    column for bad data) when the file is missing, bad, or disagrees with the scenario."""
    path = resolve_source(scenario)
    try:
        pairs = [x.strip() for x in scenario.get("customers.columns").split(",") if x.strip()]
        columns = parse_column_options(pairs, "customers.columns")
        table = _read(path, tuple(sorted(columns.items())), scenario.get("customers.as_of") or None)
    except DataError as err:
        raise ScenarioError(scenario.source, "customers.source", str(err)) from None
    return _map(scenario, table)


@functools.lru_cache(maxsize=4)
def _read(path: Path, columns: tuple[tuple[str, str], ...], as_of: str | None) -> CustomerTable:
    """The table, read once per file and settings in a process (variants of one run share it)."""
    return read_customers(path, dict(columns), as_of)


def _map(scenario: Scenario, table: CustomerTable) -> InitialCustomers:
    g = scenario.get
    active = table.active
    n = int(active.sum())
    count = g("customers.count")
    if n != count:
        raise ScenarioError(
            scenario.source,
            "customers.count",
            f"must equal the {n} customers active at {table.as_of} in {g('customers.source')}, got {count}",
        )
    tenure_days = (table.as_of - table.acquired[active]).astype("timedelta64[D]").astype(np.float64)
    values = {k: v[active] for k, v in table.values.items()}
    nan = np.full(n, np.nan)
    price_factor, cts_factor = effective_factors(scenario)  # the first business model serves them at the start
    price = values.get("net_price", nan) / price_factor
    revenue = values.get("revenue", nan) * np.where(
        tenure_days >= YEAR_DAYS, 1.0, YEAR_DAYS / np.maximum(tenure_days, 1)
    )
    sow = mean_share_of_wallet(scenario)
    mean_price = g("uncertainties.price").mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        paid = np.where(np.isfinite(price), price, mean_price) * price_factor  # the net price revenue reflects
        wallet = np.where(revenue > 0, revenue / (paid * sow), np.nan)
        adapt = 1.0 + g("relationship.adaptation_cost") * g("uncertainties.initial_adaptation").mean()
        cts = np.where(revenue > 0, values.get("cost_to_serve", nan) / revenue / adapt / cts_factor, np.nan)
    names = list(g("customers.segments"))
    if table.segment is None:
        if len(names) > 1:
            raise ScenarioError(
                scenario.source,
                "customers.source",
                f"{table.source.path}: has no segment column, but the scenario has {len(names)} segments; add one, "
                "or use a scenario with one segment",
            )
        segment = np.zeros(n, dtype=np.int16)
    else:
        labels = table.segment[active]
        unknown = sorted(set(labels) - set(names))
        if unknown:
            row = int(table.row[active][list(labels).index(unknown[0])])
            raise ScenarioError(
                scenario.source,
                "customers.source",
                f"{table.source.path}: row {row}: {table.label('segment')}: segment {unknown[0]!r} is not in "
                f"customers.segments ({', '.join(names)})",
            )
        segment = np.array([names.index(s) for s in labels], dtype=np.int16)
    return InitialCustomers(
        path=g("customers.source"),
        sha256=table.source.sha256,
        as_of=str(table.as_of),
        ids=table.ids[active].astype(object),
        wallet=wallet,
        price=price,
        cost_to_serve=cts,
        segment=segment,
        age=tenure_days / YEAR_DAYS,
    )
