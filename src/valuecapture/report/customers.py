"""A simulated firm as a customer table and a revenue panel (``valuecapture export-customers``).

One detail replication of a result run with ``outputs.revenue_panel = true`` is written in
exactly the input format of ``valuecapture calibrate`` (docs/data.md), so that teachers can
hand out data and tests can check that calibration recovers the parameters a firm was
simulated with.

The calendar: the horizon starts on ``start`` (a 1 January, so the horizon's years are
calendar years and the panel's ``year`` column means what calibrate reads), period ``t``
begins ``(t - 1)`` periods later (whole months when 12 is a multiple of
``periods_per_year``, otherwise 365.25 / periods_per_year days each), a customer won at the
start of period ``t`` is ``acquired`` on that day, and one lost at the end of period ``t``
is ``churned`` on the last day of it.  Observation ends (``as_of``) on the last day of the
last whole year of the horizon: a horizon that is not a whole number of years is cut there
(customers won after it are not in the table, and the ones active then are censored).

The initial customers are exported as **acquired at the start** of the horizon (default):
their drawn age at the start has no churn history behind it (the engine draws their churn
propensity from the unconditional distribution, not given that age), so the table is then
one complete cohort history from the start plus the cohorts won later, which the estimators
use without left truncation.  ``drawn_tenure=True`` dates them back by their age instead
(a realistic-looking table, consistent with the engine only for customers whose propensity
was conditioned on their tenure: ``[customers] source``).

Economic columns are written for the customers active at ``as_of`` (those calibrate reads):
``revenue`` of the last whole year, ``cogs = cogs_ratio x revenue / net_price`` and
``cost_to_serve = revenue x rate x (1 + adaptation_cost x E[A0])``, the inverses of
calibrate's mappings (docs/calibration.md, "Assumptions in the mapping"), with the rate and
the net price of the relationship's final business model; ``net_price`` and ``dso_days``
for every customer.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from valuecapture import __version__
from valuecapture.run.load import scenario_of
from valuecapture.run.outputs import check_files_replaceable, check_out_folder, claimed, umask

#: The horizon's first day when ``--start`` is not given.
DEFAULT_START = "2020-01-01"
CUSTOMERS_FILE = "customers.csv"
PANEL_FILE = "revenue.csv"
#: What was exported, from which result, and the files written (so that they can be replaced).
EXPORT_FILE = "export.json"
WRITTEN_BY = "valuecapture export-customers"
#: The detail variables an export needs (``outputs.revenue_panel`` adds the last three).
NEEDED = ("acquired_period", "periods_active", "segment", "net_price", "cost_to_serve")
PANEL_NEEDED = ("relationship_revenue", "initial_age", "active_at_horizon")
CUSTOMER_COLUMNS = ("customer_id", "acquired", "churned", "segment", "revenue", "cogs", "cost_to_serve", "net_price")


class ExportError(ValueError):
    """A result or an option an export cannot use (bad input: one line, exit code 2)."""


@dataclass(frozen=True)
class Export:
    """A simulated firm in the input format of docs/data.md."""

    customers: pd.DataFrame  # one row per customer: CUSTOMER_COLUMNS and dso_days
    panel: pd.DataFrame  # customer_id, year, revenue: one row per customer and year of its relationship
    start: date
    as_of: date
    replication: int
    years: int  # whole years observed

    def meta(self) -> dict[str, Any]:
        active = int(self.customers["churned"].eq("").sum())
        return {
            "replication": self.replication,
            "start": self.start.isoformat(),
            "as_of": self.as_of.isoformat(),
            "years": self.years,
            "customers": len(self.customers),
            "active": active,
            "churned": len(self.customers) - active,
            "panel_rows": len(self.panel),
        }


def parse_start(text: str | date | None) -> date:
    """``--start``: an ISO date that is a 1 January (default :data:`DEFAULT_START`)."""
    if isinstance(text, date):
        day = text
    else:
        try:
            day = date.fromisoformat(str(text if text is not None else DEFAULT_START).strip())
        except ValueError:
            raise ExportError(f"--start {text!r}: is not a date; allowed: an ISO date YYYY-01-01") from None
    if (day.month, day.day) != (1, 1) or not 1 <= day.year <= 9000:
        raise ExportError(
            f"--start {day.isoformat()}: must be a 1 January (the revenue panel's years are the horizon's years)"
        )
    return day


def boundaries(start: date, periods: int, periods_per_year: int) -> np.ndarray:
    """The first day of periods 1..periods + 1 (datetime64[D]): entry ``k`` is ``k`` periods after ``start``."""
    k = np.arange(periods + 1)
    origin = np.datetime64(start.isoformat(), "D")
    if 12 % periods_per_year == 0:
        months = np.datetime64(start.isoformat()[:7], "M") + k * (12 // periods_per_year)
        return months.astype("datetime64[D]")
    return origin + np.round(k * 365.25 / periods_per_year).astype(np.int64)


def check_exportable(ds: xr.Dataset, where: str) -> None:
    """Refuse (one line) a result without the per-relationship detail and revenue panel an export needs."""
    missing = [v for v in (*NEEDED, *PANEL_NEEDED) if v not in ds.data_vars]
    if any(v in missing for v in NEEDED):
        raise ExportError(
            f"{where}: has no per-relationship detail; run it again with outputs.relationship_detail >= 1 and "
            "outputs.revenue_panel = true (e.g. --set outputs.revenue_panel=true)"
        )
    if missing:
        raise ExportError(
            f"{where}: has no revenue panel; run it again with outputs.revenue_panel = true "
            "(e.g. --set outputs.revenue_panel=true)"
        )


def customer_tables(
    ds: xr.Dataset,
    replication: int = 0,
    start: str | date | None = None,
    drawn_tenure: bool = False,
    where: str = "<result>",
) -> Export:
    """Detail replication ``replication`` of the result ``ds`` as a customer table and a yearly
    revenue panel (module docstring: calendar, initial customers, economic columns)."""
    check_exportable(ds, where)
    n_detail = ds.sizes["detail_replication"]
    if not 0 <= replication < n_detail:
        raise ExportError(
            f"--replication {replication}: {where} keeps the detail of replications 0 to {n_detail - 1} "
            "(outputs.relationship_detail)"
        )
    day0 = parse_start(start)
    sc = scenario_of(ds)
    g = sc.get
    ppy, periods = int(g("horizon.periods_per_year")), int(g("horizon.periods"))
    years = periods // ppy
    if years < 1:
        raise ExportError(f"{where}: the horizon is shorter than a year ({periods} periods); nothing to observe")
    cut = years * ppy  # the periods observed: whole years
    d = ds.isel(detail_replication=replication)
    acquired_period = d["acquired_period"].values.astype(np.int64)
    periods_active = d["periods_active"].values.astype(np.int64)
    first = np.maximum(acquired_period, 1)
    last = first + periods_active - 1
    keep = (acquired_period >= 0) & (first <= cut)
    slots = np.flatnonzero(keep)
    first, last = first[slots], last[slots]
    active_end = d["active_at_horizon"].values[slots] == 1
    lost = (last < cut) | ((last == cut) & ((cut < periods) | ~active_end))
    edge = boundaries(day0, periods, ppy)
    one = np.timedelta64(1, "D")
    as_of = edge[cut] - one
    acquired = edge[first - 1]
    if drawn_tenure:
        age = d["initial_age"].values[slots]
        initial = acquired_period[slots] == 0
        back = np.round(np.where(initial, age, 0.0) * 365.25).astype(np.int64)
        acquired = acquired - back.astype("timedelta64[D]")
    churned = np.where(lost, edge[np.minimum(last, cut)] - one, np.datetime64("NaT", "D"))
    ids = _ids(ds, slots)
    names = np.asarray(ds["segment_name"].values, dtype=object)
    segment = names[d["segment"].values[slots].astype(np.int64)]
    panel = d["relationship_revenue"].values[slots][:, :years]
    revenue = np.where(lost, np.nan, panel[:, years - 1])
    price = d["net_price"].values[slots]
    adapt = 1.0 + float(g("relationship.adaptation_cost")) * float(g("uncertainties.initial_adaptation").mean())
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "acquired": np.datetime_as_string(acquired, unit="D"),
            "churned": np.where(lost, np.datetime_as_string(churned, unit="D"), ""),
            "segment": segment,
            "revenue": np.round(revenue, 2),
            "cogs": np.round(float(g("economics.cogs_ratio")) * revenue / price, 2),
            "cost_to_serve": np.round(revenue * d["cost_to_serve"].values[slots] * adapt, 2),
            "net_price": np.round(price, 6),
            "dso_days": float(g("economics.dso_days")),
        }
    )
    start_year = (first - 1) // ppy  # horizon year index of the first and last active period
    end_year = (np.minimum(last, cut) - 1) // ppy
    rows, cols = np.nonzero((np.arange(years) >= start_year[:, None]) & (np.arange(years) <= end_year[:, None]))
    frame = pd.DataFrame(
        {"customer_id": ids[rows], "year": day0.year + cols, "revenue": np.round(panel[rows, cols], 2)}
    )
    return Export(
        customers=customers,
        panel=frame,
        start=day0,
        as_of=date.fromisoformat(str(as_of)),
        replication=replication,
        years=years,
    )


def _ids(ds: xr.Dataset, slots: np.ndarray) -> np.ndarray:
    """Customer ids: the firm's own for actual customers (``customer_id``), else ``C`` and the slot."""
    ids = np.array([f"C{i:06d}" for i in slots], dtype=object)
    if "customer_id" in ds.coords:
        given = np.asarray(ds["customer_id"].values, dtype=object)[slots]
        ids = np.where([bool(str(x)) for x in given], given, ids)
    return ids


