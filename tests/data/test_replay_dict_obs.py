"""Replay buffers keep Dict and Tuple observations entry by entry, each with its own dtype (uint8 stays uint8)."""

import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import PrioritizedReplayBuffer, ReplayBuffer
from porcini.data._npz import DataFileError


def dict_batch(t0, n_steps=5, n_envs=2):
    """Observations whose entries encode (time, env), so sampled rows can be checked against their source."""
    t = np.arange(t0, t0 + n_steps)[:, None] + np.zeros((1, n_envs), int)
    env = np.zeros((n_steps, 1), int) + np.arange(n_envs)[None]

    def obs(shift):
        image = np.broadcast_to(((t + shift) % 256).astype(np.uint8)[..., None, None, None], (n_steps, n_envs, 3, 3, 1))
        return {"image": image.copy(), "direction": (env * 100 + t + shift).astype(np.int64)}

    return TransitionBatch(obs(0), np.zeros((n_steps, n_envs), np.int64), np.ones((n_steps, n_envs), np.float32),
                           obs(1), np.zeros((n_steps, n_envs), bool), np.zeros((n_steps, n_envs), bool))


def check_rows(batch):
    image, direction = batch.obs["image"], batch.obs["direction"]
    assert image.dtype == np.uint8 and direction.dtype == np.int64
    assert batch.next_obs["image"].dtype == np.uint8
    # every row's entries and its successor come from the same stored transition
    np.testing.assert_array_equal(image[..., 0, 0, 0], direction % 100 % 256)
    np.testing.assert_array_equal(batch.next_obs["direction"], direction + 1)


@pytest.mark.parametrize("buffer_cls", [ReplayBuffer, PrioritizedReplayBuffer])
def test_dict_observations_are_stored_per_key_with_their_dtypes(buffer_cls):
    buf = buffer_cls(capacity=16)
    buf.add(dict_batch(0))
    buf.add(dict_batch(5))  # wraps the ring
    storage = buf.storage if buffer_cls is PrioritizedReplayBuffer else buf
    assert storage._data["obs.image"].dtype == np.uint8 and storage._data["obs.direction"].dtype == np.int64
    rng = np.random.default_rng(0)
    sample = buf.sample(32, rng) if buffer_cls is ReplayBuffer else buf.sample(32, rng, beta=0.4).batch
    assert sample.obs["image"].shape == (32, 1, 3, 3, 1)
    check_rows(sample)
    seq = buf.sample_sequences(4, 3, rng) if buffer_cls is ReplayBuffer else buf.sample_sequences(4, 3, rng, 0.4).batch
    assert seq.obs["direction"].shape == (3, 4)
    np.testing.assert_array_equal(np.diff(seq.obs["direction"], axis=0), 1)  # consecutive steps of one env


def test_dict_and_tuple_observations_survive_a_save_and_load(tmp_path):
    buf = ReplayBuffer(capacity=20)
    buf.add(dict_batch(0))
    buf.save(tmp_path / "replay.npz")
    loaded = ReplayBuffer(capacity=20)
    loaded.load(tmp_path / "replay.npz")
    a, b = buf.gather(np.arange(10)), loaded.gather(np.arange(10))
    for key in ("image", "direction"):
        np.testing.assert_array_equal(a.obs[key], b.obs[key])
        assert b.obs[key].dtype == a.obs[key].dtype
    loaded.add(dict_batch(5))  # the layout came back with the data

    tup = dict_batch(0)
    as_tuple = TransitionBatch((tup.obs["image"], tup.obs["direction"]), tup.action, tup.reward,
                               (tup.next_obs["image"], tup.next_obs["direction"]), tup.terminated, tup.truncated)
    buf = ReplayBuffer(capacity=20)
    buf.add(as_tuple)
    state = buf.state_dict()
    again = ReplayBuffer(capacity=20)
    again.load_state_dict(state)
    got = again.gather(np.arange(10)).obs
    assert isinstance(got, tuple) and got[0].dtype == np.uint8
    np.testing.assert_array_equal(got[1], buf.gather(np.arange(10)).obs[1])


def test_a_batch_with_other_keys_is_refused_naming_them():
    buf = ReplayBuffer(capacity=20)
    buf.add(dict_batch(0))
    other = dict_batch(5)
    other.obs.pop("direction")
    other.next_obs.pop("direction")
    with pytest.raises(ValueError, match="obs.direction"):
        buf.add(other)


def test_a_corrupt_layout_is_a_data_file_error():
    buf = ReplayBuffer(capacity=20)
    buf.add(dict_batch(0))
    state = dict(buf.state_dict())
    state["obs_layout"] = np.array("{not json")
    with pytest.raises(DataFileError, match="obs_layout"):
        ReplayBuffer(capacity=20).load_state_dict(state)
