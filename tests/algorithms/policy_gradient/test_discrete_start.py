"""On-policy agents on ``Discrete(n, start=s)`` actions: they act in ``s..s+n-1`` and learn which one pays."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import A2C, PPO, TRPO, RecurrentPPO, Reinforce


class OffsetBandit(gym.Env):
    """One-step episodes; only action 6 of ``Discrete(3, start=5)`` pays 1."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(3, start=5)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        return np.zeros(2, np.float32), float(action == 6), True, False, {}


@pytest.mark.parametrize("agent_cls", [PPO, A2C, TRPO, Reinforce, RecurrentPPO])
def test_actions_start_where_the_space_starts(agent_cls):
    env = make_env(OffsetBandit, n_envs=2, seed=0)
    kwargs = {} if agent_cls is Reinforce else {"n_steps": 16}
    if agent_cls in (PPO, RecurrentPPO):
        kwargs.update(batch_size=32, n_epochs=2)
    agent = agent_cls(env.info, learning_rate=3e-2, seed=0, **kwargs)
    Core(agent, env, progress=False).learn(steps=1024)  # every action the env got was inside its space
    actions = np.concatenate([agent.act(np.zeros((2, 2), np.float32), explore=True) for _ in range(20)])
    assert set(actions.tolist()) <= {5, 6, 7}
    greedy = agent.act(np.zeros((2, 2), np.float32), explore=False)
    assert greedy.tolist() == [6, 6]  # it learned which category is action 6
