"""LearnedReward: the learned reward of the observation acted in, the true successor at episode ends, the env's
reward kept, errors."""

from __future__ import annotations

import numpy as np
import pytest

from porcini import make_env
from porcini.envs.wrappers import LearnedReward


def test_the_reward_reads_the_observation_acted_in_and_the_true_successor_at_episode_ends():
    seen = []

    def reward_fn(obs, action, next_obs, terminated):
        seen.append((np.array(obs), np.array(action), np.array(next_obs), np.array(terminated)))
        return obs[:, 0] + 10 * np.asarray(terminated)

    env = LearnedReward(make_env("CartPole-v1", n_envs=3, seed=0), reward_fn)
    plain = make_env("CartPole-v1", n_envs=3, seed=0)
    obs, _ = env.reset(seed=0)
    plain.reset(seed=0)
    ended = 0
    rng = np.random.default_rng(0)
    for _ in range(60):
        action = rng.integers(0, 2, 3)
        before = obs
        obs, reward, terminated, truncated, info = env.step(action)
        p_obs, p_reward, p_terminated, _, p_info = plain.step(action)
        np.testing.assert_allclose(reward, before[:, 0] + 10 * terminated, rtol=1e-6)
        np.testing.assert_array_equal(info["env_reward"], p_reward)
        successor = seen[-1][2]
        for row in range(3):
            expected = p_info["final_obs"][row] if p_terminated[row] or truncated[row] else p_obs[row]
            np.testing.assert_array_equal(successor[row], expected)
        ended += int(terminated.sum())
    assert ended > 0 and env.info == plain.info


def test_bad_rewards_and_a_step_before_reset_are_named():
    env = LearnedReward(make_env("CartPole-v1", n_envs=2, seed=0), lambda o, a, n, d: np.zeros(3))
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.array([0, 1]))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="one finite reward per env"):
        env.step(np.array([0, 1]))
    nan = LearnedReward(make_env("CartPole-v1", n_envs=2, seed=0), lambda o, a, n, d: np.full(2, np.nan))
    nan.reset(seed=0)
    with pytest.raises(ValueError, match="one finite reward per env"):
        nan.step(np.array([0, 1]))


def test_a_next_step_autoreset_env_is_refused_and_a_same_step_one_scores_only_true_transitions():
    import gymnasium as gym
    from gymnasium.vector import AutoresetMode

    def make(mode):
        return gym.make_vec("CartPole-v1", 2, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode})

    with pytest.raises(ValueError, match="same-step autoreset"):
        LearnedReward(make(AutoresetMode.NEXT_STEP), lambda o, a, n, d: np.zeros(len(o)))
    scored = []
    env = LearnedReward(make(AutoresetMode.SAME_STEP), lambda o, a, n, d: scored.append((o, n)) or np.zeros(len(o)))
    obs, _ = env.reset(seed=0)
    for _ in range(30):
        before = obs
        obs, _, terminated, truncated, info = env.step(np.zeros(2, dtype=np.int64))
        expected = np.array([info["final_obs"][i] if terminated[i] or truncated[i] else obs[i] for i in range(2)])
        np.testing.assert_array_equal(scored[-1][0], before)
        np.testing.assert_array_equal(scored[-1][1], expected)


def test_dict_observations_get_their_true_successors_at_episode_ends():
    seen = []

    def reward_fn(obs, action, next_obs, terminated):
        seen.append({key: np.array(value) for key, value in next_obs.items()})
        return np.zeros(len(action))

    env = LearnedReward(make_env("porcini/BitFlipping-v0", n_envs=2, seed=0), reward_fn)
    plain = make_env("porcini/BitFlipping-v0", n_envs=2, seed=0)
    env.reset(seed=0)
    plain.reset(seed=0)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(40):
        action = rng.integers(0, env.single_action_space.n, 2)
        env.step(action)
        p_obs, _, p_terminated, p_truncated, p_info = plain.step(action)
        for row in range(2):
            over = p_terminated[row] or p_truncated[row]
            for key, value in seen[-1].items():
                np.testing.assert_array_equal(value[row], (p_info["final_obs"] if over else p_obs)[key][row])
        ended += int((p_terminated | p_truncated).sum())
    assert ended > 0
