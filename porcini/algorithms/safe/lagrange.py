"""Lagrange multipliers of constrained RL: λ ≥ 0, raised while the episode cost exceeds its limit.

A constrained MDP maximizes the return ``J_r(π)`` subject to the episode cost ``J_c(π) <= d``. The Lagrangian
relaxation ``max_π min_{λ >= 0} J_r(π) - λ (J_c(π) - d)`` alternates a policy step on ``J_r - λ J_c`` with a
multiplier step that raises λ while the constraint is violated and lowers it (never below 0) once it holds.
Both rules here are called once per rollout with that rollout's mean episode cost ``J_c``:

- :class:`GradientMultiplier`: projected gradient ascent, ``λ ← max(0, λ + lr · (J_c - d))``.
- :class:`PIDMultiplier`: the PID-Lagrangian of Stooke, Achiam & Abbeel 2020 (arXiv:2007.03964, Algorithm 2),
  which damps the oscillation of the plain (integral-only) rule with proportional and derivative terms.

Both take an optional cap ``max_value`` on λ: past a few units the cost outweighs the reward so much that a
policy may learn to end its episodes early (cheap in cost). Under the cap the PID integral stops growing while λ
sits at it (conditional integration, the usual anti-windup), so it does not have to unwind an overshoot later.

The state is plain floats, so a checkpoint restores it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from porcini.core.config import require
from porcini.errors import ConfigError


@dataclass
class GradientMultiplier:
    """λ by projected gradient ascent on the constraint violation: ``λ ← max(0, λ + lr · (J_c - d))``.

    The gradient of the Lagrangian with respect to λ is ``-(J_c - d)``; one plain (SGD) step on λ itself per
    call, projected onto ``λ >= 0``.

    Example:
        >>> multiplier = GradientMultiplier(lr=0.1)
        >>> multiplier.update(episode_cost=30.0, cost_limit=25.0)
        0.5
        >>> multiplier.update(episode_cost=10.0, cost_limit=25.0)
        0.0

    Attributes:
        lr: step size of the ascent.
        value: the current λ.
        max_value: the cap on λ, or None.
    """

    lr: float
    value: float = 0.0
    max_value: float | None = None

    def update(self, episode_cost: float, cost_limit: float) -> float:
        """Take one ascent step with the episode cost; return the new λ (projected onto ``[0, max_value]``)."""
        value = max(0.0, self.value + self.lr * (episode_cost - cost_limit))
        self.value = value if self.max_value is None else min(value, self.max_value)
        return self.value

    def state_dict(self) -> dict[str, Any]:
        """λ (the step size comes from the config)."""
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.value = float(state["value"])


@dataclass
class PIDMultiplier:
    r"""λ by the PID-Lagrangian (Stooke, Achiam & Abbeel 2020, Algorithm 2).

    With the violation ``Δ = J_c - d``, per call:

    .. math::
        I \leftarrow \max(0, I + Δ), \quad ∂ = \max(0, J_c - J_{c,prev}), \quad
        λ = \max(0, K_P Δ + K_I I + K_D ∂), \quad J_{c,prev} \leftarrow J_c

    ``J_{c,prev}`` starts at 0, as in the paper. ``K_P = K_D = 0`` gives the gradient rule with step ``K_I``
    (started from λ = 0). The paper's optional exponential smoothing of ``Δ`` and ``∂`` is left out.

    Example:
        >>> multiplier = PIDMultiplier(kp=0.1, ki=0.01, kd=0.01)
        >>> round(multiplier.update(episode_cost=30.0, cost_limit=25.0), 6)  # 0.1 * 5 + 0.01 * 5 + 0.01 * 30
        0.85

    Attributes:
        kp: proportional gain.
        ki: integral gain.
        kd: derivative gain (on cost increases only).
        value: the current λ.
        integral: ``I``, the accumulated violation, kept ``>= 0``.
        previous_cost: ``J_{c,prev}``, the episode cost of the last call.
        max_value: the cap on λ, or None; while λ would exceed it, a positive violation is not integrated.
    """

    kp: float
    ki: float
    kd: float
    value: float = 0.0
    integral: float = 0.0
    previous_cost: float = 0.0
    max_value: float | None = None

    def update(self, episode_cost: float, cost_limit: float) -> float:
        """One PID step with the episode cost; return the new λ (in ``[0, max_value]``)."""
        violation = episode_cost - cost_limit
        integral = max(0.0, self.integral + violation)
        rise = max(0.0, episode_cost - self.previous_cost)
        value = max(0.0, self.kp * violation + self.ki * integral + self.kd * rise)
        if self.max_value is not None and value > self.max_value:
            value = self.max_value
            if violation > 0:  # anti-windup: the integral would only push further past the cap
                integral = self.integral
        self.value, self.integral, self.previous_cost = value, integral, episode_cost
        return self.value

    def state_dict(self) -> dict[str, Any]:
        """λ, the integral and the previous cost (the gains come from the config)."""
        return {"value": self.value, "integral": self.integral, "previous_cost": self.previous_cost}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.value = float(state["value"])
        self.integral = float(state["integral"])
        self.previous_cost = float(state["previous_cost"])


Multiplier = GradientMultiplier | PIDMultiplier


@dataclass(frozen=True)
class LagrangianFields:
    """The constraint and λ's update rule; the configs of the Lagrangian agents inherit them.

    Listed first among a config's bases, so that its ``__post_init__`` checks these fields after the agent
    config's own checks.
    """

    cost_limit: float = 25.0
    """The constraint: the mean episode cost (the sum of ``info[cost_key]`` over an episode) to stay at or under."""
    cost_key: str = "cost"
    """The ``info`` key of the env's per-step cost; the env must report it on every step."""
    lagrangian: Literal["gradient", "pid"] = "gradient"
    """λ's update: ``gradient`` (projected ascent on λ) or ``pid`` (Stooke et al. 2020)."""
    lagrangian_lr: float = 0.01
    """Step size of the ``gradient`` rule: λ moves by ``lagrangian_lr * (episode cost - cost_limit)``."""
    lagrange_multiplier_init: float = 0.0
    """λ before the first update (``gradient`` rule; the ``pid`` rule computes λ from its terms); at most the cap."""
    lagrange_multiplier_max: float | None = None
    """Cap on λ (both rules; the ``pid`` integral stops growing at the cap); None: no cap."""
    pid_kp: float = 0.1
    """Proportional gain of the ``pid`` rule (on the violation ``episode cost - cost_limit``)."""
    pid_ki: float = 0.01
    """Integral gain of the ``pid`` rule (on the violation summed over updates, kept >= 0)."""
    pid_kd: float = 0.01
    """Derivative gain of the ``pid`` rule (on the episode cost's rise since the last update)."""

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[misc]  # the agent config this mixin is combined with
        self.check_lagrangian()

    def check_lagrangian(self) -> None:
        """Raise ConfigError naming the first of these fields that is out of range."""
        owner = type(self).__name__
        require(self.cost_limit >= 0, owner, "cost_limit", self.cost_limit, ">= 0 (a cost budget per episode)")
        require(isinstance(self.cost_key, str) and self.cost_key != "", owner, "cost_key", self.cost_key,
                "a non-empty info key")
        require(self.lagrangian in ("gradient", "pid"), owner, "lagrangian", self.lagrangian, "'gradient' or 'pid'")
        require(self.lagrangian_lr > 0, owner, "lagrangian_lr", self.lagrangian_lr, "> 0")
        require(self.lagrange_multiplier_init >= 0, owner, "lagrange_multiplier_init",
                self.lagrange_multiplier_init, ">= 0")
        require(self.lagrange_multiplier_max is None or self.lagrange_multiplier_max > 0, owner,
                "lagrange_multiplier_max", self.lagrange_multiplier_max, "> 0 or None")
        cap = self.lagrange_multiplier_max
        # λ starts at init and, in SAC-Lagrangian, weighs the actor until the first episode ends: above the cap
        require(cap is None or self.lagrange_multiplier_init <= cap, owner, "lagrange_multiplier_init",
                self.lagrange_multiplier_init, f"<= lagrange_multiplier_max = {cap} (λ never exceeds its cap)")
        for name in ("pid_kp", "pid_ki", "pid_kd"):
            require(getattr(self, name) >= 0, owner, name, getattr(self, name), ">= 0")


def batch_costs(agent: Any, batch: Any) -> np.ndarray:
    """The per-step costs of ``batch`` (a TransitionBatch), ``batch.extras[agent.cost_key]``, as float64.

    Raises:
        ConfigError: the batch has no such extra (the Core was given ``info_keys`` without the agent's).
    """
    if agent.cost_key not in batch.extras:
        raise ConfigError(f"{type(agent).__name__} needs batch.extras[{agent.cost_key!r}]: build the Core without "
                          f"info_keys, or with the agent's ({agent.info_keys}), so the loop records the env's cost")
    return np.asarray(batch.extras[agent.cost_key], dtype=np.float64)
