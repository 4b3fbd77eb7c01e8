"""Atari 2600 games of ale_py (``porcini[atari]``, ROMs included) with the Nature-DQN preprocessing.

:func:`make_atari_env` is ``make_env`` with the recipe of docs/environments.md, "Atari": the game made with
:data:`ATARI_ENV_KWARGS` (one frame per step, no sticky actions: the RL Zoo's ``NoFrameskip-v4`` envs) and wrapped in
:class:`~porcini.envs.wrappers.NatureAtari`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from porcini.envs.adapters.extras import require_extra
from porcini.envs.make import make_env
from porcini.envs.wrappers.atari import NatureAtari, import_cv2

ATARI_ENV_KWARGS: dict[str, Any] = {"frameskip": 1, "repeat_action_probability": 0.0}
"""The ALE arguments of the recipe: ``MaxAndSkip`` does the frame skipping, so the game steps one frame per action;
no sticky actions, as the ``NoFrameskip-v4`` envs the RL Zoo's Atari numbers come from (ALE v5's default is
0.25, Machado et al. 2018: pass ``env_kwargs={"repeat_action_probability": 0.25}`` for that protocol)."""


def make_atari_env(env_id: str = "ALE/Pong-v5", n_envs: int = 1, seed: int | None = None, *,
                   training: bool = True, env_kwargs: dict[str, Any] | None = None,
                   wrapper_kwargs: dict[str, Any] | None = None, **make_env_kwargs: Any) -> Any:
    """A porcini vector env of an Atari game, preprocessed as in the Nature DQN paper.

    Observations are ``[4, 84, 84]`` uint8 frame stacks. The training variant ends an episode for the learner at
    every lost life and turns rewards into their signs; the evaluation one (``training=False``) plays whole games
    and returns the game's score.

    Args:
        env_id: an ale_py id, ``"ALE/<Game>-v5"`` (``"ALE/Pong-v5"``, ``"ALE/Breakout-v5"``...).
        n_envs: number of envs stepped together.
        seed: as in ``make_env``.
        training: the training variant, or the evaluation one.
        env_kwargs: ALE arguments over :data:`ATARI_ENV_KWARGS` (``repeat_action_probability``, ``mode``...).
        wrapper_kwargs: :class:`~porcini.envs.wrappers.NatureAtari` arguments (``noop_max``, ``stack_size``...).
        **make_env_kwargs: passed to ``porcini.make_env`` (``wrappers`` applied after the recipe's,
            ``vectorization``, ``max_episode_steps``...).

    Raises:
        MissingExtraError: ale_py or OpenCV is not installed (names ``pip install "porcini[atari]"``).
        ValueError: ``env_id`` is not an ale_py game.

    Example:
        >>> env = make_atari_env("ALE/Pong-v5", n_envs=2, seed=0)
        >>> env.single_observation_space.shape, env.single_observation_space.dtype
        ((4, 84, 84), dtype('uint8'))
    """
    require_extra("ale_py", "atari", f"the Atari game {env_id}")
    import_cv2("make_atari_env")
    spec = gym.registry.get(env_id)
    if spec is None or "ale_py" not in str(spec.entry_point):
        known = ", ".join(sorted(k for k in gym.registry if k.startswith("ALE/") and k.endswith("-v5"))[:5])
        raise ValueError(f"{env_id!r} is not an ale_py Atari game; its ids are ALE/<Game>-v5, e.g. {known}")
    wrappers = [(NatureAtari, {**(wrapper_kwargs or {}), "training": training}),
                *make_env_kwargs.pop("wrappers", ())]
    return make_env(env_id, n_envs, seed, wrappers=wrappers, env_kwargs={**ATARI_ENV_KWARGS, **(env_kwargs or {})},
                    **make_env_kwargs)
