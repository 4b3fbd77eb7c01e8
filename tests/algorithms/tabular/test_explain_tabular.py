"""explain() of the tabular TD agents: Q-values read from the table, value their maximum."""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.tabular.double_q_learning import DoubleQLearning
from porcini.algorithms.tabular.expected_sarsa import ExpectedSarsa
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.algorithms.tabular.sarsa import Sarsa
from porcini.algorithms.tabular.sarsa_lambda import SarsaLambda
from porcini.algorithms.tabular.true_online_sarsa_lambda import TrueOnlineSarsaLambda


@pytest.mark.parametrize("cls", [QLearning, Sarsa, ExpectedSarsa, SarsaLambda, TrueOnlineSarsaLambda])
def test_q_values_are_the_tables_rows(cls):
    env = make_env("FrozenLake-v1", seed=0)
    agent = cls(env.info)
    # ~800 episodes of the near-random early policy: a reward (P ≈ 1.4% per episode) is then all but certain
    Core(agent, env, progress=False).learn(steps=6000)
    table = agent.q.weights
    assert np.abs(table).max() > 0  # it learned something: the rows differ from the initial zeros
    obs = np.arange(16)
    out = agent.explain(obs)
    assert set(out) == {"q_values", "value"}
    np.testing.assert_array_equal(out["q_values"], table[obs])
    np.testing.assert_array_equal(out["value"], table[obs].max(axis=1))


def test_double_q_learning_explains_the_mean_of_its_two_estimates():
    env = make_env("FrozenLake-v1", seed=0)
    agent = DoubleQLearning(env.info)
    Core(agent, env, progress=False).learn(steps=2000)
    obs = np.arange(16)
    mean = (agent.q.weights[obs] + agent.q_b.weights[obs]) / 2
    assert not np.array_equal(agent.q.weights, agent.q_b.weights)
    out = agent.explain(obs)
    np.testing.assert_allclose(out["q_values"], mean, rtol=1e-12)
    np.testing.assert_allclose(out["value"], mean.max(axis=1), rtol=1e-12)
