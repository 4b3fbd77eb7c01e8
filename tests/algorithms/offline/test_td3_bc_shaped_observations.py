"""TD3+BC on observations of shape (2, 3): normalized entry by entry with the dataset's statistics, shape kept."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from porcini import make_env
from porcini.algorithms import TD3BC
from porcini.data import collect_dataset


class Grid(gym.Env):
    """Observations ``Box(-1, 3, (2, 3))`` with an offset per entry; episodes of 10 steps."""

    observation_space = gym.spaces.Box(-1.0, 3.0, (2, 3), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    offset = np.arange(6, dtype=np.float32).reshape(2, 3) / 3.0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return (self.offset + self.np_random.uniform(-0.5, 0.5, (2, 3))).astype(np.float32)

    def step(self, action):
        self.t += 1
        return self._obs(), float(action[0]), False, self.t >= 10, {}


def test_shaped_observations_are_normalized_with_the_dataset_statistics():
    env = make_env(Grid, seed=0)
    data = collect_dataset(env, lambda obs: env.action_space.sample(), steps=60, seed=0)
    agent = TD3BC(env.info, net_arch=(16,), batch_size=8, seed=0)
    agent.add_dataset(data)
    assert np.all(np.isfinite(list(agent.update(4).values())))
    flat = np.asarray(data.batch.obs, np.float64).reshape(-1, 6)
    obs = np.random.default_rng(1).uniform(-1, 3, (5, 2, 3)).astype(np.float32)
    normalized = (obs.reshape(5, 6) - flat.mean(0)) / (flat.std(0) + 1e-3)  # the reference normalization
    with torch.no_grad():
        expected = agent.actor(torch.as_tensor(normalized, dtype=torch.float32).reshape(5, 2, 3)).numpy()
    np.testing.assert_allclose(agent.act(obs, explore=False), expected, rtol=1e-5, atol=1e-6)


class Pixels(gym.Env):
    """``uint8`` image observations ``(16, 16, 3)``; episodes of 10 steps."""

    observation_space = gym.spaces.Box(0, 255, (16, 16, 3), np.uint8)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        return self.observation_space.sample(), float(action[0]), False, self.t >= 10, {}


def test_images_without_normalization_reach_the_cnn_as_uint8():
    env = make_env(Pixels, seed=0)
    data = collect_dataset(env, lambda obs: env.action_space.sample(), steps=30, seed=0)
    agent = TD3BC(env.info, net_arch=(16,), batch_size=8, seed=0, normalize_obs=False)
    agent.add_dataset(data)
    assert np.all(np.isfinite(list(agent.update(2).values())))
    obs = np.random.default_rng(1).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = agent.actor(torch.as_tensor(obs)).numpy()  # the CNN scales uint8 images by 1/255
    np.testing.assert_allclose(agent.act(obs, explore=False), expected, rtol=1e-5, atol=1e-6)
