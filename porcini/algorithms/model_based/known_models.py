"""Dynamics written out for envs whose equations are known: what a planner uses when nothing is learned.

A known model has the :class:`~porcini.algorithms.model_based.planners.DynamicsModel` interface on the env's own
observations: ``step(obs [N, S], actions [N, A]) -> (next_obs, rewards [N], terminated [N])``, batched in torch.
:func:`known_model` finds the one of an env id. They are checked against the envs they copy
(``tests/algorithms/model_based/test_planners.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from porcini.errors import NoModelError


class PendulumModel:
    """Gymnasium's Pendulum-v1 (g = 10, m = l = 1, dt = 0.05) on observations ``(cos θ, sin θ, θ̇)``.

    The reward is ``-(θ² + 0.1 θ̇² + 0.001 u²)`` with θ normalized to ``[-π, π)`` and the torque ``u`` clipped to
    ``[-2, 2]``; ``θ̇`` is clipped to ``[-8, 8]``; the task never terminates.
    """

    g, m, length, dt, max_speed, max_torque = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0

    def step(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of every observation ``[N, 3]`` under its torque ``[N, 1]``."""
        theta = torch.atan2(obs[:, 1], obs[:, 0])
        speed = obs[:, 2]
        u = torch.clamp(actions[:, 0], -self.max_torque, self.max_torque)
        reward = -(theta**2 + 0.1 * speed**2 + 0.001 * u**2)  # atan2 is already in [-π, π]
        ml2 = self.m * self.length**2
        new_speed = speed + (3 * self.g / (2 * self.length) * torch.sin(theta) + 3.0 / ml2 * u) * self.dt
        new_speed = torch.clamp(new_speed, -self.max_speed, self.max_speed)
        new_theta = theta + new_speed * self.dt
        next_obs = torch.stack([torch.cos(new_theta), torch.sin(new_theta), new_speed], dim=-1)
        return next_obs, reward, torch.zeros_like(reward, dtype=torch.bool)


KNOWN_MODELS = {"Pendulum-v1": PendulumModel}


def known_model(env_id: str) -> PendulumModel:
    """The known model of ``env_id``; NoModelError naming the envs that have one otherwise."""
    if env_id not in KNOWN_MODELS:
        raise NoModelError(f"{env_id} has no known model to plan with; porcini has one for {sorted(KNOWN_MODELS)}")
    return KNOWN_MODELS[env_id]()
