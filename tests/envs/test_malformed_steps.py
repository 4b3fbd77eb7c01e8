"""An env whose ``step`` returns something malformed (an observation of another shape, array or non-bool flags, a
reward that is not a number, the old four-value API) is refused with one EnvCheckError naming the env and the
fix, for one env and for several, with the vectorization chosen automatically, in-process or in subprocesses."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.errors import EnvCheckError


class TwoObsEnv(gym.Env):
    """A well-formed env, whose subclasses each break one part of ``step``."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return self.obs(), self.reward(), self.terminated(), False, {}

    def obs(self):
        return np.zeros(2, np.float32)

    def reward(self):
        return 1.0

    def terminated(self):
        return False


class WrongShapeObs(TwoObsEnv):
    def obs(self):
        return np.zeros(3, np.float32)


class ArrayTerminated(TwoObsEnv):
    def terminated(self):
        return np.array([False, True])


class ArrayReward(TwoObsEnv):
    def reward(self):
        return np.array([1.0, 2.0])


class StrReward(TwoObsEnv):
    def reward(self):
        return "1"


class OldStepApi(TwoObsEnv):
    def step(self, action):
        return self.obs(), 1.0, False, {}


@pytest.mark.parametrize("n_envs,vectorization", [(1, "auto"), (2, "auto"), (2, "sync"), (2, "async")])
@pytest.mark.parametrize("env_cls,expected", [
    (WrongShapeObs, ["returned an observation of ", "(3,)", "shape (2,)"]),
    (ArrayTerminated, ["returned terminated=array([False,  True])", "both must be bool"]),
    (ArrayReward, ["reward array([1., 2.])", "is not a number", "return a float"]),
    (StrReward, ["reward '1' of type str is not a number", "return a float"]),
    (OldStepApi, ["returned 4 values from step", "(obs, reward, terminated, truncated, info)"]),
])
def test_a_malformed_step_is_one_env_check_error(n_envs, vectorization, env_cls, expected):
    env = make_env(env_cls, n_envs=n_envs, vectorization=vectorization)
    env.reset(seed=0)
    with pytest.raises(EnvCheckError) as caught:
        env.step(np.zeros(n_envs, dtype=np.int64))
    message = str(caught.value)
    assert "env index" in message
    for text in expected:
        assert text in message
    env.close()


def test_int_and_numpy_rewards_still_pass():
    class IntReward(TwoObsEnv):
        def reward(self):
            return np.int64(1)

    env = make_env(IntReward, n_envs=2, vectorization="sync")
    env.reset(seed=0)
    _, reward, *_ = env.step(np.zeros(2, dtype=np.int64))
    assert reward.tolist() == [1.0, 1.0]
