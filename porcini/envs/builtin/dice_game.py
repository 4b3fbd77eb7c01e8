r"""The dice game: quit for a sure $5, or take $3 and roll a die that may end the game.

Each round the player chooses to quit, receiving ``quit_reward`` ($5) and ending the game, or to continue,
receiving ``continue_reward`` ($3) and rolling a fair die with ``n_faces`` (6) faces: the faces
``1 .. losing_faces`` (1 and 2) end the game, the others start a new round.

Closed form. Write :math:`q` for the quit reward, :math:`c` for the continue reward and
:math:`p_{\text{end}} = \text{losing\_faces} / \text{n\_faces}` (1/3). Continuing forever is worth

.. math::  V_c = c + \gamma (1 - p_{\text{end}}) V_c
           \quad\Rightarrow\quad V_c = \frac{c}{1 - \gamma (1 - p_{\text{end}})}

and the optimal value of the "in game" state is :math:`V^* = \max(q, V_c)` (a stationary optimal policy
either always quits or always continues). With the default numbers, :math:`V_c = 3 / (1 - 2\gamma/3)`:
at :math:`\gamma = 1`, :math:`V_c = 3 + \tfrac{2}{3} V_c = 9 > 5`, so always continuing is optimal with
value 9; continuing beats quitting exactly when :math:`\gamma > 3/5`.
"""

from __future__ import annotations

import numpy as np

from porcini.envs.builtin.tabular import TabularEnv, dense_to_outcomes


class DiceGame(TabularEnv):
    """The dice game MDP (see the module docstring for the rules and the closed-form value).

    Observations: 0 in the game, 1 game over (terminal). Actions: 0 quit, 1 continue. Undiscounted by
    default (``metadata["gamma"] = 1``); an always-continue episode lasts ``1 / p_end`` = 3 rounds on average.

    Example:
        >>> env = DiceGame()
        >>> _ = env.reset(seed=0)
        >>> env.step(DiceGame.QUIT)
        (1, 5.0, True, False, {})
        >>> DiceGame().optimal_value(gamma=1.0)
        9.0

    Args:
        quit_reward: reward of quitting (ends the game).
        continue_reward: reward of continuing (paid before the roll).
        n_faces: faces of the die.
        losing_faces: how many faces end the game (1 .. n_faces).
        gamma: the discount published as ``metadata["gamma"]``.
    """

    QUIT = 0
    CONTINUE = 1
    IN_GAME = 0
    GAME_OVER = 1

    def __init__(
        self,
        *,
        quit_reward: float = 5.0,
        continue_reward: float = 3.0,
        n_faces: int = 6,
        losing_faces: int = 2,
        gamma: float | None = 1.0,
    ) -> None:
        if not 1 <= losing_faces <= n_faces:
            raise ValueError(f"DiceGame: losing_faces must lie in [1, n_faces={n_faces}], got {losing_faces}")
        self.quit_reward, self.continue_reward = float(quit_reward), float(continue_reward)
        self.n_faces, self.losing_faces = int(n_faces), int(losing_faces)
        self.end_probability = losing_faces / n_faces
        P = np.zeros((2, 2, 2))
        R = np.zeros((2, 2))
        P[self.IN_GAME, self.QUIT, self.GAME_OVER] = 1.0
        P[self.IN_GAME, self.CONTINUE, self.GAME_OVER] = self.end_probability
        P[self.IN_GAME, self.CONTINUE, self.IN_GAME] = 1.0 - self.end_probability
        P[self.GAME_OVER, :, self.GAME_OVER] = 1.0
        R[self.IN_GAME] = self.quit_reward, self.continue_reward
        terminal = np.array([False, True])
        super().__init__(*dense_to_outcomes(P, R), terminal=terminal, gamma=gamma)

    def optimal_value(self, gamma: float = 1.0) -> float:
        """Return the closed-form optimal value of the in-game state: ``max(q, c / (1 - gamma (1 - p_end)))``.

        Args:
            gamma: the discount.

        Returns:
            The optimal value; 9 for the default game at ``gamma=1``.
        """
        # c / (1 - gamma (1 - p_end)) as c n / (n - gamma (n - losing)): exact in floating point at gamma = 1.
        n, losing = self.n_faces, self.losing_faces
        continue_forever = self.continue_reward * n / (n - gamma * (n - losing))
        return max(self.quit_reward, continue_forever)
