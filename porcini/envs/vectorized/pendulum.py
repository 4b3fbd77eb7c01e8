"""Pendulum (``Pendulum-v1``) on arrays: Gymnasium's ``PendulumEnv`` arithmetic, every env at once.

Squares go through :func:`~porcini.envs.vectorized.base.scalar_square` because Gymnasium squares NumPy scalars;
the dtype of the action (float32 from the action space) carries into the torque terms as it does there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils

from porcini.envs.vectorized.base import NativeVectorEnv, scalar_square, uniform

DEFAULT_X = np.pi
DEFAULT_Y = 1.0


def angle_normalize(x: np.ndarray) -> np.ndarray:
    """``x`` wrapped into [-pi, pi), as Gymnasium's pendulum computes it."""
    return ((x + np.pi) % (2 * np.pi)) - np.pi


class NativePendulum(NativeVectorEnv):
    """The inverted pendulum swing-up, ``num_envs`` at once, with same-step autoreset.

    Args:
        num_envs: number of envs.
        g: gravity (Gymnasium's option).
        **kwargs: ``max_episode_steps``, ``env_id``, ``check`` of :class:`NativeVectorEnv`.

    Example:
        >>> env = NativePendulum(2)
        >>> obs, _ = env.reset(seed=0)
        >>> env.step(np.zeros((2, 1), dtype=np.float32))[1].shape
        (2,)
    """

    default_id = "Pendulum-v1"
    state_rows = 2
    max_speed = 8
    max_torque = 2.0
    dt = 0.05
    m = 1.0
    l = 1.0  # noqa: E741 (Gymnasium's name)

    def __init__(self, num_envs: int = 1, g: float = 10.0, **kwargs: Any) -> None:
        self.g = g
        high = np.array([1.0, 1.0, self.max_speed], dtype=np.float32)
        self.single_observation_space = gym.spaces.Box(low=-high, high=high, dtype=np.float32)
        self.single_action_space = gym.spaces.Box(low=-self.max_torque, high=self.max_torque, shape=(1,),
                                                  dtype=np.float32)
        super().__init__(num_envs, **kwargs)

    def initial_states(self, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None) -> np.ndarray:
        """Angle uniform in [-pi, pi], angular velocity in [-1, 1] (or the ``x_init``/``y_init`` options)."""
        if options is None:
            high = np.array([DEFAULT_X, DEFAULT_Y])
        else:
            x = utils.verify_number_and_cast(options.get("x_init", DEFAULT_X))
            y = utils.verify_number_and_cast(options.get("y_init", DEFAULT_Y))
            high = np.array([x, y])
        return uniform(rngs, -high, high, None).T

    def transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step of the pendulum under the clipped torque; the reward is minus the cost of the state before it."""
        th, thdot = self.state
        g, m, l, dt = self.g, self.m, self.l, self.dt  # noqa: E741
        u = np.clip(actions, -self.max_torque, self.max_torque)[:, 0]
        square_angle, square_thdot = scalar_square(np.stack((angle_normalize(th), thdot)))  # one call for both
        costs = square_angle + 0.1 * square_thdot + 0.001 * scalar_square(u)
        newthdot = thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt
        newthdot = np.clip(newthdot, -self.max_speed, self.max_speed)
        newth = th + newthdot * dt
        self.state = np.stack((newth, newthdot))
        return -costs, np.zeros(self.num_envs, dtype=np.bool_)

    def observe(self, state: np.ndarray) -> np.ndarray:
        """``[cos(theta), sin(theta), theta_dot]`` as float32, one row per env."""
        theta, thetadot = state
        obs = np.empty((state.shape[1], 3), dtype=np.float32)
        obs[:, 0] = np.cos(theta)
        obs[:, 1] = np.sin(theta)
        obs[:, 2] = thetadot
        return obs
