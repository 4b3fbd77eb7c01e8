"""Two-player turn-based games as single-agent vector envs: one learner seat per env, one shared opponent source.

``make_env`` sends a factory of a two-player turn-based PettingZoo AEC game (``pettingzoo.classic.tictactoe_v3:env``,
``connect_four_v3:env``) here: each env of the vector env is a :class:`~porcini.envs.adapters.turn_based.
TurnBasedSeat` of its own game, and every seat draws the opponent of each episode from one
:class:`SeatOpponents`, which ``env.info.opponents`` exposes. Its source starts as a uniformly random player, so
any agent with masked actions can train against it; a self-play learner points it at its own pool of past
versions (``info.opponents.source = pool``). The seats live in this process (``vectorization`` sync) so that the
source is shared.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from porcini.envs.adapters.players import RandomPlayer
from porcini.envs.adapters.turn_based import OpponentSource, Player, TurnBasedSeat
from porcini.errors import ConfigError

__all__ = ["FixedOpponent", "SeatOpponents", "is_two_player_turn_based", "make_seat_env"]


def is_two_player_turn_based(env: Any) -> bool:
    """Whether ``env`` is a PettingZoo AEC game of two players that move in turn (no parallel form)."""
    from pettingzoo import AECEnv

    return (isinstance(env, AECEnv) and len(getattr(env, "possible_agents", ())) == 2
            and not (getattr(env, "metadata", None) or {}).get("is_parallelizable", False))


class FixedOpponent:
    """An opponent source that gives a new player of one kind every episode, e.g. ``FixedOpponent(RandomPlayer)``.

    A new object per episode keeps each seat's opponent randomness its own (the seat reseeds it at every reset).
    """

    def __init__(self, make_player: Callable[[], Player]) -> None:
        self.make_player = make_player

    def draw(self, rng: Any) -> Player:
        """A new player (``rng`` is not used)."""
        return self.make_player()

    def __repr__(self) -> str:
        return f"FixedOpponent({getattr(self.make_player, '__name__', self.make_player)!r})"


class SeatOpponents:
    """The opponent source of every seat of one vector env, replaceable while the env runs.

    Seats built by :meth:`seat` are numbered in the order they are built (their env index), and each draw passes
    that number to a source whose ``draw`` accepts ``seat`` (a self-play pool, which remembers every seat's
    opponent for exact resume).

    Args:
        game_fn: builds one AEC game (the env's factory with its arguments bound).
        source: where opponents come from; default a new :class:`~porcini.envs.adapters.players.RandomPlayer`
            every episode.

    Attributes:
        game_fn: as given; also what a learner's evaluation games are played on.
        source: the current opponent source (anything with ``draw(rng)``); assign to replace it.
    """

    def __init__(self, game_fn: Callable[[], Any], source: OpponentSource | None = None) -> None:
        self.game_fn = game_fn
        self.source: OpponentSource = source if source is not None else FixedOpponent(RandomPlayer)
        self.n_seats = 0

    def seat(self) -> TurnBasedSeat:
        """A new seat of a new game, numbered after the seats built before it."""
        index, self.n_seats = self.n_seats, self.n_seats + 1
        return TurnBasedSeat(self.game_fn(), _NumberedSource(self, index))

    def draw(self, rng: Any, seat: int) -> Player:
        """The opponent of seat ``seat``'s next episode, from the current source."""
        source = self.source
        if not isinstance(source, OpponentSource):
            raise TypeError(f"the seats' opponent source {source!r} has no draw(rng); wrap a player as "
                            "FixedOpponent(lambda: player) or give an opponent pool")
        if "seat" in inspect.signature(source.draw).parameters:
            return source.draw(rng, seat=seat)  # type: ignore[call-arg]
        return source.draw(rng)


class _NumberedSource:
    """What one seat sees as its opponent source: the shared :class:`SeatOpponents`, with the seat's number."""

    def __init__(self, opponents: SeatOpponents, index: int) -> None:
        self.opponents, self.index = opponents, index

    def draw(self, rng: Any) -> Player:
        return self.opponents.draw(rng, self.index)

    def __repr__(self) -> str:
        return f"seat {self.index} of {self.opponents.source!r}"


def make_seat_env(game: Callable[..., Any], n_envs: int, seed: int | None, *, name: str,
                  wrappers: Sequence[Any] = (), vectorization: str = "auto", check: bool = True,
                  max_episode_steps: int | None = None, env_kwargs: dict[str, Any] | None = None) -> Any:
    """``n_envs`` seats of the two-player game ``game(**env_kwargs)`` builds, as ``make_env`` returns envs.

    ``env.info.opponents`` is the seats' :class:`SeatOpponents`; ``env.spawn`` builds seats with their own (an
    evaluation env keeps the random opponent whatever the training env's source becomes).

    Raises:
        ConfigError: ``vectorization`` other than ``auto`` or ``sync`` (the seats share an object in this process).
    """
    from porcini.envs.make import attach, env_factory, seed_vector_env, split_wrappers, wrapped_factory
    from porcini.envs.vector import SerialVectorEnv  # make_env dispatches here: imported when used

    if vectorization not in ("auto", "sync"):
        raise ConfigError(f"{name} is a two-player turn-based game whose seats share one opponent source in this "
                          "process: set vectorization (env.vectorization) to auto or sync")
    kwargs = dict(env_kwargs or {})
    opponents = SeatOpponents(lambda: game(**kwargs))
    per_env, vector_wrappers = split_wrappers(wrappers)
    # built here rather than through make_env, which would build a seat to look at it: seat i is env index i
    factory = wrapped_factory(env_factory(opponents.seat, {}, max_episode_steps), per_env)
    venv: Any = SerialVectorEnv([factory] * n_envs, env_id=name, check=check)
    for wrapper in vector_wrappers:
        venv = wrapper(venv)
    seed_vector_env(venv, seed)

    def spawn(n: int, s: int | None) -> Any:
        return make_seat_env(game, n, s, name=name, wrappers=wrappers, check=check,
                             max_episode_steps=max_episode_steps, env_kwargs=kwargs)

    attach(venv, name, spawn, horizon=max_episode_steps)
    venv.info = dataclasses.replace(venv.info, opponents=opponents)
    return venv
