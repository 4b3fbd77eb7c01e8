"""A Box action dimension with low == high: the off-policy agents store it normalized to 0 and keep learning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms import CQL, DDPG, IQL, MBPO, SAC, TD3, TD3BC
from porcini.core.batch import TransitionBatch
from porcini.data import Dataset

LOW, HIGH = np.array([-1.0, 2.0, 0.0], np.float32), np.array([3.0, 2.0, 10.0], np.float32)  # entry 1 is fixed


class FixedEntry(gym.Env):
    """Three action entries, the second fixed at 2; observations are random, episodes 10 steps."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Box(LOW, HIGH, dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), float(action[0]), False, self.t >= 10, {}


def reference_normalized(action: np.ndarray) -> np.ndarray:
    """``2 (a - low) / (high - low) - 1`` entry by entry, 0 where the entry is fixed (a plain loop)."""
    out = np.zeros(action.shape, np.float64)
    for index in np.ndindex(action.shape):
        i = index[-1]
        span = float(HIGH[i]) - float(LOW[i])
        out[index] = 0.0 if span == 0 else 2.0 * (float(action[index]) - float(LOW[i])) / span - 1.0
    return out


AGENTS = [SAC, TD3, DDPG, IQL, CQL, TD3BC, MBPO]


@pytest.mark.parametrize("agent_cls", AGENTS)
def test_fixed_entries_are_stored_as_zero_and_the_networks_stay_finite(agent_cls):
    env = make_env(FixedEntry, seed=0)
    extra = {"model_hidden": (8,), "model_epochs": 1, "model_train_freq": 20, "rollout_batch_size": 8} \
        if agent_cls is MBPO else {}
    agent = agent_cls(env.info, net_arch=(16,), batch_size=8, learning_starts=10, seed=0, **extra)
    with np.errstate(all="raise"):
        Core(agent, env, progress=False).learn(steps=40)
    stored = agent.buffer.state_dict()["data.action"].reshape(-1, 3)[:40]
    assert np.all(stored[:, 1] == 0.0)
    assert agent.n_updates > 0
    for module in agent.modules.values():
        assert all(torch.isfinite(p).all() for p in module.parameters())
    action = agent.act(np.zeros((1, 3), np.float32), explore=False)
    assert np.all(np.isfinite(action)) and action[0, 1] == 2.0


@pytest.mark.parametrize("agent_cls", [TD3BC, IQL, CQL])
def test_dataset_actions_with_a_fixed_entry_are_normalized_like_online_ones(agent_cls):
    env = make_env(FixedEntry, seed=0)
    rng = np.random.default_rng(0)
    action = rng.uniform(LOW, HIGH, (12, 1, 3)).astype(np.float32)
    obs = rng.uniform(-1, 1, (13, 1, 3)).astype(np.float32)
    data = Dataset(TransitionBatch(obs[:-1], action, rng.normal(size=(12, 1)), obs[1:], np.zeros((12, 1), bool),
                                   np.zeros((12, 1), bool)))
    agent = agent_cls(env.info, net_arch=(16,), batch_size=8, seed=0)
    agent.add_dataset(data)
    assert agent.dataset is not None
    np.testing.assert_allclose(agent.dataset.batch.action, reference_normalized(action), rtol=1e-6, atol=1e-6)
    metrics = agent.update(3)
    assert all(np.isfinite(v) for v in metrics.values())


def test_bc_and_reward_models_encode_a_fixed_entry_as_zero():
    from porcini.algorithms import BC
    from porcini.algorithms.imitation.reward_model import encode_actions

    env = make_env(FixedEntry, seed=0)
    action = np.random.default_rng(0).uniform(LOW, HIGH, (12, 1, 3)).astype(np.float32)
    bc = BC(env.info, net_arch=(16,), batch_size=8, seed=0)
    np.testing.assert_allclose(bc.stored_actions(action), reference_normalized(action), rtol=1e-6, atol=1e-6)
    encoded = encode_actions(action[:, 0], env.single_action_space).numpy()
    np.testing.assert_allclose(encoded, reference_normalized(action[:, 0]), rtol=1e-6, atol=1e-6)
