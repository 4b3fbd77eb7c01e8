"""Evaluation episodes: run an agent without learning for a fixed number of episodes and record them.

``Core.evaluate`` calls :func:`run_episodes` on its eval env; it is also usable on its own, for any agent and any
vector env with same-step autoreset.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.core.agent import Agent, BaseAgent
from porcini.core.records import EpisodeRecord
from porcini.core.rollout import info_value
from porcini.core.state import LoopState
from porcini.core.stepper import env_id_of, env_reset, env_step


def episode_quotas(n_episodes: int, n_envs: int) -> np.ndarray:
    """Episodes each env runs: ``n // B`` each, the first ``n % B`` envs one more.

    Fixing the quotas up front keeps short episodes from crowding out long ones, the bias of counting the
    first ``n`` episodes to finish.

    Raises:
        ValueError: ``n_episodes < 1``.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes = {n_episodes} is invalid: must be >= 1")
    quota = np.full(n_envs, n_episodes // n_envs)
    quota[: n_episodes % n_envs] += 1
    return quota


def agent_balanced(episodes: int, env: Any) -> int:
    """``episodes`` rounded up to a multiple of the agents of a multi-agent ``env``; for other envs ``episodes``.

    Row ``i`` of a multi-agent env holds agent ``i % n_agents`` and :func:`episode_quotas` fills the rows in order,
    so a multiple of ``n_agents`` gives every agent the same number of episodes (at least one): otherwise the first
    agents get more, the mean return leans toward them and an agent left without an episode has no mean at all.
    """
    n_agents = len(getattr(getattr(env, "info", None), "agents", ()) or ())
    return -(-episodes // n_agents) * n_agents if n_agents else episodes


def run_episodes(agent: Agent, env: Any, episodes: int, *, explore: bool = False,
                 seed: int | None = None, info_keys: Sequence[str] = ()) -> EpisodeRecord:
    """Run ``episodes`` complete episodes of ``agent`` in ``env`` (nothing is fitted) and return them.

    Args:
        agent: acts with ``explore``.
        env: a vector env; it is reset (with ``seed``) first, so episodes in progress there are cut.
            A recurrent agent's training state is set aside meanwhile (see :class:`~porcini.core.Agent`).
        episodes: episodes to record, split over the envs by :func:`episode_quotas`; in a multi-agent env (its
            ``info.agents``), rounded up to a multiple of the agents so every agent gets as many
            (:func:`agent_balanced`).
        explore: exploring actions rather than greedy / mean ones (the usual evaluation). The agent's
            ``exploration_state`` (its generators, ε clock), if it has one, is put back after: evaluating does not
            change training.
        seed: reset seed, for the same start states at every evaluation; None continues the env's stream.
        info_keys: numeric ``info`` keys summed over each episode into ``record.info_sums`` (e.g. ``"cost"``).

    Raises:
        ValueError: ``episodes < 1`` (there would be nothing to record), or ``env`` normalizes with statistics it
            updates, or scales rewards (see :func:`check_evaluation_env`).
        EnvCheckError: the env reports none of a key of ``info_keys`` at a step.

    Example:
        >>> from porcini import make_env
        >>> from porcini.algorithms.random import RandomAgent
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> len(run_episodes(RandomAgent(env.info), env, 3, seed=0).returns)
        3
    """
    if episodes < 1:  # before episode_quotas, whose message names its own argument
        raise ValueError(f"episodes = {episodes!r} is invalid: must be >= 1")
    check_evaluation_env(env)
    n_envs = int(env.num_envs)
    quota = episode_quotas(agent_balanced(episodes, env), n_envs)
    recurrent = carries_state(agent)
    training_state = agent.recurrent_state() if recurrent else None  # type: ignore[attr-defined]
    if recurrent:  # the evaluation's episodes start from a fresh state; the training state is put back after
        agent.set_recurrent_state(None)  # type: ignore[attr-defined]
    exploration = agent.exploration_state() if explore and hasattr(agent, "exploration_state") else None
    try:
        return _episodes(agent, env, quota, explore, seed, recurrent, tuple(info_keys))
    finally:
        if recurrent:
            agent.set_recurrent_state(training_state)  # type: ignore[attr-defined]
        if exploration is not None:
            agent.set_exploration_state(exploration)  # type: ignore[attr-defined]


def carries_state(agent: Any) -> bool:
    """Whether ``agent`` acts from a state it carries between steps: it has a ``recurrent_state`` of its own.

    Not whether that state is None right now: a recurrent agent whose state was set to None (a fresh one at the next
    ``act``) still needs its state reset at each episode end.
    """
    method = getattr(type(agent), "recurrent_state", None)
    return callable(method) and method is not BaseAgent.recurrent_state


def check_evaluation_env(env: Any) -> None:
    """Refuse an env whose normalizing wrappers would make an evaluation report other numbers than the env's.

    A normalizer that updates its statistics (``NormalizeObservation`` not ``frozen``) feeds the agent observations
    scaled otherwise than in training and moves while evaluating; a ``NormalizeReward`` that scales reports returns
    in its units. The fix is to make the env the
    training env's twin: ``porcini.envs.wrappers.share_normalization(eval_env, train_env)``.

    Raises:
        ValueError: naming the wrappers and the fix.
    """
    found = []
    while isinstance(env, gym.vector.VectorWrapper):
        learning = not getattr(env, "frozen", True) or getattr(env, "scale", False)
        if callable(getattr(env, "share_statistics", None)) and learning:  # porcini's normalizers
            found.append(type(env).__name__)
        env = env.env
    if found:
        raise ValueError(f"the evaluation env normalizes on its own ({', '.join(found)}: statistics it updates or "
                         "scaled rewards), so its returns would not be the env's; give it the training env's "
                         "statistics, frozen: porcini.envs.wrappers.share_normalization(eval_env, train_env)")


def _episodes(agent: Agent, env: Any, quota: np.ndarray, explore: bool, seed: int | None,
              recurrent: bool, info_keys: tuple[str, ...]) -> EpisodeRecord:
    done_count = np.zeros(len(quota), dtype=np.int64)
    record = EpisodeRecord(info_sums={key: [] for key in info_keys})
    state = LoopState(len(quota), info_keys, env_id_of(env))
    sums = {key: np.zeros(len(quota)) for key in info_keys}  # the episodes in progress
    env_reset(env, state, seed)
    while (done_count < quota).any():
        action = agent.act(state.obs, explore=explore)
        info, ended = env_step(env, state, action)[-2:]
        for key, total in sums.items():
            total += info_value(info, key, state.n_envs, state.env_name)
        if ended is None:
            continue
        returns, lengths = state.end_episodes(ended)
        if recurrent:
            agent.reset(ended)
        for i, ret, length in zip(np.flatnonzero(ended), returns.tolist(), lengths.tolist()):
            if done_count[i] < quota[i]:
                record.returns.append(ret)
                record.lengths.append(length)
                record.env_indices.append(int(i))
                for key, total in sums.items():
                    record.info_sums[key].append(float(total[i]))
                done_count[i] += 1
        for total in sums.values():
            total[ended] = 0.0
    return record
