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
        """One Euler step of the cart and pole (https://coneural.org/florian/papers/05_cart_pole.pdf)."""
        x, x_dot, theta, theta_dot = self.state
        force = np.where(actions == 1, self.force_mag, -self.force_mag)
        costheta = np.cos(theta)
        sintheta = np.sin(theta)
        temp = (force + self.polemass_length * np.square(theta_dot) * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(costheta) / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        state = np.empty_like(self.state)
        state[0] = x + self.tau * x_dot
        state[1] = x_dot + self.tau * xacc
        state[2] = theta + self.tau * theta_dot
        state[3] = theta_dot + self.tau * thetaacc
        self.state = state
        x, theta = state[0], state[2]
        terminated = (
            (x < -self.x_threshold)
            | (x > self.x_threshold)
            | (theta < -self.theta_threshold_radians)
            | (theta > self.theta_threshold_radians)
        )
        if self.sutton_barto_reward:
            reward = -terminated.astype(np.float64)
        else:
            reward = np.ones(self.num_envs, dtype=np.float64)
        return reward, terminated

    def observe(self, state: np.ndarray) -> np.ndarray:
        """The state as float32, one row per env."""
        return state.T.astype(np.float32, order="C")
