"""Double Q-learning's Boltzmann exploration: the softmax of its estimate (Q_A + Q_B) / 2 over the temperature."""

import gymnasium as gym
import numpy as np

from porcini.algorithms.tabular.double_q_learning import DoubleQLearning
from porcini.envs import EnvInfo


def test_boltzmann_temperature_applies_to_the_mean_of_the_two_estimates():
    info = EnvInfo("hand", gym.spaces.Discrete(1), gym.spaces.Discrete(3))
    agent = DoubleQLearning(info, exploration="boltzmann", temperature=0.5, seed=3)
    agent.q.table[0] = [1.0, 0.0, -0.5]
    agent.q_b.table[0] = [0.6, 0.2, -0.3]
    mean = (agent.q.table[0] + agent.q_b.table[0]) / 2
    expected = np.exp(mean / 0.5) / np.exp(mean / 0.5).sum()
    np.testing.assert_allclose(agent.explain(np.array([0]))["q_values"][0], mean, rtol=1e-12)
    np.testing.assert_allclose(agent.behaviour_probs(agent.q_values(np.array([0]))[0]), expected, rtol=1e-12)
    n = 20_000
    actions = agent.act(np.zeros(n, dtype=np.int64), explore=True)
    frequencies = np.bincount(actions, minlength=3) / n
    np.testing.assert_allclose(frequencies, expected, atol=0.015)  # binomial standard deviation below 0.004
