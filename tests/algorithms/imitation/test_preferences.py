"""Reward learning from preferences: segments, the synthetic oracle, query rounds, the answer callback, the
learned reward in place of the env's, checkpoints and seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation.preferences import PreferencePPO
from porcini.algorithms.imitation.segments import (
    PreferenceQuery,
    SegmentPool,
    Segments,
    SyntheticOracle,
    check_answers,
    cut_segments,
)
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.core.batch import TransitionBatch
from porcini.data import collect_dataset
from porcini.errors import UnsupportedSpaceError

SMALL = {"n_steps": 32, "batch_size": 64, "n_epochs": 1, "net_arch": (16,), "reward_arch": (16,), "seed": 0,
         "preference_pairs": 30, "query_rounds": 3, "query_interval": 2, "segment_length": 8, "reward_epochs": 2}


def batch_with_ends(terminated: list[list[int]], truncated: list[list[int]], offset: int = 0) -> TransitionBatch:
    t = np.array(terminated, dtype=bool).T  # given per env, stored [T, B]
    u = np.array(truncated, dtype=bool).T
    n, b = t.shape
    obs = np.arange(offset, offset + n * b * 2, dtype=np.float32).reshape(n, b, 2)
    return TransitionBatch(obs, np.zeros((n, b), np.int64), np.ones((n, b), np.float32), obs + 1, t, u)


def test_segments_mask_steps_after_a_termination_and_drop_those_a_truncation_cuts():
    batch = batch_with_ends(terminated=[[0, 0, 1, 0, 0, 0, 0, 0], [0] * 8, [0] * 8],
                            truncated=[[0] * 8, [0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 1]])
    segments = cut_segments(batch, 4)
    # env 0: [0..3] terminates at 2, [4..7]; env 1: [0..3] cut by a truncation (dropped), [4..7];
    # env 2: [0..3] truncated at its last step (kept, all live), [4..7] likewise
    assert len(segments) == 5
    np.testing.assert_array_equal(segments.mask[0], [1, 1, 1, 0])
    assert np.all(segments.mask[1:] == 1)
    np.testing.assert_array_equal(segments.obs[0], batch.obs[0:4, 0])
    np.testing.assert_array_equal(segments.obs[2], batch.obs[4:8, 1])
    np.testing.assert_array_equal(segments.env_returns(), [3, 4, 4, 4, 4])


def test_a_truncation_of_the_next_episode_after_a_segments_termination_keeps_the_segment():
    # env 0 terminates at step 1; the episode after it is truncated at step 2, in the segment's masked steps.
    # env 1 is truncated at step 1, then terminates at step 2: its episode was cut, so the segment is dropped.
    batch = batch_with_ends(terminated=[[0, 1, 0, 0], [0, 0, 1, 0]], truncated=[[0, 0, 1, 0], [0, 1, 0, 0]])
    segments = cut_segments(batch, 4)
    assert len(segments) == 1
    np.testing.assert_array_equal(segments.mask[0], [1, 1, 0, 0])
    np.testing.assert_array_equal(segments.obs[0], batch.obs[:, 0])
    np.testing.assert_array_equal(segments.env_returns(), [2])


def test_the_pool_keeps_the_newest_segments_and_pairs_two_different_ones():
    pool = SegmentPool(4, capacity=5)
    for rollout in range(3):
        pool.add_rollout(batch_with_ends([[0] * 8] * 2, [[0] * 8] * 2, offset=100 * rollout))  # 4 segments each
    # the last rollout's 4 and the one before's last (env 1, t = 4: obs 100 + (4 * 2 + 1) * 2)
    assert len(pool) == 5 and pool.segments.obs.min() == 118
    query = pool.query(200, np.random.default_rng(0))
    assert len(query) == 200
    assert not any(np.array_equal(a, b) for a, b in zip(query.a.obs, query.b.obs))


def segments_with_returns(returns: list[float]) -> Segments:
    n = len(returns)
    reward = np.zeros((n, 3), np.float32)
    reward[:, 0] = returns
    return Segments(np.zeros((n, 3, 1), np.float32), np.zeros((n, 3), np.int64), reward, np.ones((n, 3), np.float32))


def test_the_oracle_prefers_the_larger_return_with_ties_and_its_noise():
    query = PreferenceQuery(segments_with_returns([3, 1, 2] * 400), segments_with_returns([1, 3, 2] * 400))
    exact = SyntheticOracle(0.0, 0.0, np.random.default_rng(0))(query)
    np.testing.assert_array_equal(exact[:3], [1, 0, 0.5])
    noisy = SyntheticOracle(0.0, 0.5, np.random.default_rng(0))(query)
    changed = np.mean(noisy[0::3] != 1)
    assert 0.18 < changed < 0.32  # half of the answers are a coin flip, half of those flip
    boltzmann = SyntheticOracle(2.0, 0.0, np.random.default_rng(0))(query)
    assert np.mean(boltzmann[0::3]) == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.05)  # σ((3 - 1) / 2)


def test_bad_answers_are_named():
    with pytest.raises(ValueError, match=r"shape \(3,\), got shape \(2,\)"):
        check_answers([1, 0], 3)
    with pytest.raises(ValueError, match=r"in \[0, 1\].*\[2.0\]"):
        check_answers([1, 2, 0], 3)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        check_answers([1, np.nan, 0], 3)


def test_rounds_ask_the_pair_budget_on_schedule_and_a_callback_answers_instead(monkeypatch):
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = PreferencePPO(env.info, **SMALL)
    asked: list[int] = []

    def answer(query: PreferenceQuery) -> np.ndarray:
        asked.append(len(query))
        return (query.a.env_returns() > query.b.env_returns()).astype(float)

    agent.answer_with(answer)
    Core(agent, env, progress=False).learn(steps=64 * 8)  # 8 fits: rounds at fits 0, 2, 4
    assert asked == [10, 10, 10] and agent.pairs_asked == 30 and agent.rounds_done == 3
    agent.answer_with(lambda query: np.full(len(query) + 1, 0.5))
    agent.rounds_done = 0
    with pytest.raises(ValueError, match="one number per pair"):
        Core(agent, env, progress=False).learn(steps=64 * 2)


def test_the_learner_fits_on_the_reward_model_and_the_model_learns_the_preferences(monkeypatch):
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = PreferencePPO(env.info, **{**SMALL, "preference_pairs": 200, "query_rounds": 1, "reward_epochs": 30})
    batch = collect_dataset(env, lambda obs: np.random.default_rng(0).integers(0, 2, len(obs)), steps=64,
                            seed=3).batch
    given = []
    monkeypatch.setattr(PPO, "fit", lambda self, b: given.append(b) or {})
    metrics = agent.fit(batch)
    (seen,) = given
    flat = batch.flatten()
    with torch.no_grad():
        expected = agent.reward(flat.obs[:, 0], flat.action[:, 0]).numpy()
    np.testing.assert_allclose(seen.reward.reshape(-1), expected, rtol=1e-6)
    for field in ("obs", "action", "next_obs", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(seen, field), getattr(batch, field))
    assert metrics["preference_pairs"] == 200 and metrics["preference_accuracy"] > 0.8
    assert metrics["reward_correlation"] > 0.5
    exported = agent.reward_model()
    np.testing.assert_allclose(exported(flat.obs[:, 0], flat.action[:, 0]), expected, rtol=1e-6)


def test_save_load_gives_identical_actions_and_identical_continuation():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = PreferencePPO(env.info, **SMALL)
    Core(agent, env, progress=False).learn(steps=64 * 3)
    restored = PreferencePPO(env.info, **{**SMALL, "seed": 7})
    restored.load_state_dict(agent.state_dict())
    obs, _ = make_env("CartPole-v1", n_envs=2, seed=5).reset(seed=5)
    np.testing.assert_array_equal(restored.act(obs, explore=False), agent.act(obs, explore=False))
    assert restored.pairs_asked == agent.pairs_asked and len(restored.pool) == len(agent.pool)
    batch = collect_dataset(make_env("CartPole-v1", n_envs=2, seed=9), lambda o: agent.act(o, explore=True),
                            steps=64, seed=9).batch
    for _ in range(2):  # the second fit is a round: same pairs asked, same answers, same reward model
        agent.fit(batch)
        restored.fit(batch)
    for a, b in zip([*agent.reward_nets.parameters(), *agent.model.parameters()],
                    [*restored.reward_nets.parameters(), *restored.model.parameters()]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_same_seed_gives_the_same_reward_model_and_another_seed_another():
    def train(seed: int) -> list[torch.Tensor]:
        env = make_env("CartPole-v1", n_envs=2, seed=seed)
        agent = PreferencePPO(env.info, **{**SMALL, "seed": seed, "oracle_error_rate": 0.2, "reward_ensemble": 2})
        Core(agent, env, progress=False).learn(steps=64 * 3)
        return [p.detach().clone() for p in agent.reward_nets.parameters()]

    first, again, other = train(0), train(0), train(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_bad_settings_are_named():
    info = make_env("CartPole-v1").info
    with pytest.raises(ValueError, match="segment_length"):
        PreferencePPO(info, **{**SMALL, "segment_length": 64})
    with pytest.raises(ValueError, match="preference_pairs"):
        PreferencePPO(info, **{**SMALL, "preference_pairs": 2})
    with pytest.raises(UnsupportedSpaceError, match="preferences' reward model reads Box observations.*OneHot"):
        PreferencePPO(make_env("FrozenLake-v1").info, **SMALL)
