"""Cost signals through the loop and the runner: batches, evaluation sums, the experiment's metrics, bad envs."""

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
from click.testing import CliRunner

from porcini import Core, make_env
from porcini.algorithms.safe.ppo_lagrangian import PPOLagrangian
from porcini.errors import EnvCheckError
from porcini.experiment.cli import main


class CostlyCounter(gym.Env):
    """Episodes of ``length`` steps, reward 1; step ``t`` (from 0) costs ``t``, so an episode costs ``L(L-1)/2``."""

    def __init__(self, length: int = 4) -> None:
        self.length = length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        cost = float(self._t)
        self._t += 1
        return np.full(1, self._t / self.length, np.float32), 1.0, self._t == self.length, False, {"cost": cost}


def counter_env(n_envs, seed=0):
    return make_env(lambda: CostlyCounter(), n_envs=n_envs, seed=seed)


def test_the_batches_carry_each_steps_cost_and_evaluation_sums_it_per_episode():
    env, eval_env = counter_env(3), counter_env(2, seed=1)
    agent = PPOLagrangian(env.info, n_steps=8, batch_size=24, n_epochs=1, net_arch=(8,))
    seen = []
    agent_fit = agent.fit
    agent.fit = lambda batch: seen.append(batch.extras["cost"].copy()) or agent_fit(batch)
    core = Core(agent, env, eval_env=eval_env, info_keys=agent.info_keys, progress=False)
    core.learn(steps=24)
    np.testing.assert_array_equal(seen[0], np.tile(np.array([0.0, 1, 2, 3, 0, 1, 2, 3])[:, None], (1, 3)))
    record = core.evaluate(5)
    assert record.info_sums == {"cost": [6.0] * 5}
    assert record.mean_info_sum("cost") == 6.0 and np.isnan(record.mean_info_sum("other"))


def test_an_env_without_the_cost_key_fails_in_one_line_naming_key_and_env():
    env, eval_env = make_env("CartPole-v1", n_envs=2, seed=0), make_env("CartPole-v1", n_envs=2, seed=1)
    agent = PPOLagrangian(env.info, n_steps=8, batch_size=16, n_epochs=1)
    core = Core(agent, env, eval_env=eval_env, info_keys=agent.info_keys, progress=False)
    with pytest.raises(EnvCheckError) as caught:
        core.learn(steps=16)
    message = str(caught.value)
    assert "'cost'" in message and "CartPole-v1" in message and "\n" not in message
    with pytest.raises(EnvCheckError, match="CartPole-v1 reported no info"):
        core.evaluate(2)


def test_cli_run_logs_the_evaluation_cost_and_the_multiplier(tmp_path):
    result = CliRunner().invoke(main, ["train", "ppo_lagrangian", "porcini/CartPoleBand-v0", "--steps", "2000",
                                       "--set", "eval_episodes=2", "--set", "steps_per_epoch=1024",
                                       "--out", str(tmp_path), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["eval_cost_mean"] >= 0
    run_dir = next(tmp_path.iterdir())
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert len(rows) == 2
    for row in rows:
        assert float(row["eval_cost_mean"]) >= 0 and float(row["train/lagrange_multiplier"]) >= 0
        assert float(row["train/episode_cost"]) >= 0 and "env/cost/episode_sum" in row


def test_cli_refuses_an_env_without_the_cost_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["train", "ppo_lagrangian", "CartPole-v1", "--steps", "300", "--set",
                                       "n_steps=16", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 1
    assert "'cost'" in result.output and "CartPole-v1" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_cli_refuses_a_negative_cost_limit_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["train", "ppo_lagrangian", "porcini/CartPoleBand-v0", "--set",
                                       "cost_limit=-5", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 2
    assert "cost_limit = -5" in result.output and len(result.output.strip().splitlines()) == 1
