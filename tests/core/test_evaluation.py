import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms.random import RandomAgent
from porcini.core.evaluation import episode_quotas, run_episodes
from porcini.envs.testing import CountingEnv


def test_quotas_split_episodes_over_envs_first_envs_one_more():
    assert episode_quotas(10, 3).tolist() == [4, 3, 3]
    assert episode_quotas(2, 4).tolist() == [1, 1, 0, 0]
    with pytest.raises(ValueError, match="n_episodes = 0"):
        episode_quotas(0, 2)


def test_short_episodes_do_not_crowd_out_long_ones():
    # env 0 ends every 2 steps, env 1 every 5: the first four episodes to finish would be lengths 2, 2, 5, 2
    env = gym.vector.SyncVectorEnv(
        [lambda: CountingEnv(truncate_at=2), lambda: CountingEnv(truncate_at=5)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    agent = RandomAgent(make_env(lambda: CountingEnv(truncate_at=2), seed=0).info)
    record = run_episodes(agent, env, 4, seed=0)
    assert sorted(record.lengths) == [2, 2, 5, 5]
    assert sorted(record.returns) == [2.0, 2.0, 5.0, 5.0]  # reward 1 per step, accumulated per env


def test_seeded_evaluations_repeat_and_unseeded_continue():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = RandomAgent(env.info, seed=3)
    first = run_episodes(agent, env, 4, seed=7).lengths
    agent = RandomAgent(env.info, seed=3)
    assert run_episodes(agent, env, 4, seed=7).lengths == first
    assert len(run_episodes(agent, env, 3).lengths) == 3
    assert np.all(np.asarray(first) >= 8)  # CartPole cannot fall in fewer than ~8 steps
