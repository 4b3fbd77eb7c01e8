"""Gymnasium's MuJoCo tasks (``porcini[mujoco]``): ``make_env`` with a check that MuJoCo is installed.

Gymnasium's MuJoCo envs already follow the API porcini needs, so the adapter is thin. What they add is in ``info``:
reward components (``reward_ctrl``, ``reward_forward``, ``reward_survive``...), positions and velocities;
``porcini.experiment.loggers.EpisodeInfoAggregator`` aggregates them per episode for loggers (the experiment
runner logs them as ``env/<key>/episode_sum`` and ``env/<key>/step_mean``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from porcini.envs.adapters.extras import require_extra
from porcini.envs.make import make_env


def make_mujoco_env(env_id: str = "InvertedPendulum-v5", n_envs: int = 1, seed: int | None = None,
                    **make_env_kwargs: Any) -> Any:
    """A porcini vector env of a Gymnasium MuJoCo task.

    Args:
        env_id: a Gymnasium MuJoCo id (``"InvertedPendulum-v5"``, ``"HalfCheetah-v5"``, ``"Hopper-v5"``...).
        n_envs: number of envs stepped together.
        seed: as in ``make_env`` (env ``i`` is reset with ``porcini.seeding.env_reset_seeds(seed, n_envs)[i]``).
        **make_env_kwargs: passed to ``porcini.make_env`` (``wrappers``, ``max_episode_steps``, ``env_kwargs``
            such as ``{"reset_noise_scale": 0.1}``...).

    Raises:
        ImportError: MuJoCo is not installed (names ``pip install "porcini[mujoco]"``).
        ValueError: ``env_id`` is not a registered MuJoCo task.

    Example:
        >>> from porcini import Core
        >>> from porcini.algorithms.random import RandomAgent
        >>> from porcini.experiment.loggers import EpisodeInfoAggregator
        >>> env = make_mujoco_env("InvertedPendulum-v5", seed=0)
        >>> stats = EpisodeInfoAggregator(env.num_envs)
        >>> _ = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False).learn(steps=200)
        >>> sorted(stats.metrics())
        ['env/reward_survive/episode_sum', 'env/reward_survive/step_mean']
    """
    require_extra("mujoco", "mujoco", f"the MuJoCo task {env_id}")
    spec = gym.registry.get(env_id)
    entry = str(spec.entry_point) if spec is not None else ""
    if spec is None or "mujoco" not in entry:
        known = sorted(k for k, s in gym.registry.items() if "mujoco" in str(s.entry_point) and k.endswith("-v5"))
        raise ValueError(f"{env_id!r} is not a Gymnasium MuJoCo task; known v5 tasks: {known}")
    return make_env(env_id, n_envs, seed, **make_env_kwargs)
