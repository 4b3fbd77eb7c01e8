"""EnvInfo: what an agent needs to know about the environment it will act in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np

if TYPE_CHECKING:
    from porcini.envs.goal import GoalFunctions
    from porcini.envs.tabular_model import ModelSource
    from porcini.envs.two_player import SeatOpponents


@dataclass(frozen=True)
class EnvInfo:
    """Spaces and episode facts of a vector environment, for building agents.

    Attributes:
        env_id: a readable name of the environment (its Gymnasium id, or the class name of a factory).
        observation_space: the space of one env's observation (not batched).
        action_space: the space of one env's action (not batched).
        n_envs: number of environments stepped together.
        gamma: the discount the environment declares in ``metadata["gamma"]``, or None if it declares none.
        horizon: the time limit of an episode (``max_episode_steps``), or None if unbounded.
        goal: a goal env's ``compute_reward``/``compute_terminated`` (:mod:`porcini.envs.goal`), for hindsight
            replay; None for other envs. Not compared: two infos of the same spaces are equal.
        model: for Discrete observations and actions, the env's transition model for planning
            (:mod:`porcini.envs.tabular_model`), read on first use; None for other envs. Not compared.
        agents: for a multi-agent vector env (:mod:`porcini.envs.multi_agent`), the agents in row order: row
            ``i`` holds agent ``agents[i % len(agents)]``; empty for single-agent envs.
        opponents: for the seats of a two-player turn-based game (:mod:`porcini.envs.two_player`), their shared
            :class:`~porcini.envs.two_player.SeatOpponents`, whose source a self-play learner replaces with its
            opponent pool; None for other envs. Not compared.
    """

    env_id: str
    observation_space: gym.Space
    action_space: gym.Space
    n_envs: int = 1
    gamma: float | None = None
    horizon: int | None = None
    goal: GoalFunctions | None = field(default=None, compare=False, repr=False)
    model: ModelSource | None = field(default=None, compare=False, repr=False)
    agents: tuple[str, ...] = ()
    opponents: SeatOpponents | None = field(default=None, compare=False, repr=False)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of one observation."""
        return tuple(self.observation_space.shape or ())

    @property
    def action_shape(self) -> tuple[int, ...]:
        """Shape of one action (``()`` for discrete actions)."""
        return tuple(self.action_space.shape or ())

    @property
    def discrete_actions(self) -> bool:
        """True when the action space is ``Discrete``."""
        return isinstance(self.action_space, gym.spaces.Discrete)

    @property
    def n_actions(self) -> int:
        """Number of discrete actions; raises for continuous action spaces."""
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise TypeError(f"{self.env_id} has action space {self.action_space}, not Discrete: it has no n_actions")
        return int(self.action_space.n)

    @property
    def n_observations(self) -> int:
        """Number of discrete observations (tabular agents); raises for other observation spaces."""
        if not isinstance(self.observation_space, gym.spaces.Discrete):
            raise TypeError(
                f"{self.env_id} has observation space {self.observation_space}, not Discrete; tabular agents need "
                "Discrete observations (use features from porcini.approximators for continuous ones)"
            )
        return int(self.observation_space.n)

    @property
    def obs_dim(self) -> int:
        """Number of scalars in one observation (flattened)."""
        return int(np.prod(self.obs_shape)) if self.obs_shape else 1

    @property
    def action_dim(self) -> int:
        """Number of scalars in one continuous action."""
        return int(np.prod(self.action_shape)) if self.action_shape else 1
