"""How reward and discriminator networks read observations: flattened, uint8 images scaled like the policy's CNN."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini.algorithms.imitation.reward_model import RewardModel
from porcini.algorithms.registry import get_algorithm
from porcini.envs.info import EnvInfo

IMAGE = gym.spaces.Box(0, 255, (6, 6, 3), np.uint8)
BOARD = gym.spaces.Box(0, 2, (3, 3), np.uint8)  # codes, not pixels: read as they are


def readers(space):
    """Every way the imitation methods turn observations into network inputs, as ``obs -> [N, obs_dim]``."""
    info = EnvInfo("toy", space, gym.spaces.Discrete(2), horizon=10)
    gail, airl = get_algorithm("gail")(info), get_algorithm("airl")(info)
    preferences = get_algorithm("preferences")(info)
    width = int(np.prod(space.shape))
    model = RewardModel(torch.nn.Linear(width, 1), info, state_only=True)
    return {"gail": gail.observations, "airl": airl.observations, "reward_model": model.inputs,
            "preferences": lambda obs: preferences._reward_inputs(obs, np.zeros(len(obs), np.int64))[:, :width]}


@pytest.mark.parametrize("space", [IMAGE, BOARD], ids=["image", "board"])
def test_discriminators_and_reward_models_read_images_scaled_and_codes_as_they_are(space):
    obs = np.random.default_rng(0).integers(0, int(space.high.max()) + 1, (4, *space.shape)).astype(np.uint8)
    scale = 255.0 if space is IMAGE else 1.0
    expected = torch.as_tensor(obs.reshape(4, -1), dtype=torch.float32) / scale
    for name, read in readers(space).items():
        torch.testing.assert_close(read(obs).cpu(), expected, msg=name)
