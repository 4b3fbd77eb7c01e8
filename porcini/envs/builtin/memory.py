"""CueMemory: a cue shown once, a question asked later: the smallest task that needs memory.

A policy that sees only the current observation answers at chance (``1 / n_cues``); one that remembers the
first observation (an LSTM policy, e.g. ``RecurrentPPO``) answers every time. Use it to check that a recurrent
agent carries its state across steps and resets it between episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


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
        if delay < 1 or n_cues < 2:
            raise ValueError(f"CueMemory: delay={delay} must be >= 1 and n_cues={n_cues} >= 2")
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
