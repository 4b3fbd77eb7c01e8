"""Action wrappers: rescale from [-1, 1] to the env's bounds, clip to them, sticky actions, action repeat."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import make_box, require_box, require_env


def _finite_box(owner: str, env: gym.Env) -> gym.spaces.Box:
    require_env(owner, env, vector=False)
    space = require_box(owner, env.action_space, "action", "it only applies to continuous actions")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{owner} needs finite action bounds, got {space}; there is no range to map to")
    return space


class ClippedRescaleAction(gym.ActionWrapper):
    """Lets the agent act in ``[min_action, max_action]`` (default ``[-1, 1]``) and maps actions to the env's bounds.

    ``env_action = low + (action - min_action) * (high - low) / (max_action - min_action)``, per dimension, then
    clipped to ``[low, high]`` against rounding. The action space becomes ``Box(min_action, max_action)``, so
    porcini's run-time checks reject actions outside it (squash or clip them in the agent).

    Not Gymnasium's ``RescaleAction``, hence another name: that one passes an action outside
    ``[min_action, max_action]`` on unclipped, has no default range and accepts infinite bounds.

    Args:
        env: a single env with a Box action space and finite bounds.
        min_action: lower bound the agent uses (scalar or array of the action shape).
        max_action: upper bound the agent uses.

    Example:
        >>> env = ClippedRescaleAction(gym.make("Pendulum-v1"))  # the env's torque is in [-2, 2]
        >>> env.action_space, float(env.action(np.array([0.5], dtype=np.float32))[0])
        (Box(-1.0, 1.0, (1,), float32), 1.0)
    """

    def __init__(self, env: gym.Env, min_action: float | np.ndarray = -1.0, max_action: float | np.ndarray = 1.0):
        space = _finite_box("ClippedRescaleAction", env)
        lo = np.broadcast_to(np.asarray(min_action, dtype=np.float64), space.shape)
        hi = np.broadcast_to(np.asarray(max_action, dtype=np.float64), space.shape)
        if not np.all(lo < hi):
            raise ValueError(f"ClippedRescaleAction: min_action {lo.tolist()} must be below max_action {hi.tolist()}")
        super().__init__(env)
        self.min_action, self.max_action = lo.copy(), hi.copy()
        self._low, self._high = space.low.astype(np.float64), space.high.astype(np.float64)
        self._slope = (self._high - self._low) / (hi - lo)
        self.action_space = make_box(lo.astype(space.dtype), hi.astype(space.dtype), space.dtype)

    def action(self, action: Any) -> np.ndarray:
        """Map an agent action to the env's bounds."""
        a = self._low + (np.asarray(action, dtype=np.float64) - self.min_action) * self._slope
        return np.clip(a, self._low, self._high).astype(self.env.action_space.dtype)


class ClipAction(gym.ActionWrapper):
    """Clips actions to the env's bounds; the action space becomes unbounded so any real action is accepted.

    Args:
        env: a single env with a Box action space.

    Example:
        >>> env = ClipAction(gym.make("Pendulum-v1"))
        >>> float(env.action(np.array([5.0]))[0])
        2.0
    """

    def __init__(self, env: gym.Env) -> None:
        require_env("ClipAction", env, vector=False)
        space = require_box("ClipAction", env.action_space, "action", "it only applies to continuous actions")
        super().__init__(env)
        self._bounds = space
        self.action_space = make_box(-np.inf, np.inf, space.dtype, space.shape)

    def action(self, action: Any) -> np.ndarray:
        """The action clipped to the env's bounds."""
        space = self._bounds
        return np.clip(np.asarray(action), space.low, space.high).astype(space.dtype)


class StickyAction(gym.Wrapper):
    """With probability ``repeat_action_probability`` the env repeats its previous action instead of the new one.

    The sticky actions of Machado et al. (2018), "Revisiting the Arcade Learning Environment": a stochasticity
    the agent cannot predict. The coin is drawn from the env's own ``np_random`` at every step after the first
    of an episode, so a seeded env repeats exactly and porcini's resume-by-replay rebuilds it. The first step of
    an episode always takes the agent's action.

    Args:
        env: a single env (any action space).
        repeat_action_probability: probability in ``[0, 1)`` of repeating the previous action.

    Example:
        >>> env = StickyAction(gym.make("CartPole-v1"), repeat_action_probability=0.25)
        >>> _ = env.reset(seed=0)
    """

    def __init__(self, env: gym.Env, repeat_action_probability: float = 0.25) -> None:
        require_env("StickyAction", env, vector=False)
        if not 0.0 <= repeat_action_probability < 1.0:
            raise ValueError(f"StickyAction: repeat_action_probability = {repeat_action_probability!r} is invalid: "
                             "must be in [0, 1)")
        super().__init__(env)
        self.repeat_action_probability = float(repeat_action_probability)
        self._last_action: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset; the next step takes the agent's action."""
        self._last_action = None
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Step with the previous action with probability ``repeat_action_probability``, else with ``action``."""
        if self._last_action is not None and self.env.unwrapped.np_random.uniform() < self.repeat_action_probability:
            action = self._last_action
        self._last_action = action
        return self.env.step(action)


class RepeatAction(gym.Wrapper):
    """Repeats every action for ``num_repeats`` env steps and returns the summed reward (frame skipping).

    Stops early when the episode ends, so no step crosses an episode boundary; the observation, flags and
    info are those of the last inner step, and ``info["repeat_steps"]`` says how many inner steps ran (to
    discount the summed reward correctly, ``gamma ** repeat_steps``, in a semi-MDP view). A time limit below it
    counts inner steps; ``env.info.horizon`` counts agent steps (``ceil(limit / num_repeats)``).

    Args:
        env: a single env.
        num_repeats: env steps per agent step (>= 1).

    Example:
        >>> env = RepeatAction(gym.make("CartPole-v1"), num_repeats=4)
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(0)
        >>> reward, info["repeat_steps"]
        (4.0, 4)
    """

    def __init__(self, env: gym.Env, num_repeats: int) -> None:
        require_env("RepeatAction", env, vector=False)
        if isinstance(num_repeats, bool) or not isinstance(num_repeats, (int, np.integer)) or num_repeats < 1:
            raise ValueError(f"RepeatAction: num_repeats = {num_repeats!r} is invalid: must be an int >= 1")
        super().__init__(env)
        self.num_repeats = int(num_repeats)

    @property
    def inner_steps(self) -> int:
        """The most steps of the wrapped env one step takes: ``env.info.horizon`` counts steps of this wrapper."""
        return self.num_repeats

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step up to ``num_repeats`` times with ``action``; stop when the episode ends."""
        total, steps = 0.0, 0
        while steps < self.num_repeats:
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            steps += 1
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, {**info, "repeat_steps": steps}
