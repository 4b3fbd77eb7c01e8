"""Fixtures of the on-policy agent tests: tiny environments whose values are known."""

from typing import Any

import gymnasium as gym
import numpy as np
import pytest


class CycleEnv(gym.Env):
    """A cycle of ``n_phases`` states (observed one-hot), reward 1 per step, episodes of ``horizon`` steps.

    With ``end="truncated"`` the episode is cut by a time limit: the MDP goes on, so every state is worth
    ``1 / (1 - gamma)``. With ``end="terminated"`` it really ends after ``horizon`` steps, so the state seen
    last (phase ``horizon - 1``) is worth exactly 1. ``horizon == n_phases``: the final observation (phase 0 again)
    is also the first one, so a critic sees every state it must bootstrap from.
    """

    def __init__(self, n_phases: int = 4, end: str = "truncated") -> None:
        self.n_phases = n_phases
        self.end = end
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n_phases,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_phases, np.float32)
        obs[self._t % self.n_phases] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        ended = self._t >= self.n_phases
        return self._obs(), 1.0, ended and self.end == "terminated", ended and self.end == "truncated", {}


class TargetEnv(gym.Env):
    """Continuous actions in [-1, 1]^2; reward ``-|a - target|^2`` with the target in the observation.

    The best actions sit inside the bounds, the sampled ones often outside: exercises clipping.
    """

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._target = np.zeros(2, np.float32)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._target = self.np_random.uniform(-0.8, 0.8, 2).astype(np.float32)
        return self._target.copy(), {}

    def step(self, action):
        reward = -float(np.sum((np.asarray(action) - self._target) ** 2))
        self._t += 1
        self._target = self.np_random.uniform(-0.8, 0.8, 2).astype(np.float32)
        return self._target.copy(), reward, False, self._t >= 10, {}


@pytest.fixture
def cycle_env():
    """The :class:`CycleEnv` class (pass ``n_phases`` and ``end``)."""
    return CycleEnv


@pytest.fixture
def target_env():
    """The :class:`TargetEnv` class."""
    return TargetEnv


def _reference_gae(reward, value, next_value, terminated, truncated, gamma, lam):
    """Slow GAE loop over a [T, B] batch, written independently of porcini.functional."""
    n_rows, n_envs = reward.shape
    advantage = np.zeros((n_rows, n_envs))
    for b in range(n_envs):
        running = 0.0
        for t in reversed(range(n_rows)):
            bootstrap = 0.0 if terminated[t, b] else next_value[t, b]
            delta = reward[t, b] + gamma * bootstrap - value[t, b]
            if terminated[t, b] or truncated[t, b] or t == n_rows - 1:
                running = delta
            else:
                running = delta + gamma * lam * running
            advantage[t, b] = running
    return advantage


@pytest.fixture
def reference_gae():
    """Slow GAE over a ``[T, B]`` batch, one env and one step at a time: ``(reward, value, next_value,
    terminated, truncated, gamma, lam) -> advantage``."""
    return _reference_gae
