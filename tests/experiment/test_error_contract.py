"""The CLI's error contract: porcini's user errors print one line and exit 2, before any run directory exists;
errors from user code keep their traceback and exit 1; ``--debug`` shows every traceback."""

import subprocess
import sys
import textwrap

import gymnasium as gym
import pytest
from click.testing import CliRunner

from porcini.experiment.cli import main

KEY_ERROR_ENV = "porcini_tests/KeyErrorOnReset-v0"


class KeyErrorOnReset(gym.Env):
    """A user's env with a bug: its reset looks up a key that is not there."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {}["missing_key"], {}


if KEY_ERROR_ENV not in gym.registry:
    gym.register(KEY_ERROR_ENV, entry_point=KeyErrorOnReset, max_episode_steps=10)


def one_line_error(result):
    """The single stderr line of a failed command (asserting that there is exactly one)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture()
def bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("steps: 100\nenv:\n  n_envs: 2\n   oops: [\n")
    return path


@pytest.mark.parametrize("args,expected", [
    (["ppo", "CartPol-v1"], ["unknown env 'CartPol-v1'", "did you mean 'CartPole-v1'"]),
    (["dqn", "Pendulum-v1"], ["dqn cannot train on Pendulum-v1", "Discrete", "algorithms that can:", "sac", "td3"]),
    (["sac", "CartPole-v1"], ["sac cannot train on CartPole-v1", "Box", "algorithms that can:", "dqn", "ppo"]),
    (["q_learning", "CartPole-v1"], ["q_learning cannot train on CartPole-v1", "obs_low", "algorithms that can:",
                                     "dqn"]),
    (["ppo", "CartPole-v1", "--set", "env.wrappers=[{TimeLimit: {max_episode_step: 100}}]"],
     ["TimeLimit has no argument 'max_episode_step'", "did you mean 'max_episode_steps'"]),
    (["ppo", "CartPole-v1", "--set", "env.wrappers=[TimeLimit]"], ["TimeLimit needs max_episode_steps"]),
    (["ppo", "CartPole-v1", "--set", "env.wrappers=[{FrameStackObservation: {stack_size: 0}}]"],
     ["FrameStackObservation(stack_size=0)", "stack_size = 0 is invalid: must be an int >= 1"]),
    (["ppo", "CartPole-v1", "--set", "eval_episodes=0"],
     ["RunConfig.eval_episodes = 0 is invalid: must be >= 1", "steps_per_epoch"]),
    (["ppo", "CartPole-v1", "--set", "env.wrappers=[RunningMeanStd]"],
     ["'RunningMeanStd' is not a wrapper", "NormalizeObservation"]),
    (["q_learning", "FrozenLake-v1", "--set", "env.kwargs={is_slipery: false}"],
     ["env.kwargs: FrozenLake-v1 has no argument 'is_slipery'", "did you mean 'is_slippery'"]),
    (["nope", "CartPole-v1"], ["unknown algorithm 'nope'"]),
])
def test_usage_errors_are_one_line_exit_2_and_leave_no_run_directory(tmp_path, args, expected):
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", *args, "--steps", "100", "--out", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    for text in expected:
        assert text in line
    assert not out.exists()


@pytest.mark.parametrize("env", ["corridor_kwargs_env:Corridor-v0", "corridor_kwargs_env:Corridor"])
def test_a_wrong_env_kwarg_of_a_module_env_is_one_line_exit_2(tmp_path, monkeypatch, env):
    # docs/custom-envs.md: module:EnvId and module:ClassName take env.kwargs as a registered id does, and
    # docs/experiments.md makes a key the constructor does not take a usage error, not the env's TypeError
    (tmp_path / "corridor_kwargs_env.py").write_text(textwrap.dedent("""
        import gymnasium as gym
        import numpy as np

        class Corridor(gym.Env):
            observation_space = gym.spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
            action_space = gym.spaces.Discrete(2)

            def __init__(self, length=8):
                self.length = length

            def reset(self, *, seed=None, options=None):
                super().reset(seed=seed)
                return np.zeros(1, dtype=np.float32), {}

            def step(self, action):
                return np.zeros(1, dtype=np.float32), 0.0, True, False, {}

        gym.register(id="Corridor-v0", entry_point=Corridor, max_episode_steps=20)
    """))
    monkeypatch.chdir(tmp_path)  # make_env looks for the module in the current folder, as the CLI user runs it
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", "ppo", env, "--set", "env.kwargs={lenth: 12}", "--set",
                                       "env.max_episode_steps=20", "--steps", "100", "--out", str(out)])
    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    assert f"env.kwargs: {env} has no argument 'lenth'" in line and "did you mean 'length'" in line
    assert not out.exists()

