import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs import SerialVectorEnv
from porcini.envs.testing import CountingEnv, IdentityEnv
from porcini.envs.wrappers import FrameStackObservation, NormalizeReward
from porcini.errors import ConfigError, EnvCheckError
from porcini.seeding import env_reset_seeds


def test_single_env_is_a_vector_of_one():
    env = make_env("CartPole-v1", seed=0)
    assert env.num_envs == 1
    assert env.info.env_id == "CartPole-v1"
    assert env.info.horizon == 500
    assert env.info.obs_shape == (4,) and env.info.n_actions == 2
    obs, _ = env.reset()
    assert obs.shape == (1, 4)
    obs, reward, terminated, truncated, info = env.step(np.array([1]))
    assert obs.shape == (1, 4) and reward.shape == (1,) and terminated.dtype == np.bool_


def test_accepts_class_factory_and_max_episode_steps():
    env = make_env(CountingEnv, n_envs=2, max_episode_steps=3)
    env.reset(seed=0)
    for _ in range(2):
        env.step(np.zeros(2, dtype=np.int64))
    _, _, terminated, truncated, info = env.step(np.zeros(2, dtype=np.int64))
    assert truncated.all() and not terminated.any()
    np.testing.assert_array_equal(info["final_obs"][:, 1], [3, 3])
    assert make_env(lambda: CountingEnv(), n_envs=1).info.env_id == "<lambda>"


def test_env_instance_is_rejected_with_the_fix():
    with pytest.raises(TypeError, match="factory"):
        make_env(CountingEnv())


def test_per_index_reset_seeds_and_spawn():
    env = make_env("CartPole-v1", n_envs=3, seed=7)
    a, _ = env.reset(seed=7)
    singles = []
    for i in range(3):
        e = gym.make("CartPole-v1")
        singles.append(e.reset(seed=env_reset_seeds(7, 3)[i])[0])
    np.testing.assert_array_equal(a, np.stack(singles))
    copy = env.spawn(2, 100)
    assert copy.num_envs == 2 and copy.info.env_id == "CartPole-v1"


def test_vector_wrappers_wrap_the_vector_env_and_per_env_wrappers_each_env():
    seen = []

    def tag(e):
        seen.append(e)
        return e

    env = make_env("CartPole-v1", n_envs=2, wrappers=[tag, gym.wrappers.vector.RecordEpisodeStatistics],
                   vectorization="sync")
    assert len(seen) == 2
    assert isinstance(env, gym.wrappers.vector.RecordEpisodeStatistics)
    assert hasattr(env, "info")


@pytest.mark.parametrize("wrapper,kwargs", [
    (FrameStackObservation, {"stack_size": 0}),  # per env
    (NormalizeReward, {"gamma": 1.5}),  # vector
])
def test_a_bad_wrapper_argument_is_a_config_error_naming_the_wrapper_and_the_argument(wrapper, kwargs):
    ((key, value),) = kwargs.items()
    with pytest.raises(ConfigError, match=rf"^wrapper {wrapper.__name__}\({key}={value}\) could not be built: .*{key}"):
        make_env("CartPole-v1", n_envs=2, wrappers=[(wrapper, kwargs)], vectorization="sync")


def test_vectorization_modes():
    assert isinstance(make_env("CartPole-v1", n_envs=2, vectorization="sync"), SerialVectorEnv)
    env = make_env("CartPole-v1", n_envs=2, vectorization="async", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (2, 4)
    env.close()
    with pytest.raises(Exception, match="same-step"):
        make_env("CartPole-v1", n_envs=2, vectorization="vector_entry_point")
    with pytest.raises(ValueError, match="vectorization"):
        make_env("CartPole-v1", vectorization="threads")
    assert isinstance(make_env("CartPole-v1", n_envs=2, vectorization="auto"), SerialVectorEnv)


def test_discrete_observations_and_mismatched_spaces():
    env = make_env(lambda: IdentityEnv(n=3), n_envs=2, seed=0)
    obs, _ = env.reset()
    assert obs.dtype == np.int64 and obs.shape == (2,)
    factories = [lambda: IdentityEnv(n=3), lambda: IdentityEnv(n=4)]
    with pytest.raises(Exception, match="share spaces"):
        SerialVectorEnv(factories)


def test_a_reset_mask_is_refused_rather_than_resetting_every_env():
    env, reference = (make_env("CartPole-v1", n_envs=3, seed=0, vectorization="sync") for _ in range(2))
    zeros = np.zeros(3, dtype=np.int64)
    for _ in range(3):
        env.step(zeros), reference.step(zeros)
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([True, False, False])})
    np.testing.assert_array_equal(env.step(zeros)[0], reference.step(zeros)[0])  # no episode was cut


