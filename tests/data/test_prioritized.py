"""SumTree against brute-force cumulative sums; PrioritizedReplayBuffer frequencies and weights."""

import numpy as np
import pytest

from porcini.data import PrioritizedReplayBuffer, SumTree


@pytest.mark.parametrize("capacity", [1, 2, 5, 64, 1000])
def test_prefix_search_matches_cumsum(capacity, rng):
    tree = SumTree(capacity)
    p = rng.exponential(size=capacity) * (rng.random(capacity) > 0.3)  # some zero leaves
    p[rng.integers(capacity)] = 1.0  # at least one positive
    tree.update(np.arange(capacity), p)
    assert tree.total == pytest.approx(p.sum(), rel=1e-12)
    assert tree.min == p[p > 0].min()
    cum = np.cumsum(p)
    mass = rng.random(5000) * cum[-1]
    away = np.min(np.abs(mass[:, None] - cum[None, :]), axis=1) > 1e-9 * cum[-1]  # off leaf borders
    expected = np.searchsorted(cum, mass[away], side="right")  # first j with cum[j] > m
    np.testing.assert_array_equal(tree.find_prefix_sum(mass[away]), expected)
    assert (p[tree.find_prefix_sum(mass)] > 0).all()  # a zero leaf is never found
    edge = tree.find_prefix_sum(np.array([cum[-1], cum[-1] * (1 + 1e-12)]))
    np.testing.assert_array_equal(edge, np.flatnonzero(p)[-1])  # rounding past the total: last positive leaf


def test_batched_updates_match_direct_sums(rng):
    tree = SumTree(37)
    p = np.zeros(37)
    for _ in range(50):
        idx = rng.integers(0, 37, size=rng.integers(1, 20))
        val = rng.exponential(size=idx.size)
        tree.update(idx, val)
        for i, v in zip(idx, val):  # sequential semantics: the last write of a repeated index wins
            p[i] = v
        np.testing.assert_allclose(tree.values(), p)
        assert tree.total == pytest.approx(p.sum(), rel=1e-12)
        assert tree.min == (p[p > 0].min() if (p > 0).any() else np.inf)
    rebuilt = SumTree(37)
    rebuilt.set_all(p)
    assert rebuilt.total == pytest.approx(tree.total, rel=1e-12) and rebuilt.min == tree.min


def test_sum_tree_errors():
    tree = SumTree(4)
    with pytest.raises(ValueError, match="empty"):
        tree.find_prefix_sum([0.0])
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        tree.update([4], [1.0])
    with pytest.raises(ValueError, match="finite"):
        tree.update([0], [np.nan])
    with pytest.raises(ValueError, match=">= 0"):
        tree.update([0], [-1.0])


def filled(make_batch, rng, n_steps=10, n_envs=2, capacity=40, alpha=0.6):
    buf = PrioritizedReplayBuffer(capacity, n_envs=n_envs, alpha=alpha)
    buf.add(make_batch(0, n_steps, n_envs, rng))
    return buf


def test_sampling_frequencies_are_proportional_to_p_alpha(make_batch, rng, chi2_limit):
    alpha = 0.7
    buf = filled(make_batch, rng, alpha=alpha)
    raw = rng.exponential(size=20) + 0.05
    buf.update_priorities(np.arange(20), raw)
    counts = np.zeros(20)
    for _ in range(300):
        s = buf.sample(64, rng, beta=0.4)
        # the batch holds the transitions the indices name
        np.testing.assert_array_equal(s.batch.obs[:, 0, 0] * 2 + s.batch.obs[:, 0, 1], s.indices)
        np.add.at(counts, s.indices, 1)
    prob = (raw + buf.eps) ** alpha
    expected = counts.sum() * prob / prob.sum()
    assert ((counts - expected) ** 2 / expected).sum() < chi2_limit(19)


def test_importance_weights_match_the_formula(make_batch, rng):
    beta, alpha = 0.6, 0.5
    buf = filled(make_batch, rng, alpha=alpha)
    raw = rng.exponential(size=20) + 0.1
    raw[7] = 1e-3  # the max weight belongs to a transition that is almost never in the batch
    buf.update_priorities(np.arange(20), raw)
    s = buf.sample(16, rng, beta=beta)
    assert 7 not in s.indices  # so normalizing by the batch's max weight would fail below
    n = len(buf)
    prob = (raw + buf.eps) ** alpha / ((raw + buf.eps) ** alpha).sum()
    w = (n * prob) ** -beta
    np.testing.assert_allclose(s.weights, w[s.indices] / w.max(), rtol=1e-6)
    assert s.weights.dtype == np.float32 and s.weights.max() <= 1.0


