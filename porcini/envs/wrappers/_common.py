"""Helpers the wrappers share: space checks with errors that name the fix, and the same-step final observation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np


def require_box(owner: str, space: gym.Space, what: str, fix: str) -> gym.spaces.Box:
    """Return ``space`` if it is a Box; else raise TypeError naming ``owner``, the space it got and the fix."""
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"{owner} needs a Box {what} space, got {space}; {fix}")
    return space


def make_box(low: Any, high: Any, dtype: Any, shape: Any = None) -> gym.spaces.Box:
    """``gym.spaces.Box`` with the dtype of another space (Gymnasium's annotations only admit float32 here)."""
    return gym.spaces.Box(low, high, shape=shape, dtype=dtype)


def require_env(owner: str, env: Any, vector: bool) -> None:
    """Raise TypeError when a single-env wrapper gets a vector env or the other way round."""
    if vector and not isinstance(env, gym.vector.VectorEnv):
        raise TypeError(
            f"{owner} wraps a vector env (porcini.make_env returns one), got {type(env).__name__}; "
            f"pass it in make_env(..., wrappers=[{owner}]) or wrap the result of make_env"
        )
    if not vector and not isinstance(env, gym.Env):
        hint = (
            f"pass it to make_env(..., wrappers=[{owner}]) so that it wraps each env"
            if isinstance(env, gym.vector.VectorEnv)
            else "wrap a gymnasium.Env"
        )
        raise TypeError(f"{owner} wraps a single gymnasium.Env, got {type(env).__name__}; {hint}")


def map_final_obs(info: dict[str, Any], fn: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    """A copy of a vector env's ``info`` whose ``final_obs`` went through ``fn`` (a batched transform).

    With same-step autoreset the final observation of an episode that ended reaches the agent only through
    ``info["final_obs"]`` (rows where ``info["_final_obs"]``): an observation wrapper on the vector env must
    transform it exactly as it transforms ``obs``, or the successor of every last transition is in other units.
    porcini's vector env stacks ``final_obs`` into one array (the rows of envs that did not end are filler);
    Gymnasium's holds an object array with None where no episode ended. Both layouts are kept.
    """
    if "final_obs" not in info:
        return info
    final, mask = info["final_obs"], np.asarray(info["_final_obs"], dtype=bool)
    out = dict(info)
    if isinstance(final, np.ndarray) and final.dtype != object:
        out["final_obs"] = fn(final)
        return out
    rows = np.flatnonzero(mask)
    mapped = np.empty(len(final), dtype=object)
    if len(rows):
        transformed = fn(np.stack([np.asarray(final[i]) for i in rows]))
        for j, i in enumerate(rows):
            mapped[i] = transformed[j]
    out["final_obs"] = mapped
    return out


def next_step_autoreset(env: Any) -> bool:
    """Whether ``env`` is a Gymnasium vector env with next-step autoreset: the step after an episode's end resets.

    That step is no transition (its reward is 0, its action ignored): statistics of transitions must skip it.
    """
    mode = getattr(env, "metadata", {}).get("autoreset_mode")
    return bool(getattr(mode, "value", mode) == "NextStep")


def reset_rows(options: dict[str, Any] | None, n_envs: int) -> np.ndarray:
    """The envs a vector ``reset`` starts anew: those of Gymnasium's ``options["reset_mask"]``, else all of them.

    Call it before the inner reset: Gymnasium's vector envs pop the mask from ``options``.
    """
    if options is None or options.get("reset_mask") is None:
        return np.ones(n_envs, dtype=np.bool_)
    return np.array(options["reset_mask"], dtype=np.bool_).reshape(n_envs)


def vector_wrappers(env: Any) -> list[Any]:
    """The vector wrappers around ``env``, outermost first (empty for an unwrapped vector env)."""
    out = []
    while isinstance(env, gym.vector.VectorWrapper):
        out.append(env)
        env = env.env
    return out
