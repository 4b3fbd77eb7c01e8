import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.envs.wrappers import ClipReward, NormalizeReward, RunningMeanStd

EPS = 1e-8


class RandomRewardEnv(gym.Env):
    """Episodes of random length (1-7 steps) ending terminated or truncated at random; rewards ~ N(2, 3)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.length = 0, int(self.np_random.integers(1, 8))
        self.terminates = bool(self.np_random.random() < 0.5)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        ended = self.t >= self.length
        reward = float(self.np_random.normal(2.0, 3.0))
        return np.zeros(1, np.float32), reward, ended and self.terminates, ended and not self.terminates, {}


@pytest.mark.parametrize("clip", [None, 1.5])
def test_scaled_rewards_equal_a_direct_computation(clip):
    gamma, n = 0.9, 4
    raw = make_env(RandomRewardEnv, n_envs=n, seed=0)
    env = make_env(RandomRewardEnv, n_envs=n, seed=0, wrappers=[(NormalizeReward, {"gamma": gamma, "clip": clip})])
    raw.reset(seed=0)
    env.reset(seed=0)
    ret, history = np.zeros(n), []
    kinds = set()
    for _ in range(300):
        action = np.zeros(n, dtype=np.int64)
        r, terminated, truncated = raw.step(action)[1:4]
        _, scaled, terminated2, truncated2, _ = env.step(action)
        np.testing.assert_array_equal(terminated, terminated2)
        for i in range(n):
            ret[i] = gamma * ret[i] + r[i]
            history.append(ret[i])
        expected = r / np.sqrt(np.var(history) + EPS)
        if clip is not None:
            expected = np.clip(expected, -clip, clip)
        np.testing.assert_allclose(scaled, expected, rtol=1e-10)
        for i in range(n):
            if terminated[i] or truncated[i]:
                kinds.add("terminated" if terminated[i] else "truncated")
                ret[i] = 0.0
    assert kinds == {"terminated", "truncated"}
    assert env.stats.count == len(history)
    assert np.isclose(env.stats.var, np.var(history))


def test_frozen_scaling_uses_fixed_statistics():
    env = make_env(RandomRewardEnv, n_envs=2, seed=0, wrappers=[(NormalizeReward, {"clip": None})])
    raw = make_env(RandomRewardEnv, n_envs=2, seed=0)
    for _ in range(50):
        env.step(np.zeros(2, dtype=np.int64))
        raw.step(np.zeros(2, dtype=np.int64))
    env.frozen = True
    var, count = float(env.stats.var), env.stats.count
    for _ in range(20):
        r = raw.step(np.zeros(2, dtype=np.int64))[1]
        scaled = env.step(np.zeros(2, dtype=np.int64))[1]
        np.testing.assert_allclose(scaled, r / np.sqrt(var + EPS), rtol=1e-12)
    assert env.stats.count == count


def test_evaluation_twin_shares_statistics_and_returns_unscaled_rewards():
    train = make_env(RandomRewardEnv, n_envs=2, seed=0, wrappers=[NormalizeReward])
    evaluation = make_env(RandomRewardEnv, n_envs=1, seed=9, wrappers=[NormalizeReward])
    raw = make_env(RandomRewardEnv, n_envs=1, seed=9)
    evaluation.share_statistics(train)
    assert evaluation.stats is train.stats and evaluation.frozen and not evaluation.scale
    for _ in range(10):
        train.step(np.zeros(2, dtype=np.int64))
    count = train.stats.count
    for _ in range(10):
        np.testing.assert_array_equal(evaluation.step(np.zeros(1, dtype=np.int64))[1],
                                      raw.step(np.zeros(1, dtype=np.int64))[1])
    assert train.stats.count == count
    with pytest.raises(TypeError, match="NormalizeReward"):
        evaluation.share_statistics(object())


def test_state_dict_round_trip_continues_identically():
    a = make_env(RandomRewardEnv, n_envs=3, seed=0, wrappers=[NormalizeReward])
    b = make_env(RandomRewardEnv, n_envs=3, seed=0, wrappers=[NormalizeReward])
    zeros = np.zeros(3, dtype=np.int64)
    for _ in range(25):
        a.step(zeros)
        b.step(zeros)
    state = a.state_dict()
    assert set(state) == {"mean", "var", "count", "discounted_return", "reset_next"}
    b.stats = RunningMeanStd(())  # forget everything, then restore
    b.discounted_return[:] = 123.0
    b.load_state_dict(state)
    for _ in range(25):
        np.testing.assert_array_equal(a.step(zeros)[1], b.step(zeros)[1])
    with pytest.raises(ValueError, match="holds 3 discounted returns"):
        make_env(RandomRewardEnv, n_envs=2, wrappers=[NormalizeReward]).load_state_dict(state)


def test_reset_clears_the_discounted_returns():
    env = make_env(RandomRewardEnv, n_envs=2, seed=0, wrappers=[NormalizeReward])
    env.step(np.zeros(2, dtype=np.int64))
    env.reset()
    np.testing.assert_array_equal(env.discounted_return, 0.0)


def test_normalize_reward_errors():
    with pytest.raises(ValueError, match="gamma"):
        make_env("CartPole-v1", wrappers=[(NormalizeReward, {"gamma": 1.5})])
    with pytest.raises(ValueError, match="scalar"):
        make_env("CartPole-v1", wrappers=[(NormalizeReward, {"stats": RunningMeanStd((2,))})])
    with pytest.raises(TypeError, match="vector env"):
        NormalizeReward(gym.make("CartPole-v1"))


def test_clip_reward():
    env = make_env(RandomRewardEnv, n_envs=3, seed=0, wrappers=[(ClipReward, {"min_reward": -1.0, "max_reward": 1.0})])
    raw = make_env(RandomRewardEnv, n_envs=3, seed=0)
    for _ in range(30):
        zeros = np.zeros(3, dtype=np.int64)
        np.testing.assert_array_equal(env.step(zeros)[1], np.clip(raw.step(zeros)[1], -1.0, 1.0))
    one_sided = ClipReward(gym.make("CartPole-v1"), max_reward=0.25)
    assert one_sided.reward(3.0) == 0.25 and one_sided.reward(-7.0) == -7.0
    with pytest.raises(ValueError, match="above"):
        ClipReward(gym.make("CartPole-v1"), 1.0, -1.0)
    with pytest.raises(ValueError, match="needs"):
        ClipReward(gym.make("CartPole-v1"))
    with pytest.raises(TypeError, match="make_env"):
        ClipReward(make_env("CartPole-v1"), -1.0, 1.0)


def _transitions_under(mode, actions):
    """NormalizeReward around Gymnasium's one-env CartPole in ``mode``: each transition's scaled reward, and stats."""
    autoreset = getattr(gym.vector.AutoresetMode, mode)
    env = NormalizeReward(gym.make_vec("CartPole-v1", 1, vectorization_mode="sync",
                                       vector_kwargs={"autoreset_mode": autoreset}), gamma=0.9)
    env.reset(seed=0)
    rewards = []
    for action in actions:
        _, reward, terminated, truncated, _ = env.step(np.array([action]))
        rewards.append(float(reward[0]))
        if mode == "NEXT_STEP" and (terminated[0] or truncated[0]):
            env.step(np.array([0]))  # the reset step: no transition
    return rewards, env.stats


def test_next_step_autoreset_reset_steps_are_no_returns():
    # under next-step autoreset the reset step (reward 0, no transition) was counted as one more return of 0
    actions = np.random.default_rng(0).integers(0, 2, 120)
    same, same_stats = _transitions_under("SAME_STEP", actions)
    after, after_stats = _transitions_under("NEXT_STEP", actions)
    assert after_stats.count == same_stats.count == len(actions)
    assert after == same
    np.testing.assert_allclose(after_stats.var, same_stats.var)