def test_new_transitions_get_the_max_priority(make_batch, rng):
    buf = filled(make_batch, rng, alpha=0.6)
    np.testing.assert_allclose(buf.priorities(np.arange(20)), (1.0 + buf.eps) ** 0.6)
    buf.update_priorities([3, 4], [5.0, 0.5])
    assert buf.max_priority == 5.0
    buf.add(make_batch(10, 2, 2, rng))  # rows 10, 11 -> flat 20..23
    np.testing.assert_allclose(buf.priorities(np.arange(20, 24)), (5.0 + buf.eps) ** 0.6)
    np.testing.assert_allclose(buf.priorities([4]), (0.5 + buf.eps) ** 0.6)


def test_overwritten_slots_get_the_max_priority_after_wraparound(make_batch, rng):
    buf = filled(make_batch, rng, n_steps=10, n_envs=2, capacity=20)  # full
    buf.update_priorities(np.arange(20), np.full(20, 0.01))
    buf.update_priorities([7], [3.0])
    buf.add(make_batch(10, 3, 2, rng))  # overwrites rows 0..2 -> flat 0..5
    np.testing.assert_allclose(buf.priorities(np.arange(6)), (3.0 + buf.eps) ** 0.6)
    np.testing.assert_allclose(buf.priorities(np.arange(8, 20)), (0.01 + buf.eps) ** 0.6)


def test_alpha_zero_is_uniform_and_beta_zero_gives_unit_weights(make_batch, rng, chi2_limit):
    buf = filled(make_batch, rng, alpha=0.0)
    buf.update_priorities(np.arange(20), rng.exponential(size=20))
    counts = np.zeros(20)
    for _ in range(100):
        s = buf.sample(64, rng, beta=0.0)
        np.add.at(counts, s.indices, 1)
        np.testing.assert_array_equal(s.weights, 1.0)
    expected = counts.sum() / 20
    assert ((counts - expected) ** 2 / expected).sum() < chi2_limit(19)


def test_prioritized_sequences_start_where_a_run_fits(make_batch, rng, chi2_limit):
    n_envs, length = 2, 3
    buf = PrioritizedReplayBuffer(24, n_envs=n_envs, alpha=1.0, eps=0.0)
    for t0 in range(0, 17, 1):  # 17 steps in 12 rows: steps 5..16 stored, position 5
        buf.add(make_batch(t0, 1, n_envs, rng))
    raw = rng.exponential(size=24) + 0.1
    buf.update_priorities(np.arange(24), raw)
    counts = np.zeros(24)
    for _ in range(200):
        s = buf.sample_sequences(50, length, rng, beta=1.0)
        t = s.batch.obs[..., 0].astype(int)
        np.testing.assert_array_equal(np.diff(t, axis=0), 1)
        assert t.min() >= 5 and t.max() <= 16
        np.add.at(counts, s.indices, 1)
    invalid = buf.storage.invalid_sequence_starts(length)
    assert counts[invalid].sum() == 0
    valid = np.setdiff1d(np.arange(24), invalid)
    expected = counts.sum() * raw[valid] / raw[valid].sum()
    assert ((counts[valid] - expected) ** 2 / expected).sum() < chi2_limit(valid.size - 1)
    # weights over the eligible starts: (p_i / min over eligible p)^-beta
    np.testing.assert_allclose(s.weights, (raw[s.indices] / raw[valid].min()) ** -1.0, rtol=1e-6)
    np.testing.assert_array_equal(buf.priorities(np.arange(24)), raw)  # the exclusion was undone


def test_prioritized_errors(make_batch, rng):
    buf = PrioritizedReplayBuffer(20)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(4, rng, beta=0.4)
    buf.add(make_batch(0, 3, 2, rng))
    with pytest.raises(ValueError, match="beta"):
        buf.sample(4, rng, beta=1.5)
    with pytest.raises(IndexError, match="stored transitions"):
        buf.update_priorities([6], [1.0])
    with pytest.raises(ValueError, match="finite"):
        buf.update_priorities([0], [np.inf])
    with pytest.raises(ValueError, match="2 indices but 1"):
        buf.update_priorities([0, 1], [1.0])
    with pytest.raises(ValueError, match="alpha"):
        PrioritizedReplayBuffer(10, alpha=-1)


def test_all_zero_priorities_name_eps_as_the_fix(make_batch, rng):
    buf = PrioritizedReplayBuffer(8, alpha=0.6, eps=0.0)
    buf.add(make_batch(0, 4, 1, rng))
    buf.update_priorities(np.arange(4), np.zeros(4))  # a fit whose TD errors were all 0
    with pytest.raises(ValueError, match=r"every stored transition has priority 0.*eps > 0"):
        buf.sample(2, rng, beta=0.4)
