"""Acrobot (``Acrobot-v1``) on arrays: Gymnasium's ``AcrobotEnv`` arithmetic, every env at once.

Gymnasium integrates the ``book`` dynamics with one 4th-order Runge-Kutta step of 0.2 s on float64, then wraps
the angles into [-pi, pi] and bounds the velocities. Its reset draws the state as float32 and computes that first
observation's cosines and sines in float32 (later ones in float64), and it squares NumPy scalars (C's ``pow``):
this module does the same, so each env follows the single env bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils
from numpy import cos, pi, sin

from porcini.envs.vectorized.base import NativeVectorEnv, scalar_square, uniform


def wrap(x: np.ndarray, m: float, big_m: float) -> np.ndarray:
    """``x`` shifted by multiples of ``big_m - m`` into [m, big_m], as Gymnasium's ``wrap`` (same subtractions)."""
    diff = big_m - m
    x = x.copy()
    while (above := x > big_m).any():
        x[above] = x[above] - diff
    while (below := x < m).any():
        x[below] = x[below] + diff
    return x


class NativeAcrobot(NativeVectorEnv):
    """The two-link acrobot of Sutton (1996), ``num_envs`` at once, with same-step autoreset.

    Args:
        num_envs: number of envs.
        **kwargs: ``max_episode_steps``, ``env_id``, ``check`` of :class:`NativeVectorEnv`.

    Example:
        >>> env = NativeAcrobot(2)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape
        (2, 6)
    """

    default_id = "Acrobot-v1"
    state_rows = 4
    dt = 0.2
    LINK_LENGTH_1 = 1.0
    LINK_MASS_1 = 1.0
    LINK_MASS_2 = 1.0
    LINK_COM_POS_1 = 0.5
    LINK_COM_POS_2 = 0.5
    LINK_MOI = 1.0
    MAX_VEL_1 = 4 * pi
    MAX_VEL_2 = 9 * pi
    AVAIL_TORQUE = np.array([-1.0, 0.0, 1.0])

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        high = np.array([1.0, 1.0, 1.0, 1.0, self.MAX_VEL_1, self.MAX_VEL_2], dtype=np.float32)
        self.single_observation_space = gym.spaces.Box(low=-high, high=high, dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(3)
        super().__init__(num_envs, **kwargs)

    def initial_states(self, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None) -> np.ndarray:
        """Angles and velocities uniform in [-0.1, 0.1] (or the ``low``/``high`` options), rounded to float32."""
        low, high = utils.maybe_parse_reset_bounds(options, -0.1, 0.1)
        return uniform(rngs, low, high, 4).astype(np.float32).T

    def dsdt(self, s: np.ndarray) -> np.ndarray:
        """The time derivative of the augmented state ``[theta1, theta2, dtheta1, dtheta2, torque]`` (``[5, n]``)."""
        m1, m2 = self.LINK_MASS_1, self.LINK_MASS_2
        l1 = self.LINK_LENGTH_1
        lc1, lc2 = self.LINK_COM_POS_1, self.LINK_COM_POS_2
        I1 = I2 = self.LINK_MOI  # noqa: N806 (Gymnasium's names)
        g = 9.8
        theta1, theta2, dtheta1, dtheta2, a = s
        square_dtheta1, square_dtheta2 = scalar_square(s[2:4])  # both rows in one call
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos(theta2)) + I1 + I2
        d2 = m2 * (lc2**2 + l1 * lc2 * cos(theta2)) + I2
        phi2 = m2 * lc2 * g * cos(theta1 + theta2 - pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * square_dtheta2 * sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * cos(theta1 - pi / 2)
            + phi2
        )
        ddtheta2 = (
            a + d2 / d1 * phi1 - m2 * l1 * lc2 * square_dtheta1 * sin(theta2) - phi2
        ) / (m2 * lc2**2 + I2 - scalar_square(d2) / d1)
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return np.stack((dtheta1, dtheta2, ddtheta1, ddtheta2, np.zeros_like(a)))

    def transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One Runge-Kutta step (Gymnasium's ``rk4`` over ``[0, dt]``), then wrapped angles and bounded velocities."""
        y0 = np.concatenate((self.state, self.AVAIL_TORQUE[actions][None]))
        dt = self.dt - 0  # rk4's t[1] - t[0]
        dt2 = dt / 2.0
        k1 = self.dsdt(y0)
        k2 = self.dsdt(y0 + dt2 * k1)
        k3 = self.dsdt(y0 + dt2 * k2)
        k4 = self.dsdt(y0 + dt * k3)
        ns = (y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4))[:4]
        ns[0] = wrap(ns[0], -pi, pi)
        ns[1] = wrap(ns[1], -pi, pi)
        ns[2] = np.minimum(np.maximum(ns[2], -self.MAX_VEL_1), self.MAX_VEL_1)
        ns[3] = np.minimum(np.maximum(ns[3], -self.MAX_VEL_2), self.MAX_VEL_2)
        self.state = ns
        terminated = -cos(ns[0]) - cos(ns[1] + ns[0]) > 1.0
        return np.where(terminated, 0.0, -1.0), terminated

    def observe(self, state: np.ndarray) -> np.ndarray:
        """``[cos(theta1), sin(theta1), cos(theta2), sin(theta2), dtheta1, dtheta2]`` as float32, a row per env."""
        obs = np.empty((state.shape[1], 6), dtype=np.float32)
        obs[:, 0] = cos(state[0])
        obs[:, 1] = sin(state[0])
        obs[:, 2] = cos(state[1])
        obs[:, 3] = sin(state[1])
        obs[:, 4] = state[2]
        obs[:, 5] = state[3]
        return obs

    def observe_reset(self, state: np.ndarray) -> np.ndarray:
        """:meth:`observe` of a reset state, which Gymnasium keeps as float32 (so its cosines are float32 too)."""
        return self.observe(state.astype(np.float32))
