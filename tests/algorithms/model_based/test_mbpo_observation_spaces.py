"""MBPO's model predicts flat observations: Dict and multi-dimensional Box observations are refused in one line."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms.model_based.mbpo import MBPO
from porcini.errors import UnsupportedSpaceError


class Observing(gym.Env):
    """Random observations of the given space and a reward equal to the action, never ending."""

    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def __init__(self, observation_space: gym.Space) -> None:
        self.observation_space = observation_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), float(action[0]), False, False, {}


@pytest.mark.parametrize("space", [gym.spaces.Box(-1, 1, (2, 3), np.float32),
                                   gym.spaces.Dict({"a": gym.spaces.Box(-1, 1, (2,), np.float32)})])
def test_observations_the_model_cannot_predict_are_refused_when_the_agent_is_built(space):
    info = make_env(lambda: Observing(space), seed=0).info
    with pytest.raises(UnsupportedSpaceError, match="MBPO models flat Box observations") as caught:
        MBPO(info, net_arch=(8,), model_hidden=(8,), batch_size=8)
    assert "\n" not in str(caught.value)
