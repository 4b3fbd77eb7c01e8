"""Dynamics written out for envs whose equations are known: what a planner uses when nothing is learned.

A known model has the :class:`~porcini.algorithms.model_based.planners.DynamicsModel` interface on the env's own
observations: ``step(obs [N, S], actions [N, A]) -> (next_obs, rewards [N], terminated [N])``, batched in torch.
:func:`known_model` finds the one of an env id, :func:`known_reward` its reward alone (for a learned model of the
dynamics, as PETS plans with). They are checked against the envs they copy
(``tests/algorithms/model_based/test_planners.py``, ``test_known_models.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from porcini.algorithms.model_based.planners import DynamicsModel
from porcini.envs.builtin.cartpole_swingup import CartPoleSwingUp
from porcini.errors import NoModelError

RewardFunction = Callable[[Tensor, Tensor, Tensor], Tensor]


def pendulum_reward(obs: Tensor, actions: Tensor) -> Tensor:
    """Pendulum-v1's reward ``[N]`` of a step from ``obs`` ``[N, 3]`` (cos θ, sin θ, θ̇) under ``actions`` ``[N, 1]``.

    ``-(θ² + 0.1 θ̇² + 0.001 u²)`` with θ in ``[-π, π]`` and the torque ``u`` clipped to ``[-2, 2]``: the state
    before the step is scored.
    """
    theta = torch.atan2(obs[:, 1], obs[:, 0])  # already in [-π, π]
    u = torch.clamp(actions[:, 0], -PendulumModel.max_torque, PendulumModel.max_torque)
    return -(theta**2 + 0.1 * obs[:, 2] ** 2 + 0.001 * u**2)


def cartpole_swingup_reward(next_obs: Tensor, actions: Tensor) -> Tensor:
    """``porcini/CartPoleSwingUp-v0``'s reward ``[N]``: the state reached ``next_obs`` ``[N, 5]`` and ``actions``.

    ``(1 + cos θ) / 2 · (1 + exp(-x²)) / 2 · (4 + 1 - u²) / 5`` with ``u = clip(action, -1, 1)``
    (:class:`~porcini.envs.builtin.CartPoleSwingUp`).
    """
    u = torch.clamp(actions[:, 0], -1.0, 1.0)
    x, cos = next_obs[:, 0], next_obs[:, 2]
    return (1.0 + cos) / 2.0 * (1.0 + torch.exp(-(x**2))) / 2.0 * (4.0 + 1.0 - u**2) / 5.0


class PendulumModel:
    """Gymnasium's Pendulum-v1 (g = 10, m = l = 1, dt = 0.05) on observations ``(cos θ, sin θ, θ̇)``.

    The reward is :func:`pendulum_reward`; ``θ̇`` is clipped to ``[-8, 8]``; the task never terminates.
    """

    g, m, length, dt, max_speed, max_torque = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0

    def step(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of every observation ``[N, 3]`` under its torque ``[N, 1]``."""
        theta = torch.atan2(obs[:, 1], obs[:, 0])
        speed = obs[:, 2]
        u = torch.clamp(actions[:, 0], -self.max_torque, self.max_torque)
        ml2 = self.m * self.length**2
        new_speed = speed + (3 * self.g / (2 * self.length) * torch.sin(theta) + 3.0 / ml2 * u) * self.dt
        new_speed = torch.clamp(new_speed, -self.max_speed, self.max_speed)
        new_theta = theta + new_speed * self.dt
        next_obs = torch.stack([torch.cos(new_theta), torch.sin(new_theta), new_speed], dim=-1)
        reward = pendulum_reward(obs, actions)
        return next_obs, reward, torch.zeros_like(reward, dtype=torch.bool)


class CartPoleSwingUpModel:
    """``porcini/CartPoleSwingUp-v0`` on observations ``(x, ẋ, cos θ, sin θ, θ̇)``: the env's equations, batched.

    The same substeps of semi-implicit Euler, the same wall stop and :func:`cartpole_swingup_reward` on the state
    reached (:class:`~porcini.envs.builtin.CartPoleSwingUp` documents them); the task never terminates.
    """

    env = CartPoleSwingUp

    def step(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of every observation ``[N, 5]`` under its action ``[N, 1]`` in ``[-1, 1]`` (clipped)."""
        e = self.env
        x, x_dot, theta, theta_dot = obs[:, 0], obs[:, 1], torch.atan2(obs[:, 3], obs[:, 2]), obs[:, 4]
        force = e.force_mag * torch.clamp(actions[:, 0], -1.0, 1.0)
        total_mass, pole_moment, h = e.cart_mass + e.pole_mass, e.pole_mass * e.half_length, e.dt / e.substeps
        for _ in range(e.substeps):
            sin, cos = torch.sin(theta), torch.cos(theta)
            tmp = (force + pole_moment * theta_dot**2 * sin) / total_mass
            lever = e.half_length * (4.0 / 3.0 - e.pole_mass * cos**2 / total_mass)
            theta_acc = (e.gravity * sin - cos * tmp) / lever
            x_acc = tmp - pole_moment * theta_acc * cos / total_mass
            x_dot = x_dot + h * x_acc
            x = x + h * x_dot
            theta_dot = theta_dot + h * theta_acc
            theta = theta + h * theta_dot
            hit = x.abs() > e.x_limit  # the wall stops the cart
            x, x_dot = torch.clamp(x, -e.x_limit, e.x_limit), torch.where(hit, torch.zeros_like(x_dot), x_dot)
        next_obs = torch.stack([x, x_dot, torch.cos(theta), torch.sin(theta), theta_dot], dim=-1)
        reward = cartpole_swingup_reward(next_obs, actions)
        return next_obs, reward, torch.zeros_like(reward, dtype=torch.bool)


KNOWN_MODELS: dict[str, Callable[[], DynamicsModel]] = {
    "Pendulum-v1": PendulumModel,
    "porcini/CartPoleSwingUp-v0": CartPoleSwingUpModel,
}
KNOWN_REWARDS: dict[str, RewardFunction] = {
    "Pendulum-v1": lambda obs, actions, next_obs: pendulum_reward(obs, actions),
    "porcini/CartPoleSwingUp-v0": lambda obs, actions, next_obs: cartpole_swingup_reward(next_obs, actions),
}


def known_model(env_id: str) -> DynamicsModel:
    """The known model of ``env_id``; NoModelError naming the envs that have one otherwise."""
    if env_id not in KNOWN_MODELS:
        raise NoModelError(f"{env_id} has no known model to plan with; porcini has one for {sorted(KNOWN_MODELS)}")
    return KNOWN_MODELS[env_id]()


def known_reward(env_id: str) -> RewardFunction:
    """The known reward ``reward_fn(obs, action, next_obs) -> [N]`` of ``env_id``, batched in torch.

    For planning with a learned model of the dynamics alone. Pendulum-v1 scores the state before the step
    (``obs``), ``porcini/CartPoleSwingUp-v0`` the state after it (``next_obs``); both the action.

    Raises:
        NoModelError: ``env_id`` has no known reward; the message names the envs that have one.

    Example:
        >>> import torch
        >>> reward_fn = known_reward("porcini/CartPoleSwingUp-v0")
        >>> upright = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]])
        >>> reward_fn(upright, torch.zeros(1, 1), upright).tolist()
        [1.0]
    """
    if env_id not in KNOWN_REWARDS:
        raise NoModelError(f"{env_id} has no known reward to plan with; porcini has one for {sorted(KNOWN_REWARDS)}")
    return KNOWN_REWARDS[env_id]
