"""The random agent: uniform over the action space, integer Box spaces included."""

import gymnasium as gym
import numpy as np
import pytest

from porcini.algorithms.random import RandomAgent
from porcini.envs.info import EnvInfo


@pytest.mark.parametrize("explore", [True, False])
def test_integer_box_actions_are_uniform_over_every_integer_bounds_included(explore):
    space = gym.spaces.Box(-3, 3, (2,), np.int64)
    agent = RandomAgent(EnvInfo("toy", gym.spaces.Box(-1.0, 1.0, (3,)), space, horizon=10))
    actions = agent.act(np.zeros((7000, 3), np.float32), explore=explore)
    assert actions.shape == (7000, 2) and actions.dtype == np.int64
    assert all(space.contains(a) for a in actions[:100])
    frequencies = np.bincount(actions.reshape(-1) + 3, minlength=7) / actions.size
    np.testing.assert_allclose(frequencies, 1 / 7, atol=0.015)  # a cast of uniform floats: 0 at 1/3, ±3 never


@pytest.mark.parametrize("explore", [True, False])
def test_with_an_action_mask_only_legal_actions_each_as_likely(explore):
    obs_space = gym.spaces.Dict({"observation": gym.spaces.Box(-1.0, 1.0, (2,)),
                                 "action_mask": gym.spaces.MultiBinary(4)})
    agent = RandomAgent(EnvInfo("toy", obs_space, gym.spaces.Discrete(4, start=2), horizon=10))
    mask = np.tile(np.array([[1, 0, 1, 1], [0, 0, 0, 1]], np.int8), (3000, 1))
    actions = agent.act({"observation": np.zeros((6000, 2), np.float32), "action_mask": mask}, explore=explore)
    first, second = actions[0::2] - 2, actions[1::2] - 2
    assert set(second) == {3}
    np.testing.assert_allclose(np.bincount(first, minlength=4) / first.size, [1 / 3, 0, 1 / 3, 1 / 3], atol=0.03)
