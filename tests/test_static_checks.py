"""Static checks as tests, so CI (which runs pytest) enforces them: ruff on the code, mypy on the package, and
unique test file names.

mypy checks the `files` list of `[tool.mypy]` in pyproject.toml: all of porcini/ and tools/.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed; pip install -e '.[test]' to run this check")
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "porcini", "tests", "benchmarks", "examples", "tools")
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing():
    # No paths: mypy checks pyproject's `files` list with pyproject's settings
    result = _run("mypy")
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"


def test_no_two_test_files_share_a_name():
    # Two test_x.py in different folders read as one module in reports and make "which test_x?" a question
    by_name: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        by_name.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not shared, f"test files sharing a name (rename one): {shared}"
