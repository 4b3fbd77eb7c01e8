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
from porcini.core.batch import TransitionBatch
from porcini.data.replay import ReplayBuffer
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


def test_independent_dqn_stores_only_the_steps_each_agent_took_part_in():
    """The quitter's idle rows (a zero observation, which is also its real first one) stay out of its replay: as
    terminated transitions of reward 0 they would teach Q([0], a) = 0 where its true value is about 3."""
    env = make_multi_agent_env(EarlyExit, 2, 0)
    agent = IndependentDQN(env.info, learning_starts=4, train_freq=4, batch_size=4)
    Core(agent, env, progress=False).learn(steps=240)  # 4 rows a step, 60 steps: 2 episodes of 30 per copy
    quitter, stayer = agent.learners["quitter"].buffer, agent.learners["stayer"].buffer
    assert len(quitter) == 2 * 2 * 2 and len(stayer) == 2 * 60  # 2 steps per episode, 2 episodes, 2 copies
    data = quitter.gather(np.arange(len(quitter)))
    assert np.all(data.reward >= 1.0) and data.extras["active"].all()
    assert sorted(np.asarray(data.obs["observation"] if isinstance(data.obs, dict) else data.obs).ravel()) == \
        [0.0] * 4 + [1.0] * 4


def test_independent_dqn_refuses_n_step_runs():
    with pytest.raises(ConfigError, match="n_steps.*idle rows"):
        IndependentDQN(make_multi_agent_env(EarlyExit, 1, 0).info, n_steps=3)


def test_an_older_independent_dqn_replay_with_idle_rows_loads_as_the_agents_transitions():
    env = make_multi_agent_env(EarlyExit, 2, 0)
    agent = IndependentDQN(env.info, learning_starts=4, train_freq=4, batch_size=4, buffer_size=100)
    Core(agent, env, progress=False).learn(steps=8)
    state = agent.state_dict()
    learner = agent.learners["quitter"]
    old = ReplayBuffer(100)  # the layout saved before: a column per copy, idle rows stored
    steps = learner.buffer.gather(np.arange(2))  # two real transitions [2, 1]
    columns = TransitionBatch.concatenate([steps, steps], axis=1)  # [2, 2]
    active = np.array([[1.0, 1.0], [1.0, 0.0]])
    old.add(TransitionBatch(columns.obs, columns.action, columns.reward, columns.next_obs, columns.terminated,
                            columns.truncated, {"active": active}))
    state["groups"]["quitter"]["buffer"] = old.state_dict()
    restored = IndependentDQN(env.info, learning_starts=4, train_freq=4, batch_size=4, buffer_size=100)
    restored.load_state_dict(state)
    buffer = restored.learners["quitter"].buffer
    assert buffer.n_envs == 1 and len(buffer) == 3
    Core(restored, env, progress=False).learn(steps=8)  # stores and learns on from there
