"""ModelEnv steps flat Box observations under Box actions: other spaces are refused in one line when it is built."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from porcini.algorithms.model_based.known_models import PendulumModel
from porcini.algorithms.model_based.model_env import ModelEnv
from porcini.errors import UnsupportedSpaceError

BOX_OBS = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
BOX_ACTION = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)


@pytest.mark.parametrize("observation_space, action_space", [
    (BOX_OBS, gym.spaces.Discrete(3)),
    (gym.spaces.Discrete(4), BOX_ACTION),
    (gym.spaces.Box(-1.0, 1.0, (1, 3), np.float32), BOX_ACTION),
])
def test_spaces_a_model_env_cannot_step_are_refused_in_one_line(observation_space, action_space):
    with pytest.raises(UnsupportedSpaceError, match="ModelEnv steps a model of flat Box observations") as caught:
        ModelEnv(PendulumModel(), observation_space, action_space, np.zeros((2, 3)), n_envs=2, horizon=3)
    assert "\n" not in str(caught.value)


def test_box_spaces_step():
    env = ModelEnv(PendulumModel(), BOX_OBS, BOX_ACTION, np.array([[1.0, 0.0, 0.0]]), n_envs=2, horizon=3, seed=0)
    env.reset(seed=0)
    assert env.step(np.zeros((2, 1)))[0].shape == (2, 3)
