"""BitFlippingEnv: the goal-env protocol (Dict obs, batched compute_reward), rewards, termination, time limit."""

import gymnasium as gym
import numpy as np
import pytest

from porcini.envs.builtin import BitFlippingEnv, register_builtin_envs


def test_spaces_follow_the_goal_env_protocol():
    env = BitFlippingEnv(n_bits=7)
    assert isinstance(env.observation_space, gym.spaces.Dict)
    assert set(env.observation_space.spaces) == {"observation", "achieved_goal", "desired_goal"}
    for space in env.observation_space.spaces.values():
        assert space == gym.spaces.Box(0.0, 1.0, shape=(7,), dtype=np.float32)
    assert env.action_space == gym.spaces.Discrete(7)


def test_reset_draws_a_goal_that_differs_from_the_bits():
    env = BitFlippingEnv(n_bits=1)  # one bit: the goal is always the other value
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        assert obs["desired_goal"][0] == 1.0 - obs["observation"][0]
        assert np.array_equal(obs["observation"], obs["achieved_goal"])
        assert info == {"is_success": False}


def test_flipping_the_differing_bits_reaches_the_goal_with_reward_zero():
    env = BitFlippingEnv(n_bits=12)
    obs, _ = env.reset(seed=5)
    differing = np.flatnonzero(obs["observation"] != obs["desired_goal"])
    steps = [env.step(int(i)) for i in differing]
    rewards = [s[1] for s in steps]
    assert rewards == [-1.0] * (len(differing) - 1) + [0.0]
    assert [s[2] for s in steps] == [False] * (len(differing) - 1) + [True]
    assert not any(s[3] for s in steps)
    assert steps[-1][4]["is_success"] is True
    assert np.array_equal(steps[-1][0]["achieved_goal"], obs["desired_goal"])


def test_truncated_after_max_steps_without_success():
    env = BitFlippingEnv(n_bits=6)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(6)]  # flipping bit 0 back and forth never matches a goal != state
    assert flags == [(False, False)] * 5 + [(False, True)]
    env = BitFlippingEnv(n_bits=6, max_steps=2)
    env.reset(seed=0)
    assert [env.step(0)[3] for _ in range(2)] == [False, True]


def test_compute_reward_and_terminated_are_batched_and_match_step():
    env = BitFlippingEnv(n_bits=5)
    rng = np.random.default_rng(0)
    achieved = rng.integers(0, 2, size=(3, 4, 5)).astype(np.float32)
    desired = achieved.copy()
    desired[0, :, 2] = 1 - desired[0, :, 2]  # row 0 differs in one bit, rows 1 and 2 match
    reward = env.compute_reward(achieved, desired, {})
    assert reward.shape == (3, 4) and reward.dtype == np.float32
    assert reward.tolist() == [[-1.0] * 4, [0.0] * 4, [0.0] * 4]
    assert not np.signbit(reward[1:]).any()  # 0.0, not -0.0
    assert env.compute_terminated(achieved, desired, {}).tolist() == [[False] * 4, [True] * 4, [True] * 4]
    assert env.compute_truncated(achieved, desired, {}).tolist() == [[False] * 4] * 3
    obs, _ = env.reset(seed=1)
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(int(env.np_random.integers(5)))
        assert reward == env.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        assert terminated == env.compute_terminated(obs["achieved_goal"], obs["desired_goal"], info)
        if terminated or truncated:
            break


def test_registered_id_and_kwargs():
    register_builtin_envs()
    env = gym.make("porcini/BitFlipping-v0", n_bits=15)
    obs, _ = env.reset(seed=0)
    assert obs["observation"].shape == (15,)
    assert env.unwrapped.max_steps == 15


@pytest.mark.parametrize("kwargs", [{"n_bits": 0}, {"n_bits": 2.5}, {"n_bits": 4, "max_steps": 0}])
def test_bad_arguments_raise_one_clear_error(kwargs):
    with pytest.raises(ValueError, match="must be an integer >= 1"):
        BitFlippingEnv(**kwargs)


def test_invalid_action_is_rejected():
    env = BitFlippingEnv(n_bits=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(3)


def test_env_info_horizon_is_max_steps():
    from porcini.envs import make_env

    assert make_env(lambda: BitFlippingEnv(n_bits=3, max_steps=6), n_envs=1).info.horizon == 6
