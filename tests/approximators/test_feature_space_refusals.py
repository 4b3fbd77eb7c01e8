"""A feature map's refusal of an observation space names the fix that fits the space."""

import gymnasium as gym
import pytest

from porcini.approximators import make_features
from porcini.errors import UnsupportedSpaceError


@pytest.mark.parametrize("space", [gym.spaces.MultiDiscrete([3, 4]), gym.spaces.MultiBinary(3),
                                   gym.spaces.Dict({"a": gym.spaces.Discrete(3)})])
def test_spaces_neither_box_nor_discrete_are_sent_to_flatten_observation(space):
    with pytest.raises(UnsupportedSpaceError, match="FlattenObservation") as err:
        make_features(space)
    assert "one_hot" not in str(err.value)  # one-hot features need a Discrete space, so that would not work


def test_discrete_spaces_with_continuous_features_are_sent_to_one_hot():
    with pytest.raises(UnsupportedSpaceError, match="use one_hot"):
        make_features(gym.spaces.Discrete(4), "tile")
