"""The generated algorithm pages (docs/algorithms/) are current, and show what the code and results say."""

import ast
import json
import re
import sys
from pathlib import Path

from porcini.algorithms.policy_gradient.ppo import PPOConfig
from porcini.algorithms.registry import ALGORITHMS, get_algorithm
from porcini.core.config import build_config
from porcini.experiment.config import config_help

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import algorithm_pages  # noqa: E402


def test_committed_pages_are_what_the_script_writes(tmp_path: Path):
    written = algorithm_pages.write_pages(tmp_path)
    assert written == sorted(["index.md", *(f"{name}.md" for name in ALGORITHMS)])
    committed = sorted(p.name for p in (ROOT / "docs" / "algorithms").glob("*.md"))
    stale = sorted({name for name in set(written) | set(committed)
                    if not (ROOT / "docs" / "algorithms" / name).is_file() or not (tmp_path / name).is_file()
                    or (ROOT / "docs" / "algorithms" / name).read_text() != (tmp_path / name).read_text()})
    assert stale == [], (f"docs/algorithms/ is out of date ({', '.join(stale)}): run "
                         f"`{algorithm_pages.REGENERATE}` and commit the pages")


def test_hyperparameter_table_agrees_with_config_help():
    page = algorithm_pages.algorithm_page("ppo", None, "Benchmarks")
    help_text = config_help(PPOConfig)
    assert "learning_rate: float = 0.0003\n    Adam step size (its initial value under a linear schedule)." in help_text
    assert ("| `learning_rate` | `float` | `0.0003` | Adam step size (its initial value under a linear schedule). |"
            in page)
    # a pipe in a code span splits a GitHub table row: the type is HTML code with the pipe as an entity
    assert "| `clip_range_vf` | <code>float &#124; None</code> | `None` |" in page
    assert "from porcini.algorithms import PPO\n" in page
    assert "### CartPole-v1" in page and "porcini train ppo CartPole-v1\n" in page
    assert "Not in a benchmark suite yet; see Benchmarks." in page


def test_benchmark_rows_come_from_results_json(tmp_path: Path):
    docs = tmp_path / "docs"
    (docs / "benchmarks").mkdir(parents=True)
    (docs / "benchmarks.md").write_text("# Benchmarks\n")
    results = {"suite": "classic", "pairs": [
        {"algo": "ppo", "env": "CartPole-v1", "seeds": 5, "iqm": 500.0, "ci_low": 487.25, "ci_high": 500.0,
         "zoo_score": 500.0, "status": "ok"},
        {"algo": "ppo", "env": "Acrobot-v1", "seeds": 5, "iqm": None, "ci_low": None, "ci_high": None,
         "zoo_score": -75.0, "status": "pending"},
        {"algo": "dqn", "env": "CartPole-v1", "seeds": 5, "iqm": 120.0, "ci_low": 90.0, "ci_high": 150.0,
         "zoo_score": None, "status": "below_zoo"},
    ]}
    (docs / "benchmarks" / "results.json").write_text(json.dumps(results))
    out = tmp_path / "pages"
    algorithm_pages.write_pages(out, docs_dir=docs)
    ppo = (out / "ppo.md").read_text()
    assert "Suite `classic` ([Benchmarks](../benchmarks.md)):" in ppo
    assert "| CartPole-v1 | 5 | 500.0 [487.2, 500.0] | 500.0 | ok |" in ppo
    assert "| Acrobot-v1 | 5 | – | -75.0 | pending |" in ppo
    assert "| CartPole-v1 | 5 | 120.0 [90.0, 150.0] | – | below_zoo |" in (out / "dqn.md").read_text()
    sarsa = (out / "sarsa.md").read_text()
    assert "Not in a benchmark suite yet; see [Benchmarks](../benchmarks.md)." in sarsa


def test_docstrings_become_markdown():
    text = ("Summary with :class:`~porcini.core.Core`.\n\nOptions:\n- one\n- two\n\nAttributes:\n    q: the table\n"
            "        over states.\n\nExample:\n    >>> 1 + 1\n    2\n")
    assert algorithm_pages._doc_markdown(text) == (
        "Summary with ``Core``.\n\nOptions:\n\n- one\n- two\n\n**Attributes**\n\n- `q`: the table over states.\n\n"
        "**Example**\n\n```pycon\n>>> 1 + 1\n2\n```")


def test_table_cells_keep_pipes_inside_the_row():
    cell = algorithm_pages._cell("priority ``|y - Q|`` or `a` | b,\n  `x < y | z`")
    assert cell == "priority <code>&#124;y - Q&#124;</code> or `a` \\| b, <code>x &lt; y &#124; z</code>"


def test_stale_pages_are_removed(tmp_path: Path):
    (tmp_path / "removed_algorithm.md").write_text("# Gone\n")
    algorithm_pages.write_pages(tmp_path)
    assert not (tmp_path / "removed_algorithm.md").exists()


def test_every_page_shows_a_keyword_its_config_accepts():
    # The usage line is copied by readers: UCB(env.info, gamma=0.9) raised ConfigError (UCB has no gamma).
    for name in ALGORITHMS:
        page = algorithm_pages.algorithm_page(name, None, "Benchmarks")
        agent_cls = get_algorithm(name)
        found = re.search(rf"`{agent_cls.__name__}\(env\.info, (\w+)=([^)`]+)\)`.*`--set \1=([^`]+)`", page)
        assert found, f"{name}: no usage example on its page"
        field, value = found.group(1), ast.literal_eval(found.group(2))
        config = build_config(agent_cls.Config, None, {field: value})  # raises ConfigError for an unknown field
        assert getattr(config, field) == value
