import yaml
from click.testing import CliRunner

from porcini.experiment.cli import main


def test_config_prints_the_config_train_would_write_and_runs_nothing(tmp_path):
    options = ["--steps", "300", "--seed", "3", "--n-envs", "2", "--out", str(tmp_path), "--set", "eval_episodes=2",
               "--set", "steps_per_epoch=150", "--set", "log.sinks=[csv]"]
    runner = CliRunner()
    printed = runner.invoke(main, ["config", "random", "CartPole-v1", *options])
    assert printed.exit_code == 0, printed.output
    assert list(tmp_path.iterdir()) == []
    trained = runner.invoke(main, ["train", "random", "CartPole-v1", *options, "--no-progress"])
    assert trained.exit_code == 0, trained.output
    (run_dir,) = tmp_path.iterdir()
    assert yaml.safe_load(printed.stdout) == yaml.safe_load((run_dir / "config.yaml").read_text())


def test_config_resolves_the_record_and_overrides():
    result = CliRunner().invoke(main, ["config", "ppo", "CartPole-v1", "--steps", "5000", "--set",
                                       "learning_rate=3e-4"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.stdout)
    assert config["steps"] == 5000 and config["env"]["n_envs"] == 8  # n_envs from the config of record
    assert config["algo"]["learning_rate"] == 3e-4 and config["algo"]["n_steps"] == 32


def test_config_with_an_unknown_key_is_a_usage_error():
    result = CliRunner().invoke(main, ["config", "ppo", "CartPole-v1", "--set", "lerning_rate=3"])
    assert result.exit_code == 2 and "did you mean 'learning_rate'" in result.output


def test_config_takes_the_steps_train_takes_zero_for_offline_learning_alone():
    # train --steps 0 with a dataset learns offline only; config prints what train with the same options runs
    offline = ["--set", "data.dataset=demos.npz", "--set", "data.offline_steps=100"]
    runner = CliRunner()
    by_option = runner.invoke(main, ["config", "discrete_cql", "CartPole-v1", "--steps", "0", *offline])
    by_set = runner.invoke(main, ["config", "discrete_cql", "CartPole-v1", "--set", "steps=0", *offline])
    assert by_set.exit_code == 0, by_set.output
    assert by_option.exit_code == 0, by_option.output
    assert yaml.safe_load(by_option.stdout) == yaml.safe_load(by_set.stdout)
    assert yaml.safe_load(by_option.stdout)["steps"] == 0
