"""porcini collect and porcini dataset info: record random and trained policies, ε-noise, exit codes, --json."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from porcini.data.sources import open_dataset
from porcini.envs import make_env
from porcini.experiment.cli import main
from porcini.experiment.collect import _with_noise, collect_policy
from porcini.experiment.evaluation import load_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def last_json(result):
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_collect_random_to_minari_then_info_reports_the_same_data():
    pytest.importorskip("minari")
    result = invoke("collect", "random", "--env", "CartPole-v1", "--episodes", "4", "--to", "minari:cp/random-v0",
                    "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    collected = last_json(result)
    assert collected["episodes"] == 4 and collected["terminated"] == 4 and collected["truncated"] == 0
    info = invoke("dataset", "info", "minari:cp/random-v0", "--json")
    assert info.exit_code == 0, info.output
    described = last_json(info)
    for key in ("episodes", "steps", "return_mean", "return_min", "return_max", "terminated", "truncated"):
        assert described[key] == collected[key], key
    assert described["action_space"] == "Discrete(2)" and described["env_id"] == "CartPole-v1"
    text = invoke("dataset", "info", "minari:cp/random-v0")
    assert text.exit_code == 0 and "4 episodes" in text.output and "4 terminated, 0 truncated" in text.output
    # the same seed records the same data
    again = collect_policy("random", 4, "minari:cp/random-v1", env="CartPole-v1", seed=3)
    np.testing.assert_array_equal(open_dataset("minari:cp/random-v1").batch.action,
                                  open_dataset("minari:cp/random-v0").batch.action)
    assert again["steps"] == collected["steps"]


def test_collect_a_trained_run_records_its_agents_actions(tmp_path):
    config = resolve("dqn", "CartPole-v1", None, ["steps=300", "steps_per_epoch=300", "eval_episodes=1",
                                                  "log.sinks=[csv]", f"out={tmp_path / 'runs'}",
                                                  "env.wrappers=[NormalizeObservation]"])
    run_dir = Experiment.start(config).train().extra["run_dir"]
    target = str(tmp_path / "greedy.npz")
    result = invoke("collect", run_dir, "--episodes", "3", "--to", target, "--checkpoint", "last")
    assert result.exit_code == 0, result.output
    ds = open_dataset(target)
    assert ds.n_episodes == 3 and ds.metadata["algo"] == "dqn" and ds.metadata["noise"] == 0.0
    _, agent, env, eval_env = load_policy(run_dir, "last")
    np.testing.assert_array_equal(agent.act(ds.batch.obs[:, 0], explore=False), ds.batch.action[:, 0])
    # observations as the agent saw them: normalized with the run's trained statistics (the eval env's, frozen)
    first, _ = eval_env.reset(seed=0)
    raw, _ = make_env("CartPole-v1", n_envs=1).reset(seed=0)
    np.testing.assert_allclose(ds.batch.obs[0, 0], first[0], rtol=1e-6)
    assert not np.allclose(ds.batch.obs[0, 0], raw[0], atol=1e-3)
    env.close()
    eval_env.close()
    with pytest.raises(Exception, match="acts in CartPole-v1, not --env Pendulum-v1"):
        collect_policy(run_dir, 1, str(tmp_path / "x.npz"), env="Pendulum-v1", checkpoint="last")


def test_noise_replaces_actions_with_the_probability_asked():
    class Space:
        def sample(self):
            return np.ones(1000, dtype=np.int64)

    class Env:
        action_space = Space()

    rng = np.random.default_rng(0)
    noisy = _with_noise(lambda obs: np.zeros(1000, dtype=np.int64), Env(), 0.25, rng)
    replaced = np.mean([noisy(None).mean() for _ in range(20)])
    assert abs(replaced - 0.25) < 0.02
    assert _with_noise(len, Env(), 0.0, rng) is len


def test_noise_one_gives_a_uniformly_random_policy(tmp_path):
    result = collect_policy("random", 3, str(tmp_path / "r.npz"), env="Pendulum-v1", noise=1.0, seed=0)
    assert result["episodes"] == 3 and result["truncated"] == 3 and result["noise"] == 1.0
    actions = open_dataset(str(tmp_path / "r.npz")).batch.action
    assert actions.min() >= -2.0 and actions.max() <= 2.0 and actions.std() > 0.9


@pytest.mark.parametrize("args, message", [
    (["collect", "random", "--episodes", "2", "--to", "x.npz"], "collect random needs --env ENV"),
    (["collect", "no-such-run", "--episodes", "2", "--to", "x.npz"], "neither a run directory nor 'random'"),
    (["collect", "random", "--env", "CartPole-v1", "--episodes", "2", "--to", "x.csv"], "names no dataset"),
    (["collect", "random", "--env", "CartPole-v1", "--episodes", "2", "--to", "minari:bad id"],
     "not a Minari dataset id"),
    (["collect", "random", "--env", "CartPol-v1", "--episodes", "2", "--to", "x.npz"],
     "unknown env 'CartPol-v1'; did you mean 'CartPole-v1'?"),
    (["dataset", "info", "minari:absent-v0"], "no local Minari dataset 'absent-v0'"),
    (["dataset", "info", "absent.npz"], "no dataset file 'absent.npz'"),
])
def test_user_errors_exit_2_with_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_collect_refuses_an_existing_target_before_recording(tmp_path, monkeypatch):
    target = tmp_path / "kept.npz"
    target.write_bytes(b"precious")
    monkeypatch.setattr("porcini.experiment.collect.collect_dataset",
                        lambda *a, **k: pytest.fail("recorded although the target exists"))
    result = invoke("collect", "random", "--env", "CartPole-v1", "--episodes", "2", "--to", str(target))
    assert result.exit_code == 2 and "exists already" in result.stderr
    assert target.read_bytes() == b"precious"


def test_info_on_a_corrupt_file_is_one_line_exit_2(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    result = invoke("dataset", "info", str(path))
    assert result.exit_code == 2 and "broken.npz" in result.stderr and "corrupt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
