"""The transition model of a finite env, for planning: Gymnasium's toy-text ``P`` tables and porcini's tabular envs.

Dynamic programming (:mod:`porcini.algorithms.model_based.dynamic_programming`) takes dense arrays: ``P[s, a, s']``
transition probabilities, ``R[s, a]`` expected rewards and a ``terminal[s]`` mask. Gymnasium's toy-text envs
(FrozenLake, CliffWalking, Taxi) describe their dynamics instead as ``env.unwrapped.P``: ``P[s][a]`` is a list of
``(prob, next_state, reward, terminated)``, in which one next state may appear several times (a slippery
FrozenLake move into a wall). :func:`model_from_transitions` sums those duplicates; porcini's built-in envs give
the arrays directly (``transition_model()``). :func:`tabular_model` reads whichever an env has.

Gymnasium flags *transitions* as terminating, DP flags *states*. A state is terminal here when a terminating
transition enters it. That is exact when no episode starts in such a state and no transition from a non-terminal
state enters it without terminating (FrozenLake and CliffWalking qualify); otherwise the model gets one extra
absorbing terminal state, index ``S``, that every terminating transition enters instead (Taxi: its states with
the passenger already delivered are only ever entered by a terminating drop-off from states an episode can
reach, but its table also lists moves between them).

:class:`ModelSource` is how an agent reaches the model: ``make_env`` puts one in ``EnvInfo.model`` for every env
with Discrete observations and actions, and it reads the first env's model on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.errors import NoModelError


@dataclass(frozen=True)
class TabularModel:
    """The dense model of a finite MDP, as the dynamic-programming functions take it.

    Attributes:
        P: ``[S', A, S']`` transition probabilities; ``S' = n_states``, or ``n_states + 1`` with an absorbing state.
        R: ``[S', A]`` expected immediate rewards (terminating transitions' rewards included).
        terminal: ``[S']`` bool: states whose value is 0 and which are never left.
        n_states: the env's number of states; plans act on ``policy[:n_states]``.
    """

    P: np.ndarray
    R: np.ndarray
    terminal: np.ndarray
    n_states: int

    @property
    def has_absorbing_state(self) -> bool:
        """True when terminations are routed to an extra absorbing state (index ``n_states``)."""
        return self.P.shape[0] > self.n_states


def model_from_transitions(transitions: Mapping[int, Mapping[int, Any]], n_states: int, n_actions: int,
                           initial_probs: Any = None) -> TabularModel:
    """Turn a Gymnasium ``P`` table (``P[s][a]`` = list of ``(prob, next_state, reward, terminated)``) into arrays.

    Example:
        >>> table = {0: {0: [(0.5, 0, 0.0, False), (0.5, 0, 0.0, False)], 1: [(1.0, 1, 1.0, True)]},
        ...          1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
        >>> model = model_from_transitions(table, 2, 2)
        >>> model.P[0].tolist(), model.R.tolist(), model.terminal.tolist()
        ([[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 0.0]], [False, True])

    Args:
        transitions: the table; every state in ``[0, n_states)`` and action in ``[0, n_actions)`` must be listed.
        n_states: number of states.
        n_actions: number of actions.
        initial_probs: ``[S]`` start distribution, if known: a terminal state an episode can start in needs the
            absorbing state.

    Returns:
        The :class:`TabularModel`.

    Raises:
        ValueError: a missing state or action, a next state out of range, or probabilities that do not sum to 1.
    """
    rows = _outcome_rows(transitions, n_states, n_actions)  # [N, 6]: s, a, p, s', r, terminated
    s, a, s2 = rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 3].astype(int)
    p, r, ended = rows[:, 2], rows[:, 4], rows[:, 5].astype(bool)
    terminal = np.zeros(n_states, dtype=bool)
    terminal[s2[ended & (p > 0)]] = True
    starts_terminal = initial_probs is not None and bool(np.any(terminal & (np.asarray(initial_probs) > 0)))
    enters_without_ending = bool(np.any(terminal[s2] & ~ended & ~terminal[s] & (p > 0)))
    absorbing = starts_terminal or enters_without_ending
    size = n_states + 1 if absorbing else n_states
    if absorbing:  # terminations enter the absorbing state; the env's states stay ordinary
        s2 = np.where(ended, n_states, s2)
        terminal = np.zeros(size, dtype=bool)
        terminal[n_states] = True
    P = np.zeros((size, n_actions, size))
    R = np.zeros((size, n_actions))
    np.add.at(P, (s, a, s2), p)  # duplicate (s, a, s') outcomes add up
    np.add.at(R, (s, a), p * r)
    if absorbing:
        P[n_states, :, n_states] = 1.0
    sums = P[:n_states].sum(-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        bad_s, bad_a = np.argwhere(~np.isclose(sums, 1.0, atol=1e-6))[0]
        raise ValueError(f"P[{bad_s}][{bad_a}]: outcome probabilities sum to {sums[bad_s, bad_a]}, not 1")
    P[:n_states] /= sums[..., None]  # remove rounding (thirds) so the DP functions' strict check passes
    return TabularModel(P, R, terminal, n_states)


def _outcome_rows(transitions: Mapping[int, Mapping[int, Any]], n_states: int, n_actions: int) -> np.ndarray:
    """Every outcome of the table as a row ``(s, a, prob, next_state, reward, terminated)``, ranges checked."""
    rows = []
    for state in range(n_states):
        if state not in transitions:
            raise ValueError(f"P has no entry for state {state} (expected states 0..{n_states - 1})")
        for action in range(n_actions):
            if action not in transitions[state]:
                raise ValueError(f"P[{state}] has no entry for action {action} (expected actions 0..{n_actions - 1})")
            for outcome in transitions[state][action]:
                prob, next_state, reward, terminated = outcome[:4]
                if not 0 <= int(next_state) < n_states:
                    raise ValueError(f"P[{state}][{action}] names next state {next_state}, outside 0..{n_states - 1}")
                rows.append((state, action, float(prob), int(next_state), float(reward), bool(terminated)))
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def tabular_model(env: Any) -> TabularModel:
    """The transition model of ``env``: a Gymnasium env (wrapped or not) or a porcini vector env (its first env).

    Reads ``transition_model()`` (porcini's built-in tabular envs) or the toy-text ``P`` table of the unwrapped
    env. Wrappers are looked through: a wrapper that changes rewards or dynamics is not reflected in the model.

    Raises:
        NoModelError: the env has neither, or its spaces are not Discrete.
        ValueError: a malformed ``P`` table.
    """
    envs = getattr(getattr(env, "unwrapped", env), "envs", None)
    inner = (envs[0] if envs else env).unwrapped
    name = getattr(getattr(inner, "spec", None), "id", None) or type(inner).__name__
    obs_space, action_space = inner.observation_space, inner.action_space
    if not (isinstance(obs_space, gym.spaces.Discrete) and isinstance(action_space, gym.spaces.Discrete)):
        raise NoModelError(f"{name} has spaces {obs_space} and {action_space}; a tabular model needs Discrete "
                           "observations and actions")
    if getattr(inner, "fickle_passenger", False):  # Taxi's step then changes the destination behind P's back
        raise NoModelError(f"{name} with fickle_passenger=True does not follow its P table; use the default "
                           "fickle_passenger=False to plan")
    n_states, n_actions = int(obs_space.n), int(action_space.n)
    if callable(getattr(inner, "transition_model", None)):
        P, R, terminal = inner.transition_model()
        return TabularModel(np.asarray(P, dtype=np.float64), np.asarray(R, dtype=np.float64),
                            np.asarray(terminal, dtype=bool), n_states)
    table = getattr(inner, "P", None)
    if not isinstance(table, Mapping):
        raise NoModelError(
            f"{name} has no transition model: planning needs the env's dynamics as a toy-text P table "
            "(env.unwrapped.P[s][a] = [(prob, next_state, reward, terminated), ...]) or a transition_model() "
            "method returning (P, R, terminal)"
        )
    return model_from_transitions(table, n_states, n_actions, getattr(inner, "initial_state_distrib", None))


class ModelSource:
    """An env's :class:`TabularModel`, read from an env built on first use and then kept.

    Args:
        make_env: returns the env (or vector env) to read the model of; called at most once.
        env_id: the env's name, for messages.
    """

    def __init__(self, make_env: Callable[[], Any], env_id: str = "env") -> None:
        self._make_env, self.env_id = make_env, env_id
        self._model: TabularModel | None = None

    def get(self) -> TabularModel:
        """The model (read once).

        Raises:
            NoModelError: the env has no transition model.
        """
        if self._model is None:
            self._model = tabular_model(self._make_env())
        return self._model


def model_source(env: Any, env_id: str = "env") -> ModelSource | None:
    """A :class:`ModelSource` for a vector env with Discrete observations and actions, else None.

    Its first env lends the model; a vector env whose envs live in subprocesses lends that of a local copy built
    from its first env factory. Whether the env has a model at all is found out on first use.
    """
    spaces = (getattr(env, "single_observation_space", None), getattr(env, "single_action_space", None))
    if not all(isinstance(space, gym.spaces.Discrete) for space in spaces):
        return None
    inner = getattr(env, "unwrapped", env)
    envs = getattr(inner, "envs", None)
    if envs:
        first = envs[0]
        return ModelSource(lambda: first, env_id)
    factories = getattr(inner, "env_fns", None)
    if factories:
        factory = factories[0]
        return ModelSource(factory, env_id)
    return ModelSource(lambda: inner, env_id)
