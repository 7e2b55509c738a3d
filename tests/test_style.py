"""The project's style, type and layer checks, run as part of the test suite (and so in CI).

- ruff: lint rules and formatting at line length 120 (pyproject.toml, [tool.ruff]);
- mypy: the package's type annotations (pyproject.toml, [tool.mypy]);
- import-linter: the layers contract, scenario -> model -> run -> analysis -> report -> cli
  (pyproject.toml, [tool.importlinter]): a lower layer never imports a higher one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHECKED = ["src", "tests", "benchmarks", "notebooks/make_notebooks.py"]


def _tool(name: str) -> str:
    exe = BIN / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint() -> None:
    r = _run(_tool("ruff"), "check", *CHECKED)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr


def test_ruff_format() -> None:
    r = _run(_tool("ruff"), "format", "--check", *CHECKED)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr


def test_mypy() -> None:
    r = _run(_tool("mypy"))
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr


def test_layers() -> None:
    r = _run(_tool("lint-imports"), "--no-cache")
    assert r.returncode == 0 and "broken" in r.stdout and "0 broken" in r.stdout, r.stdout[-5000:] + r.stderr
