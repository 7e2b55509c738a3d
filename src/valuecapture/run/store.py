"""The streaming run store: batches on disk as they finish, resume after a crash.

While a command works (``run``, ``compare``, ``decompose``, ``sweep``, ``run --precision``),
its results live in a hidden store next to the final result folder,
``OUT/.<name>.inprogress/``:

* ``run.json``: what is being run (the plan: every scenario variant's TOML and label, the
  dimension that joins them, seed, replications, batch size, what is kept, package
  version), written once, atomically;
* ``batches/v<variant>-r<start>-<stop>.h5``: one HDF5 file per finished batch (one
  dataset per output, plus the batch's range, seed and scenario checksum as attributes),
  written to a temporary name, flushed to disk and renamed into place (``os.replace`` is
  atomic), so a file under its final name is always complete.

Each batch is written as soon as it finishes and then dropped from memory, so
memory is bounded by the batches in flight whatever the number of
replications.  A run killed at any moment (SIGINT, SIGTERM or SIGKILL) leaves
every finished batch readable (:func:`open_store`); ``--resume`` runs only the
missing batches, and because a batch's result depends only on the seed and its
replication numbers, the final result is bit-identical to an uninterrupted
run.  When every batch is there, the batches are read one at a time into the
result arrays (replications x periods series, per-replication summaries, and
per-relationship detail of the first ``outputs.relationship_detail``
replications: the size of the result, not of the simulation state) and written
atomically with summary and figures to ``OUT/<name>/``
(:func:`~valuecapture.run.folder.run_in_folder`); then the store is removed.

Why one file per batch rather than appending to one NetCDF file or a Zarr
store: an HDF5/NetCDF file being appended to when the process is killed can be
left unreadable, and a Zarr chunk being written has no atomic commit either; a
file renamed into place only when complete is the simplest durable unit.  Why
plain HDF5 (the container NetCDF-4 uses, via h5py, already a dependency) for
the batches and NetCDF for the result: writing a batch through xarray's NetCDF
layer costs about a hundred times as much, for NetCDF's per-dimension metadata
(docs/performance.md); the consolidated ``result.nc`` is NetCDF with named
dimensions, units and descriptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from valuecapture.run.outputs import write_file
from valuecapture.scenario.load import Scenario, ScenarioError, loads
from valuecapture.version import __version__

STORE_FORMAT = 3
BATCH_RE = re.compile(r"^v(\d{4})-r(\d{9})-(\d{9})\.h5$")


class StoreError(ValueError):
    """The store cannot be used as asked (bad input: exit code 2)."""


def store_dir(out: str | Path, name: str) -> Path:
    return Path(out) / f".{name}.inprogress"


def scenario_sha256(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.to_toml().encode()).hexdigest()


@dataclass
class RunStore:
    """An in-progress run on disk: its plan (``meta``, the content of run.json) and its batches."""

    path: Path
    meta: dict[str, Any]

    @property
    def batches_dir(self) -> Path:
        return self.path / "batches"

    @classmethod
    def create(cls, path: str | Path, meta: dict[str, Any]) -> RunStore:
        """A new store for the plan ``meta`` (:meth:`valuecapture.run.simulate.Plan.meta`)."""
        path = Path(path)
        meta = {"format": STORE_FORMAT, **meta, "valuecapture_version": __version__}
        (path / "batches").mkdir(parents=True, exist_ok=True)
        tmp = path / f".run.json.{os.getpid()}.tmp"
        try:
            write_file(tmp, json.dumps(meta, indent=1))
            os.replace(tmp, path / "run.json")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return cls(path, meta)

    @classmethod
    def load(cls, path: str | Path) -> RunStore:
        """The store in ``path``; :class:`StoreError` (one line) when it is missing or not a store."""
        path = Path(path)
        try:
            meta = json.loads((path / "run.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(f"{path}: no run.json here; not a valuecapture run store") from None
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"{path}/run.json: unreadable ({exc}); delete the folder or start over with --fresh"
            ) from None
        if not isinstance(meta, dict):
            raise StoreError(
                f"{path}/run.json: not a valuecapture run store; delete the folder or start over with --fresh"
            )
        if meta.get("format") != STORE_FORMAT:
            raise StoreError(
                f"{path}/run.json: store format {meta.get('format')!r}, this valuecapture reads {STORE_FORMAT}; start "
                "over with --fresh"
            )
        for key, kind in META_TYPES.items():
            value = meta.get(key)
            if (
                not isinstance(value, kind)
                or isinstance(value, bool)
                or (key == "variants" and not _variants_ok(value))
            ):
                raise StoreError(
                    f"{path}/run.json: {key} is missing or not valid; delete the folder or start over with --fresh"
                )
        return cls(path, meta)

    def scenarios(self) -> list[Scenario]:
        """The scenario of every variant, as run.json stores it."""
        out = []
        for v in self.meta["variants"]:
            try:
                out.append(loads(v["scenario_toml"], source=v["scenario_source"], overrides=v["overrides"]))
            except ScenarioError as exc:
                raise StoreError(f"{self.path}/run.json: a scenario in it is not valid here ({exc})") from None
        return out

    def finished(self) -> dict[tuple[int, int, int], Path]:
        """Finished batches: ``(variant, start, stop) -> file``."""
        out: dict[tuple[int, int, int], Path] = {}
        if self.batches_dir.is_dir():
            for f in self.batches_dir.iterdir():
                m = BATCH_RE.match(f.name)
                if m:
                    out[(int(m.group(1)), int(m.group(2)), int(m.group(3)))] = f
        return dict(sorted(out.items()))

    def replications_done(self) -> int:
        """Replications finished in every variant (what ``--resume`` keeps)."""
        n_variants = len(self.meta["variants"])
        per_range: dict[tuple[int, int], int] = {}
        for _, a, b in self.finished():
            per_range[(a, b)] = per_range.get((a, b), 0) + 1
        return sum(b - a for (a, b), n in per_range.items() if n == n_variants)

    def clean(self) -> None:
        """Remove temporary files of a batch that was being written when the run was killed."""
        if self.batches_dir.is_dir():
            for f in self.batches_dir.glob(".*.tmp"):
                f.unlink(missing_ok=True)

    def write_batch(self, variant: int, start: int, out: dict[str, np.ndarray]) -> Path:
        """Write one batch's outputs atomically; returns its file.

        The HDF5 file is built in memory and written with plain file I/O (see
        :mod:`valuecapture.run.outputs`: HDF5 crashes closing a file whose writes failed), so a
        full disk is an ``OSError`` and leaves no file under the batch's name."""
        stop = start + len(out["firm_value"])
        final = self.batches_dir / f"v{variant:04d}-r{start:09d}-{stop:09d}.h5"
        tmp = self.batches_dir / f".{final.name}.{os.getpid()}.tmp"
        with h5py.File(f"batch-{variant}-{start}", "w", driver="core", backing_store=False) as f:
            f.attrs["variant"], f.attrs["start"], f.attrs["stop"] = int(variant), int(start), int(stop)
            f.attrs["seed"], f.attrs["scenario_sha256"] = (
                str(self.meta["seed"]),
                self.meta["variants"][variant]["sha256"],
            )
            for name, arr in out.items():
                f.create_dataset(name, data=np.ascontiguousarray(arr))
            f.flush()
            image = f.id.get_file_image()
        try:
            write_file(tmp, image)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return final

    def read_batch(self, path: Path) -> tuple[int, int, dict[str, np.ndarray]]:
        """One batch file's outputs, read at once: ``(variant, start, {name: array})``.

        A batch written for another seed or scenario is refused: a store's batches always
        belong to the run it describes."""
        try:
            with h5py.File(path, "r") as f:
                attrs = dict(f.attrs)
                data = {name: f[name][()] for name in f}
        except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
            raise StoreError(
                f"{path}: unreadable batch file ({type(exc).__name__}: {exc}); delete it and resume to recompute it"
            ) from None
        try:
            variant, start = int(attrs["variant"]), int(attrs["start"])
            ok = (
                str(attrs.get("seed")) == str(self.meta["seed"])
                and attrs.get("scenario_sha256") == self.meta["variants"][variant]["sha256"]
            )
        except (KeyError, TypeError, ValueError, IndexError):
            ok = False
        if not ok:
            raise StoreError(
                f"{path}: this batch belongs to another run (seed or scenario differ from run.json); delete it and "
                "resume to recompute it"
            )
        return variant, start, data


#: run.json keys and their types.
META_TYPES: dict[str, type | tuple[type, ...]] = {
    "variants": list,
    "seed": int,
    "replications": int,
    "batch_size": int,
    "chunk": int,
    "keep": str,
    "valuecapture_version": str,
}


def _variants_ok(variants: object) -> bool:
    keys: dict[str, type | tuple[type, ...]] = {
        "label": (str, type(None)),
        "scenario_toml": str,
        "scenario_source": str,
        "overrides": list,
        "sha256": str,
    }
    return (
        isinstance(variants, list)
        and bool(variants)
        and all(isinstance(v, dict) and all(isinstance(v.get(k), t) for k, t in keys.items()) for v in variants)
    )
