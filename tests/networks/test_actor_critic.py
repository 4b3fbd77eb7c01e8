"""ActorCritic (porcini.networks.actor_critic): built from spaces, Discrete or Box policies, optional critic."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini.errors import UnsupportedSpaceError
from porcini.networks.actor_critic import ActorCritic

BOX = gym.spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)


def test_actor_critic_from_spaces_discrete_and_box():
    discrete = ActorCritic(BOX, gym.spaces.Discrete(3), (8,))
    assert discrete.policy(torch.zeros(2, 4)).probs.shape == (2, 3) and discrete.value(torch.zeros(2, 4)).shape == (2,)
    box = ActorCritic(BOX, gym.spaces.Box(-2.0, 2.0, (2,), dtype=np.float32), (8,), with_value=False)
    assert box.clips and box.policy(torch.zeros(2, 4)).mean.shape == (2, 2) and box.critic_parameters() == []
    with pytest.raises(UnsupportedSpaceError, match="ActorCritic needs a Discrete, Box, MultiDiscrete or MultiBinary"):
        ActorCritic(BOX, gym.spaces.Tuple([gym.spaces.Discrete(2)] * 2), (8,))
