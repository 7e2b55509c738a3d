"""The teaching notebooks (notebooks/*.ipynb): committed without outputs, generated from
notebooks/make_notebooks.py, each runs top to bottom on the virtual environment's own
Python, and each has an executed copy in docs/notebooks/ made from its current text.

Each notebook is executed with nbclient in notebooks/ (where `jupyter lab notebooks/`
starts it), with one time limit for the whole notebook, and with VALUECAPTURE_WIDGETS=0:
the lessons' interactive controls take their static path (one run at the defaults), as
in docs/notebooks/build.py.  The notebooks end each lesson with a cell that checks the
statements their text makes, so a model change that makes the text wrong fails here.
The executed copies are checked against the notebooks' text only (cells and the digest
build.py records), without executing them again: their numbers move with the model.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient

from valuecapture.report.teaching import WIDGETS_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
COPIES = ROOT / "docs" / "notebooks"


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _module(COPIES / "build.py")
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
    assert any(c.cell_type == "code" and "explore(" in c.source for c in nb.cells), f"{path.name} has no controls"


def test_notebooks_are_generated_from_make_notebooks() -> None:
    """The committed notebooks are what notebooks/make_notebooks.py writes (edit the cells there)."""
    make = _module(NOTEBOOK_DIR / "make_notebooks.py")
    assert sorted(make.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for name, cells in make.NOTEBOOKS.items():
        built = make.build(cells)
        committed = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
            f"{name} differs from notebooks/make_notebooks.py: run .venv/bin/python docs/notebooks/build.py"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_copy_is_current(path: Path) -> None:
    """docs/notebooks/<lesson>.ipynb was executed from this text of the lesson, every code cell
    ran without error, and the lesson's controls show their static fallback there."""
    assert BUILD.problems(path) == [], "run .venv/bin/python docs/notebooks/build.py"
    copy = nbformat.read(COPIES / path.name, as_version=4)
    nbformat.validate(copy)
    (explore,) = [c for c in copy.cells if c.cell_type == "code" and "explore(" in c.source]
    texts = [o.get("text", "") for o in explore.outputs]
    assert texts and texts[0].startswith("Levers (at their defaults here"), texts[:1]
    assert len(explore.outputs) >= 2, "the controls' function showed nothing"


def test_a_stale_copy_is_found(tmp_path: Path) -> None:
    """The currency check notices a lesson whose text changed since its copy was executed."""
    source = NOTEBOOKS[0]
    nb = nbformat.read(source, as_version=4)
    nb.cells[0].source += "\n\nOne more sentence."
    changed = tmp_path / source.name
    nbformat.write(nb, changed)
    found = BUILD.problems(changed, COPIES / source.name)
    assert any("executed from another version" in f for f in found) and any("cells are not" in f for f in found)
    assert BUILD.problems(source, tmp_path / "missing.ipynb") == [f"{tmp_path / 'missing.ipynb'} is missing"]


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if "__pycache__" not in p.parts}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WIDGETS_ENV, "0")  # the kernel inherits it: the controls' static path
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
    controls = [c for c in nb.cells if c.cell_type == "code" and "explore(" in c.source]
    assert all(c.outputs and c.outputs[0].get("text", "").startswith("Levers (at their defaults") for c in controls)
    assert _files(NOTEBOOK_DIR) == before, "a notebook wrote files into notebooks/"
