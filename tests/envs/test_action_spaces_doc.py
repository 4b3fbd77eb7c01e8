"""docs/environments.md, section "Action spaces": its example runs as printed, its table matches the agents."""

import contextlib
import io
import re
from pathlib import Path

import gymnasium as gym
import numpy as np

from porcini.algorithms.registry import available, get_algorithm
from porcini.core.agent import supports_action_space

PAGE = Path(__file__).resolve().parents[2] / "docs" / "environments.md"
SPACES = {
    "Discrete": gym.spaces.Discrete(3),
    "Box": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
    "MultiDiscrete": gym.spaces.MultiDiscrete([3, 3]),
    "MultiBinary": gym.spaces.MultiBinary(4),
}


def section() -> str:
    return PAGE.read_text(encoding="utf-8").split("\n## Action spaces\n", 1)[1].split("\n## ", 1)[0]


def test_the_example_runs_and_prints_what_its_comment_says():
    (block,) = re.findall(r"```python\n(.*?)```", section(), re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(PAGE), "exec"), {})
    shape, mean_return = out.getvalue().rsplit(")", 1)
    assert shape == "(4, 2" and float(mean_return) >= 19.0  # the comment says 20.0; a random policy scores 20/9


def test_the_table_lists_every_agent_with_the_spaces_it_accepts():
    rows = [line for line in section().splitlines() if line.startswith("| `")]
    table = {}
    for row in rows:
        agents, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        for name in re.findall(r"`(\w+)`", agents):
            table[name] = [cell == "yes" for cell in cells]
    assert sorted(table) == sorted(available())
    for name, accepts in table.items():
        declared = [supports_action_space(get_algorithm(name), space) for space in SPACES.values()]
        assert accepts == declared, name
