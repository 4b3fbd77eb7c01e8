"""A dataset whose Box actions lie outside the env's bounds is refused on one line, from an npz and from Minari."""

import gymnasium as gym
import numpy as np
import pytest

from porcini.core.batch import TransitionBatch
from porcini.data import Dataset, save_dataset
from porcini.data.sources import open_dataset, write_dataset
from porcini.data.validation import DatasetError
from porcini.envs.info import EnvInfo

OBS = gym.spaces.Box(-10, 10, shape=(2,), dtype=np.float32)
ACTIONS = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 2.0], np.float32))
INFO = EnvInfo(env_id="Toy-v0", observation_space=OBS, action_space=ACTIONS)


def toy(action: np.ndarray) -> Dataset:
    """Six steps of two env columns, one episode each, with the given actions ``[6, 2, 2]``."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(7, 2, 2)).astype(np.float32)
    ends = np.zeros((6, 2), bool)
    ends[-1] = True
    return Dataset(TransitionBatch(obs=obs[:-1], action=action.astype(np.float32), reward=np.ones((6, 2)),
                                   next_obs=obs[1:], terminated=np.zeros_like(ends), truncated=ends))


def first_outside(action: np.ndarray) -> tuple[int, int]:
    """The (step, column) of the first action outside ACTIONS, by a plain loop."""
    for step in range(action.shape[0]):
        for column in range(action.shape[1]):
            if not ACTIONS.contains(action[step, column].astype(np.float32)):
                return step, column
    raise AssertionError("no action outside the bounds")


def actions(rng: np.random.Generator) -> np.ndarray:
    """Actions within ACTIONS, the bounds themselves included."""
    inside = rng.uniform(ACTIONS.low, ACTIONS.high, size=(6, 2, 2))
    inside[0, 0], inside[1, 1] = ACTIONS.low, ACTIONS.high
    return inside


@pytest.mark.parametrize("bad", [3.0, -0.5, np.nan])
def test_actions_outside_the_bounds_are_refused_naming_the_first(tmp_path, bad):
    action = actions(np.random.default_rng(1))
    action[4, 1, 1] = bad  # the second entry's bounds are [0, 2]
    action[5, 0, 0] = 1.5
    save_dataset(tmp_path / "toy.npz", toy(action))
    step, column = first_outside(action)
    with pytest.raises(DatasetError, match=rf"toy.npz' has actions outside Toy-v0's Box.*first at step {step} of "
                                           rf"env column {column}") as err:
        open_dataset(str(tmp_path / "toy.npz"), INFO)
    assert "\n" not in str(err.value)


def test_actions_within_the_bounds_and_on_them_are_accepted(tmp_path):
    action = actions(np.random.default_rng(2))
    save_dataset(tmp_path / "toy.npz", toy(action))
    np.testing.assert_array_equal(open_dataset(str(tmp_path / "toy.npz"), INFO).batch.action,
                                  action.astype(np.float32))


def test_a_minari_dataset_with_actions_outside_the_bounds_is_refused(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    action = actions(np.random.default_rng(3))
    action[2, 0, 0] = -4.0
    write_dataset(toy(action), "minari:toy/outside-v0", observation_space=OBS, action_space=ACTIONS)
    with pytest.raises(DatasetError, match=r"'toy/outside-v0'.*has actions outside Toy-v0's Box.*first at step 2 "
                                           r"of env column 0"):
        open_dataset("minari:toy/outside-v0", INFO)
