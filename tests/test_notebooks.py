"""The teaching notebooks (notebooks/*.ipynb): committed without outputs, and each runs
top to bottom on the virtual environment's own Python.

Each notebook is executed with nbclient in notebooks/ (where `jupyter lab notebooks/`
starts it), with one time limit for the whole notebook.  The notebooks end each lesson
with a cell that checks the statements their text makes, so a model change that makes
the text wrong fails here.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Seconds one notebook may take, all its cells together (each takes about 5-15 s on two cores).
NOTEBOOK_TIMEOUT = 240
#: Seconds to wait for the kernel to start.
KERNEL_STARTUP_TIMEOUT = 120


def test_there_are_four_lessons() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 4, names
    for lesson in ("01_first_simulation", "02_heterogeneity", "03_policies", "04_alignment", "05_own_customers"):
        assert f"{lesson}.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], (
                f"{path.name} cell {i} has outputs: strip them (regenerate with notebooks/make_notebooks.py)"
            )
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert any(c.cell_type == "markdown" and "Exercises" in c.source for c in nb.cells), f"{path.name} has no exercises"


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "__pycache__" not in p.parts}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    # one more cell reports which Python the kernel runs
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)"))
    before = _files(NOTEBOOK_DIR)
    deadline = time.monotonic() + NOTEBOOK_TIMEOUT
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=NOTEBOOK_TIMEOUT,
        timeout_func=lambda cell: max(
            1, math.ceil(deadline - time.monotonic())
        ),  # what is left of the notebook's budget
        startup_timeout=KERNEL_STARTUP_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails
    assert time.monotonic() <= deadline
    prefix = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the kernel ran {prefix}, not this environment's Python ({sys.prefix})"
    )
    checks = [c for c in nb.cells if c.cell_type == "code" and "check(" in c.source and "def check" not in c.source]
    assert checks, f"{path.name} has no cell that checks its text"
    assert all(any("holds:" in o.get("text", "") for o in c.outputs) for c in checks)
    assert _files(NOTEBOOK_DIR) == before, "a notebook wrote files into notebooks/"
