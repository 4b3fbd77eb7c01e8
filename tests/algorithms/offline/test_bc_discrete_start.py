"""BC clones Discrete actions that do not start at 0: it learns and acts in the env's own action values."""

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.offline.bc import BC
from porcini.core.batch import TransitionBatch
from porcini.data import Dataset
from porcini.envs.info import EnvInfo

SPACE = gym.spaces.Discrete(3, start=-1)
INFO = EnvInfo(env_id="Shifted-v0", observation_space=gym.spaces.Box(-1, 1, (2,), np.float32), action_space=SPACE)


def rule(obs: np.ndarray) -> np.ndarray:
    """-1 left of -0.3, 1 right of 0.3, 0 between (on the first coordinate): every action of the space."""
    return np.digitize(obs[..., 0], [-0.3, 0.3]).astype(np.int64) - 1


def test_bc_clones_a_policy_over_actions_starting_at_minus_one():
    torch.manual_seed(0)
    obs = np.random.default_rng(0).uniform(-1, 1, (600, 1, 2)).astype(np.float32)
    ends = np.zeros((600, 1), bool)
    ends[-1] = True
    data = Dataset(TransitionBatch(obs, rule(obs), np.zeros((600, 1)), obs, np.zeros_like(ends), ends))
    agent = BC(INFO, net_arch=(32,), batch_size=64, learning_rate=1e-2, seed=0)
    agent.add_dataset(data)
    agent.update(400)
    test_obs = np.random.default_rng(1).uniform(-1, 1, (500, 2)).astype(np.float32)
    for explore in (False, True):
        action = agent.act(test_obs, explore=explore)
        assert all(SPACE.contains(int(a)) for a in action)
    agreement = np.mean(agent.act(test_obs, explore=False) == rule(test_obs))
    assert agreement > 0.9, agreement
