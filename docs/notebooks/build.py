"""Regenerate the teaching notebooks and write executed copies of them into docs/notebooks/.

The lessons live in ``notebooks/`` without outputs (generated from ``notebooks/make_notebooks.py``).
The copies here carry every output -- tables, figures, the checks of the text -- so that a
reader sees a lesson on GitHub (which renders ``.ipynb``) without running it::

    .venv/bin/python docs/notebooks/build.py                 # regenerate and execute all five (about 1-2 minutes)
    .venv/bin/python docs/notebooks/build.py 03_policies     # regenerate all, execute one
    .venv/bin/python docs/notebooks/build.py --check         # are the copies current? (executes nothing)

Each notebook runs in ``notebooks/`` on this environment's ``python3`` kernel with
``VALUECAPTURE_WIDGETS=0``, so the lessons' interactive controls take their static path (one
run at the default values, as in the tests).  A copy records in its metadata
(``valuecapture.source_sha256``) a digest of the source notebook's cells -- the type and text
of each, in order, not the outputs -- and the valuecapture version that ran it.
``tests/test_notebooks.py`` checks, without executing anything, that every lesson has a copy
whose digest and cells match its source and whose code cells all ran without error.  The
outputs themselves are not compared: they are the model's numbers, which move whenever the
model or its random numbers change; after such a change, run this again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCES = ROOT / "notebooks"
#: Seconds one notebook may take, all cells together.
TIMEOUT = 600
#: The metadata key of a copy: ``{"source_sha256": ..., "version": ...}``.
KEY = "valuecapture"


def source_digest(nb: Any) -> str:
    """SHA-256 of a notebook's cells: type and text of each, in order (outputs and metadata left out)."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(json.dumps([cell.cell_type, cell.source], ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def copy_of(source: Path) -> Path:
    """Where the executed copy of ``notebooks/<name>.ipynb`` goes."""
    return HERE / source.name


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def problems(source: Path, target: Path | None = None) -> list[str]:
    """Why the executed copy of ``source`` (default: :func:`copy_of`) is not current (empty: it is)."""
    target = copy_of(source) if target is None else target
    rel = _shown(target)
    if not target.is_file():
        return [f"{rel} is missing"]
    src = nbformat.read(source, as_version=4)
    nb = nbformat.read(target, as_version=4)
    found = []
    recorded = nb.metadata.get(KEY, {}).get("source_sha256")
    if recorded != source_digest(src):
        found.append(f"{rel} was executed from another version of {_shown(source)}")
    if [(c.cell_type, c.source) for c in nb.cells] != [(c.cell_type, c.source) for c in src.cells]:
        found.append(f"{rel}: its cells are not those of {_shown(source)}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None:
            found.append(f"{rel}: cell {i} was not executed")
        if any(o.get("output_type") == "error" for o in cell.outputs):
            found.append(f"{rel}: cell {i} ended in an error")
    return found


def execute(source: Path) -> Path:
    """Execute ``source`` in ``notebooks/`` and write its copy (atomically); return the copy's path."""
    from nbclient import NotebookClient

    from valuecapture.version import __version__

    nb = nbformat.read(source, as_version=4)
    digest = source_digest(nb)
    os.environ["VALUECAPTURE_WIDGETS"] = "0"  # the kernel inherits it: the controls' static path
    client = NotebookClient(
        nb, kernel_name="python3", timeout=TIMEOUT, record_timing=False, resources={"metadata": {"path": str(SOURCES)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if a cell fails
    nb.metadata[KEY] = {"source_sha256": digest, "version": __version__}
    target = copy_of(source)
    tmp = target.with_name(f".{target.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="lessons to execute, e.g. 03_policies (default: all)")
    parser.add_argument("--check", action="store_true", help="only say whether the copies are current")
    args = parser.parse_args(argv)
    if not args.check:
        sys.path.insert(0, str(SOURCES))
        import make_notebooks  # type: ignore[import-not-found]

        make_notebooks.main()  # notebooks/*.ipynb from their cell sources
    sources = sorted(SOURCES.glob("*.ipynb"))
    known = {p.stem: p for p in sources}
    unknown = [n for n in args.names if n.removesuffix(".ipynb") not in known]
    if unknown:
        print(f"build.py: error: no lesson {', '.join(unknown)}; lessons: {', '.join(known)}", file=sys.stderr)
        return 2
    chosen = [known[n.removesuffix(".ipynb")] for n in args.names] or sources
    if args.check:
        found = [p for s in chosen for p in problems(s)]
        for line in found:
            print(line)
        print("the executed copies are current" if not found else "run: .venv/bin/python docs/notebooks/build.py")
        return 1 if found else 0
    for source in chosen:
        start = time.perf_counter()
        target = execute(source)
        seconds = time.perf_counter() - start
        print(f"executed {source.relative_to(ROOT)} -> {target.relative_to(ROOT)} ({seconds:.0f} s)")
    stale = [p for s in sources for p in problems(s)]
    for line in stale:
        print(line)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
