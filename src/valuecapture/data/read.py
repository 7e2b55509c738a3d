"""Reading a firm's customer table and revenue panel (CSV, or Parquet where pyarrow is installed).

The files are read with pandas (a tested CSV and Parquet reader: quoting, embedded commas,
byte-order marks and typed Parquet columns are its business, not ours), every cell as text
(CSV) so that each value is checked here, with the row and column it came from.  Nothing
is evaluated or unpickled: a CSV file is text, a Parquet file is columns of plain values.

Every problem is one :class:`DataError` whose message names the file, the row (counted as a
spreadsheet shows it: the header is row 1), the column and what is allowed.  The formats are
in docs/data.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuecapture.scenario.files import InputFileError, read_input

#: Largest customer table or panel read (a guard against /dev/zero and mistakes, not a design limit:
#: 100,000 customers with a 10-year panel are about 40 MB).
MAX_DATA_BYTES = 2 * 2**30

#: Largest column-mapping file read.
MAX_MAPPING_BYTES = 2**20

#: Cell values that mean "no value" (besides an empty cell).
MISSING = frozenset({"", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None"})

DATE_RULE = "an ISO date (YYYY-MM-DD)"


class DataError(ValueError):
    """A problem with the user's data.  ``str(err)`` is one line: ``file: row N, column 'c': problem``.

    ``row`` is the spreadsheet row (the header is row 1) or ``None`` for the whole file or column;
    ``column`` is the column's name in the file (with our name in parentheses when it was mapped)."""

    def __init__(self, source: str, row: int | None, column: str | None, message: str):
        self.source = source
        self.row = row
        self.column = column
        self.problem = message
        where = [source]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(
            ", ".join(where[:1]) + ": " + (", ".join(where[1:]) + ": " if len(where) > 1 else "") + message
        )


@dataclass(frozen=True)
class Column:
    """One column of an input file: our name, what it holds and what is allowed."""

    name: str
    kind: str  # id | date | text | number | year | period
    required: bool
    doc: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False

    def allowed(self) -> str:
        if self.kind == "date":
            return DATE_RULE
        if self.kind in ("id", "text"):
            return "a non-empty text"
        if self.kind in ("year", "period"):
            return "an integer"
        if self.lo is not None and self.hi is not None:
            return f"a number in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"
        if self.lo is not None:
            return f"a number {'>' if self.lo_open else '>='} {self.lo:g}"
        if self.hi is not None:
            return f"a number <= {self.hi:g}"
        return "a number"


#: The customer table: one row per customer (docs/data.md).
CUSTOMER_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "id", True, "The customer's identifier (any text, unique)."),
    Column("acquired", "date", True, "Date the relationship began."),
    Column("churned", "date", True, "Date the customer was lost; empty while still a customer."),
    Column("segment", "text", False, "Industry or segment (demand shocks are shared within a segment)."),
    Column("revenue", "number", False, "Revenue of the latest year (currency/year).", lo=0),
    Column("gross_margin", "number", False, "Gross margin of the latest year, as a fraction of revenue.", hi=1),
    Column("cogs", "number", False, "Cost of goods sold of the latest year (currency/year).", lo=0),
    Column("cost_to_serve", "number", False, "Cost to serve of the latest year (currency/year).", lo=0),
    Column("net_price", "number", False, "Net price realised, as a fraction of list price.", lo=0, lo_open=True),
    Column("dso_days", "number", False, "Days sales outstanding.", lo=0, hi=365),
)

#: The revenue panel: one row per customer and year (or period).
PANEL_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "id", True, "The customer's identifier, as in the customer table."),
    Column("year", "year", False, "Calendar year of the row (give year or period)."),
    Column("period", "period", False, "Period of the row, in the base scenario's period length (give year or period)."),
    Column("revenue", "number", True, "Revenue of the year or period.", lo=0),
    Column("cogs", "number", False, "Cost of goods sold of the year or period.", lo=0),
    Column("cost_to_serve", "number", False, "Cost to serve of the year or period.", lo=0),
)

NUMERIC = tuple(c.name for c in CUSTOMER_COLUMNS if c.kind == "number")
OURS = frozenset(c.name for c in CUSTOMER_COLUMNS + PANEL_COLUMNS)


