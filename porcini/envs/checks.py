"""check_env: validate an environment against the Gymnasium API and its own spaces, with errors that name the fix."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.episode_log import observations_equal
from porcini.errors import EnvCheckError


def _name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(getattr(env, "unwrapped", env)).__name__


def _check_obs(env_name: str, space: gym.Space, obs: Any, where: str) -> None:
    if isinstance(space, gym.spaces.Box):
        if not isinstance(obs, np.ndarray):
            raise EnvCheckError(
                f"{env_name}: {where} returned an observation of type {type(obs).__name__}; observation_space is "
                f"{space}, so return an np.ndarray of dtype {space.dtype} and shape {space.shape}"
            )
        if obs.shape != space.shape:
            raise EnvCheckError(
                f"{env_name}: {where} returned an observation of shape {obs.shape}, but observation_space has shape "
                f"{space.shape}; fix the observation or the space"
            )
        if obs.dtype != space.dtype:
            raise EnvCheckError(
                f"{env_name}: {where} returned an observation of dtype {obs.dtype}, but observation_space has dtype "
                f"{space.dtype}; cast with .astype(np.{space.dtype}) or declare the space with that dtype"
            )
        if np.issubdtype(obs.dtype, np.floating) and not np.isfinite(obs).all():
            raise EnvCheckError(f"{env_name}: {where} returned a non-finite observation {obs.tolist()}")
    if not space.contains(obs):
        raise EnvCheckError(
            f"{env_name}: {where} returned observation {obs!r}, which is outside observation_space {space}; "
            "fix the env or widen the space"
        )


def check_env(env: Any, steps: int = 50, seed: int = 0) -> None:
    """Validate ``env`` (a ``gymnasium.Env``) by resetting and stepping it with random actions.

    Checks the spaces are Gymnasium spaces; ``reset`` returns ``(obs, info)`` and ``step`` returns
    ``(obs, reward, terminated, truncated, info)``; observations match the observation space in shape, dtype and
    bounds and are finite; rewards are finite real numbers; ``terminated``/``truncated`` are bools; ``info`` is a
    dict; the same seed gives the same first observation.

    Raises:
        EnvCheckError: naming the problem and the fix.

    Example:
        >>> import gymnasium as gym
        >>> check_env(gym.make("CartPole-v1"))
    """
    name = _name(env)
    for attr in ("observation_space", "action_space"):
        space = getattr(env, attr, None)
        if not isinstance(space, gym.Space):
            raise EnvCheckError(f"{name}: {attr} is {space!r}, not a gymnasium.spaces.Space; set it in __init__")
    _check_reset(env, name, seed)
    env.action_space.seed(seed)
    for step in range(steps):
        _check_step(env, name, f"step {step + 1}")


def _check_reset(env: Any, name: str, seed: int) -> None:
    """``reset`` returns ``(obs, info)`` with a valid observation, and the same seed gives the same observation."""
    try:
        result = env.reset(seed=seed)
    except TypeError as err:
        raise EnvCheckError(
            f"{name}: reset(seed=...) failed ({err}); reset must accept keyword arguments seed and options"
        ) from err
    if not (isinstance(result, tuple) and len(result) == 2):
        raise EnvCheckError(f"{name}: reset must return (obs, info), got {type(result).__name__}; "
                            "Gymnasium >= 0.26 API")
    obs, info = result
    if not isinstance(info, dict):
        raise EnvCheckError(f"{name}: reset returned info of type {type(info).__name__}; return a dict")
    _check_obs(name, env.observation_space, obs, "reset")
    again, _ = env.reset(seed=seed)
    if not observations_equal(obs, again):
        raise EnvCheckError(
            f"{name}: reset(seed={seed}) twice gave different observations; seed self.np_random through "
            "super().reset(seed=seed) and draw randomness only from it"
        )


def sample_action(space: gym.Space) -> Any:
    """A random action of ``space``, as ``space.sample()``, also for a Box bounded near the float64 maximum.

    Gymnasium's ``Box.sample`` draws ``uniform(low, high)``, which overflows when ``high - low`` exceeds the float64
    range (bounds at ``±np.finfo(np.float64).max``): such a Box is sampled within the float32 range instead, still
    inside its bounds.

    Raises:
        EnvCheckError: another space that cannot be sampled (a Dict or Tuple holding such a Box), naming the fix.
    """
    try:
        with np.errstate(over="ignore"):  # high - low overflows to inf first: the OverflowError below says it
            return space.sample()
    except OverflowError:
        if not isinstance(space, gym.spaces.Box) or not np.issubdtype(space.dtype, np.floating):
            raise EnvCheckError(f"action space {space} cannot be sampled: a range wider than float64 overflows "
                                "Gymnasium's uniform draw; declare bounds within the float32 range, or infinite ones "
                                "for an unbounded action") from None
    limit = float(np.finfo(np.float32).max)
    inner = gym.spaces.Box(np.clip(space.low, -limit, limit), np.clip(space.high, -limit, limit), space.shape,
                           space.dtype, seed=int(space.np_random.integers(2**31)))
    return inner.sample()


def _check_step(env: Any, name: str, where: str) -> None:
    """One random step returns a valid 5-tuple; an ended episode is reset and its first observation checked."""
    result = env.step(sample_action(env.action_space))
    if not (isinstance(result, tuple) and len(result) == 5):
        raise EnvCheckError(
            f"{name}: step must return (obs, reward, terminated, truncated, info), got a "
            f"{len(result) if isinstance(result, tuple) else type(result).__name__}-tuple; the 4-tuple 'done' "
            "API is gone since Gymnasium 0.26"
        )
    obs, reward, terminated, truncated, info = result
    _check_obs(name, env.observation_space, obs, where)
    if not isinstance(reward, (int, float, np.integer, np.floating)) or isinstance(reward, bool):
        raise EnvCheckError(f"{name}: {where} returned reward {reward!r} of type {type(reward).__name__}; "
                            "return a float")
    if not math.isfinite(float(reward)):
        raise EnvCheckError(f"{name}: {where} returned a non-finite reward {reward}; fix the reward computation")
    for flag_name, flag in (("terminated", terminated), ("truncated", truncated)):
        if not isinstance(flag, (bool, np.bool_)):
            raise EnvCheckError(f"{name}: {where} returned {flag_name}={flag!r} of type {type(flag).__name__}; "
                                "it must be a bool")
    if not isinstance(info, dict):
        raise EnvCheckError(f"{name}: {where} returned info of type {type(info).__name__}; return a dict")
    if terminated or truncated:
        obs, info = env.reset()
        _check_obs(name, env.observation_space, obs, f"reset after {where}")
