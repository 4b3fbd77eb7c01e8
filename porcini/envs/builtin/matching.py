"""Tasks whose action has several components, each of which must be right: for MultiDiscrete and MultiBinary agents.

- :class:`MatchCues`: ``n_components`` cues of ``n_values`` values each are shown; the action names every one
  (``MultiDiscrete([n_values] * n_components)``). Reward 1 only when all components match.
- :class:`MatchBits`: a pattern of ``n_bits`` bits is shown; the action copies it (``MultiBinary(n_bits)``).
  Reward 1 only when all bits match.

Each step shows new cues drawn uniformly, so every step is a fresh decision; the episodes never terminate and are
truncated by the registered time limit (20 steps: the best return is 20, a uniformly random policy scores
``20 / n_values ** n_components`` or ``20 / 2 ** n_bits``). The observation tells the answer exactly, so a policy
that learned it scores every step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class _MatchTask(gym.Env):
    """Show ``n_components`` cues of ``n_values`` values each (one-hot or bits); reward 1 when the action names all."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, n_components: int, n_values: int, obs_size: int) -> None:
        self.n_components, self.n_values = int(n_components), int(n_values)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(obs_size,), dtype=np.float32)
        self._cues = np.zeros(self.n_components, dtype=np.int64)

    def _obs(self) -> np.ndarray:
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Draw the first cues and show them."""
        super().reset(seed=seed)
        self._cues = self.np_random.integers(self.n_values, size=self.n_components)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Score the action against the cues shown (1 if every component matches), then show new cues."""
        if not self.action_space.contains(np.asarray(action)):
            raise ValueError(f"{type(self).__name__}.step: action {action!r} is not in {self.action_space}")
        n_correct = int(np.sum(np.asarray(action) == self._cues))
        reward = float(n_correct == self.n_components)
        self._cues = self.np_random.integers(self.n_values, size=self.n_components)
        return self._obs(), reward, False, False, {"n_correct": n_correct}


class MatchCues(_MatchTask):
    """Name each of ``n_components`` cues; reward 1 only when every component is right (``MultiDiscrete`` actions).

    Observation ``Box(0, 1, (n_components * n_values,))``: the one-hot codes of the cues, component after
    component. Action ``MultiDiscrete([n_values] * n_components)``. ``info["n_correct"]`` counts the components
    the action got right.

    Example:
        >>> env = MatchCues()
        >>> obs, _ = env.reset(seed=0)
        >>> answer = obs.reshape(2, 3).argmax(axis=1)
        >>> env.step(answer)[1], env.step((answer + 1) % 3)[1]
        (1.0, 0.0)

    Args:
        n_components: number of cues, and of action components (at least 1).
        n_values: values of each cue (at least 2).
    """

    def __init__(self, n_components: int = 2, n_values: int = 3) -> None:
        if n_components < 1 or n_values < 2:
            raise ValueError(f"MatchCues: n_components={n_components} must be >= 1 and n_values={n_values} >= 2")
        super().__init__(n_components, n_values, n_components * n_values)
        self.action_space = gym.spaces.MultiDiscrete([self.n_values] * self.n_components)

    def _obs(self) -> np.ndarray:
        obs = np.zeros((self.n_components, self.n_values), dtype=np.float32)
        obs[np.arange(self.n_components), self._cues] = 1.0
        return obs.reshape(-1)


class MatchBits(_MatchTask):
    """Copy a pattern of ``n_bits`` bits; reward 1 only when every bit is right (``MultiBinary`` actions).

    Observation ``Box(0, 1, (n_bits,))``: the pattern. Action ``MultiBinary(n_bits)``. ``info["n_correct"]`` counts
    the bits the action got right.

    Example:
        >>> env = MatchBits()
        >>> obs, _ = env.reset(seed=0)
        >>> env.step(obs.astype(np.int8))[1], env.step(np.ones(4, np.int8) - obs.astype(np.int8))[1]
        (1.0, 0.0)

    Args:
        n_bits: number of bits (at least 1).
    """

    def __init__(self, n_bits: int = 4) -> None:
        if n_bits < 1:
            raise ValueError(f"MatchBits: n_bits={n_bits} must be >= 1")
        super().__init__(n_bits, 2, n_bits)
        self.action_space = gym.spaces.MultiBinary(self.n_components)

    def _obs(self) -> np.ndarray:
        return self._cues.astype(np.float32)
