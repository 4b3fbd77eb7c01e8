import numpy as np
import pytest

pytest.importorskip("mujoco", reason='MuJoCo is not installed: pip install "porcini[mujoco]"')

from porcini import Core  # noqa: E402
from porcini.algorithms.random import RandomAgent  # noqa: E402
from porcini.envs.adapters import make_mujoco_env  # noqa: E402
from porcini.experiment.loggers import EpisodeInfoAggregator  # noqa: E402


def test_inverted_pendulum_through_core_with_a_random_agent():
    env = make_mujoco_env("InvertedPendulum-v5", n_envs=2, seed=0)
    assert env.info.obs_shape == (4,) and env.info.action_shape == (1,) and env.info.horizon == 1000
    stats = EpisodeInfoAggregator(env.num_envs)
    core = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False)
    result = core.learn(steps=400)
    assert result.steps == 400 and result.episodes.n_episodes > 5
    # the reward is info["reward_survive"] (1 while upright, 0 on the step it falls): per episode, the sum is the
    # return and the mean is over every step of the episode, the ended one included
    episodes = stats.ended_episodes()["reward_survive"]
    assert [episode_sum for episode_sum, _ in episodes] == result.episodes.returns
    for (episode_sum, step_mean), length in zip(episodes, result.episodes.lengths):
        assert step_mean * length == pytest.approx(episode_sum)


def test_half_cheetah_reward_components_add_up_to_the_return(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo writes MUJOCO_LOG.TXT (a deprecation in HalfCheetah's XML) to the cwd
    env = make_mujoco_env("HalfCheetah-v5", n_envs=2, seed=0, max_episode_steps=40)
    stats = EpisodeInfoAggregator(env.num_envs, keys=["reward_forward", "reward_ctrl", "x_position", "x_velocity"])
    result = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False).learn(steps=2 * 40 * 2)
    episodes = stats.ended_episodes()
    assert set(episodes) == {"reward_forward", "reward_ctrl", "x_position", "x_velocity"}
    assert len(episodes["reward_ctrl"]) == result.episodes.n_episodes == 4
    for k, episode_return in enumerate(result.episodes.returns):
        # HalfCheetah's reward is reward_forward + reward_ctrl on every step, the ended step included
        forward, ctrl = episodes["reward_forward"][k], episodes["reward_ctrl"][k]
        assert forward[0] + ctrl[0] == pytest.approx(episode_return, rel=1e-5)
        assert episodes["x_velocity"][k][1] == pytest.approx(forward[1])  # forward weight 1: mean x_velocity
        assert np.isfinite(episodes["x_position"][k][1])
    assert {"env/reward_ctrl/episode_sum", "env/x_position/step_mean"} <= set(stats.metrics())


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match="not a Gymnasium MuJoCo task"):
        make_mujoco_env("CartPole-v1")