def _csv(frame: pd.DataFrame) -> str:
    return str(frame.to_csv(index=False, lineterminator="\n", na_rep=""))


def _ours(folder: Path) -> set[str]:
    """Names of the files a previous export wrote into ``folder`` (listed in its export.json)."""
    f = folder / EXPORT_FILE
    if f.is_symlink() or not f.is_file():
        return set()
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(meta, dict) or meta.get("written_by") != WRITTEN_BY or not isinstance(meta.get("files"), dict):
        return set()
    return {*meta["files"], EXPORT_FILE}


def check_targets(out: str | Path, overwrite: bool = False) -> Path:
    """The export folder, refused (one line) before anything is written when a file an export
    writes is in the way: a link, or an existing file, unless ``overwrite`` and a previous
    export wrote it (its export.json lists it).  Other files in the folder are left alone."""
    folder = check_out_folder(out)
    ours = _ours(folder) if folder.is_dir() else set()
    check_files_replaceable(folder, (CUSTOMERS_FILE, PANEL_FILE, EXPORT_FILE), ours, overwrite, "export-customers")
    return folder


def write_export(
    export: Export, out: str | Path, overwrite: bool = False, source: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``export`` into the folder ``out``: customers.csv, revenue.csv and export.json, each
    built in a hidden file inside ``out``, flushed and renamed into place (export.json first,
    so a file it lists is always one an export wrote).  Refused as :func:`check_targets` says,
    under the folder's lock.  Returns the two data files' paths."""
    folder = check_targets(out, overwrite)
    texts = {CUSTOMERS_FILE: _csv(export.customers), PANEL_FILE: _csv(export.panel)}
    meta = {
        "written_by": WRITTEN_BY,
        "valuecapture_version": __version__,
        **export.meta(),
        "source": source or {},
        "files": {name: hashlib.sha256(t.encode("utf-8")).hexdigest() for name, t in texts.items()},
        "calibrate": f"valuecapture calibrate {CUSTOMERS_FILE} --panel {PANEL_FILE} --as-of {export.as_of.isoformat()}",
    }
    with claimed(folder, "export-customers", "a customer export"):
        check_targets(folder, overwrite)  # still ours to replace, now under the lock
        staged: list[tuple[Path, Path]] = []
        try:
            for name, text in ((EXPORT_FILE, json.dumps(meta, indent=1) + "\n"), *texts.items()):
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.partial-", dir=folder)
                staged.append((Path(tmp), folder / name))
                with os.fdopen(fd, "wb") as f:
                    f.write(text.encode("utf-8"))
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o666 & ~umask())
            for tmp_path, target in staged:
                os.replace(tmp_path, target)
        finally:
            for tmp_path, _ in staged:
                if tmp_path.exists():
                    tmp_path.unlink()
    return folder / CUSTOMERS_FILE, folder / PANEL_FILE
