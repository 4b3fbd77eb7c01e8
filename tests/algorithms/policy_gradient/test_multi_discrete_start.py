"""On-policy agents on ``MultiDiscrete(nvec, start)`` actions act and learn exactly as on their ``start=0`` twin."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import A2C, PPO, TRPO, RecurrentPPO, Reinforce

NVEC, START = [3, 2, 4], np.array([1, -2, 5])


class ShiftedChoices(gym.Env):
    """Observations from a Box; the reward pays the choice ``action - start`` of each component (one-step episodes).

    Args:
        start: the action space's ``start``; the twin envs differ only by it.
    """

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, start):
        self.start = np.asarray(start)
        self.action_space = gym.spaces.MultiDiscrete(NVEC, start=self.start)
        self.choices: list[list[int]] = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action)), action
        choice = np.asarray(action) - self.start
        self.choices.append(choice.tolist())
        reward = float(choice[0] == 2) + float(choice[2] == 1)
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), reward, True, False, {}


def run(agent_cls, start):
    """The choices the env received and the agent's parameters after a short run from seed 0."""
    envs = []

    def factory():
        envs.append(ShiftedChoices(start))
        return envs[-1]

    env = make_env(factory, n_envs=2, seed=0, vectorization="sync")
    kwargs = {} if agent_cls is Reinforce else {"n_steps": 8}
    if agent_cls in (PPO, RecurrentPPO):
        kwargs.update(batch_size=8, n_epochs=2)
    agent = agent_cls(env.info, learning_rate=3e-2, seed=0, **kwargs)
    Core(agent, env, progress=False).learn(steps=64)
    params = torch.cat([p.detach().flatten() for p in agent.model.parameters()])
    return [e.choices for e in envs], params, agent


@pytest.mark.parametrize("agent_cls", [PPO, A2C, TRPO, Reinforce, RecurrentPPO])
def test_shifted_multi_discrete_actions_match_the_start_zero_twin(agent_cls):
    shifted_choices, shifted_params, agent = run(agent_cls, START)
    twin_choices, twin_params, _ = run(agent_cls, np.zeros(3, np.int64))
    assert shifted_choices == twin_choices and sum(len(c) for c in twin_choices) >= 64
    torch.testing.assert_close(shifted_params, twin_params, rtol=0, atol=0)  # same log-probs, same updates
    greedy = agent.act(np.zeros((2, 2), np.float32), explore=False)
    assert all(gym.spaces.MultiDiscrete(NVEC, start=START).contains(a) for a in greedy)
