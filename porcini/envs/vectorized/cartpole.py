"""CartPole (``CartPole-v0``, ``CartPole-v1``) on arrays: Gymnasium's ``CartPoleEnv`` arithmetic, every env at once.

The expressions are Gymnasium's, term for term and in its order of operations (float64 state, float32
observations), so each env follows the single env bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import utils

from porcini.envs.vectorized.base import NativeVectorEnv, uniform


class NativeCartPole(NativeVectorEnv):
    """CartPole of Barto, Sutton and Anderson (1983), ``num_envs`` at once, with same-step autoreset.

    Args:
        num_envs: number of envs.
        sutton_barto_reward: reward 0 per step and -1 at termination instead of 1 per step (Gymnasium's option).
        **kwargs: ``max_episode_steps``, ``env_id``, ``check`` of :class:`NativeVectorEnv`.

    Example:
        >>> env = NativeCartPole(4)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((4, 4), dtype('float32'))
    """

    default_id = "CartPole-v1"
    state_rows = 4
    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    length = 0.5  # half the pole's length
    force_mag = 10.0
    tau = 0.02  # seconds between state updates
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, num_envs: int = 1, sutton_barto_reward: bool = False, **kwargs: Any) -> None:
        self.sutton_barto_reward = sutton_barto_reward
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold_radians * 2, np.inf], dtype=np.float32)
        self.single_observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        super().__init__(num_envs, **kwargs)

    def initial_states(self, rngs: Sequence[np.random.Generator], options: dict[str, Any] | None) -> np.ndarray:
        """Uniform in [-0.05, 0.05] (or the ``low``/``high`` options) for all four state variables."""
        low, high = utils.maybe_parse_reset_bounds(options, -0.05, 0.05)
        return uniform(rngs, low, high, 4).T

    def transition(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One Euler step of the cart and pole (https://coneural.org/florian/papers/05_cart_pole.pdf).

        Gymnasium's expressions evaluated in place, to save temporaries: each line is one of its operations, in its
        order (``a + b`` and ``b + a`` round alike), as the comments show.
        """
        x, x_dot, theta, theta_dot = self.state
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        # temp = (force + polemass_length * theta_dot ** 2 * sintheta) / total_mass
        temp = np.square(theta_dot)
        temp *= self.polemass_length
        temp *= sintheta
        temp += np.where(actions == 1, self.force_mag, -self.force_mag)
        temp /= self.total_mass
        # thetaacc = (gravity * sintheta - costheta * temp) / (length * (4/3 - masspole * costheta ** 2 / total_mass))
        denominator = np.square(costheta)
        denominator *= self.masspole
        denominator /= self.total_mass
        np.subtract(4.0 / 3.0, denominator, out=denominator)
        denominator *= self.length
        thetaacc = self.gravity * sintheta
        thetaacc -= costheta * temp
        thetaacc /= denominator
        # xacc = temp - polemass_length * thetaacc * costheta / total_mass
        xacc = self.polemass_length * thetaacc
        xacc *= costheta
        xacc /= self.total_mass
        np.subtract(temp, xacc, out=xacc)
        # Euler: x = x + tau * x_dot, x_dot = x_dot + tau * xacc, theta likewise
        state = np.empty_like(self.state)
        for row, (value, rate) in enumerate(((x, x_dot), (x_dot, xacc), (theta, theta_dot), (theta_dot, thetaacc))):
            np.multiply(self.tau, rate, out=state[row])
            state[row] += value
        self.state = state
        # x < -x_threshold or x > x_threshold (negating a bound is exact), theta likewise
        terminated = np.abs(state[0]) > self.x_threshold
        terminated |= np.abs(state[2]) > self.theta_threshold_radians
        if self.sutton_barto_reward:
            reward = np.where(terminated, -1.0, 0.0)
        else:
            reward = np.ones(self.num_envs, dtype=np.float64)
        return reward, terminated

    def observe(self, state: np.ndarray) -> np.ndarray:
        """The state as float32, one row per env."""
        return state.T.astype(np.float32, order="C")
