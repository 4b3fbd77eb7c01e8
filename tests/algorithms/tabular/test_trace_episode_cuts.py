"""Eligibility traces end with episodes cut after a fit (``Core.reset``, a resume): the next episode starts afresh."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.tabular.sarsa_lambda import SarsaLambda
from porcini.algorithms.tabular.true_online_sarsa_lambda import TrueOnlineSarsaLambda


class Corridor(gym.Env):
    """States 0..5; action 1 moves right, 0 stays; reward 1 per step; never ends by itself."""

    metadata: dict = {"render_modes": []}

    def __init__(self):
        self.observation_space, self.action_space = gym.spaces.Discrete(6), gym.spaces.Discrete(2)
        self.state = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = 0
        return self.state, {}

    def step(self, action):
        self.state = min(5, self.state + int(action))
        return self.state, 1.0, False, False, {}


@pytest.mark.parametrize("cls", [SarsaLambda, TrueOnlineSarsaLambda])
def test_the_first_update_after_a_reset_moves_only_the_pair_it_visits(cls):
    """With a fresh trace, the first transition of an episode changes only ``Q(s0, a0)``, by ``α δ``."""
    env = make_env(Corridor, seed=0)
    agent = cls(env.info, learning_rate=0.5, gamma=0.9, trace_decay=0.9, epsilon=0.5, seed=3)
    core = Core(agent, env, progress=False)
    core.learn(steps=6)  # an episode in progress: its trace covers the pairs it visited
    assert np.count_nonzero(agent.traces) > 1
    core.reset()
    before = agent.q.weights.copy()
    seen = []
    fit = agent.fit
    agent.fit = lambda batch: (seen.append(batch), fit(batch))[1]
    core.learn(steps=1)
    (batch,) = seen
    s, a, reward, s_next = int(batch.obs[0, 0]), int(batch.action[0, 0]), float(batch.reward[0, 0]), \
        int(batch.next_obs[0, 0])
    assert s == 0
    # the on-policy a' is the action the agent plays next
    a_next = int(agent.act(np.array([s_next]), explore=True)[0])
    delta = reward + 0.9 * before[s_next, a_next] - before[s, a]
    expected = before.copy()
    expected[s, a] += 0.5 * delta
    np.testing.assert_allclose(agent.q.weights, expected, atol=1e-12)
