"""The documentation site builds with `mkdocs build --strict`: no broken link, no docstring mkdocstrings rejects."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from porcini.algorithms.registry import ALGORITHMS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import griffe_docstrings  # noqa: E402
import mkdocs_hooks  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None:
        pytest.skip('the docs site needs mkdocs-material and mkdocstrings: pip install -e ".[docs]"')
    site_dir = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    return site_dir


def test_site_builds_strict_with_a_page_per_algorithm(site: Path):
    missing = [name for name in ALGORITHMS if not (site / "algorithms" / name / "index.html").is_file()]
    assert missing == []
    # the hook lists every algorithm page in the navigation, not just the index
    nav = (site / "index.html").read_text()
    assert all(f'href="algorithms/{name}/"' in nav for name in ALGORITHMS)


def test_api_reference_renders_docstrings_as_markdown(site: Path):
    core = (site / "reference" / "core" / "index.html").read_text()
    assert 'id="porcini.core.Core"' in core and 'id="porcini.core.TransitionBatch"' in core
    wrappers = (site / "reference" / "wrappers" / "index.html").read_text()
    # doctests under "Example:" are code blocks, not nested quotes; reST roles are code spans, not raw markup
    assert 'id="porcini.envs.wrappers.SignReward"' in wrappers
    assert "<blockquote>" not in wrappers and ":class:" not in wrappers


def test_markdown_docstring_reads_examples_and_roles():
    text = "Summary, see :class:`~porcini.core.Core` and :func:`porcini.functional.gae`.\n\nExample:\n    >>> 1\n    1"
    assert griffe_docstrings.markdown_docstring(text) == (
        "Summary, see ``Core`` and ``porcini.functional.gae``.\n\nExamples:\n    >>> 1\n    1")


def test_hook_lists_the_algorithm_pages_in_index_order(tmp_path: Path):
    (tmp_path / "algorithms").mkdir()
    (tmp_path / "algorithms" / "index.md").write_text("| [ppo](ppo.md) | x |\n| [dqn](dqn.md) | y |\n")
    config = {"docs_dir": str(tmp_path), "nav": [{"Home": "index.md"}, {"Algorithms": ["algorithms/index.md"]}]}
    nav = mkdocs_hooks.on_config(config)["nav"]
    assert nav == [{"Home": "index.md"},
                   {"Algorithms": ["algorithms/index.md", "algorithms/ppo.md", "algorithms/dqn.md"]}]
