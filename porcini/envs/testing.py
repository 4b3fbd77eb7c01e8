"""Tiny environments made for tests: their transitions are predictable, so loop bugs show up as wrong numbers."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class CountingEnv(gym.Env):
    """Observation ``[episode, t]``: the episode's index (per env instance) and the step within it.

    Reward 1 per step. Ends with ``terminated`` after ``terminate_at`` steps or ``truncated`` after
    ``truncate_at`` steps (whichever comes first). Because ``next_obs[1] == obs[1] + 1`` and ``next_obs[0] ==
    obs[0]`` for every true transition, a transition that crosses an episode boundary is easy to detect.

    Args:
        terminate_at: steps after which the MDP terminates, or None.
        truncate_at: steps after which the episode is truncated (a time limit), or None.
        n_actions: size of the Discrete action space (actions do not matter).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, terminate_at: int | None = None, truncate_at: int | None = None, n_actions: int = 2) -> None:
        self.terminate_at = terminate_at
        self.truncate_at = truncate_at
        self.observation_space = gym.spaces.Box(0.0, 1e6, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(n_actions)
        self._episode = -1
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._episode, self._t], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Start the next episode at t = 0 (a seed restarts the episode count, so seeded resets repeat)."""
        super().reset(seed=seed)
        self._episode = 0 if seed is not None else self._episode + 1
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Advance t by one; reward 1."""
        self._t += 1
        terminated = self.terminate_at is not None and self._t >= self.terminate_at
        truncated = not terminated and self.truncate_at is not None and self._t >= self.truncate_at
        return self._obs(), 1.0, bool(terminated), bool(truncated), {"t": self._t}


class IdentityEnv(gym.Env):
    """Observation is a random integer in ``[0, n)``; reward 1 when the action equals it (a bandit with context).

    Episodes last ``episode_length`` steps and end with ``truncated``. An agent that learns anything gets
    return ``episode_length``; a random one ``episode_length / n``.
    """

    def __init__(self, n: int = 4, episode_length: int = 10) -> None:
        self.n = n
        self.episode_length = episode_length
        self.observation_space = gym.spaces.Discrete(n)
        self.action_space = gym.spaces.Discrete(n)
        self._state = 0
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        """Draw the first context."""
        super().reset(seed=seed)
        self._t = 0
        self._state = int(self.np_random.integers(self.n))
        return self._state, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict]:
        """Reward 1 for the matching action, then draw the next context."""
        reward = float(int(action) == self._state)
        self._t += 1
        self._state = int(self.np_random.integers(self.n))
        return self._state, reward, False, self._t >= self.episode_length, {}
