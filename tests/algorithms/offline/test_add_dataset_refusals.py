"""A dataset handed to an off-policy agent in Python is checked like one read from a file: one-line refusals."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms import CQL, IQL, SAC, TD3, TD3BC
from porcini.core.batch import TransitionBatch
from porcini.data import Dataset
from porcini.data.validation import DatasetError

LOW, HIGH = np.array([-1.0, 0.0], np.float32), np.array([3.0, 10.0], np.float32)


class Skewed(gym.Env):
    """Actions in ``Box(LOW, HIGH)``; observations random, episodes of 10 steps."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Box(LOW, HIGH, dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return np.zeros(3, np.float32), 0.0, False, True, {}


def dataset(action: np.ndarray, reward: np.ndarray | None = None) -> Dataset:
    """Twelve transitions of one env column with the given actions ``[12, 1, ...]``."""
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (13, 1, 3)).astype(np.float32)
    reward = rng.normal(size=(12, 1)) if reward is None else reward
    ends = np.zeros((12, 1), bool)
    return Dataset(TransitionBatch(obs[:-1], action, reward, obs[1:], ends, ends))


def good_actions() -> np.ndarray:
    return np.random.default_rng(1).uniform(LOW, HIGH, (12, 1, 2)).astype(np.float32)


def bad(kind: str) -> Dataset:
    action = good_actions()
    if kind == "nan action":
        action[3, 0, 1] = np.nan
    elif kind == "outside":
        action[5, 0, 1] = 10.5
    elif kind == "shape":
        return dataset(action.reshape(12, 1, 2, 1))
    elif kind == "nan reward":
        reward = np.ones((12, 1))
        reward[7, 0] = np.nan
        return dataset(action, reward)
    return dataset(action)


@pytest.mark.parametrize("agent_cls", [SAC, TD3, TD3BC, IQL, CQL])
@pytest.mark.parametrize("kind, pattern", [("nan action", r"actions outside .*first at step 3 of env column 0"),
                                           ("outside", r"actions outside .*first at step 5 of env column 0"),
                                           ("shape", r"actions of shape \(2, 1\)"),
                                           ("nan reward", r"non-finite reward \(first at step 7 of env column 0\)")])
def test_bad_datasets_are_refused_in_one_line(agent_cls, kind, pattern):
    agent = agent_cls(make_env(Skewed, seed=0).info, net_arch=(16,), batch_size=8)
    with pytest.raises(DatasetError, match=rf"dataset given to {agent_cls.__name__}\.add_dataset .*{pattern}") as err:
        agent.add_dataset(bad(kind))
    assert "\n" not in str(err.value)
    assert agent.dataset is None


def test_a_good_dataset_with_actions_on_the_bounds_is_taken():
    action = good_actions()
    action[0, 0], action[1, 0] = LOW, HIGH
    agent = SAC(make_env(Skewed, seed=0).info, net_arch=(16,), batch_size=8)
    agent.add_dataset(dataset(action))
    assert agent.dataset is not None
    expected = 2.0 * (action.astype(np.float64) - LOW) / (HIGH - LOW) - 1.0
    np.testing.assert_allclose(agent.dataset.batch.action, expected, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(list(agent.update(2).values())))
