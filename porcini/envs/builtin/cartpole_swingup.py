"""Cart-pole swing-up: push the cart to swing a hanging pole up, then balance it, on a bounded track.

A continuous-control task for model-based RL (the cart-pole of PETS, Chua et al. 2018, in the style of
dm_control's ``cartpole.swingup``): smooth dynamics, a smooth reward and no termination, so a learned model needs
no termination function. Its equations for planners are
:class:`porcini.algorithms.model_based.known_models.CartPoleSwingUpModel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

_HEIGHT, _WIDTH = 64, 128


class CartPoleSwingUp(gym.Env):
    """The cart-pole of Barto, Sutton & Anderson (1983) with the pole starting down and a continuous force.

    State ``(x, ẋ, θ, θ̇)``, θ measured from upright (θ = 0 up, ±π down), wrapped to ``[-π, π)``. Dynamics:
    Gymnasium's CartPole equations (g = 9.8, cart mass ``m_c`` = 1, pole mass ``m_p`` = 0.1, half pole length
    ``l`` = 0.5, ``M = m_c + m_p``), with the force ``F = 10 u`` of the action ``u = clip(a, -1, 1)``::

        tmp = (F + m_p l θ̇² sin θ) / M
        θ̈   = (g sin θ - cos θ · tmp) / (l (4/3 - m_p cos² θ / M))
        ẍ   = tmp - m_p l θ̈ cos θ / M

    integrated by semi-implicit Euler (velocities first, then positions with the new velocities) in
    ``substeps`` = 2 substeps of 0.025 s per step of ``dt`` = 0.05 s. The method's energy error is first order
    in the substep: over an episode a free swing keeps its energy within 8% of the pole's height range ``2 m_p g l``
    (tested), where one substep would double the error. The track is bounded: when a substep takes the cart past
    ``|x| = 2.4`` it is put back on the wall with ``ẋ = 0`` (an inelastic stop; the pole is unaffected). Reset:
    ``(0, 0, π, 0)`` plus uniform noise in ``±0.05`` on each variable (``options={"state": (x, ẋ, θ, θ̇)}``
    starts exactly there instead).

    Observation: ``float32 [5]`` ``(x, ẋ, cos θ, sin θ, θ̇)``; the velocities are unbounded. Action:
    ``Box(-1, 1, (1,))``, the force as a share of 10 N. Reward, on the state after the step::

        reward = (1 + cos θ) / 2  ·  (1 + exp(-x²)) / 2  ·  (4 + 1 - u²) / 5

    upright times centred times small control, smooth and in ``[0, 1]``: 1 exactly when the pole is up, the cart
    at 0 and no force is applied; a pole held up at the wall still earns half. Never terminated; register it with
    a time limit (``porcini/CartPoleSwingUp-v0`` truncates at 200 steps, so returns lie in ``[0, 200]``).

    Solved: an episode return of 150 or more, reached only by swinging the pole up within a few dozen steps and
    balancing it near the centre for the rest of the episode; a spinning or dangling pole stays far below it. The
    threshold comes from MPC with CEM on the known model (horizon 30, 400 sequences, 5 iterations), which clears
    it with room to spare on every seed while a random policy scores a small fraction of it
    (``docs/environments.md`` has the returns, ``tests/algorithms/model_based/test_learning_swing_up.py``
    reproduces them).

    Example:
        >>> env = CartPoleSwingUp()
        >>> obs, info = env.reset(seed=0)
        >>> bool(obs[2] < -0.99)  # cos θ: the pole hangs down
        True
        >>> obs, reward, terminated, truncated, info = env.step([0.5])
        >>> 0.0 <= reward < 0.01, terminated
        (True, False)

    Args:
        render_mode: None or ``"rgb_array"`` (a ``64 x 128`` picture).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}

    gravity, cart_mass, pole_mass, half_length, force_mag = 9.8, 1.0, 0.1, 0.5, 10.0
    dt, substeps, x_limit, reset_noise = 0.05, 2, 2.4, 0.05

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"CartPoleSwingUp: render_mode {render_mode!r} is not one of {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        high = np.array([self.x_limit, np.inf, 1.0, 1.0, np.inf], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.state = np.array([0.0, 0.0, np.pi, 0.0])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict]:
        """Hang the pole down under a cart near the centre (or start at ``options["state"]``)."""
        super().reset(seed=seed)
        if options is not None and "state" in options:
            self.state = _start_state(options["state"], self.x_limit)
        else:
            noise = self.np_random.uniform(-self.reset_noise, self.reset_noise, size=4)
            self.state = np.array([0.0, 0.0, np.pi, 0.0]) + noise
        self.state[2] = _wrap(self.state[2])
        return self._obs(), {}

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict]:
        """Push with ``10 * clip(action, -1, 1)`` newtons for 0.05 s; reward the state reached."""
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (1,) or not np.isfinite(action[0]):
            raise ValueError(f"CartPoleSwingUp: action must be one finite number (a force), got {action!r}")
        u = float(np.clip(action[0], -1.0, 1.0))
        x, x_dot, theta, theta_dot = (float(v) for v in self.state)
        total_mass = self.cart_mass + self.pole_mass
        pole_moment = self.pole_mass * self.half_length
        h = self.dt / self.substeps
        for _ in range(self.substeps):
            sin, cos = np.sin(theta), np.cos(theta)
            tmp = (self.force_mag * u + pole_moment * theta_dot**2 * sin) / total_mass
            theta_acc = (self.gravity * sin - cos * tmp) / (
                self.half_length * (4.0 / 3.0 - self.pole_mass * cos**2 / total_mass)
            )
            x_acc = tmp - pole_moment * theta_acc * cos / total_mass
            x_dot += h * x_acc
            x += h * x_dot
            theta_dot += h * theta_acc
            theta += h * theta_dot
            if abs(x) > self.x_limit:  # the wall stops the cart
                x, x_dot = float(np.clip(x, -self.x_limit, self.x_limit)), 0.0
        self.state = np.array([x, x_dot, _wrap(theta), theta_dot])
        upright = (1.0 + np.cos(theta)) / 2.0
        centered = (1.0 + np.exp(-(x**2))) / 2.0
        small_control = (4.0 + 1.0 - u**2) / 5.0
        return self._obs(), float(upright * centered * small_control), False, False, {}

    def _obs(self) -> NDArray[np.float32]:
        x, x_dot, theta, theta_dot = self.state
        return np.array([x, x_dot, np.cos(theta), np.sin(theta), theta_dot], dtype=np.float32)

    def render(self) -> NDArray[np.uint8] | None:
        """Draw a ``64 x 128`` RGB picture: the track gray, the cart blue, the pole brown (up is up)."""
        if self.render_mode != "rgb_array":
            return None
        image = np.full((_HEIGHT, _WIDTH, 3), 255, dtype=np.uint8)
        scale = (_WIDTH - 8) / (2 * (self.x_limit + 0.2))  # pixels per metre: the track and the cart fit
        track_row = _HEIGHT // 2 + 8
        image[track_row, :] = (160, 160, 160)
        x, _, theta, _ = self.state
        cart_col = int(round(_WIDTH / 2 + x * scale))
        image[track_row - 3:track_row + 1, max(cart_col - 6, 0):cart_col + 7] = (40, 40, 255)
        along = np.linspace(0.0, 2 * self.half_length * scale, 40)  # the pole: points from the pivot to the tip
        rows = np.round(track_row - 3 - along * np.cos(theta)).astype(int)
        cols = np.round(cart_col + along * np.sin(theta)).astype(int)
        inside = (rows >= 0) & (rows < _HEIGHT) & (cols >= 0) & (cols < _WIDTH)
        for d_row, d_col in ((0, 0), (0, 1), (1, 0)):
            image[np.clip(rows[inside] + d_row, 0, _HEIGHT - 1), np.clip(cols[inside] + d_col, 0, _WIDTH - 1)] = (
                150,
                90,
                40,
            )
        return image


def _wrap(theta: float) -> float:
    """``theta`` in ``[-π, π)``."""
    return float((theta + np.pi) % (2 * np.pi) - np.pi)


def _start_state(state: Sequence[float], x_limit: float) -> NDArray[np.float64]:
    start = np.array(state, dtype=np.float64)  # a copy: reset wraps its angle, the caller's array stays as it was
    if start.shape != (4,) or not np.all(np.isfinite(start)) or abs(start[0]) > x_limit:
        raise ValueError(
            f"CartPoleSwingUp: options['state'] must be 4 finite numbers (x, x_dot, theta, theta_dot) with "
            f"|x| <= {x_limit}, got {state!r}"
        )
    return start
