"""A grid world seen as pixels: the smallest image task on which a CNN agent (DQN on pixels) can be tested."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from porcini.envs.builtin.gridworld import GridWorld

#: 5x5 rooms with three walls on the diagonal; with ``cell_size=2`` the image is 10x10.
PIXEL_LAYOUT = (".....", ".#...", "..#..", "...#.", "....G")


class PixelGridWorld(GridWorld):
    """A :class:`GridWorld` whose observation is an RGB image of the grid instead of the cell index.

    Each cell is a ``cell_size x cell_size`` block: walls gray ``(128, 128, 128)``, the goal green
    ``(0, 255, 0)``, pits red, the agent sets the blue channel of its block to 255. The dynamics, the rewards
    and ``transition_model()`` are those of the underlying grid (states are cell indices, also in
    ``info["state"]``), so a pixel agent's values can be checked against dynamic programming. By default the
    agent starts on a random free cell, so the policy has to read the agent's position from the image.

    Example:
        >>> env = PixelGridWorld()
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((10, 10, 3), dtype('uint8'))

    Args:
        layout: rows of the grid (see :mod:`porcini.envs.builtin.gridworld`); default a 5x5 grid with walls.
        cell_size: pixels per cell side; the image is ``[rows * cell_size, cols * cell_size, 3]``.
        channels_first: return ``[3, H, W]`` (PyTorch layout) instead of ``[H, W, 3]`` (Gymnasium's).
        step_reward: reward of an ordinary move.
        terminal_rewards: reward of entering each terminal character (default ``{"G": 1.0}``).
        slip: probability that a move goes sideways.
        random_start: start on a uniformly random free cell instead of the ``S`` cells.
        gamma: the discount published as ``metadata["gamma"]``.
        render_mode: None or ``"rgb_array"`` (a larger picture, 16 pixels per cell).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        layout: Sequence[str] = PIXEL_LAYOUT,
        *,
        cell_size: int = 2,
        channels_first: bool = False,
        step_reward: float = 0.0,
        terminal_rewards: Mapping[str, float] | None = None,
        slip: float = 0.0,
        random_start: bool = True,
        gamma: float | None = 0.99,
        render_mode: str | None = None,
    ) -> None:
        if int(cell_size) != cell_size or cell_size < 1:
            raise ValueError(f"PixelGridWorld: cell_size must be a positive integer, got {cell_size}")
        super().__init__(
            layout,
            step_reward=step_reward,
            terminal_rewards={"G": 1.0} if terminal_rewards is None else terminal_rewards,
            slip=slip,
            random_start=random_start,
            gamma=gamma,
            render_mode=render_mode,
        )
        self.cell_size = int(cell_size)
        self.channels_first = bool(channels_first)
        height, width = self.n_rows * self.cell_size, self.n_cols * self.cell_size
        shape = (3, height, width) if channels_first else (height, width, 3)
        self.observation_space = gym.spaces.Box(0, 255, shape, dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Start an episode; ``info["state"]`` is the agent's cell index."""
        obs, info = super().reset(seed=seed, options=options)
        return obs, {**info, "state": self.state}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Move; the observation is the new image, ``info["state"]`` the new cell index."""
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, {**info, "state": self.state}

    def _observation(self, state: int) -> NDArray[np.uint8]:
        image = self.draw(state, self.cell_size)
        return np.ascontiguousarray(image.transpose(2, 0, 1)) if self.channels_first else image
