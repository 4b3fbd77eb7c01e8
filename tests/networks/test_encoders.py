"""Observation preprocessing chosen from the space: the tensor conversion, the encoders, the refusals."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini.algorithms.kit import obs_to_tensor
from porcini.errors import UnsupportedSpaceError
from porcini.networks.builders import Trunk, make_trunk
from porcini.networks.cnn import NatureCNN
from porcini.networks.encoders import (
    FlattenEncoder,
    MultiInputEncoder,
    check_observation_space,
    is_image_space,
    make_encoder,
)

S = gym.spaces
CPU = torch.device("cpu")


def test_uint8_vectors_become_floats_and_images_stay_uint8():
    vector = obs_to_tensor(np.array([[0, 7, 255]], np.uint8), CPU, S.Box(0, 255, (3,), np.uint8))
    assert vector.dtype == torch.float32 and vector.tolist() == [[0.0, 7.0, 255.0]]  # cast, not scaled
    image = obs_to_tensor(np.zeros((2, 8, 8, 3), np.uint8), CPU, S.Box(0, 255, (8, 8, 3), np.uint8))
    assert image.dtype == torch.uint8


def test_a_bool_box_is_accepted_and_becomes_0_1_floats_like_multi_binary():
    space = S.Box(0, 1, (2, 3), np.bool_)  # MinAtar's observations; Gymnasium supports bool Boxes
    check_observation_space(space, "PPO")
    obs = np.random.default_rng(0).random((4, 2, 3)) < 0.5
    x = obs_to_tensor(obs, CPU, space)
    assert x.dtype == torch.float32 and x.tolist() == obs.astype(np.float32).tolist()
    trunk = make_trunk(space, hidden=(8,))
    reference = make_trunk(S.MultiBinary((2, 3)), hidden=(8,))
    reference.load_state_dict(trunk.state_dict())
    torch.testing.assert_close(trunk(x), reference(obs_to_tensor(obs.astype(np.int8), CPU, S.MultiBinary((2, 3)))))


def test_discrete_and_multi_discrete_become_one_hot_codes():
    one_hot = obs_to_tensor(np.array([3, 5]), CPU, S.Discrete(4, start=2))
    assert one_hot.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    codes = obs_to_tensor(np.array([[0, 3], [2, 1]]), CPU, S.MultiDiscrete([3, 4]))
    assert codes.tolist() == [[1, 0, 0, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0, 0]]
    binary = obs_to_tensor(np.array([[1, 0, 1]], np.int8), CPU, S.MultiBinary(3))
    assert binary.dtype == torch.float32 and binary.tolist() == [[1.0, 0.0, 1.0]]


def test_dict_and_tuple_observations_become_dicts_and_tuples_of_tensors():
    space = S.Dict({"image": S.Box(0, 255, (7, 7, 3), np.uint8), "direction": S.Discrete(4)})
    x = obs_to_tensor({"image": np.zeros((2, 7, 7, 3), np.uint8), "direction": np.array([1, 3])}, CPU, space)
    assert x["image"].dtype == torch.uint8 and x["direction"].shape == (2, 4)
    pair = S.Tuple((S.Discrete(3), S.Box(-1, 1, (2,))))
    t = obs_to_tensor((np.array([0, 2]), np.zeros((2, 2), np.float64)), CPU, pair)
    assert isinstance(t, tuple) and t[0].shape == (2, 3) and t[1].dtype == torch.float32


def test_multi_input_encoder_concatenates_a_cnn_and_flattened_entries():
    space = S.Dict({"image": S.Box(0, 255, (7, 7, 3), np.uint8), "direction": S.Discrete(4),
                    "pos": S.Box(-1.0, 1.0, (2, 2), np.float32)})
    encoder = make_encoder(space, features_dim=16)
    assert isinstance(encoder, MultiInputEncoder) and encoder.features_dim == 16 + 4 + 4
    assert isinstance(encoder.encoders["image"], NatureCNN) and isinstance(encoder.encoders["pos"], FlattenEncoder)
    obs = {"image": np.full((5, 7, 7, 3), 255, np.uint8), "direction": np.arange(5) % 4,
           "pos": np.ones((5, 2, 2), np.float32)}
    features = encoder(obs_to_tensor(obs, CPU, space))
    assert features.shape == (5, 24)
    # in the space's key order (Gymnasium sorts Dict keys): direction, image, pos
    assert list(space.spaces) == ["direction", "image", "pos"]
    assert torch.equal(features[:, :4], torch.eye(4)[np.arange(5) % 4]) and torch.all(features[:, 20:] == 1)
    trunk = make_trunk(space, hidden=(8,), features_dim=16)
    assert isinstance(trunk, Trunk) and trunk(obs_to_tensor(obs, CPU, space)).shape == (5, 8)
    nested = make_encoder(S.Tuple((S.Dict({"a": S.Discrete(2)}), S.MultiBinary(3))))
    assert nested.features_dim == 5


def test_dict_keys_that_torch_refuses_as_module_names_still_get_their_own_encoder():
    space = S.Dict({"robot.pos": S.Box(-1, 1, (2,)), "robot%2Epos": S.Box(-1, 1, (1,)), "": S.Box(-1, 1, (3,)),
                    "image": S.Box(0, 255, (8, 8, 3), np.uint8)})
    encoder = make_encoder(space, features_dim=4)
    assert encoder.features_dim == 2 + 1 + 3 + 4 and len(encoder.encoders) == 4
    obs = {key: torch.as_tensor(np.stack([sub.sample() for _ in range(5)])) for key, sub in space.spaces.items()}
    image = next(module for module in encoder.encoders.values() if isinstance(module, NatureCNN))
    reference = torch.cat([image(obs[key]) if key == "image" else obs[key] for key in space.spaces], dim=-1)
    torch.testing.assert_close(encoder(obs), reference)
    assert "encoders.image.linear.weight" in encoder.state_dict()  # ordinary keys keep their names


def test_unsupported_spaces_name_the_right_fix():
    mission = S.Dict({"image": S.Box(0, 255, (7, 7, 3), np.uint8), "mission": S.Text(10)})
    with pytest.raises(UnsupportedSpaceError, match=r"observation\['mission'\].*filter that key out with "
                                                    "FilterObservation") as err:
        check_observation_space(mission, "PPO")
    assert "one-hot" not in str(err.value) and "\n" not in str(err.value)
    graph = S.Tuple((S.Discrete(2), S.Graph(S.Box(0, 1, (2,)), None)))
    with pytest.raises(UnsupportedSpaceError, match=r"observation\[1\].*FilterObservation"):
        check_observation_space(graph)
    with pytest.raises(UnsupportedSpaceError, match="cannot encode Text observations.*ObservationWrapper"):
        check_observation_space(S.Text(5))
    with pytest.raises(UnsupportedSpaceError, match="empty Dict"):
        check_observation_space(S.Dict({}))


def test_agents_refuse_a_text_entry_naming_filter_observation():
    from porcini.algorithms import DQN, PPO, SAC
    from porcini.envs.info import EnvInfo

    space = S.Dict({"image": S.Box(0, 255, (7, 7, 3), np.uint8), "mission": S.Text(10)})
    for agent_cls, actions in ((PPO, S.Discrete(3)), (DQN, S.Discrete(3)), (SAC, S.Box(-1, 1, (1,)))):
        with pytest.raises(UnsupportedSpaceError, match="FilterObservation"):
            agent_cls(EnvInfo("MiniGrid-like", space, actions))


@pytest.mark.parametrize("board", [S.Box(0, 2, (3, 3), np.uint8), S.Box(0, 1, (8, 8, 2), np.uint8),
                                   S.Box(np.zeros((6, 7), np.uint8), np.full((6, 7), 2, np.uint8), dtype=np.uint8)])
def test_a_small_uint8_board_is_a_vector_of_codes_not_an_image(board):
    """A board of codes (not the full pixel range) is flattened unscaled, not put through a CNN scaled by 1/255."""
    assert not is_image_space(board)
    assert isinstance(make_encoder(board), FlattenEncoder)
    obs = np.full((2, *board.shape), 2 if board.high.max() == 2 else 1, np.uint8)
    x = obs_to_tensor(obs, CPU, board)
    assert x.dtype == torch.float32 and torch.equal(x, torch.as_tensor(obs, dtype=torch.float32))
    trunk = make_trunk(board, hidden=(8,))
    assert not any(isinstance(m, NatureCNN) for m in trunk.modules())
    assert trunk(x).shape == (2, 8)


def test_frame_stacked_rgb_images_go_through_a_cnn_scaled_not_a_raw_mlp():
    """FrameStackObservation over RGB frames gives a 4-D uint8 Box: before, it was flattened into an MLP unscaled."""
    from porcini import make_env
    from porcini.envs.wrappers import FrameStackObservation

    env = make_env("porcini/PixelGridWorld-v0", wrappers=[(FrameStackObservation, {"stack_size": 3})])
    space = env.info.observation_space
    assert space.shape == (3, 10, 10, 3) and is_image_space(space)
    trunk = make_trunk(space, hidden=(8,))
    assert isinstance(trunk[0], NatureCNN) and trunk[0].image_shape == (9, 10, 10)
    obs = obs_to_tensor(env.reset(seed=0)[0], CPU, space)
    assert obs.dtype == torch.uint8 and trunk(obs).shape == (1, 8)


BIG = float(np.finfo(np.float32).max) * 10.0  # finite in float64, inf in float32


@pytest.mark.parametrize("space", [
    gym.spaces.Box(-1e300, 1e300, (2,), np.float64),
    gym.spaces.Dict({"a": gym.spaces.Box(-1e300, 1e300, (2,), np.float64), "b": gym.spaces.Discrete(2)}),
])
def test_float64_observations_beyond_float32_are_refused_not_turned_into_inf(space):
    ok = np.array([[1e38, -2.0], [0.5, -1e38]])
    obs = (lambda x: {"a": x, "b": np.zeros(2, np.int64)}) if isinstance(space, gym.spaces.Dict) else (lambda x: x)
    converted = obs_to_tensor(obs(ok), torch.device("cpu"), space)
    assert torch.isfinite(converted["a"] if isinstance(converted, dict) else converted).all()
    big = ok.copy()
    big[1, 0] = -BIG
    with pytest.raises(UnsupportedSpaceError, match=r"observation value -3\.4e\+39 is beyond the float32 range.*"
                                                    r"NormalizeObservation or TransformObservation"):
        obs_to_tensor(obs(big), torch.device("cpu"), space)