@dataclass(frozen=True)
class Source:
    """Where a table came from: its path, the SHA-256 of its bytes and its number of data rows."""

    path: str
    sha256: str
    rows: int
    parquet: bool


@dataclass(frozen=True)
class CustomerTable:
    """The validated customer table, one array entry per customer (arrays of equal length).

    ``churned`` is ``NaT`` for customers still active at ``as_of``; ``values`` holds the
    numeric columns present in the file (``NaN`` where a cell was empty); ``row`` is each
    customer's spreadsheet row, for messages."""

    source: Source
    ids: np.ndarray  # object (str)
    acquired: np.ndarray  # datetime64[D]
    churned: np.ndarray  # datetime64[D], NaT = still a customer
    segment: np.ndarray | None  # object (str) or None without a segment column
    values: dict[str, np.ndarray]  # float, NaN = missing
    row: np.ndarray  # int64
    as_of: np.datetime64
    as_of_given: bool
    columns: dict[str, str] = field(default_factory=dict)  # our name -> the file's name, for the columns read

    @property
    def n(self) -> int:
        return int(self.ids.size)

    @property
    def active(self) -> np.ndarray:
        """Customers still active at ``as_of`` (bool array)."""
        return np.isnat(self.churned)

    def label(self, ours: str) -> str:
        """The column as a message names it: ``'StartDate' (acquired)`` when mapped, else ``'acquired'``."""
        theirs = self.columns.get(ours, ours)
        return repr(theirs) if theirs == ours else f"{theirs!r} ({ours})"


@dataclass(frozen=True)
class Panel:
    """The validated revenue panel in long form: one entry per (customer, year or period).

    ``customer`` indexes the customer table's rows; ``time`` is the year or period; ``unit`` is
    ``"year"`` or ``"period"``; ``values`` holds ``revenue`` and the optional cost columns."""

    source: Source
    customer: np.ndarray  # int64 index into CustomerTable
    time: np.ndarray  # int64
    unit: str
    values: dict[str, np.ndarray]
    row: np.ndarray
    columns: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Column mapping
# ---------------------------------------------------------------------------


def parse_column_options(items: Sequence[str], source: str = "--column") -> dict[str, str]:
    """``["acquired=StartDate", ...]`` as ``{"acquired": "StartDate"}`` (our name = the file's name)."""
    out: dict[str, str] = {}
    for item in items:
        ours, sep, theirs = item.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not ours or not theirs:
            raise DataError(source, None, None, f"{item!r} must look like OURS=THEIRS, e.g. acquired=StartDate")
        _check_ours(ours, source)
        if ours in out and out[ours] != theirs:
            raise DataError(source, None, None, f"{ours!r} is mapped twice ({out[ours]!r} and {theirs!r})")
        out[ours] = theirs
    return out


