"""MountainCar (``MountainCar-v0``) on arrays: Gymnasium's ``MountainCarEnv`` arithmetic, every env at once.

The velocity is clipped before the position moves, the position after, and a car stopped at the left wall loses
its leftward velocity, in Gymnasium's order. Gymnasium takes ``math.cos`` (C's ``cos``) of a float64 where this
module takes ``np.cos``; NumPy's float64 cosine is C's where NumPy does not vectorize it with its own code, and
the exactness tests compare the two envs step for step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils

from porcini.envs.vectorized.base import NativeVectorEnv, uniform


class NativeMountainCar(NativeVectorEnv):
    """The car in a valley of Moore (1990), ``num_envs`` at once, with same-step autoreset.

    Args:
        num_envs: number of envs.
        goal_velocity: the velocity the car must have at the goal (Gymnasium's option).
        **kwargs: ``max_episode_steps``, ``env_id``, ``check`` of :class:`NativeVectorEnv`.

    Example:
        >>> env = NativeMountainCar(3)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape
        (3, 2)
    """

    default_id = "MountainCar-v0"
    state_rows = 2
    min_position = -1.2
    max_position = 0.6
    max_speed = 0.07
    goal_position = 0.5
    force = 0.001
    gravity = 0.0025

    def __init__(self, num_envs: int = 1, goal_velocity: float = 0, **kwargs: Any) -> None:
        self.goal_velocity = goal_velocity
        low = np.array([self.min_position, -self.max_speed], dtype=np.float32)
        high = np.array([self.max_position, self.max_speed], dtype=np.float32)
        self.single_observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(3)
        super().__init__(num_envs, **kwargs)

    def initial_states(self, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None) -> np.ndarray:
        """Position uniform in [-0.6, -0.4] (or the ``low``/``high`` options), velocity 0."""
        low, high = utils.maybe_parse_reset_bounds(options, -0.6, -0.4)
        position = uniform(rngs, low, high, None)
        return np.stack((position, np.zeros_like(position)))

    def transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Push left, not at all, or right (actions 0, 1, 2) against gravity along the valley."""
        position, velocity = self.state
        velocity = velocity + ((actions - 1) * self.force + np.cos(3 * position) * (-self.gravity))
        velocity = np.clip(velocity, -self.max_speed, self.max_speed)
        position = position + velocity
        position = np.clip(position, self.min_position, self.max_position)
        velocity[(position == self.min_position) & (velocity < 0)] = 0
        terminated = (position >= self.goal_position) & (velocity >= self.goal_velocity)
        self.state = np.stack((position, velocity))
        return np.full(self.num_envs, -1.0), terminated

    def observe(self, state: np.ndarray) -> np.ndarray:
        """``[position, velocity]`` as float32, one row per env."""
        return state.T.astype(np.float32, order="C")
