"""MatchCues and MatchBits: reward 1 exactly when every action component matches the cue shown."""

import gymnasium as gym
import numpy as np
import pytest

from porcini.envs.builtin import MatchBits, MatchCues, register_builtin_envs


def answer(env, obs):
    if isinstance(env, MatchCues):
        return obs.reshape(env.n_components, env.n_values).argmax(axis=1)
    return obs.astype(np.int8)


@pytest.mark.parametrize("env", [MatchCues(), MatchCues(n_components=3, n_values=4), MatchBits(), MatchBits(6)],
                         ids=repr)
def test_reward_needs_every_component_right(env):
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        right = answer(env, obs)
        action = right.copy()
        wrong = rng.random(env.n_components) < 0.5
        action[wrong] = (action[wrong] + 1) % env.n_values
        assert env.action_space.contains(action)
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == float(not wrong.any()) and not terminated and not truncated
        assert info["n_correct"] == env.n_components - int(wrong.sum())


def test_registered_with_the_spaces_and_time_limit_of_the_docs():
    register_builtin_envs()
    cues, bits = gym.make("porcini/MatchCues-v0"), gym.make("porcini/MatchBits-v0")
    assert cues.action_space == gym.spaces.MultiDiscrete([3, 3]) and cues.observation_space.shape == (6,)
    assert bits.action_space == gym.spaces.MultiBinary(4) and bits.observation_space.shape == (4,)
    for env in (cues, bits):
        assert env.spec.max_episode_steps == 20
        env.reset(seed=0)
        flags = [env.step(env.action_space.sample())[2:4] for _ in range(20)]
        assert flags == [(False, False)] * 19 + [(False, True)]


def test_random_actions_score_at_chance():
    env = MatchCues()
    env.reset(seed=1)
    env.action_space.seed(1)
    rewards = [env.step(env.action_space.sample())[1] for _ in range(9000)]
    assert abs(np.mean(rewards) - 1 / 9) < 0.015  # standard error 0.0033


def test_bad_arguments_and_actions_are_refused():
    with pytest.raises(ValueError, match="n_values=1 >= 2"):
        MatchCues(n_values=1)
    with pytest.raises(ValueError, match="n_bits=0"):
        MatchBits(0)
    env = MatchCues()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"not in MultiDiscrete\(\[3 3\]\)"):
        env.step(np.array([3, 0]))