def read_mapping(path: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """A mapping file (TOML): ``[columns]`` maps our names to the customer table's (and the panel's)
    column names; an optional ``[panel]`` maps the panel's where they differ.  Returns both."""
    src = str(path)
    text = _decode(_read_bytes(path, MAX_MAPPING_BYTES), src, "a TOML mapping file")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(src, None, None, f"malformed TOML: {exc}") from None
    for key in raw:
        if key not in ("columns", "panel"):
            raise DataError(src, None, None, f"unknown section [{key}]; allowed: [columns], [panel]")
    tables = []
    for section in ("columns", "panel"):
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise DataError(src, None, None, f'[{section}] must be a table of our_name = "their column"')
        out: dict[str, str] = {}
        for ours, theirs in table.items():
            _check_ours(ours, f"{src}: [{section}]")
            if not isinstance(theirs, str) or not theirs.strip():
                raise DataError(src, None, None, f"[{section}] {ours} must be a column name (text), got {theirs!r}")
            out[ours] = theirs.strip()
        tables.append(out)
    return tables[0], tables[1]


def _check_ours(name: str, source: str) -> None:
    if name not in OURS:
        allowed = ", ".join(sorted(OURS))
        raise DataError(source, None, None, f"unknown column name {name!r} on the left of '='; allowed: {allowed}")


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _read_bytes(path: str | Path, limit: int) -> bytes:
    src = str(path)
    try:
        return read_input(path, limit)
    except FileNotFoundError:
        raise DataError(src, None, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(src, None, None, "is a directory, expected a CSV or Parquet file") from None
    except InputFileError:
        raise DataError(src, None, None, f"is not a regular file of at most {limit // 2**20} MiB") from None
    except OSError as exc:
        raise DataError(src, None, None, f"cannot be read: {exc.strerror or exc}") from None


def _decode(data: bytes, source: str, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        row = data[: max(offset - 1, 0)].count(b"\n") + 1
        raise DataError(
            source,
            row,
            None,
            f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 ({what})",
        ) from None


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".parquet", ".pq")


def read_table(path: str | Path, limit: int = MAX_DATA_BYTES) -> tuple[pd.DataFrame, Source, np.ndarray]:
    """The file as a DataFrame of its cells (CSV: text; Parquet: its typed columns), its
    :class:`Source`, and each data row's spreadsheet row (CSV: its line, the header being row 1;
    Parquet: its position from 1).  Blank CSV lines are skipped (and keep the numbering)."""
    src = str(path)
    data = _read_bytes(path, limit)
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise DataError(src, None, None, "is empty; expected a header row and one row per customer (docs/data.md)")
    if is_parquet(path):
        if importlib.util.find_spec("pyarrow") is None:
            raise DataError(
                src,
                None,
                None,
                "is a Parquet file, and reading Parquet needs pyarrow: pip install 'valuecapture[parquet]', "
                "or save the table as CSV",
            )
        try:
            frame = pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as exc:  # pyarrow's errors have no common base beyond Exception
            raise DataError(src, None, None, f"is not a readable Parquet file ({type(exc).__name__}: {exc})") from None
        names = [str(c) for c in frame.columns]
        _check_header(names, src)
        frame.columns = names
        rows = np.arange(len(frame), dtype=np.int64) + 1
    else:
        text = _decode(data, src, "a CSV file")
        head = text.split("\n", 1)[0]
        sep = ";" if head.count(";") > head.count(",") else ","
        try:
            cells = pd.read_csv(
                io.StringIO(text), header=None, dtype=str, keep_default_na=False, sep=sep, skip_blank_lines=False
            )
        except pd.errors.EmptyDataError:
            raise DataError(src, None, None, "is empty; expected a header row and one row per customer") from None
        except pd.errors.ParserError as exc:
            m = re.search(r"line (\d+)", str(exc))
            row = int(m.group(1)) if m else None
            raise DataError(src, row, None, f"is not a well-formed CSV table ({_tail(str(exc))})") from None
        blank = (cells.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy(dtype=bool)
        lines = np.flatnonzero(~blank)  # pandas counts lines from 0
        names = [str(c).strip() for c in cells.iloc[lines[0]]]
        _check_header(names, src)
        frame = cells.iloc[lines[1:]].reset_index(drop=True)
        frame.columns = names
        rows = lines[1:].astype(np.int64) + 1
    if len(frame) == 0:
        raise DataError(src, None, None, "has a header but no data rows")
    return frame, Source(src, digest, int(len(frame)), is_parquet(path)), rows


def _tail(message: str) -> str:
    return message.split("C error: ")[-1].strip().rstrip(".")


def _check_header(names: list[str], source: str) -> None:
    seen: set[str] = set()
    for name in names:
        if not name:
            raise DataError(source, 1, None, "a column has an empty name in the header row")
        if name in seen:
            raise DataError(source, 1, repr(name), "appears twice in the header row; column names must be distinct")
        seen.add(name)


# ---------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------


class _Columns:
    """The columns of one file under our names, with their row numbers, for checked conversion."""

    def __init__(self, frame: pd.DataFrame, source: Source, rows: np.ndarray, mapping: Mapping[str, str]):
        self.frame = frame
        self.source = source
        self.rows = rows
        self.mapping = dict(mapping)

    def theirs(self, ours: str) -> str:
        return self.mapping.get(ours, ours)

    def label(self, ours: str) -> str:
        theirs = self.theirs(ours)
        return repr(theirs) if theirs == ours else f"{theirs!r} ({ours})"

    def has(self, ours: str) -> bool:
        return self.theirs(ours) in self.frame.columns

    def error(self, index: int | None, ours: str | None, message: str) -> DataError:
        row = None if index is None else int(self.rows[index])
        return DataError(self.source.path, row, None if ours is None else self.label(ours), message)

    def require(self, spec: Sequence[Column], one_of: Sequence[tuple[str, ...]] = ()) -> None:
        present = ", ".join(repr(str(c)) for c in self.frame.columns)
        for col in spec:
            if col.required and not self.has(col.name):
                mapped = f" (mapped to {self.theirs(col.name)!r})" if col.name in self.mapping else ""
                raise DataError(
                    self.source.path,
                    1,
                    None,
                    f"column {col.name!r}{mapped} is missing; the header has {present} "
                    f"(map a column with --column {col.name}=THEIRS)",
                )
        for group in one_of:
            if not any(self.has(n) for n in group):
                raise DataError(
                    self.source.path,
                    1,
                    None,
                    f"needs a column {' or '.join(repr(n) for n in group)}; the header has {present}",
                )
        names = {c.name for c in spec}
        for ours, theirs in self.mapping.items():
            if ours in names and theirs not in self.frame.columns:
                raise DataError(
                    self.source.path,
                    1,
                    None,
                    f"column {theirs!r} (mapped to {ours}) is not in the header; it has {present}",
                )
        mapped_to = [self.theirs(c.name) for c in spec if self.has(c.name)]
        dup = {n for n in mapped_to if mapped_to.count(n) > 1}
        if dup:
            name = sorted(dup)[0]
            users = [c.name for c in spec if self.has(c.name) and self.theirs(c.name) == name]
            raise DataError(
                self.source.path, 1, repr(name), f"is used for {' and '.join(users)}; map each to its own column"
            )

    def raw(self, ours: str) -> tuple[pd.Series, np.ndarray]:
        """The column and its missing-value mask."""
        col = self.frame[self.theirs(ours)]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            text = col.astype("string").str.strip()
            missing = (text.isna() | text.isin(list(MISSING))).to_numpy(dtype=bool)
            return text, missing
        return col, col.isna().to_numpy(dtype=bool)

    def text(self, ours: str, required: bool) -> np.ndarray:
        col, missing = self.raw(ours)
        if required and missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise self.error(i, ours, "is empty; every row needs one (a non-empty text)")
        return np.asarray(col.astype("string").fillna("").to_numpy(dtype=object), dtype=object)

    def dates(self, ours: str, required: bool, empty_means: str) -> np.ndarray:
        col, missing = self.raw(ours)
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            parsed = col
        else:
            parsed = pd.to_datetime(col.where(~missing), format="ISO8601", errors="coerce")
        bad = parsed.isna().to_numpy(dtype=bool) & ~missing
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self.error(i, ours, f"{_cell(col, i)} is not a date; allowed: {DATE_RULE}{empty_means}")
        if required and missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise self.error(i, ours, f"is empty; allowed: {DATE_RULE}")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        return np.asarray(parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"))

    def numbers(self, spec: Column, integer: bool = False) -> np.ndarray:
        col, missing = self.raw(spec.name)
        if pd.api.types.is_bool_dtype(col.dtype):
            raise self.error(0, spec.name, f"holds true/false values; allowed: {spec.allowed()}")
        values = pd.to_numeric(col.where(~missing), errors="coerce").to_numpy(dtype=float)
        bad = ~missing & ~np.isfinite(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise self.error(i, spec.name, f"{_cell(col, i)} is not a number; allowed: {spec.allowed()}")
        with np.errstate(invalid="ignore"):
            low = (values <= spec.lo if spec.lo_open else values < spec.lo) if spec.lo is not None else None
            high = values > spec.hi if spec.hi is not None else None
        for mask in (low, high):
            if mask is not None and mask.any():
                i = int(np.flatnonzero(mask)[0])
                what = "negative" if spec.lo == 0 and not spec.lo_open and values[i] < 0 else "out of range"
                raise self.error(i, spec.name, f"{values[i]:g} is {what}; allowed: {spec.allowed()}")
        if integer:
            if missing.any():
                i = int(np.flatnonzero(missing)[0])
                raise self.error(i, spec.name, f"is empty; allowed: {spec.allowed()}")
            frac = values != np.round(values)
            if frac.any():
                i = int(np.flatnonzero(frac)[0])
                raise self.error(i, spec.name, f"{_cell(col, i)} is not an integer; allowed: {spec.allowed()}")
        return values


def _cell(col: pd.Series, i: int) -> str:
    value = col.iloc[i]
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# ---------------------------------------------------------------------------
# The customer table and the panel
# ---------------------------------------------------------------------------


def parse_as_of(text: str | date | None, source: str = "--as-of") -> np.datetime64 | None:
    """``--as-of`` as a day (``None`` stays ``None``)."""
    if text is None:
        return None
    if isinstance(text, date):
        return np.datetime64(text, "D")
    parsed = pd.to_datetime(pd.Series([str(text).strip()]), format="ISO8601", errors="coerce").iloc[0]
    if pd.isna(parsed):
        raise DataError(source, None, None, f"{text!r} is not a date; allowed: {DATE_RULE}")
    return np.datetime64(parsed.date(), "D")


def read_customers(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    as_of: str | date | None = None,
    latest: np.datetime64 | None = None,
) -> CustomerTable:
    """Read and check the customer table (docs/data.md).

    ``columns`` maps our column names to the file's; ``as_of`` is the end of observation
    (default: the latest date in the table, or ``latest`` where that is later, e.g. the end of
    a panel's last year); customers without a churn date are censored there.  Raises
    :class:`DataError`."""
    as_of_day = parse_as_of(as_of)
    frame, source, rows = read_table(path)
    cols = _Columns(frame, source, rows, columns or {})
    cols.require(CUSTOMER_COLUMNS)
    ids = cols.text("customer_id", required=True)
    dup = pd.Series(ids).duplicated().to_numpy(dtype=bool)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        j = int(np.flatnonzero(ids == ids[i])[0])
        raise cols.error(i, "customer_id", f"{ids[i]!r} appears again (first in row {rows[j]}); ids must be unique")
    acquired = cols.dates("acquired", required=True, empty_means="")
    churned = cols.dates("churned", required=False, empty_means=", or empty while still a customer")
    with np.errstate(invalid="ignore"):
        before = ~np.isnat(churned) & (churned < acquired)
    if before.any():
        i = int(np.flatnonzero(before)[0])
        raise cols.error(
            i,
            "churned",
            f"{churned[i]} is before the acquisition date {acquired[i]}; a customer is lost after it is won",
        )
    segment = cols.text("segment", required=True) if cols.has("segment") else None
    values: dict[str, np.ndarray] = {}
    for spec in CUSTOMER_COLUMNS:
        if spec.kind == "number" and cols.has(spec.name):
            values[spec.name] = cols.numbers(spec)
    latest_day = max(
        acquired.max(), churned[~np.isnat(churned)].max() if (~np.isnat(churned)).any() else acquired.max()
    )
    if latest is not None and latest > latest_day:
        latest_day = latest
    if as_of_day is not None:
        for ours, days in (("acquired", acquired), ("churned", churned)):
            with np.errstate(invalid="ignore"):
                after = ~np.isnat(days) & (days > as_of_day)
            if after.any():
                i = int(np.flatnonzero(after)[0])
                raise cols.error(
                    i,
                    ours,
                    f"{days[i]} is after --as-of {as_of_day}; allowed: dates on or before the end of observation",
                )
    used = {c.name: cols.theirs(c.name) for c in CUSTOMER_COLUMNS if cols.has(c.name)}
    return CustomerTable(
        source=source,
        ids=ids,
        acquired=acquired,
        churned=churned,
        segment=segment,
        values=values,
        row=rows,
        as_of=as_of_day if as_of_day is not None else latest_day,
        as_of_given=as_of_day is not None,
        columns=used,
    )


def read_panel(path: str | Path, customers: CustomerTable, columns: Mapping[str, str] | None = None) -> Panel:
    """Read and check the revenue panel against the customer table (docs/data.md).

    Every ``customer_id`` must be in the table, each (customer, year) once; with ``year``, a row's
    year must lie within the customer's relationship (from the acquisition year to the churn
    year) and end on or before ``as_of``.  Raises :class:`DataError`."""
    return _panel(read_table(path), customers, columns)


def _panel(
    read: tuple[pd.DataFrame, Source, np.ndarray], customers: CustomerTable, columns: Mapping[str, str] | None
) -> Panel:
    frame, source, rows = read
    cols = _Columns(frame, source, rows, columns or {})
    cols.require(PANEL_COLUMNS, one_of=[("year", "period")])
    if cols.has("year") and cols.has("period"):
        raise DataError(source.path, 1, None, "has both a 'year' and a 'period' column; give one of them")
    unit = "year" if cols.has("year") else "period"
    ids = cols.text("customer_id", required=True)
    index = pd.Index(customers.ids)
    pos = index.get_indexer(pd.Index(ids))
    unknown = pos < 0
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise cols.error(i, "customer_id", f"{ids[i]!r} is not in the customer table {customers.source.path}")
    spec = {c.name: c for c in PANEL_COLUMNS}
    time = cols.numbers(spec[unit], integer=True).astype(np.int64)
    dup = pd.DataFrame({"c": pos, "t": time}).duplicated().to_numpy(dtype=bool)
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise cols.error(i, unit, f"customer {ids[i]!r} has a second row for {unit} {time[i]}; one row per {unit}")
    values = {"revenue": cols.numbers(spec["revenue"])}
    for name in ("cogs", "cost_to_serve"):
        if cols.has(name):
            values[name] = cols.numbers(spec[name])
    if unit == "year":
        acq_year = customers.acquired.astype("datetime64[Y]").astype(np.int64)[pos] + 1970
        churned = customers.churned[pos]
        churn_year = np.where(
            np.isnat(churned), np.iinfo(np.int64).max, churned.astype("datetime64[Y]").astype(np.int64) + 1970
        )
        early = time < acq_year
        late = time > churn_year
        for mask, what in (
            (early, "before the year the customer was acquired"),
            (late, "after the year the customer churned"),
        ):
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                raise cols.error(
                    i,
                    "year",
                    f"{time[i]} is {what} ({'acquired' if mask is early else 'churned'} in the customer table)",
                )
        if customers.as_of_given:
            year_end = (time - 1970 + 1).astype("datetime64[Y]").astype("datetime64[D]") - np.timedelta64(1, "D")
            after = year_end > customers.as_of
            if after.any():
                i = int(np.flatnonzero(after)[0])
                raise cols.error(
                    i,
                    "year",
                    f"{time[i]} ends after --as-of {customers.as_of}; allowed: years that end on or before it",
                )
    used = {c.name: cols.theirs(c.name) for c in PANEL_COLUMNS if cols.has(c.name)}
    return Panel(source, pos.astype(np.int64), time, unit, values, rows, used)


def panel_latest(path: str | Path, columns: Mapping[str, str] | None = None) -> np.datetime64 | None:
    """The end of the last year of a panel with a ``year`` column (``None`` for a panel by period)."""
    return _panel_latest(read_table(path), columns)


def _panel_latest(
    read: tuple[pd.DataFrame, Source, np.ndarray], columns: Mapping[str, str] | None
) -> np.datetime64 | None:
    frame, source, rows = read
    cols = _Columns(frame, source, rows, columns or {})
    if not cols.has("year"):
        return None
    spec = {c.name: c for c in PANEL_COLUMNS}["year"]
    years = cols.numbers(spec, integer=True)
    last = int(np.max(years))
    return np.datetime64(f"{last:04d}-12-31", "D")


def read_data(
    customers: str | Path,
    panel: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    panel_columns: Mapping[str, str] | None = None,
    as_of: str | date | None = None,
) -> tuple[CustomerTable, Panel | None]:
    """The customer table and (optionally) the panel, checked together.  Without ``as_of`` the end
    of observation is the latest date in the data: the table's dates and the end of the panel's
    last year.  ``panel_columns`` defaults to ``columns``."""
    mapping = dict(columns or {})
    pmap = {**mapping, **(panel_columns or {})}
    panel_read = read_table(panel) if panel is not None else None
    latest = _panel_latest(panel_read, pmap) if panel_read is not None and as_of is None else None
    table = read_customers(customers, mapping, as_of, latest=latest)
    return table, (_panel(panel_read, table, pmap) if panel_read is not None else None)


def summary(table: CustomerTable) -> dict[str, Any]:
    """Counts of a customer table, for messages and the sidecar."""
    return {
        "customers": table.n,
        "active": int(table.active.sum()),
        "churned": int((~table.active).sum()),
        "as_of": str(table.as_of),
        "first_acquired": str(table.acquired.min()),
    }
