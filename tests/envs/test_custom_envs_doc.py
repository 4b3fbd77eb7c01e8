"""docs/custom-envs.md, run as a reader runs it: its env module written to a folder, its Python blocks executed
there in order, its commands run from that folder (shorter) through the CLI, which must find the module itself.
"""

import re
import shlex
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from click.testing import CliRunner

from porcini.envs import make_env
from porcini.errors import ConfigError
from porcini.experiment.cli import main

PAGE = Path(__file__).resolve().parents[2] / "docs" / "custom-envs.md"
SHORT = ["--set", "steps_per_epoch=250", "--set", "eval_episodes=2", "--set", "log.sinks=[csv]", "--no-progress"]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


def forget_module(name: str) -> None:
    """Undo an import of the page's module: the next import runs it (and its registration) again."""
    sys.modules.pop(name, None)
    for env_id in [k for k, spec in gym.registry.items() if str(spec.entry_point).startswith(f"{name}:")]:
        del gym.registry[env_id]


@pytest.fixture
def reader_folder(tmp_path, monkeypatch):
    """A folder holding the page's env module, as the current folder; sys.path and the registry restored after."""
    python = blocks("python")
    module_source = next(b for b in python if b.startswith("# myenvs.py\n"))
    (tmp_path / "myenvs.py").write_text(module_source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    forget_module("myenvs")


def test_the_page_python_blocks_run(reader_folder, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(reader_folder))  # a script in that folder imports myenvs from it
    for block in blocks("python"):
        if not block.startswith("# myenvs.py\n"):
            exec(compile(block, str(PAGE), "exec"), {"__name__": "__doc_block__"})
    assert capsys.readouterr().out.splitlines()[0] == "50"  # the horizon the registration gave


def test_the_page_commands_train_from_the_module_folder(reader_folder):
    commands = [shlex.split(line, comments=True) for line in blocks("bash")[0].splitlines()]
    assert [c[:4] for c in commands] == [["porcini", "train", "ppo", "myenvs:Corridor-v0"],
                                         ["porcini", "train", "ppo", "myenvs:Corridor"],
                                         ["porcini", "train", "ppo", "myenvs:Corridor-v0"]]
    for words in commands:
        forget_module("myenvs")  # each command is a new process: the CLI must import myenvs by itself
        args = words[1:words.index("--steps")] + ["--steps", "500", *SHORT]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    runs = sorted(p.name for p in (reader_folder / "runs").iterdir())
    assert len(runs) == 3 and all(":" not in name for name in runs)
    assert sum(name.startswith("ppo-myenvs_Corridor-v0-s0-") for name in runs) == 2


def test_module_strings_in_make_env(reader_folder, monkeypatch):
    monkeypatch.syspath_prepend(str(reader_folder))
    by_id = make_env("myenvs:Corridor-v0", n_envs=2, seed=0)
    by_class = make_env("myenvs:Corridor", n_envs=2, seed=0, max_episode_steps=7)
    assert by_id.info.horizon == 50 and by_class.info.horizon == 7
    assert by_id.info.env_id == "myenvs:Corridor-v0"
    assert by_id.spawn(1, 3).info.horizon == 50
    with pytest.raises(ConfigError, match="no env id 'Nope'.*ids registered by it: Corridor-v0"):
        make_env("myenvs:Nope")
    with pytest.raises(ConfigError, match="no module named 'not_a_module_here'"):
        make_env("not_a_module_here:Corridor-v0")


def test_a_bug_inside_the_module_keeps_its_own_error(reader_folder, monkeypatch):
    (reader_folder / "brokenenvs.py").write_text("import gymnasium\nraise KeyError('inside the env module')\n")
    monkeypatch.syspath_prepend(str(reader_folder))
    with pytest.raises(KeyError, match="inside the env module"):
        make_env("brokenenvs:Anything-v0")
    (reader_folder / "missingdep.py").write_text("import a_dependency_that_is_not_installed\n")
    with pytest.raises(ModuleNotFoundError, match="a_dependency_that_is_not_installed"):
        make_env("missingdep:Anything-v0")
