"""ReplayBuffer: ring contents against a slow list-based ring, sampling distributions, sequences, errors."""

import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import ReplayBuffer

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


class ListRing:
    """Obviously-correct reference: a Python list of time steps, oldest dropped past ``rows``."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.steps: list[dict] = []

    def add(self, batch: TransitionBatch) -> None:
        for t in range(batch.n_rows):
            step = {name: getattr(batch, name)[t].copy() for name in FIELDS}
            step.update({"extras." + k: v[t].copy() for k, v in batch.extras.items()})
            self.steps.append(step)
            if len(self.steps) > self.rows:
                self.steps.pop(0)


def chronological(buf: ReplayBuffer) -> dict:
    """Every stored field in time order [rows, B, ...], read via gather_sequences from the oldest row."""
    b = buf.n_envs
    oldest_row = (buf.position - buf.n_rows) % (buf.capacity // b)
    seq = buf.gather_sequences(oldest_row * b + np.arange(b), buf.n_rows)
    out = {name: getattr(seq, name) for name in FIELDS}
    out.update({"extras." + k: v for k, v in seq.extras.items()})
    return out


@pytest.mark.parametrize("n_envs,capacity", [(1, 7), (3, 20), (4, 8)])
def test_wraparound_contents_match_list_ring(n_envs, capacity, make_batch, rng):
    buf = ReplayBuffer(capacity)
    ref = ListRing(capacity // n_envs)
    t0 = 0
    for n_steps in [1, 2, 3, 5, 1, 9, 4, 2, 13, 1, 1, 6, 3]:
        batch = make_batch(t0, n_steps, n_envs, rng)
        t0 += n_steps
        buf.add(batch)
        ref.add(batch)
        assert len(buf) == len(ref.steps) * n_envs
        assert buf.n_rows == len(ref.steps)
        got = chronological(buf)
        for key, value in got.items():
            expected = np.stack([step[key] for step in ref.steps])
            assert value.dtype == expected.dtype, key
            np.testing.assert_array_equal(value, expected, err_msg=key)
    assert buf.capacity == (capacity // n_envs) * n_envs
    assert buf.n_added == t0 * n_envs


def test_dtypes_are_kept_and_capacity_rounds_down(make_batch, rng):
    buf = ReplayBuffer(10, n_envs=3)
    assert buf.capacity == 9
    buf.add(make_batch(0, 2, 3, rng))
    s = buf.sample(5, rng)
    assert s.extras["pixels"].dtype == np.uint8 and s.extras["pixels"].shape == (5, 1, 3, 2)
    assert s.obs.dtype == np.float32 and s.reward.dtype == np.float32 and s.terminated.dtype == bool
    assert s.action.shape == (5, 1) and s.reward.shape == (5, 1)


def test_sample_is_uniform_over_stored_transitions(make_batch, rng, chi2_limit):
    n_envs, capacity = 3, 30
    buf = ReplayBuffer(capacity, n_envs=n_envs)
    buf.add(make_batch(0, 25, n_envs, rng))  # 25 steps in 10 rows: wrapped, steps 15..24 stored
    counts = np.zeros((25, n_envs))
    for _ in range(100):
        s = buf.sample(600, rng)
        t, env = s.obs[:, 0, 0].astype(int), s.obs[:, 0, 1].astype(int)
        np.add.at(counts, (t, env), 1)
    assert counts[:15].sum() == 0  # overwritten steps are never returned
    observed = counts[15:].ravel()
    expected = observed.sum() / observed.size
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < chi2_limit(observed.size - 1)


def test_sample_before_full_never_returns_unfilled_rows(make_batch, rng):
    buf = ReplayBuffer(1000, n_envs=2)
    buf.add(make_batch(1, 3, 2, rng))
    s = buf.sample(2000, rng)
    assert set(s.obs[:, 0, 0].astype(int)) == {1, 2, 3}
    assert set(s.obs[:, 0, 1].astype(int)) == {0, 1}


def test_sample_sequences_keep_env_order_and_never_cross_write_position(make_batch, rng, chi2_limit):
    n_envs, rows, length = 2, 12, 4
    buf = ReplayBuffer(rows * n_envs, n_envs=n_envs)
    for t0 in range(0, 30, 5):
        buf.add(make_batch(t0, 5, n_envs, rng))  # steps 18..29 stored, write position mid-ring (30 % 12 = 6)
    assert buf.position == 6
    starts = np.zeros((30, n_envs))
    for _ in range(40):
        seq = buf.sample_sequences(250, length, rng)
        assert seq.obs.shape == (length, 250, 2) and seq.reward.shape == (length, 250)
        t, env = seq.obs[..., 0].astype(int), seq.obs[..., 1].astype(int)
        assert (env == env[0]).all()  # one env per sequence
        np.testing.assert_array_equal(np.diff(t, axis=0), 1)  # consecutive, in time order
        assert t.min() >= 18 and t.max() <= 29  # never joins newest to oldest
        np.testing.assert_array_equal(seq.next_obs[..., 0], t + 1)
        np.add.at(starts, (t[0], env[0]), 1)
    valid = starts[18 : 30 - length + 1]
    assert starts[:18].sum() == 0 and starts[30 - length + 1 :].sum() == 0
    observed = valid.ravel()
    expected = observed.sum() / observed.size
    assert ((observed - expected) ** 2 / expected).sum() < chi2_limit(observed.size - 1)


def test_sequences_see_episode_ends_as_stored(make_batch, rng):
    buf = ReplayBuffer(50, n_envs=1)
    batch = make_batch(0, 50, 1, rng)
    buf.add(batch)
    seq = buf.sample_sequences(100, 5, rng)
    t = seq.obs[..., 0].astype(int)
    np.testing.assert_array_equal(seq.terminated, batch.terminated[t, 0])
    np.testing.assert_array_equal(seq.truncated, batch.truncated[t, 0])


def test_sequence_errors(make_batch, rng):
    buf = ReplayBuffer(20, n_envs=2)
    buf.add(make_batch(0, 3, 2, rng))
    with pytest.raises(ValueError, match="length 4 needs at least 4"):
        buf.sample_sequences(2, 4, rng)
    newest = 2 * 2 + 1  # row 2 (newest), env 1
    with pytest.raises(IndexError, match="write position"):
        buf.gather_sequences([newest], 2)
    assert sorted(buf.invalid_sequence_starts(2).tolist()) == [4, 5]


def test_batch_larger_than_ring_keeps_newest(make_batch, rng):
    buf = ReplayBuffer(5, n_envs=1)
    buf.add(make_batch(0, 2, 1, rng))
    buf.add(make_batch(2, 13, 1, rng))
    got = chronological(buf)["obs"][:, 0, 0]
    np.testing.assert_array_equal(got, np.arange(10, 15))


def test_errors_name_the_problem(make_batch, rng):
    buf = ReplayBuffer(20)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(1, rng)
    buf.add(make_batch(0, 2, 2, rng))
    good = make_batch(0, 2, 2, rng)
    with pytest.raises(ValueError, match="2 envs per time step but the batch has 3"):
        buf.add(make_batch(0, 2, 3, rng))
    wrong_dtype = TransitionBatch(
        **{n: getattr(good, n) for n in FIELDS if n != "obs"}, obs=good.obs.astype(np.float64), extras=good.extras
    )
    with pytest.raises(ValueError, match=r"obs as .* float32 but the batch has .* float64"):
        buf.add(wrong_dtype)
    wrong_shape = TransitionBatch(
        **{n: getattr(good, n) for n in FIELDS if n != "next_obs"},
        next_obs=np.zeros((2, 2, 5), np.float32),
        extras=good.extras,
    )
    with pytest.raises(ValueError, match="next_obs"):
        buf.add(wrong_shape)
    with pytest.raises(ValueError, match="extras"):
        buf.add(make_batch(0, 2, 2, rng, extras=False))
    with pytest.raises(TypeError, match="Generator"):
        buf.sample(1, 0)
    with pytest.raises(ValueError, match="capacity 2 is smaller than n_envs 3"):
        ReplayBuffer(2, n_envs=3)
    float_flags = TransitionBatch(
        **{n: getattr(good, n) for n in FIELDS if n != "terminated"}, terminated=good.terminated.astype(np.float32)
    )
    with pytest.raises(ValueError, match="terminated must be a bool array"):
        ReplayBuffer(10).add(float_flags)
    with pytest.raises(IndexError):
        buf.gather([4])
    assert len(buf) == 4  # failed adds left the contents alone


def test_batches_without_extras_are_stored_and_checked_like_others(make_batch, rng):
    """Plain batches (one array per field, no extras) take a shorter path in add: same contents, same refusals."""
    buf, ref = ReplayBuffer(12, n_envs=3), ListRing(4)
    for t0 in range(0, 14, 2):  # past the ring's 4 rows: wrap-around on the plain path too
        batch = make_batch(t0, 2, 3, rng, extras=False)
        buf.add(batch)
        ref.add(batch)
    got = chronological(buf)
    for name in FIELDS:
        np.testing.assert_array_equal(got[name], np.stack([step[name] for step in ref.steps]))
    good = make_batch(0, 2, 3, rng, extras=False)
    fields = {n: getattr(good, n) for n in FIELDS}
    with pytest.raises(ValueError, match=r"reward as .* float32 but the batch has .* float64"):
        buf.add(TransitionBatch(**{**fields, "reward": good.reward.astype(np.float64)}))
    with pytest.raises(ValueError, match=r"obs as \[T, B, \*\(2,\)\] float32 but the batch has \[T, B, \*\(3,\)\]"):
        buf.add(TransitionBatch(**{**fields, "obs": np.zeros((2, 3, 3), np.float32)}))
    with pytest.raises(ValueError, match="3 envs per time step but the batch has 2"):
        buf.add(make_batch(0, 2, 2, rng, extras=False))
    with pytest.raises(ValueError, match="extras"):
        buf.add(make_batch(0, 2, 3, rng))
    with pytest.raises(ValueError, match="obs.a"):
        buf.add(TransitionBatch(**{**fields, "obs": {"a": good.obs}}))
    assert len(buf) == 12 and buf.n_added == 42  # failed adds left the contents alone
