"""DQN, discrete CQL and BC check a dataset handed to ``add_dataset`` in Python as the off-policy Box agents and
the CLI do: one-line DatasetErrors instead of a torch IndexError or shape error later, or a silent float cast."""

from __future__ import annotations

import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms import BC, DQN, DiscreteCQL
from porcini.core.batch import TransitionBatch
from porcini.data import Dataset
from porcini.data.validation import DatasetError


def dataset(kind: str) -> Dataset:
    """Twelve CartPole-shaped transitions of one env column, broken as ``kind`` says."""
    rng = np.random.default_rng(0)
    obs = rng.uniform(-0.05, 0.05, (13, 1, 4)).astype(np.float32)
    action = rng.integers(0, 2, (12, 1))
    reward = np.ones((12, 1))
    if kind == "outside":
        action[4, 0] = 5
    elif kind == "float":
        action = action.astype(np.float32) + 0.5
    elif kind == "obs shape":
        obs = obs[..., :3]
    elif kind == "nan reward":
        reward[7, 0] = np.nan
    ends = np.zeros((12, 1), bool)
    return Dataset(TransitionBatch(obs[:-1], action, reward, obs[1:], ends, ends))


@pytest.mark.parametrize("agent_cls", [DQN, DiscreteCQL, BC])
@pytest.mark.parametrize("kind, pattern", [("outside", r"actions in \[0, 5\], outside CartPole-v1's Discrete\(2\)"),
                                           ("float", r"float32 actions, but CartPole-v1 acts in Discrete\(2\)"),
                                           ("obs shape", r"observations of shape \(3,\), but CartPole-v1 observes"),
                                           ("nan reward", r"non-finite reward \(first at step 7 of env column 0\)")])
def test_bad_datasets_are_refused_in_one_line(agent_cls, kind, pattern):
    agent = agent_cls(make_env("CartPole-v1", seed=0).info, net_arch=(16,), batch_size=8)
    with pytest.raises(DatasetError, match=rf"dataset given to {agent_cls.__name__}\.add_dataset .*{pattern}") as err:
        agent.add_dataset(dataset(kind))
    assert "\n" not in str(err.value)
    assert agent.dataset is None


@pytest.mark.parametrize("agent_cls", [DQN, DiscreteCQL, BC])
def test_a_good_dataset_is_taken(agent_cls):
    agent = agent_cls(make_env("CartPole-v1", seed=0).info, net_arch=(16,), batch_size=8)
    agent.add_dataset(dataset("good"))
    assert agent.dataset is not None
