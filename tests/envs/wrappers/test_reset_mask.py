"""Vector wrappers under Gymnasium's partial reset (``options["reset_mask"]``), which the async vector env takes."""

import numpy as np

from porcini import make_env
from porcini.envs.wrappers import NormalizeObservation, NormalizeReward, VectorRecordEpisodeStatistics


def test_a_partial_reset_restarts_only_the_masked_envs_in_the_vector_wrappers():
    env = make_env("CartPole-v1", n_envs=3, seed=0, vectorization="async",
                   wrappers=[VectorRecordEpisodeStatistics, NormalizeReward, NormalizeObservation])
    try:
        normalize_obs = env
        normalize_reward = env.env
        stats = env.env.env
        assert isinstance(normalize_obs, NormalizeObservation)
        assert isinstance(normalize_reward, NormalizeReward)
        assert isinstance(stats, VectorRecordEpisodeStatistics)
        env.reset(seed=0)
        for _ in range(3):  # CartPole lasts more than 3 steps: no episode ends
            env.step(np.array([0, 1, 0]))
        returns = normalize_reward.discounted_return.copy()
        count = normalize_obs.stats.count
        env.reset(options={"reset_mask": np.array([True, False, False])})
        # envs 1 and 2 go on with their episodes: their counters and returns in progress stay
        assert stats.episode_lengths.tolist() == [0, 3, 3]
        assert stats.episode_returns.tolist() == [0.0, 3.0, 3.0]
        assert normalize_reward.discounted_return[0] == 0.0
        assert np.array_equal(normalize_reward.discounted_return[1:], returns[1:])
        # only env 0's new first observation is new to the statistics
        assert normalize_obs.stats.count == count + 1
        lengths = np.array([0, 3, 3])
        while not stats.length_queue:
            _, _, terminated, truncated, info = env.step(np.array([0, 0, 0]))
            lengths += 1
            ended = terminated | truncated
            if ended.any():
                assert info["episode"]["l"][ended].tolist() == lengths[ended].tolist()
                lengths[ended] = 0
    finally:
        env.close()
