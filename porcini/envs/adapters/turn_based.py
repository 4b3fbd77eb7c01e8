"""One seat of a two-player turn-based PettingZoo AEC game as a ``gymnasium.Env``; the other seat is an opponent.

:class:`TurnBasedSeat` turns a two-player zero-sum AEC game (``pettingzoo.classic.tictactoe_v3.env()``,
``connect_four_v3.env()``) into a single-agent env for the learner's seat. The opponent moves inside ``reset``
and ``step``, so one ``step`` is the learner's move followed by the opponent's replies until it is the learner's
turn again or the game is over. The learner's seat is drawn from the env's ``np_random`` at every reset, so one
policy learns to play first and second (and a replayed reset lands in the same seat); the game's observation is
relative to the player who observes it, so the same policy plays both seats.

Opponents are *players*: callables ``player(aec_env, agent_name) -> action`` that read the game (``observe``,
or a :func:`copy_game` of it to look ahead) and return a legal action. A player with randomness exposes
``reseed(seed)``; the seat reseeds its opponent at every reset from its own ``np_random``, so a seeded seat
repeats exactly. An *opponent source* (anything with ``draw(rng) -> player``, e.g. a self-play opponent pool)
gives a new opponent for every episode, drawn with the seat's ``np_random``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from porcini.errors import EnvCheckError

Player = Callable[[Any, str], Any]
"""An opponent: ``player(aec_env, agent_name) -> action``, a legal action of ``agent_name``, whose turn it is."""


@runtime_checkable
class OpponentSource(Protocol):
    """Draws the opponent of each episode (a self-play opponent pool, a curriculum)."""

    def draw(self, rng: np.random.Generator) -> Player:
        """The opponent of the next episode, drawn with ``rng`` (the seat's ``np_random``)."""
        ...


def legal_actions_of(aec_env: Any, agent: str) -> np.ndarray:
    """The legal actions of ``agent`` in an AEC game whose observations carry an ``"action_mask"`` (sorted ints)."""
    return np.flatnonzero(np.asarray(aec_env.observe(agent)["action_mask"]))


def copy_game(aec_env: Any) -> Any:
    """An independent copy of an AEC game in its current state, its wrappers included (to try moves on).

    ``copy.deepcopy`` alone is not enough for PettingZoo's games: they are ``EzPickle`` objects, whose copy is a
    *new* game built from the constructor's arguments. Here every object of the wrapper chain (``.env``) is
    copied attribute by attribute instead. Spaces (and dicts of them) are shared: they do not change in a game.
    """
    clone = object.__new__(type(aec_env))
    state = dict(vars(aec_env))
    inner = state.pop("env", None)
    shared = {id(v): v for v in state.values() if isinstance(v, gym.spaces.Space) or (
        isinstance(v, dict) and v and all(isinstance(s, gym.spaces.Space) for s in v.values()))}
    state = copy.deepcopy(state, shared)
    if inner is not None:
        state["env"] = copy_game(inner)
    vars(clone).update(state)
    return clone


class TurnBasedSeat(gym.Env):
    """The learner's seat of a two-player turn-based AEC game; ``opponent`` plays the other seat.

    The observation is the game's own observation of the learner's seat (for PettingZoo's classic games a Dict of
    ``"observation"`` and ``"action_mask"``) and the action space is the seat's. The reward of a step is the
    learner's reward accumulated since its previous move (AEC ``_cumulative_rewards``), read when the learner is
    to move again or the game is over, so the loser's penalty, which the game assigns on the winner's move, reaches
    the learner whichever seat ends the game. ``terminated``/``truncated`` are the learner's in the game; an agent
    the game removes without either ends the episode truncated. ``info["seat"]`` is the learner's seat index.

    Args:
        env: the AEC game (``possible_agents`` of exactly two agents with the same spaces).
        opponent: a player ``(aec_env, agent_name) -> action``, or an :class:`OpponentSource` drawn from at
            every reset.
        seat: the learner's agent name for every episode (settable between episodes); None draws it at every reset.

    Raises:
        ValueError: the game has other than two agents, their spaces differ, or ``seat`` is not one of them.

    Example:
        >>> from pettingzoo.classic import tictactoe_v3  # doctest: +SKIP
        >>> def first_legal(env, agent):  # doctest: +SKIP
        ...     return legal_actions_of(env, agent)[0]
        >>> seat = TurnBasedSeat(tictactoe_v3.env(), first_legal)  # doctest: +SKIP
        >>> obs, info = seat.reset(seed=0)  # doctest: +SKIP
    """

    def __init__(self, env: Any, opponent: Player | OpponentSource, seat: str | None = None) -> None:
        agents = list(getattr(env, "possible_agents", []))
        name = (getattr(env, "metadata", None) or {}).get("name", type(env).__name__)
        if len(agents) != 2:
            raise ValueError(f"TurnBasedSeat needs a two-player game; {name} has {len(agents)} agents {agents}")
        if seat is not None and seat not in agents:
            raise ValueError(f"seat {seat!r} is not an agent of {name}; choose one of {agents} or None to draw it")
        a, b = agents
        if env.observation_space(a) != env.observation_space(b) or env.action_space(a) != env.action_space(b):
            raise ValueError(f"the two seats of {name} have different spaces; one policy cannot play both")
        self.aec_env, self.opponent_source, self.agents, self.name = env, opponent, agents, name
        self.observation_space = env.observation_space(a)
        self.action_space = env.action_space(a)
        self.metadata = dict(getattr(env, "metadata", {}) or {})
        self.render_mode = getattr(env, "render_mode", None)
        self.fixed_seat = seat
        self.seat: str | None = None
        self.opponent: Player | None = None
        self._obs: Any = None
        self._moves = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start a game (seeded from ``np_random``), draw the opponent and let it move first when it has the first seat.

        Raises:
            EnvCheckError: the game ended before the learner's first move, or the opponent chose an illegal action.
        """
        super().reset(seed=seed)
        drawn = self.agents[int(self.np_random.integers(2))]  # drawn even when fixed: the same stream either way
        self.seat = self.fixed_seat or drawn
        self.aec_env.reset(seed=int(self.np_random.integers(2**31 - 1)), options=options)
        source = self.opponent_source
        self.opponent = source.draw(self.np_random) if isinstance(source, OpponentSource) else source
        reseed = getattr(self.opponent, "reseed", None)
        if reseed is not None:
            reseed(int(self.np_random.integers(2**31 - 1)))
        self._moves = 0
        self._play_opponent()
        if self._game_over():
            raise EnvCheckError(f"{self.name} ended before {self.seat}'s first move; a seat needs at least one move")
        self._obs = self.aec_env.observe(self.seat)
        return self._obs, self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Play the learner's ``action``, then the opponent's moves until the learner is to move or the game ends.

        Raises:
            EnvCheckError: ``step`` before ``reset`` or after the game ended, an illegal learner action (the message
                names the legal ones), or an illegal opponent action.
        """
        if self.seat is None or self._game_over():
            when = "before reset" if self.seat is None else "after the game ended"
            raise EnvCheckError(f"{self.name}: step called {when}; call reset first")
        env, seat = self.aec_env, self.seat
        self._check_legal(action, seat, "the learner")
        # The learner's reward is what accumulates from its move to its next turn; PettingZoo's classic games do
        # not clear it themselves (they reward only at the end), so clearing it here keeps the sum per move.
        env._cumulative_rewards[seat] = 0
        env.step(int(action))
        self._moves += 1
        self._play_opponent()
        reward = float(env._cumulative_rewards.get(seat, 0.0))
        terminated = bool(env.terminations.get(seat, False))
        truncated = not terminated and (bool(env.truncations.get(seat, False)) or seat not in env.agents)
        self._obs = env.observe(seat)
        return self._obs, reward, terminated, truncated, self._info()

    def _play_opponent(self) -> None:
        """Step the game for the opponent (dead-agent steps included) until the learner is to move or it is over."""
        env = self.aec_env
        while not self._game_over() and env.agent_selection != self.seat:
            other = env.agent_selection
            if env.terminations[other] or env.truncations[other]:
                env.step(None)  # PettingZoo removes a finished agent by stepping it with None
                continue
            assert self.opponent is not None
            action = self.opponent(env, other)
            self._check_legal(action, other, f"the opponent {self.opponent!r}")
            env.step(int(action))

    def _game_over(self) -> bool:
        """Whether the learner's game has ended (its seat terminated, truncated, or removed)."""
        env, seat = self.aec_env, self.seat
        return seat not in env.agents or bool(env.terminations.get(seat) or env.truncations.get(seat))

    def _check_legal(self, action: Any, agent: str, who: str) -> None:
        """Raise EnvCheckError naming ``action`` and the legal ones unless ``agent`` may play it now."""
        legal = legal_actions_of(self.aec_env, agent)
        try:
            ok = int(action) in legal and int(action) == action
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise EnvCheckError(f"{who} chose action {action!r} as {agent} of {self.name} after {self._moves} learner "
                                f"moves, which is illegal; the legal actions are {legal.tolist()} (act from the "
                                "observation's action_mask)")

    def _info(self) -> dict[str, Any]:
        assert self.seat is not None
        return {"seat": self.agents.index(self.seat)}

    def render(self) -> Any:
        """Render the game."""
        return self.aec_env.render()

    def close(self) -> None:
        """Close the game."""
        self.aec_env.close()
