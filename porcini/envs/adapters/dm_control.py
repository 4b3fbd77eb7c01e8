"""dm_control suite tasks through shimmy (``porcini[dm_control]``), with the Dict observation flattened.

dm_control observations are dicts of arrays (``{"position": ..., "velocity": ...}``); porcini's agents take one
array, so the adapter flattens them with Gymnasium's ``FlattenObservation`` (concatenated in the Dict space's key
order). The suite's own time limit (1000 steps for most tasks) ends episodes with ``truncated``; a task that ends
early (its discount drops to 0) gives ``terminated``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

from porcini.envs.adapters.extras import require_extra
from porcini.envs.make import make_env


def dm_control_factory(domain: str, task: str, *, flatten: bool = True, **gym_kwargs: Any) -> Callable[[], gym.Env]:
    """A factory of one dm_control task as a Gymnasium env (named ``dm_control/<domain>-<task>-v0``).

    Args:
        domain: the suite domain (``"cartpole"``, ``"walker"``, ``"cheetah"``...).
        task: the task of that domain (``"balance"``, ``"walk"``, ``"run"``...).
        flatten: flatten the Dict observation into one float array.
        **gym_kwargs: passed to ``gymnasium.make`` (``render_mode``, ``task_kwargs``, ``environment_kwargs``).
    """
    env_id = f"dm_control/{domain}-{task}-v0"

    def build() -> gym.Env:
        shimmy = require_extra("shimmy", "dm_control", f"the dm_control task {domain}-{task}")
        require_extra("dm_control", "dm_control", f"the dm_control task {domain}-{task}")
        gym.register_envs(shimmy)
        if env_id not in gym.registry:
            known = sorted(k for k in gym.registry if k.startswith("dm_control/"))
            raise ValueError(f"{env_id!r} is not a dm_control suite task; known tasks: {known}")
        env = gym.make(env_id, disable_env_checker=True, **gym_kwargs)
        if flatten and isinstance(env.observation_space, gym.spaces.Dict):
            env = gym.wrappers.FlattenObservation(env)
        return env

    build.__name__ = env_id
    return build


def make_dm_control_env(domain: str, task: str, n_envs: int = 1, seed: int | None = None, *, flatten: bool = True,
                        gym_kwargs: dict[str, Any] | None = None, **make_env_kwargs: Any) -> Any:
    """A porcini vector env of a dm_control suite task.

    Args:
        domain: the suite domain (``"cartpole"``).
        task: the task (``"balance"``).
        n_envs: number of envs stepped together.
        seed: as in ``make_env`` (env ``i`` is reset with ``porcini.seeding.env_reset_seeds(seed, n_envs)[i]``).
        flatten: flatten the Dict observation into one float array.
        gym_kwargs: passed to ``gymnasium.make`` for each env (``render_mode``, ``task_kwargs``...).
        **make_env_kwargs: passed to ``porcini.make_env`` (``wrappers``, ``max_episode_steps``, ``vectorization``).

    Raises:
        ImportError: shimmy or dm_control is missing (names ``pip install "porcini[dm_control]"``).

    Example:
        >>> env = make_dm_control_env("cartpole", "balance", seed=0)
        >>> env.info.obs_shape
        (5,)
    """
    require_extra("shimmy", "dm_control", f"the dm_control task {domain}-{task}")
    factory = dm_control_factory(domain, task, flatten=flatten, **(gym_kwargs or {}))
    return make_env(factory, n_envs, seed, **make_env_kwargs)
