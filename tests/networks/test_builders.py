import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini.networks import MLP, NatureCNN, NetArch, is_image_space, make_trunk, parse_net_arch


def test_parse_net_arch():
    assert parse_net_arch((64, 64)) == NetArch((64, 64), (64, 64))
    assert parse_net_arch([]) == NetArch((), ())
    assert parse_net_arch({"pi": [32], "vf": [64, 64]}) == NetArch((32,), (64, 64))
    assert parse_net_arch({"pi": [32], "qf": [256]}) == NetArch((32,), (256,))
    bad_archs = (
        {"pi": [32]},
        {"pi": [1], "vf": [1], "qf": [1]},
        {"pi": [1], "vf": [1], "x": []},
        "64",
        (64, 0),
    )
    for bad in bad_archs:
        with pytest.raises(ValueError, match="PPOConfig.net_arch"):
            parse_net_arch(bad, "PPOConfig.net_arch")


def test_is_image_space():
    assert is_image_space(gym.spaces.Box(0, 255, (84, 84, 4), np.uint8))
    assert is_image_space(gym.spaces.Box(0, 255, (10, 10), np.uint8))
    assert not is_image_space(gym.spaces.Box(-1.0, 1.0, (84, 84, 4), np.float32))
    assert not is_image_space(gym.spaces.Box(0, 255, (4,), np.uint8))
    assert not is_image_space(gym.spaces.Discrete(3))


def test_make_trunk_for_vectors_and_images():
    vector = make_trunk(gym.spaces.Box(-1.0, 1.0, (2, 3), np.float32), hidden=(16,))
    assert isinstance(vector, MLP) and vector.out_dim == 16
    assert vector(torch.zeros(5, 2, 3)).shape == (5, 16)
    image = make_trunk(gym.spaces.Box(0, 255, (10, 10, 3), np.uint8), hidden=(32,), features_dim=64)
    assert isinstance(image[0], NatureCNN) and image.out_dim == 32
    assert image(torch.zeros(5, 10, 10, 3, dtype=torch.uint8)).shape == (5, 32)
    with pytest.raises(ValueError, match="cannot encode Text observations"):
        make_trunk(gym.spaces.Text(8), hidden=(8,))


def test_make_trunk_takes_a_scalar_box_as_one_feature():
    space = gym.spaces.Box(-1.0, 1.0, (), np.float32)
    trunk = make_trunk(space, hidden=(8,), init="orthogonal")
    assert trunk.out_dim == 8
    obs = torch.tensor([0.5, -0.25, 1.0])  # a batch of three scalar observations
    reference = MLP(1, None, (8,))
    reference.load_state_dict(trunk[-1].state_dict())
    torch.testing.assert_close(trunk(obs), reference(obs[:, None]))
