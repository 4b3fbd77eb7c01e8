"""A centralized critic reads the global state and the agent id: an env built without the id is refused in one line."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from pettingzoo import ParallelEnv

from porcini.algorithms.multi_agent.mappo import MAPPO, MultiAgentPPO
from porcini.envs.multi_agent import make_multi_agent_env
from porcini.errors import ConfigError


class Twins(ParallelEnv):
    """Two agents that observe the step count and earn their action, for four steps; the state is the step count."""

    metadata = {"name": "twins_v0"}

    def __init__(self):
        self.possible_agents = ["twin_0", "twin_1"]
        self.state_space = gym.spaces.Box(0.0, 4.0, (1,), np.float32)

    def observation_space(self, agent):
        return gym.spaces.Box(0.0, 4.0, (1,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def state(self):
        return np.array([self.t], dtype=np.float32)

    def reset(self, seed=None, options=None):
        self.t, self.agents = 0, list(self.possible_agents)
        return {a: self.state() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        done = self.t >= 4
        observations = {a: self.state() for a in self.agents}
        rewards = {a: float(actions[a]) for a in self.agents}
        ends = {a: done for a in self.agents}
        infos = {a: {} for a in self.agents}
        if done:
            self.agents = []
        return observations, rewards, ends, {a: False for a in ends}, infos


@pytest.mark.parametrize("make", [lambda info: MAPPO(info), lambda info: MultiAgentPPO(info, critic="central")])
def test_a_central_critic_without_the_agent_id_is_refused_in_one_line(make):
    info = make_multi_agent_env(Twins, 1, 0, agent_id=False, global_state=True).info
    with pytest.raises(ConfigError, match="agent_id=True") as caught:
        make(info)
    assert "\n" not in str(caught.value)
    with_id = make_multi_agent_env(Twins, 1, 0, agent_id=True, global_state=True).info
    assert make(with_id).learners