def test_malformed_yaml_names_the_file_and_line(tmp_path, bad_yaml):
    result = CliRunner().invoke(main, ["train", "ppo", "CartPole-v1", "--config", str(bad_yaml),
                                       "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    line = one_line_error(result)
    assert str(bad_yaml) in line and "line 4" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("sink,module", [("mlflow", "mlflow"), ("tensorboard", "tensorboard")])
def test_missing_extra_of_a_log_sink_names_both_install_commands(tmp_path, monkeypatch, sink, module):
    monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    result = CliRunner().invoke(main, ["train", "random", "CartPole-v1", "--steps", "100", "--set",
                                       f"log.sinks=[csv,{sink}]", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2
    line = one_line_error(result)
    assert f'pip install "porcini[{sink}]"' in line and f'pip install -e ".[{sink}]"' in line
    assert not (tmp_path / "runs").exists()


def test_plotting_a_directory_without_metrics_is_a_usage_error(tmp_path):
    (tmp_path / "empty-run").mkdir()  # a run that stopped before its first epoch: a config, no metrics
    (tmp_path / "empty-run" / "config.yaml").write_text("algo_name: ppo\nenv: {id: CartPole-v1}\nsteps: 1000\n")
    result = CliRunner().invoke(main, ["plot", str(tmp_path / "empty-run"), "-o", str(tmp_path / "p.png")])
    assert result.exit_code == 2
    assert "has no metrics.csv" in one_line_error(result)


@pytest.mark.parametrize("command", [["resume"], ["eval"], ["inspect"],
                                     ["collect", "--episodes", "1", "--to", "d.npz"]])
def test_a_run_without_a_checkpoint_is_one_line_exit_2_and_changes_nothing(tmp_path, command):
    run = tmp_path / "early-run"  # a run killed before the end of its first epoch: a config, no checkpoint
    run.mkdir()
    (run / "config.yaml").write_text("algo_name: random\nenv: {id: CartPole-v1}\nsteps: 1000\n")
    before = sorted(p.name for p in run.rglob("*"))
    result = CliRunner().invoke(main, [command[0], str(run), *command[1:]])
    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    assert "has no checkpoint" in line and "start the run over" in line
    assert sorted(p.name for p in run.rglob("*")) == before

def test_a_run_with_best_but_no_last_checkpoint_is_told_to_pass_checkpoint_best(tmp_path):
    run = tmp_path / "run"  # last.pt deleted (or lost after best.pt was written: best.pt is written first)
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("algo_name: random\nenv: {id: CartPole-v1}\nsteps: 1000\n")
    (run / "checkpoints" / "best.pt").write_bytes(b"")
    result = CliRunner().invoke(main, ["resume", str(run)])
    assert result.exit_code == 2, result.output
    assert "has no last checkpoint" in one_line_error(result) and "pass --checkpoint best" in one_line_error(result)

@pytest.mark.parametrize("command", ["resume", "eval", "inspect"])
def test_a_directory_that_is_not_a_run_is_a_usage_error(tmp_path, command):
    result = CliRunner().invoke(main, [command, str(tmp_path)])
    assert result.exit_code == 2
    assert "has no config.yaml" in one_line_error(result)


def test_a_key_error_in_the_users_env_keeps_its_traceback_and_leaves_no_run_directory(tmp_path):
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["train", "random", KEY_ERROR_ENV, "--steps", "100", "--out", str(out)])
    assert result.exit_code == 1
    assert isinstance(result.exception, KeyError) and "missing_key" in str(result.exception)
    assert "Error: train" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_a_user_code_key_error_prints_its_traceback_from_the_command_line(tmp_path):
    # a real process: the traceback and exit code are what a user sees
    code = textwrap.dedent(f"""
        import sys
        import gymnasium as gym
        sys.path.insert(0, {str(tmp_path)!r})
        from test_env_module import KeyErrorOnReset
        gym.register({KEY_ERROR_ENV!r}, entry_point=KeyErrorOnReset)
        from porcini.experiment.cli import main
        main(["train", "random", {KEY_ERROR_ENV!r}, "--steps", "100", "--out", {str(tmp_path / "runs")!r}])
    """)
    (tmp_path / "test_env_module.py").write_text(textwrap.dedent("""
        import gymnasium as gym

        class KeyErrorOnReset(gym.Env):
            observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
            action_space = gym.spaces.Discrete(2)

            def reset(self, *, seed=None, options=None):
                return {}["missing_key"], {}
    """))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "test_env_module.py" in proc.stderr and "KeyError: 'missing_key'" in proc.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_of_a_usage_error(tmp_path, monkeypatch, how):
    args = ["train", "ppo", "CartPol-v1", "--out", str(tmp_path / "runs")]
    if how == "flag":
        args = ["--debug", *args]
    else:
        monkeypatch.setenv("PORCINI_DEBUG", "1")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "UnknownNameError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: unknown env 'CartPol-v1'")


def test_porcinis_user_errors_are_one_exception_type():
    from porcini.errors import ConfigError, UnknownNameError, UserError

    assert issubclass(ConfigError, UserError) and issubclass(UnknownNameError, UserError)
    assert issubclass(UnknownNameError, KeyError)  # callers that caught get_algorithm's KeyError still do
    assert str(UnknownNameError("unknown algorithm 'x'")) == "unknown algorithm 'x'"  # no KeyError quotes


def test_env_check_can_be_switched_off_in_the_config():
    import numpy as np

    from porcini.errors import EnvCheckError
    from porcini.experiment.config import dump_yaml, load_yaml
    from porcini.experiment.envs import build_envs
    from porcini.experiment.launch import resolve

    too_large = np.array([[5.0]], dtype=np.float32)  # Pendulum's actions lie in [-2, 2]
    checked, checked_eval = build_envs(resolve("random", "Pendulum-v1", None, []))
    with pytest.raises(EnvCheckError, match="outside"):
        checked.step(too_large)
    config = resolve("random", "Pendulum-v1", None, ["env.check=false"])  # what `--set env.check=false` passes
    assert config.env.check is False and load_yaml(dump_yaml(config))["env"]["check"] is False
    unchecked, unchecked_eval = build_envs(config)
    unchecked.step(too_large)  # Pendulum clips it itself
    for env in (checked, checked_eval, unchecked, unchecked_eval):
        env.close()


@pytest.mark.parametrize("command", ["train", "resume", "eval"])
def test_a_binary_config_file_is_one_line_exit_2_and_changes_nothing(tmp_path, command):
    binary = b"\xff\xfe\x00\x01 not yaml"
    if command == "train":
        path = tmp_path / "binary.yaml"
        path.write_bytes(binary)
        args = ["train", "ppo", "CartPole-v1", "--config", str(path), "--out", str(tmp_path / "runs")]
    else:  # a run directory whose config.yaml was overwritten with binary bytes
        run = tmp_path / "run"
        run.mkdir()
        path = run / "config.yaml"
        path.write_bytes(binary)
        args = [command, str(run)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    line = one_line_error(result)
    assert str(path) in line and "byte 0xff at offset 0" in line and "save it as UTF-8 YAML" in line
    assert path.read_bytes() == binary
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("damage,expected", [
    (b"env_steps,eval_return_mean\n100,abc\n200,5\n", "line 2, column 'eval_return_mean': 'abc' is not a number"),
    (b"env_steps,eval_return_mean\n100,1,2\n200,5\n", "line 2 has 3 cells, the header has 2"),
    (b"\xff\xfe\x00\x01", "is not text (byte 0xff at offset 0)"),
])
def test_a_damaged_metrics_csv_is_one_line_exit_2_for_plot_and_resume_and_changes_nothing(tmp_path, damage, expected):
    out = tmp_path / "runs"
    trained = CliRunner().invoke(main, ["train", "random", "CartPole-v1", "--steps", "200", "--set",
                                        "steps_per_epoch=100", "--out", str(out), "--no-progress"])
    assert trained.exit_code == 0, trained.output
    (run,) = out.iterdir()
    (run / "metrics.csv").write_bytes(damage)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for args in (["plot", str(run), "-o", str(tmp_path / "plot.png")], ["resume", str(run), "--steps", "400"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        line = one_line_error(result)
        assert str(run / "metrics.csv") in line and expected in line
        assert "delete" in line
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_resume_of_a_metrics_csv_without_the_step_column_is_one_line_exit_2_and_changes_nothing(tmp_path):
    out = tmp_path / "runs"
    trained = CliRunner().invoke(main, ["train", "random", "CartPole-v1", "--steps", "200", "--set",
                                        "steps_per_epoch=100", "--out", str(out), "--no-progress"])
    assert trained.exit_code == 0, trained.output
    (run,) = out.iterdir()
    (run / "metrics.csv").write_text("foo,bar\n1,2\n3,4\n")  # another program's CSV saved over it
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["resume", str(run), "--steps", "400"])
    assert result.exit_code == 2, result.output
    assert "has no env_steps in its header ['foo', 'bar']" in one_line_error(result)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
