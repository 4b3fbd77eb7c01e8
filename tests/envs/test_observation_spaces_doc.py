"""docs/environments.md's observation-space and MiniGrid sections: their Python blocks run as written."""

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "environments.md"


def section_blocks(title: str) -> list[str]:
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end != -1 else None], re.S)


def test_observation_spaces_example_runs(capsys):
    (block,) = section_blocks("Observation spaces")
    exec(block, {})
    assert capsys.readouterr().out.startswith("['direction', 'image'] uint8 [")


def test_minigrid_recipe_runs():
    pytest.importorskip("minigrid", reason='MiniGrid is not installed: pip install "porcini[minigrid]"')
    (block,) = section_blocks("MiniGrid")
    namespace: dict = {}
    exec(block, namespace)
    assert namespace["agent"].steps_seen == 2_048
    assert set(namespace["env"].single_observation_space.spaces) == {"image", "direction"}