class SilentEnv(gym.Env):
    """Episodes of ``length`` steps (truncated) whose step and reset infos are empty."""

    observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length=2):
        self.length = length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 1.0, False, self.t >= self.length, {}


def masks(info):
    return {key: value.tolist() for key, value in info.items() if key.startswith("_")}


@pytest.mark.parametrize("n_envs", [1, 2])
def test_an_ended_step_with_an_empty_info_sets_final_info_as_gymnasiums_sync_vector_env(n_envs):
    """Gymnasium's layout: every env that ended has ``_final_info`` True, its ``final_info`` an empty dict."""
    lengths = [2, 3][:n_envs]
    reference = gym.vector.SyncVectorEnv([lambda k=k: SilentEnv(k) for k in lengths],
                                         autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    env = SerialVectorEnv([lambda k=k: SilentEnv(k) for k in lengths])
    reference.reset(seed=0), env.reset(seed=0)
    for _ in range(3):  # no end, env 0 ends, env 1 ends
        actions = np.zeros(n_envs, dtype=np.int64)
        expected, got = reference.step(actions)[4], env.step(actions)[4]
        assert masks(got) == masks(expected) and got.get("final_info") == expected.get("final_info")
    native = make_env("CartPole-v1", n_envs=2, seed=0, vectorization="native", max_episode_steps=1)
    info = native.step(np.zeros(2, dtype=np.int64))[4]
    assert info["final_info"] == {} and info["_final_info"].tolist() == [True, True]


class WrongDtypeEnv(SilentEnv):
    """Observations of ``dtype`` (not the space's float32) at reset, at step, or at both."""

    def __init__(self, dtype, at):
        super().__init__(length=2)
        self.dtype, self.at = dtype, at

    def reset(self, *, seed=None, options=None):
        obs, info = super().reset(seed=seed, options=options)
        return obs.astype(self.dtype if "reset" in self.at else np.float32), info

    def step(self, action):
        obs, *rest = super().step(action)
        return (obs.astype(self.dtype if "step" in self.at else np.float32), *rest)


@pytest.mark.parametrize("n_envs,vectorization", [(1, "auto"), (2, "sync"), (2, "async")])
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_an_observation_of_another_dtype_is_refused_at_step_as_at_reset(dtype, n_envs, vectorization):
    """check_env and docs/custom-envs.md require the space's dtype: no silent cast at step (nor after autoreset).

    Async workers too: Gymnasium's would cast into shared memory silently.
    """
    name = np.dtype(dtype).name
    for at in ("reset", "step"):
        with pytest.raises(EnvCheckError, match=f"env index [01].*ndarray {name} .*return np.ndarray of dtype float32"):
            env = make_env(lambda at=at: WrongDtypeEnv(dtype, at), n_envs=n_envs, seed=0, vectorization=vectorization)
            try:
                env.step(np.zeros(n_envs, dtype=np.int64))
            finally:
                env.close()
    # checks off: the batch is cast to the space's dtype, as before
    env = make_env(lambda: WrongDtypeEnv(dtype, ("reset", "step")), n_envs=n_envs, seed=0, check=False,
                   vectorization=vectorization)
    assert env.step(np.zeros(n_envs, dtype=np.int64))[0].dtype == np.float32
    env.close()
