import json

import pytest
from click.testing import CliRunner

from porcini.errors import ConfigError
from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.run_groups import choose_run


def train(out, seed=0, steps=200):
    config = resolve("random", "CartPole-v1", None, [f"steps={steps}", "steps_per_epoch=100", "log.sinks=[csv]",
                                                     f"out={out}", "eval_episodes=2", f"seed={seed}"])
    return Experiment.start(config).train().extra["run_dir"]


def test_commands_on_a_glob_of_one_seed_use_its_latest_run(tmp_path):
    first, second = train(tmp_path, steps=200), train(tmp_path, steps=300)
    runner = CliRunner()
    result = runner.invoke(main, ["eval", second, first, "--episodes", "2", "--checkpoint", "last", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["run_dir"] == second
    assert f"using the latest: {second}" in result.stderr and "2 runs of random on CartPole-v1" in result.stderr
    inspected = runner.invoke(main, ["inspect", first, second, "--checkpoint", "last"])
    assert inspected.exit_code == 0, inspected.output
    assert (tmp_path / second.rsplit("/", 1)[-1] / "inspect.png").exists()
    resumed = runner.invoke(main, ["resume", first, second, "--steps", "400", "--json", "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert summary["run_dir"] == second and summary["env_steps"] == 400


def test_runs_of_different_seeds_are_refused_in_one_line(tmp_path):
    seed0, seed1 = train(tmp_path, seed=0), train(tmp_path, seed=1)
    result = CliRunner().invoke(main, ["eval", seed0, seed1])
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert "random on CartPole-v1 seed 0; random on CartPole-v1 seed 1" in message
    with pytest.raises(ConfigError, match="2 different"):
        choose_run([seed0, seed1])


def test_latest_is_by_start_stamp_and_same_second_counter(tmp_path):
    names = ["ppo-X-s0-20240101-120000-10", "ppo-X-s0-20240101-120000", "ppo-X-s0-20231231-235959",
             "ppo-X-s0-20240101-120000-2"]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text("algo_name: ppo\nenv: {id: X}\nseed: 0\n")
    choice = choose_run([tmp_path / n for n in names])
    assert choice.path.name == "ppo-X-s0-20240101-120000-10"
    assert [p.name for p in choice.candidates][:2] == ["ppo-X-s0-20231231-235959", "ppo-X-s0-20240101-120000"]
    assert choose_run([tmp_path / names[0]]).note() is None


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    run = train(tmp_path)
    (tmp_path / "other").mkdir()
    with pytest.raises(ConfigError, match="other has no config.yaml"):
        choose_run([run, tmp_path / "other"])
