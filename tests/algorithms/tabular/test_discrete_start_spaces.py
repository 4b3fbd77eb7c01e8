"""Discrete(n, start) spaces with the classical agents: observations index the table from ``start``; actions and a
planner's states must start at 0, refused when the agent is built rather than mid-run."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import get_algorithm
from porcini.envs import EnvInfo
from porcini.envs.builtin import TabularEnv
from porcini.errors import UnsupportedSpaceError


class ShiftedChain(gym.ObservationWrapper):
    """A TabularEnv whose observations are its states plus ``start`` (``Discrete(n, start)``)."""

    def __init__(self, env, start):
        super().__init__(env)
        self.start = start
        self.observation_space = gym.spaces.Discrete(env.observation_space.n, start=start)

    def observation(self, observation):
        return int(observation) + self.start


def chain():
    """States 0 -> 1 -> 2 (terminal) with action 0, reward 1 on entering 2; action 1 stays put with reward 0."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[1, 0, 2] = P[2, :, 2] = P[0, 1, 0] = P[1, 1, 1] = 1.0
    R = np.zeros((3, 2))
    R[1, 0] = 1.0
    return TabularEnv.from_dense(P, R, terminal=[False, False, True])


@pytest.mark.parametrize("name", ["q_learning", "sarsa", "dyna_q"])
def test_observations_starting_at_5_fill_the_rows_from_0(name):
    shifted = make_env(lambda: ShiftedChain(chain(), 5), seed=0, max_episode_steps=20)
    plain = make_env(chain, seed=0, max_episode_steps=20)
    agents = [get_algorithm(name)(env.info, learning_rate=0.5, epsilon=0.3, gamma=0.9, seed=1)
              for env in (shifted, plain)]
    for agent, env in zip(agents, (shifted, plain)):
        Core(agent, env, progress=False).learn(steps=300)
    tables = [agent.q.table for agent in agents]
    # same dynamics, same seeds: observation 5 + s learns exactly the row of state s
    np.testing.assert_array_equal(tables[0], tables[1])
    assert tables[0][1, 0] > 0
    np.testing.assert_array_equal(agents[0].q(np.array([6])), tables[1][[1]])
    np.testing.assert_array_equal(agents[0].explain(np.array([6]))["q_values"], tables[1][[1]])


@pytest.mark.parametrize("name", ["q_learning", "expected_sarsa", "ucb", "epsilon_greedy", "thompson"])
def test_actions_not_starting_at_0_are_refused_when_built(name):
    info = EnvInfo("shifted", gym.spaces.Discrete(3), gym.spaces.Discrete(2, start=1))
    with pytest.raises(UnsupportedSpaceError, match="start at 0|numbered from 0"):
        get_algorithm(name)(info)


def test_planning_refuses_states_not_starting_at_0():
    env = make_env(lambda: ShiftedChain(chain(), 5), seed=0)
    with pytest.raises(UnsupportedSpaceError, match="start at 0"):
        get_algorithm("value_iteration")(env.info)
