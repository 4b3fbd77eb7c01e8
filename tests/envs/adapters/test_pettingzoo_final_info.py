"""A PettingZoo game's per-agent info of the step that ends an agent's episode reaches ``info["final_info"]``."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core
from porcini.algorithms.random import RandomAgent
from porcini.core.evaluation import run_episodes
from porcini.envs.multi_agent import make_multi_agent_env
from porcini.experiment.loggers import EpisodeInfoAggregator

pytest.importorskip("pettingzoo")
from pettingzoo import ParallelEnv  # noqa: E402


class Ledger(ParallelEnv):
    """Agent ``k`` reports a random cost every step and leaves after ``k + 2`` steps; ``books`` keeps each
    ended agent episode's cost sum, the reference the aggregated metrics are checked against."""

    metadata = {"name": "ledger_v0"}
    books: list[float] = []

    def __init__(self):
        self.possible_agents = ["a_0", "a_1", "a_2"]
        self.np_random = np.random.default_rng(0)

    def observation_space(self, agent):
        return gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.t, self.agents = 0, list(self.possible_agents)
        self.spent = dict.fromkeys(self.agents, 0.0)
        return {a: np.zeros(2, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        costs = {a: float(self.np_random.uniform()) for a in self.agents}
        terms = {a: self.t >= self.possible_agents.index(a) + 2 for a in self.agents}
        for agent, cost in costs.items():
            self.spent[agent] += cost
            if terms[agent]:
                Ledger.books.append(self.spent[agent])
        obs = {a: np.zeros(2, np.float32) for a in self.agents}
        self.agents = [a for a in self.agents if not terms[a]]
        return (obs, dict.fromkeys(obs, 0.0), terms, dict.fromkeys(obs, False),
                {a: {"cost": costs[a]} for a in obs})


def test_episode_info_sums_count_the_step_that_ends_an_agents_episode():
    Ledger.books = []
    env = make_multi_agent_env(Ledger, 2, seed=0, agent_id=False)
    stats = EpisodeInfoAggregator(env.num_envs)
    Core(RandomAgent(env.info, seed=0), env, callbacks=[stats], progress=False).learn(steps=6 * 12)
    assert Ledger.books
    metrics = stats.metrics()
    assert metrics["env/cost/episode_sum"] == pytest.approx(np.mean(Ledger.books))
    assert metrics["env/active/episode_sum"] == pytest.approx(np.mean([k + 2 for k in range(3)]))


def test_ended_rows_carry_their_last_info_under_final_info_and_evaluation_sums_agree():
    env = make_multi_agent_env(Ledger, 1, seed=0, agent_id=False)
    env.reset(seed=0)
    env.step(np.zeros(3, dtype=np.int64))
    _, _, term, _, info = env.step(np.zeros(3, dtype=np.int64))  # agent a_0 leaves on its second step
    assert term.tolist() == [True, False, False]
    assert info["_final_info"].tolist() == [True, False, False]
    assert info["final_info"]["_cost"].tolist() == [True, False, False]
    assert info["_cost"].tolist() == [False, True, True]
    Ledger.books = []
    record = run_episodes(RandomAgent(env.info, seed=0), env, 6, seed=1, info_keys=("cost",))
    assert sorted(record.info_sums["cost"]) == pytest.approx(sorted(Ledger.books[:6]))
