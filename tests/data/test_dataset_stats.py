"""describe_dataset: episode, step, return and ending counts computed by hand on a two-column dataset."""

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.data import Dataset
from porcini.data.dataset_stats import describe_dataset, format_description


def test_statistics_of_a_two_column_dataset_match_a_hand_count():
    # column 0: episodes [1, 2] terminated, [3] truncated; column 1: [10, 10, 10] truncated
    reward = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])
    terminated = np.array([[False, False], [True, False], [False, False]])
    truncated = np.array([[False, False], [False, False], [True, True]])
    ds = Dataset(TransitionBatch(obs=np.zeros((3, 2, 4), np.float32), action=np.zeros((3, 2), np.int64),
                                 reward=reward, next_obs=np.zeros((3, 2, 4), np.float32), terminated=terminated,
                                 truncated=truncated, extras={"cost": np.zeros((3, 2))}), {"env_id": "Toy-v0"})
    s = describe_dataset(ds)
    assert (s["episodes"], s["steps"], s["n_envs"]) == (3, 6, 2)
    assert (s["return_mean"], s["return_min"], s["return_max"]) == (12.0, 3.0, 30.0)
    assert (s["length_mean"], s["length_min"], s["length_max"]) == (2.0, 1, 3)
    assert (s["terminated"], s["truncated"]) == (1, 2)
    assert s["observation_space"] == "shape (4,), dtype float32" and s["extras"] == ["cost"]
    text = format_description(s, "toy.npz")
    assert text.splitlines()[0] == "toy.npz: 3 episodes, 6 steps in Toy-v0"
    assert "episode ends: 1 terminated, 2 truncated" in text and "max 30.00" in text
