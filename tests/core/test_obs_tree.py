"""Dict and Tuple observations through TransitionBatch, RolloutStorage and the true successor, entry by entry."""

import numpy as np
import pytest
import torch

from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import flatten_obs, layout_keys, obs_batch_size, obs_layout, unflatten_obs
from porcini.core.rollout import RolloutStorage
from porcini.core.stepper import true_successor


def dict_obs(t, n_envs=2):
    return {"image": np.full((n_envs, 3, 3, 1), t, np.uint8), "direction": np.arange(n_envs) + 10 * t}


def test_flatten_and_unflatten_are_inverse_for_nested_trees():
    obs = {"a": np.zeros((2, 3)), "b": (np.ones(2, np.int64), {"c": np.zeros((2, 1), np.uint8)})}
    flat = flatten_obs(obs, "obs")
    assert list(flat) == ["obs.a", "obs.b.0", "obs.b.1.c"] == layout_keys(obs_layout(obs), "obs")
    back = unflatten_obs(obs_layout(obs), flat, "obs")
    assert back["b"][1]["c"] is obs["b"][1]["c"] and isinstance(back["b"], tuple)
    assert obs_batch_size(obs) == 2 and obs_layout(np.zeros(2)) is None


@pytest.mark.parametrize("rows", [3, None])  # step cadence (preallocated) and episode cadence (stacked)
def test_rollout_storage_keeps_each_entry_with_its_dtype(rows):
    storage = RolloutStorage(rows)
    for t in range(3):
        storage.append(dict_obs(t), np.zeros(2, np.int64), np.ones(2), dict_obs(t + 1), np.zeros(2, bool),
                       np.zeros(2, bool), {})
    state = storage.state_dict()
    batch = storage.take()
    assert batch.obs["image"].dtype == np.uint8 and batch.obs["image"].shape == (3, 2, 3, 3, 1)
    np.testing.assert_array_equal(batch.next_obs["direction"][:, 1], [11, 21, 31])
    restored = RolloutStorage(rows)
    restored.load_state_dict(state)
    np.testing.assert_array_equal(restored.take().obs["image"], batch.obs["image"])


def test_transition_batch_methods_handle_dict_observations():
    obs = {"image": np.zeros((4, 2, 3, 3, 1), np.uint8), "direction": np.arange(8).reshape(4, 2)}
    b = TransitionBatch(obs, np.zeros((4, 2), np.int64), np.ones((4, 2)), obs, np.zeros((4, 2), bool),
                        np.zeros((4, 2), bool))
    assert b.flatten().obs["image"].shape == (8, 1, 3, 3, 1)
    assert b.index(slice(1, 3)).obs["direction"].tolist() == [[2, 3], [4, 5]]
    assert TransitionBatch.concatenate([b, b], axis=1).obs["direction"].shape == (4, 4)
    t = b.to_torch()
    assert t.obs["image"].dtype == torch.uint8 and t.obs["direction"].dtype == torch.int64
    bad = {"image": obs["image"][:3], "direction": obs["direction"]}
    with pytest.raises(ValueError, match="leading shape"):
        TransitionBatch(bad, b.action, b.reward, obs, b.terminated, b.truncated)


def test_true_successor_puts_back_final_tuple_observations():
    reset = (np.array([0, 0]), np.zeros((2, 2), np.float32))
    final = (np.array([7, 8]), np.ones((2, 2), np.float32))
    next_obs = true_successor(reset, np.array([False, True]), {"final_obs": final, "_final_obs": np.array([0, 1])})
    assert next_obs[0].tolist() == [0, 8] and next_obs[1].tolist() == [[0, 0], [1, 1]]
    assert reset[0].tolist() == [0, 0]  # the reset observations are left as they were
