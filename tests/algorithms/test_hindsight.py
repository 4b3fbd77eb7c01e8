"""Hindsight replay as the replay option of DQN, DDPG, TD3 and SAC on goal envs (porcini.algorithms.hindsight)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.ddpg import DDPG
from porcini.algorithms.actor_critic.discrete_sac import DiscreteSAC
from porcini.algorithms.actor_critic.sac import SAC, SACConfig
from porcini.algorithms.actor_critic.td3 import TD3
from porcini.algorithms.value_based.dqn import DQN, DQNConfig
from porcini.algorithms.value_based.qr_dqn import QRDQN
from porcini.data import HerReplayBuffer
from porcini.errors import ConfigError, UnsupportedSpaceError
from porcini.experiment.hyperparameters import config_of_record, run_config_of_record


class PointGoalEnv(gym.Env):
    """A point in the unit square moved by actions in ``[-0.2, 0.2]^2`` toward a goal; success within 0.1.

    Like Gymnasium-Robotics' Fetch tasks: reward -1 until the point is near the goal, then 0; never terminated
    (no ``compute_terminated``), truncated after 10 steps.
    """

    def __init__(self) -> None:
        box = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict({"observation": box, "achieved_goal": box, "desired_goal": box})
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._pos, self._goal, self._t = np.zeros(2, np.float32), np.zeros(2, np.float32), 0

    def _obs(self) -> dict[str, np.ndarray]:
        return {"observation": self._pos.copy(), "achieved_goal": self._pos.copy(), "desired_goal": self._goal.copy()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        self._pos, self._goal = (self.np_random.random(2).astype(np.float32) for _ in range(2))
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        self._pos = np.clip(self._pos + 0.2 * np.asarray(action, np.float32), 0.0, 1.0).astype(np.float32)
        self._t += 1
        obs = self._obs()
        return obs, float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {})), False, self._t >= 10, {}

    def compute_reward(self, achieved_goal: Any, desired_goal: Any, info: Any) -> Any:
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return (distance <= 0.1).astype(np.float32) - 1.0


SMALL = {"learning_starts": 40, "batch_size": 16, "buffer_size": 1000}

def bits() -> Any:
    return make_env("porcini/BitFlipping-v0", n_envs=2, seed=0, env_kwargs={"n_bits": 4})


AGENTS = {
    "dqn": (DQN, bits, dict(SMALL, net_arch=(16,))),
    "qr_dqn": (QRDQN, bits, dict(SMALL, net_arch=(16,))),
    "discrete_sac": (DiscreteSAC, bits, dict(SMALL, net_arch=(16,))),
    "ddpg": (DDPG, lambda: make_env(PointGoalEnv, n_envs=2, seed=0), dict(SMALL, net_arch=(16,))),
    "td3": (TD3, lambda: make_env(PointGoalEnv, n_envs=2, seed=0), dict(SMALL, net_arch=(16,))),
    "sac": (SAC, lambda: make_env(PointGoalEnv, n_envs=2, seed=0), dict(SMALL, net_arch=(16,))),
}


def parameters(agent: Any) -> list[torch.Tensor]:
    return [p.detach().clone() for m in agent.modules.values() for p in m.parameters()]


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agents_learn_from_hindsight_replay_and_resume_exactly(name):
    cls, make, config = AGENTS[name]
    env = make()
    agent = cls(env.info, replay="her", her_strategy="future", her_n_sampled_goal=4, **config)
    assert isinstance(agent.buffer, HerReplayBuffer)
    Core(agent, env, progress=False).learn(steps=120)
    assert agent.n_updates > 0 and len(agent.buffer) == 120
    sample = agent.buffer.sample(400, np.random.default_rng(0))
    relabelled = ~np.all(sample.obs["desired_goal"] == sample.obs["desired_goal"][:1], axis=-1)  # some goals vary
    assert relabelled.any()
    resumed = cls(env.info, replay="her", her_strategy="future", her_n_sampled_goal=4, **config)
    resumed.load_state_dict(agent.state_dict())
    assert isinstance(resumed.buffer, HerReplayBuffer) and len(resumed.buffer) == len(agent.buffer)
    batch_env = make()
    for learner in (agent, resumed):  # the same further steps from the same state give the same parameters
        Core(learner, batch_env, progress=False).learn(steps=40)
        batch_env.close()
        batch_env = make()
    for a, b in zip(parameters(agent), parameters(resumed)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_episodes_cut_ends_every_env_episode_in_the_agents_hindsight_replay(name):
    from porcini.algorithms.policy_gradient.ppo import PPO

    cls, make, config = AGENTS[name]
    env = make()
    agent = cls(env.info, replay="her", **config)
    Core(agent, env, progress=False).learn(steps=14)  # BitFlipping's 4-step episodes in progress
    state = agent.buffer.state_dict()
    agent.episodes_cut()
    after = agent.buffer.state_dict()
    newest = (int(after["storage.position"]) - 1) % len(after["storage.data.truncated"])
    assert (after["storage.data.truncated"][newest] | after["storage.data.terminated"][newest]).all()
    clock = int(after["storage.n_added"]) // 2  # steps stored per env: the next one begins a new episode
    assert after["open_start"].tolist() == [clock, clock] and not state["storage.data.truncated"][newest].all()
    assert not hasattr(PPO(make_env("CartPole-v1").info), "episodes_cut")  # an agent without replay has no hook


def test_her_on_an_env_without_goals_is_named():
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    with pytest.raises(UnsupportedSpaceError, match="replay='her' needs a goal env.*CartPole-v1"):
        DQN(env.info, replay="her")


@pytest.mark.parametrize(
    ("config", "overrides", "match"),
    [
        (DQNConfig, {"replay": "hindsight"}, "replay = 'hindsight' is invalid: must be one of"),
        (DQNConfig, {"replay": "her", "prioritized_replay": True}, "False with replay='her'"),
        (DQNConfig, {"replay": "her", "n_steps": 3}, "1 with replay='her'"),
        (DQNConfig, {"her_strategy": "later"}, "her_strategy = 'later' is invalid"),
        (SACConfig, {"her_n_sampled_goal": -1}, "her_n_sampled_goal = -1 is invalid: must be an integer >= 0"),
    ],
)
def test_bad_replay_fields_are_config_errors(config, overrides, match):
    with pytest.raises(ConfigError, match=match):
        config(**overrides)


def goal_section_blocks() -> list[str]:
    page = (Path(__file__).resolve().parents[2] / "docs" / "environments.md").read_text()
    section = page.split("## Goal-conditioned envs and HER", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_goal_env_recipe_in_the_docs_runs_and_dqn_with_her_solves_8_bits(capsys):
    (block,) = goal_section_blocks()
    namespace: dict[str, Any] = {}
    exec(compile(block, "docs/environments.md", "exec"), namespace)
    assert namespace["success"] >= 0.9
    assert "success rate" in capsys.readouterr().out


@pytest.mark.slow
def test_dqn_with_her_solves_15_bits_where_dqn_alone_fails():
    """The paper's Fig. 1 point at n = 15, with the config of record (porcini/configs/dqn/porcini__BitFlipping-v0)."""
    run = run_config_of_record("dqn", "porcini/BitFlipping-v0")
    success = {}
    for replay in ("her", "uniform"):
        config = dataclasses.replace(config_of_record("dqn", "porcini/BitFlipping-v0"), replay=replay)
        env = make_env("porcini/BitFlipping-v0", n_envs=1, seed=0, env_kwargs=run.env.kwargs)
        eval_env = make_env("porcini/BitFlipping-v0", n_envs=1, seed=1, env_kwargs=run.env.kwargs)
        core = Core(DQN(env.info, config), env, eval_env=eval_env, progress=False, eval_seed=1)
        core.learn(steps=run.steps)
        returns = np.asarray(core.evaluate(episodes=100).returns)
        success[replay] = float(np.mean(returns > -run.env.kwargs["n_bits"]))
    print(f"15-bit flipping success after {run.steps} steps: {success}")
    assert run.env.kwargs["n_bits"] == 15
    assert success["her"] >= 0.9 and success["uniform"] <= 0.1, success
