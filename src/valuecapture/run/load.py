"""Reading results back: a result folder or file, or the finished batches of a run store,
checked for what valuecapture writes before anything uses them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from valuecapture.run.budget import available_memory
from valuecapture.run.outputs import MANIFEST, damaged_files
from valuecapture.run.results import RESULT_FILE, open_netcdf
from valuecapture.run.simulate import open_store
from valuecapture.scenario.load import Scenario, loads


def scenario_of(ds: xr.Dataset) -> Scenario:
    """The exact scenario a result was produced from (from its attrs).

    Raises :class:`ResultError` when the attrs do not hold a valid scenario."""
    try:
        overrides = json.loads(ds.attrs.get("scenario_overrides", "[]"))
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ValueError("not a list of texts")
    except (TypeError, ValueError) as exc:
        raise ResultError(
            f"{ds.attrs.get('scenario_source', '<result>')}: attribute scenario_overrides is not valid ({exc})"
        ) from None
    try:
        # the stored TOML already has the overrides applied; re-applying them is a no-op that keeps provenance
        return loads(
            str(ds.attrs["scenario_toml"]), source=str(ds.attrs.get("scenario_source", "<result>")), overrides=overrides
        )
    except KeyError:
        raise ResultError("not a valuecapture result (no scenario_toml attribute)") from None


#: Attributes every valuecapture result has, and their types.
REQUIRED_ATTRS: dict[str, type] = {"valuecapture_version": str, "scenario_toml": str, "seed": int, "replications": int}


class ResultError(ValueError):
    """A file is not a readable valuecapture result (bad input: exit code 2)."""


def open_run(path: str | Path) -> xr.Dataset:
    """Open a finished run (a run directory or its ``result.nc``), or the finished
    batches of an in-progress or interrupted run (its ``.<name>.inprogress`` store).

    Raises :class:`ResultError` (one line) for a file that is missing, damaged (its
    SHA-256 differs from the folder's manifest), not NetCDF, too large for memory, or
    lacks the attributes and variables valuecapture writes."""
    p = Path(path)
    if p.is_dir() and not (p / RESULT_FILE).exists() and (p / "run.json").exists():
        return open_store(p).load()  # an in-progress or interrupted run: its finished batches
    f = p / RESULT_FILE if p.is_dir() else p
    if not f.exists():
        raise ResultError(f"{path}: no {RESULT_FILE} here; expected a run directory written by `valuecapture run`")
    if not f.is_file():
        raise ResultError(f"{f}: is not a regular file")
    if damaged_files(f.parent, (f.name,)):
        raise ResultError(f"{f}: is damaged (its SHA-256 differs from the one in {f.parent / MANIFEST}); run it again")
    avail = available_memory()
    try:
        with open_netcdf(f) as ds:  # lazily: the variables' sizes are known before anything is read
            if avail is not None and ds.nbytes > avail:
                raise ResultError(
                    f"{f}: needs {ds.nbytes / 2**30:.1f} GiB in memory (uncompressed), more than the memory available "
                    f"({avail / 2**30:.1f} GiB)"
                )
            loaded = ds.load()
    except ResultError:
        raise
    except (
        Exception
    ) as exc:  # h5py/h5netcdf raise OSError, ValueError, KeyError, RuntimeError... for foreign or damaged files
        raise ResultError(f"{f}: not a readable NetCDF4 file ({type(exc).__name__}: {exc})") from None
    check_result(loaded, str(f))
    return loaded


def check_result(ds: xr.Dataset, where: str) -> None:
    """Raise :class:`ResultError` unless ``ds`` has the attributes and variables of a valuecapture result."""
    missing = [k for k in REQUIRED_ATTRS if k not in ds.attrs]
    if missing:
        raise ResultError(
            f"{where}: not a valuecapture result (no {', '.join(missing)} attribute{'s' if len(missing) > 1 else ''})"
        )
    for key, kind in REQUIRED_ATTRS.items():
        v = ds.attrs[key]
        if kind is int:
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise ResultError(f"{where}: attribute {key} must be an integer, got {type(v).__name__} {v!r}")
        elif not isinstance(v, str):
            raise ResultError(f"{where}: attribute {key} must be text, got {type(v).__name__}")
    if "firm_value" not in ds.data_vars:
        raise ResultError(f"{where}: not a valuecapture result (no firm_value variable)")
