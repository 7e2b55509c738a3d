"""What the base install holds and what an extra adds: the Dask executor is the ``dask``
extra, and without it ``--executor dask`` / ``--scheduler`` answer one line saying what to
install (exit 2), with nothing written.  The ``test`` extra installs dask, so the Dask
tests themselves (tests/test_durability.py, tests/test_runner.py) run in CI."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import inproc

import valuecapture as vc
from valuecapture.run.executors import DASK_MISSING

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = str(ROOT / "scenarios" / "classroom.toml")
SMALL = ["-n", "4", "--set", "customers.count=40", "--set", "horizon.periods=4", "--no-figures", "-q"]


@pytest.fixture
def without_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if dask and distributed were not installed: importing them raises ImportError."""
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements}


def test_dask_is_an_extra_that_the_test_extra_includes() -> None:
    project = _project()
    extras = project["optional-dependencies"]
    assert not {"dask", "distributed"} & _names(project["dependencies"])
    assert _names(extras["dask"]) == {"dask", "distributed"}
    assert {"dask", "distributed"} <= _names(extras["test"])


@pytest.mark.parametrize(
    "how", [["--executor", "dask", "-j", "2"], ["--scheduler", "tcp://127.0.0.1:9"]], ids=["local", "scheduler"]
)
def test_dask_executor_without_dask_is_one_line(without_dask: None, tmp_path: Path, how: list[str]) -> None:
    res = inproc("run", CLASSROOM, *SMALL, *how, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines() == [f"valuecapture: error: {DASK_MISSING}"]
    assert "pip install 'valuecapture[dask]'" in res.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_dask_executor_without_dask_from_python(without_dask: None) -> None:
    sc = vc.load_scenario(CLASSROOM).with_values({"customers.count": 40, "horizon.periods": 4})
    with pytest.raises(ValueError, match=r"pip install 'valuecapture\[dask\]'"):
        vc.simulate(sc, 4, 1, workers=2, executor="dask")


def test_a_run_works_without_dask(tmp_path: Path) -> None:
    """Only the Dask executor needs dask: a run and its result files work where it is not installed
    (a fresh interpreter in which ``import dask`` fails and ``find_spec('dask')`` is None, as then)."""
    code = (
        "import sys; sys.modules['dask'] = sys.modules['distributed'] = None; from valuecapture import cli; "
        f"raise SystemExit(cli.main(['run', {CLASSROOM!r}, *{SMALL!r}, '-j', '1', '--out', {str(tmp_path)!r}]))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert vc.open_run(tmp_path / "classroom")["firm_value"].size == 4
