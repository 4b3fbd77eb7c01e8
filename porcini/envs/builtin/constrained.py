"""Constrained tasks for safe RL: the reward says what to do, a separate cost what to avoid.

The cost is not part of the reward: it is reported separately as ``info["cost"]`` on every step (0.0 when the
step is safe), so constrained methods (Lagrangian PPO, CPO, ...) can budget it, in the style of Safety Gym
(Ray, Achiam & Amodei, 2019).

- :class:`PointHazardEnv`: reach a goal; a cost for every step spent in a hazard disc on the straight path.
- :class:`CartPoleBand`: CartPole-v1; a cost for every step the cart ends outside a centre band.
- :class:`PendulumSpeed`: Pendulum-v1; a cost for every step that ends with the pendulum spinning fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv, PendulumEnv
from numpy.typing import NDArray

_IMAGE_SIZE = 64


class PointHazardEnv(gym.Env):
    """A point in the square ``[-1, 1]^2`` steers to a goal disc; the straight path crosses a hazard disc.

    Action: ``Box(-1, 1, (2,))`` velocity; it is clipped to the bounds and scaled by ``max_speed``, and the
    point is clipped to the square. Reward: the progress toward the goal centre,
    ``distance_before - distance_after``, plus ``goal_reward`` when the point enters the goal disc, which
    terminates the episode. Cost: ``info["cost"] = hazard_cost`` when the point ends the step strictly inside
    the hazard disc, else 0.0. Register it with a time limit (``porcini/PointHazard-v0`` has 200 steps).

    Observation: ``float32 [6]``: position ``(x, y)``, goal minus position, hazard centre minus position.

    Example:
        >>> env = PointHazardEnv(start_noise=0.0)
        >>> _ = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step([1.0, 1.0])
        >>> info["cost"]
        0.0

    Args:
        start: mean start position.
        start_noise: the start is drawn uniformly within ``start +- start_noise`` on each axis.
        goal: goal centre.
        goal_radius: radius of the goal disc.
        hazard_center: hazard centre.
        hazard_radius: radius of the hazard disc.
        max_speed: distance per step of a full-scale action.
        goal_reward: bonus for reaching the goal.
        hazard_cost: cost per step inside the hazard.
        render_mode: None or ``"rgb_array"``.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        *,
        start: Sequence[float] = (-0.7, -0.7),
        start_noise: float = 0.1,
        goal: Sequence[float] = (0.7, 0.7),
        goal_radius: float = 0.1,
        hazard_center: Sequence[float] = (0.0, 0.0),
        hazard_radius: float = 0.3,
        max_speed: float = 0.05,
        goal_reward: float = 1.0,
        hazard_cost: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        self.start = _point(start, "start")
        self.goal = _point(goal, "goal")
        self.hazard_center = _point(hazard_center, "hazard_center")
        if min(goal_radius, hazard_radius, max_speed) <= 0 or start_noise < 0:
            raise ValueError(
                "PointHazardEnv: goal_radius, hazard_radius, max_speed must be positive, start_noise >= 0; "
                f"got {goal_radius}, {hazard_radius}, {max_speed}, {start_noise}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"PointHazardEnv: render_mode {render_mode!r} is not one of {self.metadata['render_modes']}"
            )
        self.start_noise, self.goal_radius, self.hazard_radius = (
            float(start_noise),
            float(goal_radius),
            float(hazard_radius),
        )
        self.max_speed, self.goal_reward, self.hazard_cost = (
            float(max_speed),
            float(goal_reward),
            float(hazard_cost),
        )
        self.render_mode = render_mode
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        low = np.array([-1, -1, -2, -2, -2, -2], dtype=np.float32)
        self.observation_space = gym.spaces.Box(low, -low, dtype=np.float32)
        self.position = self.start.copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict]:
        """Place the point near ``start``."""
        super().reset(seed=seed)
        noise = self.np_random.uniform(-self.start_noise, self.start_noise, size=2)
        self.position = np.clip(self.start + noise, -1.0, 1.0)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict]:
        """Move by ``max_speed * clip(action, -1, 1)``; reward the progress, report the hazard cost."""
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,) or not np.all(np.isfinite(action)):
            raise ValueError(f"PointHazardEnv: action must be 2 finite numbers (a velocity), got {action!r}")
        distance_before = float(np.linalg.norm(self.goal - self.position))
        self.position = np.clip(self.position + self.max_speed * np.clip(action, -1.0, 1.0), -1.0, 1.0)
        distance_after = float(np.linalg.norm(self.goal - self.position))
        reached = distance_after < self.goal_radius
        reward = distance_before - distance_after + (self.goal_reward if reached else 0.0)
        in_hazard = bool(np.linalg.norm(self.position - self.hazard_center) < self.hazard_radius)
        info = {"cost": self.hazard_cost if in_hazard else 0.0, "distance_to_goal": distance_after}
        return self._obs(), reward, reached, False, info

    def _obs(self) -> NDArray[np.float32]:
        return np.concatenate([self.position, self.goal - self.position, self.hazard_center - self.position]).astype(
            np.float32
        )

    def render(self) -> NDArray[np.uint8] | None:
        """Draw a ``64 x 64`` RGB picture: hazard red, goal green, the point blue (y grows upward)."""
        if self.render_mode != "rgb_array":
            return None
        centers = (np.arange(_IMAGE_SIZE) + 0.5) / _IMAGE_SIZE * 2.0 - 1.0
        x, y = np.meshgrid(centers, centers[::-1])
        image = np.full((_IMAGE_SIZE, _IMAGE_SIZE, 3), 255, dtype=np.uint8)
        for center, radius, color in (
            (self.hazard_center, self.hazard_radius, (255, 80, 80)),
            (self.goal, self.goal_radius, (80, 200, 80)),
            (self.position, 0.04, (40, 40, 255)),
        ):
            image[(x - center[0]) ** 2 + (y - center[1]) ** 2 < radius**2] = color
        return image


