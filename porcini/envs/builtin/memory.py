"""Tasks that need memory: the current observation does not determine the best action.

- :class:`CueMemory`: a cue shown once, a question asked later, the smallest such task. A policy of the current
  observation answers at chance (``1 / n_cues``); one that remembers (an LSTM policy, e.g. ``RecurrentPPO``)
  answers every time. Use it to check that a recurrent agent carries its state and resets it between episodes.
- :class:`CartPoleNoVelocity`: CartPole-v1 with the velocities hidden (SB3-contrib's ``CartPoleNoVel``): a
  policy must infer them from successive positions.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv


class CueMemory(gym.Env):
    """Remember which of ``n_cues`` cues was shown at the first step; name it when asked, ``delay`` steps later.

    Observation ``Box(0, 1, (n_cues + 1,))``: at ``t = 0`` the one-hot code of the cue (drawn uniformly), then
    zeros; the last entry is 1 at the question step ``t = delay``. Actions ``Discrete(n_cues)``: ignored before
    the question; at the question, reward 1 if the action names the cue, else 0, and the episode terminates.
    Every episode lasts ``delay + 1`` steps.

    Example:
        >>> env = CueMemory(delay=2)
        >>> obs, info = env.reset(seed=0)
        >>> cue = int(obs[:2].argmax())
        >>> env.step(0)[0].tolist(), env.step(0)[0].tolist()
        ([0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
        >>> env.step(cue)[1:3]
        (1.0, True)

    Args:
        delay: steps between the cue and the question (at least 1).
        n_cues: number of possible cues (at least 2).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, delay: int = 4, n_cues: int = 2) -> None:
        for name, value, least in (("delay", delay, 1), ("n_cues", n_cues, 2)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ValueError(f"CueMemory: {name}={value!r} must be a whole number >= {least}")
        self.delay, self.n_cues = int(delay), int(n_cues)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(n_cues + 1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(n_cues)
        self._cue = 0
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 1, dtype=np.float32)
        if self._t == 0:
            obs[self._cue] = 1.0
        if self._t == self.delay:
            obs[-1] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Draw a new cue and show it."""
        super().reset(seed=seed)
        self._cue, self._t = int(self.np_random.integers(self.n_cues)), 0
        return self._obs(), {"cue": self._cue}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Advance one step; at the question, score the answer and terminate."""
        if not self.action_space.contains(action):
            raise ValueError(f"CueMemory.step: action {action!r} is not in {self.action_space}")
        asked = self._t == self.delay
        reward = float(asked and int(action) == self._cue)
        self._t += 1
        return self._obs(), reward, asked, False, {"cue": self._cue}


class CartPoleNoVelocity(CartPoleEnv):
    """CartPole-v1 observing only the cart position and the pole angle, scaled to ``[-1, 1]`` while it runs.

    The observation is ``[x / 2.4, theta / 0.2095]``: each divided by the bound at which the episode
    terminates (2.4 units, 12 degrees), so both live on the same scale (the RL Zoo normalizes observations for
    this task instead). Dynamics, reward and termination are CartPole's; register it with a 500-step limit
    (``porcini/CartPoleNoVel-v1`` has one). A feed-forward policy cannot tell which way the pole is moving and
    keeps it up for about 40 steps; a recurrent one balances it for the whole episode.

    Args:
        render_mode: as for ``CartPoleEnv``.
    """

    SCALE = np.array([2.4, 12 * 2 * np.pi / 360], dtype=np.float32)

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32)

    def _partial(self, observation: np.ndarray) -> np.ndarray:
        return (np.asarray(observation, dtype=np.float32)[[0, 2]] / self.SCALE).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """CartPole's reset, seen through position and angle."""
        observation, info = super().reset(seed=seed, options=options)
        return self._partial(observation), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """CartPole's step, seen through position and angle."""
        observation, reward, terminated, truncated, info = super().step(action)
        return self._partial(observation), float(reward), terminated, truncated, info
