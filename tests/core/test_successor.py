import numpy as np
import pytest

from porcini.core.stepper import true_successor
from porcini.errors import EnvCheckError


def test_final_observations_replace_the_reset_ones_only_where_episodes_ended():
    reset_obs = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    ended = np.array([False, True, False])
    final = np.array([[9.0, 9.0], [7.0, 7.0], [9.0, 9.0]])
    out = true_successor(reset_obs, ended, {"final_obs": final})
    assert out.tolist() == [[0.0, 0.0], [7.0, 7.0], [2.0, 2.0]]
    assert reset_obs[1].tolist() == [1.0, 1.0]  # the agent still acts on the reset observation


def test_object_arrays_and_dict_observations():
    final = np.empty(2, dtype=object)
    final[0], final[1] = None, np.array([5.0])
    out = true_successor(np.zeros((2, 1)), np.array([False, True]), {"final_obs": final})
    assert out.tolist() == [[0.0], [5.0]]
    finals = np.empty(2, dtype=object)
    finals[0], finals[1] = {"a": np.array([3.0])}, None
    out = true_successor({"a": np.zeros((2, 1))}, np.array([True, False]), {"final_obs": finals})
    assert out["a"].tolist() == [[3.0], [0.0]]


def test_missing_final_obs_names_same_step_autoreset():
    with pytest.raises(EnvCheckError, match="same-step autoreset"):
        true_successor(np.zeros((1, 2)), np.array([True]), {})
