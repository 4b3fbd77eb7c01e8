"""docs/environments.md, "Atari", stays true: its Python block runs, its commands resolve to the documented recipe."""

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from porcini.experiment.cli import main

PAGE = Path(__file__).resolve().parents[2] / "docs" / "environments.md"

pytest.importorskip("ale_py", reason='the atari extra is not installed: pip install "porcini[atari]"')
pytest.importorskip("cv2", reason='the atari extra is not installed: pip install "porcini[atari]"')


def atari_blocks(language: str) -> list[str]:
    section = PAGE.read_text().split("\n## Atari\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def test_the_atari_python_block_runs(capsys):
    (block,) = atari_blocks("python")
    exec(compile(block, str(PAGE), "exec"), {"__name__": "__doc_block__"})
    assert capsys.readouterr().out.strip().splitlines()[-1] == "Box(0, 255, (4, 84, 84), uint8)"


def test_the_atari_commands_resolve_to_the_recipe():
    (block,) = atari_blocks("bash")
    commands = [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()]
    assert [c[:4] for c in commands] == [["porcini", "train", "dqn", "ALE/Pong-v5"],
                                         ["porcini", "train", "ppo", "ALE/Seaquest-v5"]]
    for words in commands:
        result = CliRunner().invoke(main, ["config", *words[2:]])
        assert result.exit_code == 0, result.output
        config = yaml.safe_load(result.output)
        assert config["env"]["wrappers"] == ["NatureAtari"]
        assert config["env"]["kwargs"] == {"frameskip": 1, "repeat_action_probability": 0.0}
