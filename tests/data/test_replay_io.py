"""ReplayBuffer and PrioritizedReplayBuffer save/load: round trip, corrupt and mismatched files."""

import numpy as np
import pytest

from porcini.data import DataFileError, PrioritizedReplayBuffer, ReplayBuffer, save_dataset

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")


def assert_same(a, b):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.extras.keys() == b.extras.keys()
    for k in a.extras:
        np.testing.assert_array_equal(a.extras[k], b.extras[k])


@pytest.mark.parametrize("n_steps", [3, 17])  # not full / wrapped
def test_round_trip_then_identical_behaviour(tmp_path, make_batch, rng, n_steps):
    buf = ReplayBuffer(24, n_envs=2)
    buf.add(make_batch(0, n_steps, 2, rng))
    path = tmp_path / "buffer.npz"
    buf.save(path)
    assert path.exists() and not list(tmp_path.glob("*.tmp*"))
    other = ReplayBuffer(24)
    other.load(path)
    assert (len(other), other.position, other.n_envs, other.n_added) == (
        len(buf),
        buf.position,
        buf.n_envs,
        buf.n_added,
    )
    more = make_batch(n_steps, 5, 2, rng)
    buf.add(more)
    other.add(more)
    assert_same(buf.gather(np.arange(len(buf))), other.gather(np.arange(len(other))))
    assert_same(buf.sample(50, np.random.default_rng(3)), other.sample(50, np.random.default_rng(3)))


def test_empty_buffer_round_trip(tmp_path):
    path = tmp_path / "empty.npz"
    ReplayBuffer(10).save(path)
    other = ReplayBuffer(10)
    other.load(path)
    assert len(other) == 0 and other.n_envs is None


def test_empty_buffer_with_its_env_count_round_trips():
    """A buffer given n_envs and never added to (MBPO's model buffer before any rollout) loads back as it was."""
    other = ReplayBuffer(10, n_envs=2)
    other.load_state_dict(ReplayBuffer(10, n_envs=2).state_dict())
    assert len(other) == 0 and other.n_envs == 2
    with pytest.raises(DataFileError, match="n_envs 2"):
        ReplayBuffer(10, n_envs=5).load_state_dict(ReplayBuffer(10, n_envs=2).state_dict())


def test_mismatched_capacity_or_envs(tmp_path, make_batch, rng):
    buf = ReplayBuffer(24, n_envs=2)
    buf.add(make_batch(0, 4, 2, rng))
    path = tmp_path / "buffer.npz"
    buf.save(path)
    with pytest.raises(DataFileError, match=r"construct ReplayBuffer\(24, n_envs=2\)"):
        ReplayBuffer(30).load(path)
    with pytest.raises(DataFileError, match="n_envs 2"):
        ReplayBuffer(24, n_envs=3).load(path)
    holder = ReplayBuffer(24, n_envs=2)
    holder.add(make_batch(0, 1, 2, rng, extras=False))
    with pytest.raises(ValueError, match="extras"):
        holder.load(path)
    assert len(holder) == 2  # a refused load leaves the contents alone


def test_corrupt_truncated_and_foreign_files(tmp_path, make_batch, rng):
    buf = ReplayBuffer(24, n_envs=2)
    buf.add(make_batch(0, 10, 2, rng))
    path = tmp_path / "buffer.npz"
    buf.save(path)
    raw = path.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataFileError, match="corrupt"):
        ReplayBuffer(24).load(truncated)

    flipped = bytearray(raw)
    middle = len(raw) // 2  # inside some array's data: the zip CRC check catches it
    flipped[middle : middle + 8] = bytes(255 - b for b in flipped[middle : middle + 8])
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(DataFileError):
        ReplayBuffer(24).load(corrupt)

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(DataFileError, match="not a readable replay buffer"):
        ReplayBuffer(24).load(garbage)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format=np.array(["x", None], dtype=object))
    with pytest.raises(DataFileError):
        ReplayBuffer(24).load(pickled)

    dataset = tmp_path / "dataset.npz"
    save_dataset(dataset, make_batch(0, 3, 2, rng), {"env_id": "x"})
    with pytest.raises(DataFileError, match="porcini.Dataset"):
        ReplayBuffer(24).load(dataset)

    with pytest.raises(FileNotFoundError):
        ReplayBuffer(24).load(tmp_path / "missing.npz")


def test_inconsistent_state_is_refused(make_batch, rng):
    buf = ReplayBuffer(24, n_envs=2)
    buf.add(make_batch(0, 5, 2, rng))
    state = buf.state_dict()
    bad = dict(state, position=np.array(3))  # not full, so position must equal size
    with pytest.raises(DataFileError, match="inconsistent"):
        ReplayBuffer(24).load_state_dict(bad)
    bad = dict(state, **{"data.reward": state["data.reward"][:2]})
    with pytest.raises(DataFileError, match="reward"):
        ReplayBuffer(24).load_state_dict(bad)
    bad = {k: v for k, v in state.items() if k != "data.obs"}
    with pytest.raises(DataFileError, match="obs"):
        ReplayBuffer(24).load_state_dict(bad)


def test_prioritized_round_trip_and_mismatch(tmp_path, make_batch, rng):
    per = PrioritizedReplayBuffer(24, n_envs=2, alpha=0.7)
    per.add(make_batch(0, 9, 2, rng))
    per.update_priorities(np.arange(6), np.arange(6) * 1.5)
    path = tmp_path / "per.npz"
    per.save(path)
    other = PrioritizedReplayBuffer(24, alpha=0.7)
    other.load(path)
    np.testing.assert_array_equal(other.priorities(np.arange(18)), per.priorities(np.arange(18)))
    assert other.max_priority == per.max_priority
    a = per.sample(40, np.random.default_rng(1), beta=0.5)
    b = other.sample(40, np.random.default_rng(1), beta=0.5)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert_same(a.batch, b.batch)

    with pytest.raises(DataFileError, match="alpha 0.7"):
        PrioritizedReplayBuffer(24, alpha=0.6).load(path)
    plain = tmp_path / "plain.npz"
    ReplayBuffer(24, n_envs=2).save(plain)
    with pytest.raises(DataFileError, match="no priorities"):
        PrioritizedReplayBuffer(24).load(plain)
    uniform = ReplayBuffer(24)  # the transitions of a prioritized file load into a uniform buffer
    uniform.load(path)
    assert len(uniform) == 18


def test_state_dict_is_numpy_only_and_survives_scalar_reshaping(make_batch, rng):
    per = PrioritizedReplayBuffer(24, n_envs=2)
    per.add(make_batch(0, 5, 2, rng))
    state = per.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in state.values())
    # containers that store scalars as shape (1,) arrays (torch-tensor round trips) still load
    reshaped = {k: (v.reshape(1) if v.ndim == 0 else v) for k, v in state.items()}
    other = PrioritizedReplayBuffer(24)
    other.load_state_dict(reshaped)
    assert len(other) == 10 and other.storage.position == 5
    np.testing.assert_array_equal(other.priorities(np.arange(10)), per.priorities(np.arange(10)))
