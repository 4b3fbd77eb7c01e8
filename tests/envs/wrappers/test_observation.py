import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.testing import CountingEnv, IdentityEnv
from porcini.envs.wrappers import ClipObservation, FilterObservation, FlattenObservation, OneHotObservation


class SpaceEnv(gym.Env):
    """Observations sampled from any given space."""

    def __init__(self, space):
        self.observation_space = space
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_flatten_dict_and_tuple_by_hand():
    space = gym.spaces.Dict({
        "pos": gym.spaces.Box(-1.0, 1.0, (2, 2), np.float32),
        "mode": gym.spaces.Discrete(3, start=1),
        "pair": gym.spaces.Tuple((gym.spaces.MultiBinary(2), gym.spaces.Box(0.0, 5.0, (1,), np.float32))),
    })
    env = FlattenObservation(SpaceEnv(space))
    assert env.observation_space.shape == (4 + 3 + 2 + 1,)
    obs = {"pos": np.array([[0.1, 0.2], [0.3, 0.4]], np.float32), "mode": 3,
           "pair": (np.array([1, 0], np.int8), np.array([2.5], np.float32))}
    # Gymnasium sorts Dict keys: mode, pair, pos
    expected = [0, 0, 1, 1, 0, 2.5, 0.1, 0.2, 0.3, 0.4]
    np.testing.assert_allclose(env.observation(obs), expected, rtol=1e-6)
    vec = make_env(lambda: SpaceEnv(space), n_envs=2, seed=0, wrappers=[FlattenObservation])
    flat, _ = vec.reset(seed=0)
    assert flat.shape == (2, 10) and vec.single_observation_space.contains(flat[0])


def test_flatten_rejects_variable_size_spaces():
    space = gym.spaces.Dict({"text": gym.spaces.Text(5), "x": gym.spaces.Discrete(2)})
    with pytest.raises(TypeError, match=r"observation\['text'\]"):
        FlattenObservation(SpaceEnv(space))
    with pytest.raises(TypeError, match="make_env"):
        FlattenObservation(make_env("CartPole-v1"))


def test_one_hot_observation():
    env = make_env(lambda: IdentityEnv(n=5), n_envs=3, seed=0, wrappers=[OneHotObservation])
    raw = make_env(lambda: IdentityEnv(n=5), n_envs=3, seed=0)
    obs, _ = env.reset(seed=1)
    raw_obs, _ = raw.reset(seed=1)
    np.testing.assert_array_equal(obs, np.eye(5, dtype=np.float32)[raw_obs])
    assert obs.dtype == np.float32 and env.info.obs_shape == (5,)
    shifted = OneHotObservation(SpaceEnv(gym.spaces.Discrete(3, start=-1)))
    np.testing.assert_array_equal(shifted.observation(-1), [1, 0, 0])
    np.testing.assert_array_equal(shifted.observation(1), [0, 0, 1])
    with pytest.raises(TypeError, match="FlattenObservation"):
        OneHotObservation(SpaceEnv(gym.spaces.MultiDiscrete([2, 3])))


def test_clip_observation():
    env = ClipObservation(CountingEnv(), low=0.0, high=np.array([10.0, 2.0]))
    np.testing.assert_array_equal(env.observation_space.high, [10.0, 2.0])
    np.testing.assert_array_equal(env.observation_space.low, [0.0, 0.0])
    env.reset(seed=0)
    for _ in range(3):
        obs = env.step(0)[0]
    np.testing.assert_array_equal(obs, [0.0, 2.0])
    with pytest.raises(ValueError, match="empty range"):
        ClipObservation(CountingEnv(), low=5.0, high=1.0)
    with pytest.raises(TypeError, match="Box"):
        ClipObservation(IdentityEnv(), 0, 1)


def test_filter_observation_behaves_as_gymnasiums():
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (3, 3, 3), np.uint8), "direction": gym.spaces.Discrete(4),
                             "mission": gym.spaces.Text(8)})
    ours = FilterObservation(SpaceEnv(space), ["image", "direction"])
    theirs = gym.wrappers.FilterObservation(SpaceEnv(space), ["image", "direction"])
    assert isinstance(ours, gym.wrappers.FilterObservation)
    assert ours.observation_space == theirs.observation_space
    a, b = ours.reset(seed=3)[0], theirs.reset(seed=3)[0]
    assert a.keys() == b.keys() == {"image", "direction"}
    np.testing.assert_array_equal(a["image"], b["image"])
    assert FilterObservation(SpaceEnv(space), keys=["direction"]).observation_space == gym.spaces.Dict(
        {"direction": gym.spaces.Discrete(4)})
    tuple_space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Text(3), gym.spaces.MultiBinary(2)))
    assert FilterObservation(SpaceEnv(tuple_space), [0, 2]).observation_space == gym.spaces.Tuple(
        (gym.spaces.Discrete(2), gym.spaces.MultiBinary(2)))


def test_filter_observation_errors_name_the_keys_there_are():
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (3, 3, 3), np.uint8), "mission": gym.spaces.Text(8)})
    with pytest.raises(ValueError, match=r"keys \['img'\] are not in the observation space; its keys are "
                                         r"\['image', 'mission'\]"):
        FilterObservation(SpaceEnv(space), ["img"])
    with pytest.raises(TypeError, match="exactly one"):
        FilterObservation(SpaceEnv(space), ["image"], keys=["image"])
    with pytest.raises(TypeError, match="Dict or Tuple"):
        FilterObservation(SpaceEnv(gym.spaces.Discrete(3)), ["a"])


def test_clip_observation_of_integers_keeps_within_fractional_bounds():
    # the bounds were cast to the integer dtype, truncating: low 0.5 became 0, so an observation of 0 passed
    env = ClipObservation(SpaceEnv(gym.spaces.Box(0, 10, (3,), np.int64)), low=0.5, high=np.array([7.5, 3.2, 10]))
    np.testing.assert_array_equal(env.observation_space.low, [1, 1, 1])
    np.testing.assert_array_equal(env.observation_space.high, [7, 3, 10])
    with pytest.raises(ValueError, match="empty range"):
        ClipObservation(SpaceEnv(gym.spaces.Box(0, 10, (1,), np.int64)), low=0.2, high=0.8)
    np.testing.assert_array_equal(env.observation(np.array([0, 5, 10])), [1, 3, 10])
