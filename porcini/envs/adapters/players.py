"""Fixed players of two-player turn-based games: :class:`RandomPlayer` and :class:`GreedyPlayer`.

Players are callables ``player(aec_env, agent_name) -> action`` that read the game and return a legal action of
``agent_name``, whose turn it is (see :mod:`porcini.envs.adapters.turn_based`). They are the default opponent of a
game's seats and the yardsticks a self-play learner is evaluated against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from porcini.envs.adapters.turn_based import copy_game, legal_actions_of

__all__ = ["GreedyPlayer", "RandomPlayer"]


class RandomPlayer:
    """Plays uniformly at random among the legal actions.

    Args:
        seed: seed of its generator (the seat playing it reseeds it at every reset).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int) -> None:
        """Restart the generator from ``seed``."""
        self.rng = np.random.default_rng(seed)

    def __call__(self, aec_env: Any, agent: str) -> int:
        """A uniformly drawn legal action of ``agent``."""
        return int(self.rng.choice(legal_actions_of(aec_env, agent)))


def _wins_with(aec_env: Any, agent: str, action: int) -> tuple[bool, Any]:
    """Whether ``agent`` wins at once by playing ``action`` (tried on a copy), and the copy after the move."""
    game = copy_game(aec_env)
    game._cumulative_rewards[agent] = 0
    game.step(action)
    won = bool(game.terminations.get(agent)) and float(game._cumulative_rewards.get(agent, 0.0)) > 0
    return won, game


class GreedyPlayer(RandomPlayer):
    """Wins at once when it can, else blocks the other player's immediate win, else plays at random.

    Moves are tried on a copy of the game (:func:`~porcini.envs.adapters.turn_based.copy_game`): a move wins
    when the game is over after it and the mover's reward is positive. Blocking keeps to the moves after which
    the other player has no winning reply (when some but not all moves are such); ties are broken at random.

    Args:
        seed: seed of its generator (the seat playing it reseeds it at every reset).
    """

    def __call__(self, aec_env: Any, agent: str) -> int:
        """The greedy move of ``agent`` (whose turn it is)."""
        legal = legal_actions_of(aec_env, agent)
        after = {int(a): _wins_with(aec_env, agent, int(a)) for a in legal}
        winning = [a for a, (won, _) in after.items() if won]
        if winning:
            return int(self.rng.choice(winning))
        safe = [a for a, (_, game) in after.items() if not self._opponent_can_win(game, agent)]
        if 0 < len(safe) < len(legal):
            return int(self.rng.choice(safe))
        return int(self.rng.choice(legal))

    @staticmethod
    def _opponent_can_win(game: Any, agent: str) -> bool:
        """Whether the player to move in ``game``, if not ``agent`` and the game is not over, has a winning move."""
        other = game.agent_selection
        if other == agent or not game.agents or game.terminations.get(other) or game.truncations.get(other):
            return False
        return any(_wins_with(game, other, int(b))[0] for b in legal_actions_of(game, other))
