import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("shimmy", reason='shimmy is not installed: pip install "porcini[dm_control]"')
pytest.importorskip("dm_control", reason='dm_control is not installed: pip install "porcini[dm_control]"')

from porcini import Core  # noqa: E402
from porcini.algorithms.random import RandomAgent  # noqa: E402
from porcini.core import Callback  # noqa: E402
from porcini.envs.adapters import make_dm_control_env  # noqa: E402
from porcini.seeding import env_reset_seeds  # noqa: E402


@pytest.fixture(scope="module")
def raw_env():
    import shimmy

    gym.register_envs(shimmy)
    try:
        return gym.make("dm_control/cartpole-balance-v0", disable_env_checker=True)
    except AttributeError as err:  # dm_control built against another MuJoCo ABI
        import dm_control
        import mujoco

        pytest.skip(f"dm_control {getattr(dm_control, '__version__', '?')} does not work with mujoco "
                    f"{mujoco.__version__} ({err}); install the mujoco release dm_control was built for")


def test_cartpole_balance_flattened_and_seeded(raw_env):
    env = make_dm_control_env("cartpole", "balance", n_envs=2, seed=0)
    assert env.info.env_id == "dm_control/cartpole-balance-v0"
    assert env.info.obs_shape == (5,) and env.info.action_shape == (1,)
    obs, _ = env.reset(seed=3)
    for i in range(2):
        raw, _ = raw_env.reset(seed=env_reset_seeds(3, 2)[i])
        expected = np.concatenate([raw[k].ravel() for k in raw_env.observation_space.spaces])
        np.testing.assert_array_equal(obs[i], expected)


def test_through_core_and_suite_time_limit_truncates(raw_env):
    class Flags(Callback):
        def __init__(self):
            self.ends = []

        def on_step(self, core, action, reward, terminated, truncated, info):
            if terminated[0] or truncated[0]:
                self.ends.append((bool(terminated[0]), bool(truncated[0])))

    env = make_dm_control_env("cartpole", "balance", seed=0)
    flags = Flags()
    result = Core(RandomAgent(env.info), env, callbacks=[flags], progress=False).learn(steps=1000)
    # the suite ends every cartpole episode after 1000 steps as a time limit: truncated, not terminated
    assert result.episodes.lengths == [1000] and flags.ends == [(False, True)]
    assert 0.0 < result.episodes.returns[0] <= 1000.0


def test_unknown_task_is_named(raw_env):
    with pytest.raises(ValueError, match="not a dm_control suite task"):
        make_dm_control_env("cartpole", "juggle")