def _point(value: Sequence[float], name: str) -> NDArray[np.float64]:
    point = np.asarray(value, dtype=np.float64)
    if point.shape != (2,) or np.any(np.abs(point) > 1.0):
        raise ValueError(f"PointHazardEnv: {name} must be a point (x, y) inside [-1, 1]^2, got {value!r}")
    return point


class CartPoleBand(CartPoleEnv):
    """CartPole-v1 with a cost for leaving a centre band: ``info["cost"] = 1.0`` when ``|x| > band``, else 0.0.

    Dynamics, observation, reward (1 per step) and termination (``|x| > 2.4`` or the pole past 12 degrees) are
    Gymnasium's ``CartPoleEnv``; ``x`` is the cart position after the step. The episode cost is the number of
    steps the cart spends outside ``[-band, band]``. Register it with a time limit (``porcini/CartPoleBand-v0``
    has 500 steps, as CartPole-v1). The velocities' bounds are float32's largest finite value instead of
    Gymnasium 1.x's infinity (Gymnasium 0.x's CartPole bounds), which the env checker accepts.

    Example:
        >>> env = CartPoleBand(band=0.1)
        >>> _ = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(1)
        >>> info["cost"], reward
        (0.0, 1.0)

    Args:
        band: half-width of the centre band, in CartPole's position units (the track ends at 2.4).
        render_mode: as ``CartPoleEnv``.
    """

    def __init__(self, band: float = 0.1, render_mode: str | None = None) -> None:
        if not 0 < band < 2.4:
            raise ValueError(f"CartPoleBand: band must be in (0, 2.4), the track's half-length; got {band!r}")
        super().__init__(render_mode=render_mode)
        self.band = float(band)
        largest = np.finfo(np.float32).max
        high = np.array([2 * self.x_threshold, largest, 2 * self.theta_threshold_radians, largest], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict]:
        """CartPole's step; ``info["cost"]`` is 1.0 when the cart ends it outside the band."""
        obs, reward, terminated, truncated, info = super().step(action)
        info["cost"] = 1.0 if abs(float(obs[0])) > self.band else 0.0
        return obs, reward, terminated, truncated, info


class PendulumSpeed(PendulumEnv):
    """Pendulum-v1 with a cost on speed: ``info["cost"] = 1.0`` when ``|θ̇| > max_safe_speed``, else 0.0.

    Dynamics, observation ``(cos θ, sin θ, θ̇)`` and reward are Gymnasium's ``PendulumEnv``; the action is
    normalized, ``Box(-1, 1, (1,))``, and scaled to Pendulum's torque range ``[-2, 2]``. ``θ̇`` is the angular
    velocity after the step (Pendulum clips it to ``[-8, 8]``). The episode cost is the
    number of steps spent spinning faster than ``max_safe_speed``: a swing-up must pump energy gently. Register
    it with a time limit (``porcini/PendulumSpeed-v0`` has 200 steps, as Pendulum-v1).

    Example:
        >>> env = PendulumSpeed(max_safe_speed=4.0)
        >>> _ = env.reset(seed=0)
        >>> info = env.step([0.0])[-1]
        >>> info["cost"]
        0.0

    Args:
        max_safe_speed: the angular velocity (rad/s) above which a step costs 1.
        render_mode: as ``PendulumEnv``.
        g: gravity, as ``PendulumEnv``.
    """

    def __init__(self, max_safe_speed: float = 4.0, render_mode: str | None = None, g: float = 10.0) -> None:
        if not 0 < max_safe_speed < 8:
            raise ValueError(f"PendulumSpeed: max_safe_speed must be in (0, 8), Pendulum's speed limit; "
                             f"got {max_safe_speed!r}")
        super().__init__(render_mode=render_mode, g=g)
        self.max_safe_speed = float(max_safe_speed)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict]:
        """Pendulum's step at torque ``2 * clip(action, -1, 1)``; ``info["cost"]`` is 1.0 above ``max_safe_speed``."""
        torque = self.max_torque * np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        obs, reward, terminated, truncated, info = super().step(torque)
        info["cost"] = 1.0 if abs(float(obs[2])) > self.max_safe_speed else 0.0
        return obs, reward, terminated, truncated, info
