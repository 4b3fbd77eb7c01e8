"""The replay option of the off-policy agents (DQN, DDPG, TD3, SAC): uniform replay or hindsight replay (HER).

An agent config with ``replay = "her"`` learns a goal env (:mod:`porcini.envs.goal`) from a
:class:`~porcini.data.HerReplayBuffer`: sampled transitions get hindsight goals with the strategy
``her_strategy`` (``future``, ``final``, ``episode``), ``her_n_sampled_goal`` relabelled goals per real one,
and rewards from the env's own ``compute_reward``. The agents take the goal env's Dict observation through
their multi-input encoder, so the policy and the values are conditioned on ``desired_goal``.
"""

from __future__ import annotations

from typing import Any

from porcini.core.config import require
from porcini.data import HerReplayBuffer, ReplayBuffer
from porcini.data.her import STRATEGIES
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError

REPLAY_KINDS = ("uniform", "her")


def check_replay_fields(config: Any) -> None:
    """Raise ``ConfigError`` unless ``replay``, ``her_strategy`` and ``her_n_sampled_goal`` of ``config`` are valid."""
    owner = type(config).__name__
    require(config.replay in REPLAY_KINDS, owner, "replay", config.replay, f"one of {list(REPLAY_KINDS)}")
    require(config.her_strategy in STRATEGIES, owner, "her_strategy", config.her_strategy,
            f"one of {list(STRATEGIES)}")
    k = config.her_n_sampled_goal
    require(isinstance(k, int) and not isinstance(k, bool) and k >= 0, owner, "her_n_sampled_goal", k,
            "an integer >= 0")


def make_replay_buffer(config: Any, info: EnvInfo) -> ReplayBuffer | HerReplayBuffer:
    """The buffer ``config`` asks for: ``ReplayBuffer(buffer_size)``, or a ``HerReplayBuffer`` on ``info``'s goal env.

    Raises:
        UnsupportedSpaceError: ``replay = "her"`` and ``info`` is not a goal env.
    """
    if config.replay == "uniform":
        return ReplayBuffer(config.buffer_size)
    if info.goal is None:
        raise UnsupportedSpaceError(
            f"replay='her' needs a goal env (a Dict observation with observation, achieved_goal and desired_goal, "
            f"and compute_reward); {info.env_id} observes {info.observation_space}. Use replay='uniform', or "
            "a goal env such as porcini/BitFlipping-v0"
        )
    return HerReplayBuffer(config.buffer_size, info.goal.compute_reward, strategy=config.her_strategy,
                           n_sampled_goal=config.her_n_sampled_goal, compute_terminated=info.goal.compute_terminated)
