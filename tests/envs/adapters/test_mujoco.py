import numpy as np
import pytest

pytest.importorskip("mujoco", reason='MuJoCo is not installed: pip install "porcini[mujoco]"')

from porcini import Core  # noqa: E402
from porcini.algorithms.random import RandomAgent  # noqa: E402
from porcini.envs.adapters import make_mujoco_env  # noqa: E402
from porcini.envs.diagnostics import EpisodeInfoStats  # noqa: E402


def test_inverted_pendulum_through_core_with_a_random_agent():
    env = make_mujoco_env("InvertedPendulum-v5", n_envs=2, seed=0)
    assert env.info.obs_shape == (4,) and env.info.action_shape == (1,) and env.info.horizon == 1000
    stats = EpisodeInfoStats()
    core = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False)
    result = core.learn(n_steps=400)
    assert result.env_steps == 400 and result.episodes.n_episodes > 5
    # the reward is info["reward_survive"] (1 while upright, 0 on the step it falls): per episode, the sum is the
    # return and the mean is over every step of the episode, the ended one included
    assert [r["reward_survive/sum"] for r in stats.episodes] == result.episodes.returns
    for record, length in zip(stats.episodes, result.episodes.lengths):
        assert record["reward_survive/mean"] * length == pytest.approx(record["reward_survive/sum"])


def test_half_cheetah_reward_components_add_up_to_the_return(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo writes MUJOCO_LOG.TXT (a deprecation in HalfCheetah's XML) to the cwd
    env = make_mujoco_env("HalfCheetah-v5", n_envs=2, seed=0, max_episode_steps=40)
    stats = EpisodeInfoStats(keys=["reward_forward", "reward_ctrl", "x_position", "x_velocity"])
    result = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False).learn(n_steps=2 * 40 * 2)
    assert len(stats.episodes) == result.episodes.n_episodes == 4
    for record, episode_return in zip(stats.episodes, result.episodes.returns):
        # HalfCheetah's reward is reward_forward + reward_ctrl on every step, the ended step included
        assert record["reward_forward/sum"] + record["reward_ctrl/sum"] == pytest.approx(episode_return, rel=1e-5)
        assert record["x_velocity/mean"] == pytest.approx(record["reward_forward/mean"])  # forward weight 1
        assert np.isfinite(record["x_position/mean"])
    pulled = stats.pull()
    assert {"env/reward_ctrl/sum", "env/x_position/mean"} <= set(pulled)


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="not a Gymnasium MuJoCo task"):
        make_mujoco_env("CartPole-v1")
