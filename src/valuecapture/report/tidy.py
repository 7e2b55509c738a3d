"""Tidy tables of a result for spreadsheets, R and BI tools (``valuecapture export``).

A result Dataset holds variables over different sets of dimensions: ``replication``,
``replication x period``, ``detail_replication x customer``, ``policy x replication``...
:func:`tidy_tables` turns it into one *long* table per distinct set of dimensions: one row
per combination of the dimensions' coordinates, one column per dimension, then the
coordinates that hang on those dimensions (``year`` beside ``period``, ``internal_fit``
beside ``business_model``), then every variable over exactly those dimensions.  Coordinates
that no variable's table can carry (``segment_name`` over ``segment_index``) get a table
of their own, so a code such as ``segment`` can be looked up.  A dimension without a
coordinate gets its positions 0, 1, 2...

:func:`write_tidy` writes the tables as CSV or Parquet into a folder the user chose, with
``provenance.json`` (the Dataset's attributes: scenario, seed, checksums, versions; every
table's dimensions, rows, columns with their units and descriptions, and SHA-256) and
``columns.csv`` (the same column dictionary as a table, for spreadsheets).  Nothing is
replaced unless ``overwrite`` and a previous ``valuecapture export`` wrote it (its
provenance.json lists it); every file is built hidden in the folder and renamed into
place (docs/export.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from valuecapture.run.outputs import check_files_replaceable, check_out_folder, claimed, umask
from valuecapture.version import __version__

FORMATS: tuple[str, ...] = ("csv", "parquet")
PROVENANCE_FILE = "provenance.json"
COLUMNS_FILE = "columns.csv"
WRITTEN_BY = "valuecapture export"
#: Name of the table of variables without dimensions.
SCALARS = "scalars"
#: What joins dimension names in a table's name: ``replication_x_period``.
JOIN = "_x_"
PARQUET_HINT = "pip install 'valuecapture[parquet]'"


class ExportError(ValueError):
    """The export cannot be made as asked (bad input: exit code 2)."""


@dataclass(frozen=True)
class TidyTable:
    """One long table: the variables of a result over one set of dimensions.

    ``frame`` has a column per dimension, per coordinate on those dimensions and per
    variable; ``columns`` describes each (``role``: dimension, coordinate or variable;
    ``dtype``; the variable's own attributes such as ``units``, ``long_name``,
    ``description``)."""

    name: str
    dims: tuple[str, ...]
    frame: pd.DataFrame
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def variables(self) -> list[str]:
        return [c for c, meta in self.columns.items() if meta["role"] == "variable"]


def table_name(dims: Sequence[str]) -> str:
    """The name of the table over ``dims``: ``replication``, ``replication_x_period``, ``scalars``."""
    return JOIN.join(dims) if dims else SCALARS


def json_safe(value: Any) -> Any:
    """``value`` as JSON data: numpy scalars and arrays as numbers and lists, NaN and infinities as None."""
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _column_meta(role: str, var: xr.DataArray, values: pd.Series) -> dict[str, Any]:
    meta: dict[str, Any] = {"role": role, "dtype": str(values.dtype)}
    meta.update({str(k): json_safe(v) for k, v in var.attrs.items()})
    return meta


def tidy_tables(ds: xr.Dataset) -> list[TidyTable]:
    """The long tables of ``ds``: one per distinct set of dimensions of its variables, in the
    order the variables come, then one per set of dimensions of coordinates no table holds."""
    groups: dict[frozenset[str], tuple[tuple[str, ...], list[str]]] = {}
    for name, var in ds.data_vars.items():
        key = frozenset(str(d) for d in var.dims)
        if key not in groups:
            groups[key] = (tuple(str(d) for d in var.dims), [])
        groups[key][1].append(str(name))
    held = list(groups)
    for name, coord in ds.coords.items():
        if name in ds.dims or not coord.dims:
            continue
        key = frozenset(str(d) for d in coord.dims)
        if not any(key <= g for g in held):
            groups.setdefault(key, (tuple(str(d) for d in coord.dims), []))
            held.append(key)
    return [_table(ds, dims, names) for dims, names in groups.values()]


def _table(ds: xr.Dataset, dims: tuple[str, ...], names: list[str]) -> TidyTable:
    """The table over ``dims`` holding the variables ``names`` (none: a coordinates' table)."""
    coords = [
        str(c)
        for c, v in ds.coords.items()
        if c not in ds.dims and ((bool(v.dims) and set(v.dims) <= set(dims)) if dims else not v.dims)
    ]
    coords.sort(key=lambda c: [dims.index(str(d)) for d in ds[c].dims])
    shape = tuple(ds.sizes[d] for d in dims)
    data: dict[str, Any] = {}
    columns: dict[str, dict[str, Any]] = {}
    positions = np.indices(shape).reshape(len(dims), -1) if dims else np.zeros((0, 1), dtype=int)
    for i, d in enumerate(dims):
        if d in ds.coords:
            values = np.asarray(ds[d].values)[positions[i]]
            s = pd.Series(values, name=d)
            data[d] = s
            columns[d] = _column_meta("dimension", ds[d], s)
        else:
            s = pd.Series(positions[i], name=d)
            data[d] = s
            columns[d] = {"role": "dimension", "dtype": str(s.dtype), "description": f"position along {d} (0, 1, ...)"}
    for name in [*coords, *names]:
        var = ds[name]
        order = [d for d in dims if d in var.dims]
        arr = np.asarray(var.transpose(*order).values)
        flat = np.broadcast_to(arr[tuple(positions[dims.index(d)] for d in order)], (positions.shape[1],))
        s = pd.Series(flat, name=name)
        if name in data:
            raise ExportError(f"column {name!r} appears twice in the table over {', '.join(dims)}")
        data[name] = s
        columns[name] = _column_meta("coordinate" if name in coords else "variable", var, s)
    frame = pd.DataFrame(data, columns=list(data))
    return TidyTable(table_name(dims), dims, frame, columns)


def parquet_available() -> bool:
    """Whether pyarrow, which writes Parquet, can be imported."""
    try:
        import pyarrow  # noqa: F401  (an optional dependency: the extra ``parquet``)
    except ImportError:
        return False
    return True


def _csv_bytes(table: TidyTable) -> bytes:
    # floats are written with the shortest text that reads back to the same bits; NaN as an empty field
    text = table.frame.to_csv(index=False, lineterminator="\n", na_rep="")
    return str(text).encode("utf-8")


def _parquet_bytes(table: TidyTable, provenance: Mapping[str, Any]) -> bytes:
    import pyarrow as pa  # optional dependency (the extra ``parquet``), checked by parquet_available
    import pyarrow.parquet as pq

    arrow = pa.Table.from_pandas(table.frame, preserve_index=False)
    fields = []
    for f in arrow.schema:
        meta = table.columns.get(f.name, {})
        keep = {k: v for k, v in meta.items() if k in ("units", "long_name", "description", "standard_name", "role")}
        fields.append(f.with_metadata({k.encode(): str(v).encode("utf-8") for k, v in keep.items()}))
    schema = pa.schema(fields, metadata={**(arrow.schema.metadata or {}), b"valuecapture": _dump(provenance).encode()})
    arrow = pa.Table.from_arrays(arrow.columns, schema=schema)
    buf = io.BytesIO()
    pq.write_table(arrow, buf)
    return buf.getvalue()


def _dump(meta: Mapping[str, Any]) -> str:
    return json.dumps(json_safe(meta), indent=1, ensure_ascii=False) + "\n"


def _columns_csv(tables: Sequence[TidyTable]) -> bytes:
    rows = [
        {
            "table": t.name,
            "column": c,
            "role": m["role"],
            "dtype": m["dtype"],
            "units": m.get("units", ""),
            "long_name": m.get("long_name", ""),
            "description": m.get("description", ""),
        }
        for t in tables
        for c, m in t.columns.items()
    ]
    return str(pd.DataFrame(rows).to_csv(index=False, lineterminator="\n")).encode("utf-8")


def file_name(table: TidyTable, fmt: str) -> str:
    return f"{table.name}.{fmt}"


def _ours(folder: Path) -> set[str]:
    """Names of the files a previous export wrote into ``folder`` (listed in its provenance.json)."""
    f = folder / PROVENANCE_FILE
    if f.is_symlink() or not f.is_file():
        return set()
    try:
        meta = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(meta, dict) or meta.get("written_by") != WRITTEN_BY or not isinstance(meta.get("files"), dict):
        return set()
    return {str(n) for n in meta["files"] if isinstance(n, str) and "/" not in n} | {PROVENANCE_FILE}


def check_folder(out: str | Path, names: Sequence[str], overwrite: bool = False) -> tuple[Path, set[str]]:
    """The export folder and the files of a previous export in it, refused (one line) when a file
    the export writes is in the way: a link, anything not a plain file, or an existing file
    unless ``overwrite`` and a previous export wrote it.  Other files are left alone."""
    folder = check_out_folder(out)
    ours = _ours(folder) if folder.is_dir() else set()
    check_files_replaceable(folder, [*names, PROVENANCE_FILE], ours, overwrite, "export")
    if overwrite:
        return folder, ours
    return folder, set()


def provenance(
    ds: xr.Dataset, tables: Sequence[TidyTable], fmt: str, source: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What ``provenance.json`` holds, without the files' checksums."""
    return {
        "written_by": WRITTEN_BY,
        "valuecapture_version": __version__,
        "format": fmt,
        "source": dict(source or {}),
        "attrs": {str(k): json_safe(v) for k, v in ds.attrs.items()},
        "tables": {
            t.name: {
                "file": file_name(t, fmt),
                "dims": list(t.dims),
                "sizes": {d: int(ds.sizes[d]) for d in t.dims},
                "rows": int(len(t.frame)),
                "columns": t.columns,
            }
            for t in tables
        },
    }


def write_tidy(
    ds: xr.Dataset,
    out: str | Path,
    fmt: str = "csv",
    *,
    overwrite: bool = False,
    source: Mapping[str, Any] | None = None,
    tables: Sequence[TidyTable] | None = None,
) -> list[Path]:
    """Write the tidy tables of ``ds`` (:func:`tidy_tables`) as ``fmt`` files into the folder ``out``,
    with provenance.json and columns.csv; returns the tables' paths.

    Raises :class:`ExportError` for an unknown format or Parquet without pyarrow, and
    :class:`~valuecapture.run.outputs.OutputError` for a file in the way (see
    :func:`check_folder`), before anything is written.  Under the folder's lock every file is
    built hidden in ``out``, flushed, and renamed into place, provenance.json first (so a file
    it lists is always one an export wrote); with ``overwrite`` the files of the previous
    export that this one does not write are removed, so the folder never mixes two exports."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: must be one of {', '.join(FORMATS)}")
    if fmt == "parquet" and not parquet_available():
        raise ExportError(f"--format parquet needs pyarrow, which is not installed: {PARQUET_HINT}")
    tabs = list(tidy_tables(ds) if tables is None else tables)
    names = [file_name(t, fmt) for t in tabs]
    reserved = {PROVENANCE_FILE, COLUMNS_FILE}
    if clash := reserved.intersection(names):
        raise ExportError(f"a table would be named {sorted(clash)[0]}, which the export's own files use")
    check_folder(out, [*names, COLUMNS_FILE], overwrite)
    meta = provenance(ds, tabs, fmt, source)
    if fmt == "csv":
        blobs = {n: _csv_bytes(t) for n, t in zip(names, tabs, strict=True)}
    else:
        head = {k: meta[k] for k in ("written_by", "valuecapture_version", "source", "attrs")}
        blobs = {n: _parquet_bytes(t, head) for n, t in zip(names, tabs, strict=True)}
    blobs[COLUMNS_FILE] = _columns_csv(tabs)
    meta["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()}
    for t, n in zip(tabs, names, strict=True):
        meta["tables"][t.name]["sha256"] = meta["files"][n]
    folder = check_out_folder(out)
    with claimed(folder, "export", "an export"):
        folder.mkdir(parents=True, exist_ok=True)
        _, previous = check_folder(folder, [*names, COLUMNS_FILE], overwrite)  # still ours, now under the lock
        staged: list[tuple[Path, Path]] = []
        try:
            for name, data in ((PROVENANCE_FILE, _dump(meta).encode("utf-8")), *blobs.items()):
                fd, tmp = tempfile.mkstemp(prefix=f".{name}.partial-", dir=folder)
                staged.append((Path(tmp), folder / name))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o666 & ~umask())
            for tmp_path, target in staged:
                os.replace(tmp_path, target)
        finally:
            for tmp_path, _ in staged:
                if tmp_path.exists():
                    tmp_path.unlink()
        for stale in sorted(previous - set(blobs) - {PROVENANCE_FILE}):
            p = folder / stale
            if p.is_file() and not p.is_symlink():
                p.unlink()
    return [folder / n for n in names]
