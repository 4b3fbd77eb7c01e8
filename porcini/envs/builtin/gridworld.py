"""Grid worlds drawn as text: walls, start cells, goals and pits with rewards, a cliff, a slip probability.

A layout is a list of equal-length strings, one per row:

====  ===========================================================================================
Char  Cell
====  ===========================================================================================
``.`` free
``S`` start (the episode starts on one of the ``S`` cells, uniformly)
``#`` wall (moving into it, or off the grid, leaves the agent in place)
``C`` cliff: entering it gives ``cliff_reward`` and sends the agent back to a start cell (not terminal)
other a terminal cell; its reward is ``terminal_rewards[char]`` (default ``{"G": 1.0, "X": -1.0}``:
      ``G`` goal, ``X`` pit). Give several characters to have several goals with different rewards.
====  ===========================================================================================

The reward of a move is the reward of the cell it enters when that cell is terminal or a cliff, and
``step_reward`` otherwise (so the cliff-walking goal reward is -1, one more step). With probability ``slip``
the move goes sideways instead (``slip / 2`` to each perpendicular direction, as in Russell & Norvig's 4x3
world). Observations are cell indices ``row * n_cols + col`` (walls included, never visited); actions are
0 up, 1 right, 2 down, 3 left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from porcini.envs.builtin.tabular import TabularEnv

FREE, START, WALL, CLIFF = ".", "S", "#", "C"
ACTION_NAMES = ("up", "right", "down", "left")
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))

#: Russell & Norvig's 4x3 world (AIMA, Fig. 17.1): -0.04 per step, +1 goal, -1 pit, 0.8 intended move.
RUSSELL_NORVIG_LAYOUT = ("...G", ".#.X", "S...")
#: Sutton & Barto, Example 6.6: start bottom left, goal bottom right, the cliff between them.
CLIFF_WALKING_LAYOUT = ("............", "............", "............", "SCCCCCCCCCCG")
#: Sutton & Barto, Example 8.1 (Figure 8.2): the Dyna maze, start on the left, goal top right, three walls.
DYNA_MAZE_LAYOUT = (".......#G", "..#....#.", "S.#....#.", "..#......", ".....#...", ".........")

_WALL_RGB = (128, 128, 128)
_GOAL_RGB = (0, 255, 0)
_PIT_RGB = (255, 0, 0)
_CLIFF_RGB = (128, 0, 0)


class GridWorld(TabularEnv):
    """A grid world with a configurable layout; see the module docstring for the layout characters.

    Example:
        >>> env = GridWorld(["S.#", "..G"], step_reward=-1.0, slip=0.0)
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(2)    # down
        >>> obs, reward, terminated
        (3, -1.0, False)

    Args:
        layout: rows of the grid (default: Russell & Norvig's 4x3 world).
        step_reward: reward of a move into a free or start cell (also of bumping into a wall).
        terminal_rewards: reward of entering each terminal character (default ``{"G": 1.0, "X": -1.0}``).
        cliff_reward: reward of entering a ``C`` cell, after which the agent is back on a start cell.
        slip: probability that a move goes to one of the two perpendicular directions instead.
        random_start: start on any free non-terminal cell (uniformly) instead of the ``S`` cells.
        gamma: the task's discount, published as ``metadata["gamma"]``.
        render_mode: None, ``"ansi"`` (text) or ``"rgb_array"``.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        layout: Sequence[str] = RUSSELL_NORVIG_LAYOUT,
        *,
        step_reward: float = -0.04,
        terminal_rewards: Mapping[str, float] | None = None,
        cliff_reward: float = -100.0,
        slip: float = 0.2,
        random_start: bool = False,
        gamma: float | None = 1.0,
        render_mode: str | None = None,
    ) -> None:
        name = type(self).__name__
        self.terminal_rewards = dict({"G": 1.0, "X": -1.0} if terminal_rewards is None else terminal_rewards)
        self.grid = _parse_layout(layout, self.terminal_rewards, name)
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"{name}: slip is a probability in [0, 1], got {slip}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"{name}: render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.n_rows, self.n_cols = self.grid.shape
        self.step_reward, self.cliff_reward, self.slip = float(step_reward), float(cliff_reward), float(slip)
        self.render_mode = render_mode
        self._backgrounds: dict[int, NDArray[np.uint8]] = {}

        cells = self.grid.ravel()
        terminal = np.isin(cells, list(self.terminal_rewards))
        start_mask = (cells == START) | ((cells == FREE) & random_start)
        if not start_mask.any():
            raise ValueError(f"{name}: the layout has no start cell; mark one with 'S' (or pass random_start=True)")
        initial = start_mask / start_mask.sum()
        table = self._outcome_table(initial)
        super().__init__(*table, terminal=terminal, initial_probs=initial, gamma=gamma)

    def cell_index(self, row: int, col: int) -> int:
        """Return the observation (state index) of the cell at ``(row, col)``."""
        return row * self.n_cols + col

    def cell_position(self, state: int) -> tuple[int, int]:
        """Return the ``(row, col)`` of a state index."""
        row, col = divmod(int(state), self.n_cols)
        return row, col

    def _target(self, state: int, direction: int) -> int:
        row, col = self.cell_position(state)
        d_row, d_col = _MOVES[direction]
        row2, col2 = row + d_row, col + d_col
        if not (0 <= row2 < self.n_rows and 0 <= col2 < self.n_cols) or self.grid[row2, col2] == WALL:
            return state
        return self.cell_index(row2, col2)

    def _outcome_table(
        self, initial: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        """Build the padded ``[S, A, K]`` outcome table (probability, next state, reward)."""
        cells = self.grid.ravel()
        starts = np.flatnonzero(initial)
        outcomes: list[list[list[tuple[float, int, float]]]] = []
        for s, cell in enumerate(cells):
            if cell == WALL or cell in self.terminal_rewards:
                # Never stepped from; absorbing with reward 0 keeps dynamic programming exact.
                outcomes.append([[(1.0, s, 0.0)] for _ in _MOVES])
                continue
            per_action = []
            for a in range(len(_MOVES)):
                row: list[tuple[float, int, float]] = []
                for direction, p in (
                    (a, 1.0 - self.slip),
                    ((a + 1) % 4, self.slip / 2),
                    ((a + 3) % 4, self.slip / 2),
                ):
                    if p == 0.0:
                        continue
                    target = self._target(s, direction)
                    if cells[target] == CLIFF:
                        row.extend((p * initial[start], int(start), self.cliff_reward) for start in starts)
                    elif cells[target] in self.terminal_rewards:
                        row.append((p, target, float(self.terminal_rewards[cells[target]])))
                    else:
                        row.append((p, target, self.step_reward))
                per_action.append(row)
            outcomes.append(per_action)
        n_outcomes = max(len(row) for per_action in outcomes for row in per_action)
        shape = (len(cells), len(_MOVES), n_outcomes)
        probs, states, rewards = np.zeros(shape), np.zeros(shape, dtype=np.int64), np.zeros(shape)
        for s, per_action in enumerate(outcomes):
            for a, row in enumerate(per_action):
                states[s, a, :] = s
                for k, (p, target, reward) in enumerate(row):
                    probs[s, a, k], states[s, a, k], rewards[s, a, k] = p, target, reward
        return probs, states, rewards

    def draw(self, state: int, cell_size: int) -> NDArray[np.uint8]:
        """Draw the grid with the agent in ``state``: uint8 RGB ``[rows * cell_size, cols * cell_size, 3]``.

        Walls are gray, goals (positive terminal reward) green, other terminal cells red, the cliff dark red;
        the agent sets the blue channel of its cell to 255 (so an agent on the goal is cyan).
        """
        if cell_size not in self._backgrounds:
            self._backgrounds[cell_size] = np.repeat(np.repeat(self._cell_colors(), cell_size, 0), cell_size, 1)
        image = self._backgrounds[cell_size].copy()
        row, col = self.cell_position(state)
        image[row * cell_size : (row + 1) * cell_size, col * cell_size : (col + 1) * cell_size, 2] = 255
        return image

    def _cell_colors(self) -> NDArray[np.uint8]:
        colors = np.zeros((self.n_rows, self.n_cols, 3), dtype=np.uint8)
        colors[self.grid == WALL] = _WALL_RGB
        colors[self.grid == CLIFF] = _CLIFF_RGB
        for char, reward in self.terminal_rewards.items():
            colors[self.grid == char] = _GOAL_RGB if reward > 0 else _PIT_RGB
        return colors

    def render(self) -> str | NDArray[np.uint8] | None:
        """Render the grid: text with ``A`` for the agent (``"ansi"``) or an RGB array (``"rgb_array"``)."""
        if self.render_mode is None or self._state is None:
            return None
        if self.render_mode == "rgb_array":
            return self.draw(self._state, cell_size=16)
        rows = [list(row) for row in self.grid]
        row, col = self.cell_position(self._state)
        rows[row][col] = "A"
        return "\n".join("".join(r) for r in rows) + "\n"


class CliffWalking(GridWorld):
    """Cliff walking, Sutton & Barto (2018), Example 6.6.

    A 4x12 grid: start bottom left (state 36), goal bottom right (state 47), the cliff between them. Every
    move gives -1, stepping into the cliff gives -100 and puts the agent back on the start (the episode goes
    on); entering the goal gives -1 and terminates. Undiscounted (``metadata["gamma"] = 1``); the optimal
    path runs along the cliff edge, 13 moves, return -13. Q-learning learns that path; Sarsa with
    epsilon-greedy exploration learns the safer one further up.

    Args:
        slip: probability of a sideways move (0 in the book).
        render_mode: None, ``"ansi"`` or ``"rgb_array"``.
    """

    def __init__(self, *, slip: float = 0.0, render_mode: str | None = None) -> None:
        super().__init__(
            CLIFF_WALKING_LAYOUT,
            step_reward=-1.0,
            terminal_rewards={"G": -1.0},
            cliff_reward=-100.0,
            slip=slip,
            gamma=1.0,
            render_mode=render_mode,
        )


class DynaMaze(GridWorld):
    """The Dyna maze, Sutton & Barto (2018), Example 8.1 (Figure 8.2).

    A 6x9 grid with walls; start on the left (row 2, state 18), goal top right (state 8). Every move gives 0,
    entering the goal gives +1 and terminates; deterministic moves; discount 0.95 (``metadata["gamma"]``). The
    shortest path takes 14 moves. Dyna-Q with 50 planning steps finds it by its third episode, Q-learning (no
    planning) takes about 25.

    Args:
        render_mode: None, ``"ansi"`` or ``"rgb_array"``.
    """

    def __init__(self, *, render_mode: str | None = None) -> None:
        super().__init__(DYNA_MAZE_LAYOUT, step_reward=0.0, terminal_rewards={"G": 1.0}, slip=0.0, gamma=0.95,
                         render_mode=render_mode)


def _parse_layout(layout: Sequence[str], terminal_rewards: Mapping[str, float], name: str) -> NDArray[np.str_]:
    """Check a layout and return it as a ``[rows, cols]`` array of characters."""
    if isinstance(layout, str) or len(layout) == 0:
        raise ValueError(f"{name}: layout must be a non-empty list of strings (one per row), got {layout!r}")
    widths = {len(row) for row in layout}
    if len(widths) != 1 or 0 in widths:
        raise ValueError(f"{name}: layout rows must be non-empty and of equal length, got lengths {sorted(widths)}")
    reserved = {FREE, START, WALL, CLIFF}
    for char in terminal_rewards:
        if len(char) != 1 or char in reserved:
            raise ValueError(
                f"{name}: terminal_rewards keys must be single characters not in {sorted(reserved)}; got {char!r}"
            )
    allowed = reserved | set(terminal_rewards)
    unknown = sorted({char for row in layout for char in row} - allowed)
    if unknown:
        raise ValueError(
            f"{name}: layout has unknown characters {unknown}; use {sorted(allowed)} or add terminal cells "
            "to terminal_rewards"
        )
    return np.array([list(row) for row in layout])
