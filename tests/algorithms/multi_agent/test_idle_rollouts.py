"""Idle rows: a PPO group whose agent sat out a whole rollout makes no update, and a learner that cannot tell idle
rows from real steps (no ``active`` flags in its batches) stops in one line instead of learning from them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from pettingzoo import ParallelEnv

from porcini import Core
from porcini.algorithms.multi_agent.idqn import IndependentDQN
from porcini.algorithms.multi_agent.mappo import MultiAgentPPO
from porcini.envs.multi_agent import make_multi_agent_env
from porcini.errors import ConfigError


class EarlyExit(ParallelEnv):
    """``quitter`` leaves (terminated) after 2 steps, ``stayer`` after 30; each earns 1 + its action per step and
    reports a cost of 0.5."""

    metadata = {"name": "early_exit_v0"}

    def __init__(self):
        self.possible_agents = ["quitter", "stayer"]

    def observation_space(self, agent):
        return gym.spaces.Box(0.0, 30.0, (1,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        self.t, self.agents = 0, list(self.possible_agents)
        return {a: np.array([0.0], np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        limits = {"quitter": 2, "stayer": 30}
        observations = {a: np.array([self.t], np.float32) for a in self.agents}
        rewards = {a: 1.0 + float(actions[a]) for a in self.agents}
        terminations = {a: self.t >= limits[a] for a in self.agents}
        self.agents = [a for a in self.agents if not terminations[a]]
        return observations, rewards, terminations, {a: False for a in terminations}, \
            {a: {"cost": 0.5} for a in observations}


def test_a_rollout_of_idle_rows_makes_no_update_and_still_counts_its_steps():
    env = make_multi_agent_env(EarlyExit, 1, 0)
    agent = MultiAgentPPO(env.info, n_steps=8, batch_size=8, n_epochs=2)
    quitter = agent.learners["quitter"]
    core = Core(agent, env, progress=False)
    core.learn(steps=16)  # the first rollout: the quitter acts in its first 2 steps
    params = [p.detach().clone() for p in quitter.model.parameters()]
    updates, steps = quitter.n_updates, quitter.steps_seen
    metrics = core.learn(steps=16).last_metrics  # the second: the quitter is idle throughout
    assert all(torch.equal(p, q) for p, q in zip(params, quitter.model.parameters()))
    assert quitter.n_updates == updates and quitter.steps_seen == steps + 8
    assert not any(k.startswith("quitter/") for k in metrics)
    assert all(np.isfinite(v) for k, v in metrics.items() if k.startswith("stayer/loss"))


@pytest.mark.parametrize("make", [lambda info: MultiAgentPPO(info, n_steps=8, batch_size=8),
                                  lambda info: IndependentDQN(info, learning_starts=4, train_freq=4, batch_size=4)])
def test_a_core_told_to_record_other_info_keys_only_is_refused_before_idle_rows_are_learned_from(make):
    env = make_multi_agent_env(EarlyExit, 1, 0)
    agent = make(env.info)
    core = Core(agent, env, info_keys=("cost",), progress=False)
    with pytest.raises(ConfigError, match="'active'") as caught:
        core.learn(steps=32)
    assert "\n" not in str(caught.value)
    assert Core(agent, env, info_keys=("cost", "active"), progress=False).learn(steps=32).steps == 32
