"""A chain with holes, whose illegal moves are reported by an action mask in the observation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np


class MaskedChain(gym.Env):
    """Cross a chain of cells with holes to its far end; moves onto a hole or off the chain are illegal.

    Cells ``0 .. n_cells-1``; the episode starts in cell 0 and the goal is the last cell. Actions: 0 = back (one
    cell left), 1 = step (one cell right), 2 = leap (two cells right). A move is *legal* when it lands on a cell of
    the chain that is not a hole. The observation is a Dict (PettingZoo's classic-env convention):
    ``"observation"``, the current cell (``Discrete(n_cells)``), and ``"action_mask"``, ``Box(0, 1, (3,), int8)``
    with 1 for each legal action (all 0 in the goal, which is terminal).

    Rewards: reaching the goal gives ``+1`` and terminates; every other legal move gives ``step_reward``. An
    illegal action gives ``illegal_reward``, terminates the episode and sets ``info["illegal_action"] = True``
    (every other step has it False), so an agent that ignores the mask is punished and can be counted. With the
    default holes (cells 3 and 6 of 8) the shortest path is ``0 -> 2 -> 4 -> 5 -> 7`` (return ``0.7``); the
    registered ``porcini/MaskedChain-v0`` truncates at 50 steps.

    Example:
        >>> env = MaskedChain()
        >>> obs, info = env.reset(seed=0)
        >>> obs["observation"], obs["action_mask"].tolist()
        (0, [0, 1, 1])
        >>> obs, reward, terminated, _, info = env.step(MaskedChain.BACK)
        >>> reward, terminated, info["illegal_action"]
        (-1.0, True, True)

    Args:
        n_cells: length of the chain (at least 3).
        holes: cells that cannot be entered (neither the first nor the last cell).
        step_reward: reward of a legal move that does not reach the goal.
        illegal_reward: reward of an illegal action (which ends the episode).
    """

    BACK, STEP, LEAP = 0, 1, 2
    MOVES = (-1, 1, 2)

    def __init__(self, n_cells: int = 8, holes: Sequence[int] = (3, 6), *, step_reward: float = -0.1,
                 illegal_reward: float = -1.0) -> None:
        if n_cells < 3:
            raise ValueError(f"MaskedChain: n_cells must be at least 3, got {n_cells}")
        bad = [h for h in holes if not 0 < int(h) < n_cells - 1]
        if bad:
            raise ValueError(f"MaskedChain: holes {bad} are not inner cells of a chain of {n_cells}; use cells "
                             f"1..{n_cells - 2}")
        self.n_cells = int(n_cells)
        self.holes = frozenset(int(h) for h in holes)
        self.step_reward, self.illegal_reward = float(step_reward), float(illegal_reward)
        self.observation_space = gym.spaces.Dict({
            "observation": gym.spaces.Discrete(self.n_cells),
            "action_mask": gym.spaces.Box(0, 1, (len(self.MOVES),), np.int8),
        })
        self.action_space = gym.spaces.Discrete(len(self.MOVES))
        self.cell = 0

    def action_mask(self) -> np.ndarray:
        """The legal actions in the current cell, ``int8 [3]`` (1 = legal; none in the goal, which is terminal)."""
        if self.cell == self.n_cells - 1:
            return np.zeros(len(self.MOVES), dtype=np.int8)
        return np.array([self._lands_on_chain(self.cell + move) for move in self.MOVES], dtype=np.int8)

    def _lands_on_chain(self, cell: int) -> bool:
        return 0 <= cell < self.n_cells and cell not in self.holes

    def _obs(self) -> dict[str, Any]:
        return {"observation": self.cell, "action_mask": self.action_mask()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start in cell 0."""
        super().reset(seed=seed)
        self.cell = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Move; an illegal action ends the episode with ``illegal_reward`` and ``info["illegal_action"]``.

        Raises:
            ValueError: ``action`` is outside the action space (not an action at all, unlike an illegal one).
        """
        if not self.action_space.contains(action):
            raise ValueError(f"MaskedChain: action {action!r} is outside {self.action_space}")
        if not self.action_mask()[int(action)]:
            return self._obs(), self.illegal_reward, True, False, {"illegal_action": True}
        self.cell += self.MOVES[int(action)]
        at_goal = self.cell == self.n_cells - 1
        return self._obs(), 1.0 if at_goal else self.step_reward, at_goal, False, {"illegal_action": False}
