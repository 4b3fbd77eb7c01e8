"""A vector-env wrapper that replaces the env's reward with a learned one (AIRL's, a preference model's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import require_env


class LearnedReward(gym.vector.VectorWrapper):
    """Rewards ``reward_fn(obs, action, next_obs, terminated)`` in place of the env's (kept in ``info["env_reward"]``).

    ``obs`` is the observation the action was taken in, ``next_obs`` the true successor (the final observation
    where an episode ended, not the next episode's first) and ``terminated`` the env's flags, so a reward can
    tell a termination from a truncation (a :class:`~porcini.algorithms.imitation.reward_model.RewardModel`
    does). Wrap the training env only: an evaluation env keeps the env's reward, so evaluations report the
    task's return.

    Args:
        env: a vector env (porcini's, or Gymnasium's with same-step autoreset; another mode is a ValueError).
        reward_fn: observations ``[B, ...]``, actions ``[B, ...]``, successors ``[B, ...]`` and flags ``[B]`` to
            rewards ``[B]``.

    Example:
        >>> from porcini import make_env
        >>> env = LearnedReward(make_env("CartPole-v1", n_envs=2, seed=0), lambda obs, action, next_obs, done:
        ...                     -abs(obs[:, 2]))
        >>> obs, _ = env.reset(seed=0)
        >>> _, reward, *_, info = env.step(np.array([0, 1]))
        >>> bool(np.allclose(reward, -abs(obs[:, 2]))), info["env_reward"].tolist()
        (True, [1.0, 1.0])
    """

    def __init__(self, env: gym.vector.VectorEnv, reward_fn: Callable[[Any, Any, Any, Any], Any]) -> None:
        require_env("LearnedReward", env, vector=True)
        mode = getattr(env, "metadata", {}).get("autoreset_mode")
        if mode is not None and getattr(mode, "value", mode) != "SameStep":
            # next-step autoreset: the step after an episode's end is a reset, which a reward_fn would score as a
            # transition from the final observation to the next episode's first
            raise ValueError(f"LearnedReward needs a vector env with same-step autoreset, got {mode}: build it with "
                             "porcini.make_env or pass autoreset_mode=AutoresetMode.SAME_STEP to Gymnasium")
        super().__init__(env)
        self.reward_fn = reward_fn
        self._obs: Any = None
        if hasattr(env, "info"):  # porcini's EnvInfo of the env, which the reward leaves as it is
            self.info = env.info

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset, keeping the observations the next actions are taken in."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = obs
        return obs, info

    def resume_at(self, obs: Any) -> None:
        """Take ``obs`` as the observations the next actions are taken in.

        A resumed run's episodes are rebuilt under this wrapper, with no ``reset`` passing through it.
        """
        self._obs = obs

    def step(self, actions: Any) -> tuple[Any, np.ndarray, Any, Any, dict[str, Any]]:
        """Step; the reward is ``reward_fn`` of the observations acted in and the actions.

        Raises:
            RuntimeError: ``step`` before ``reset``.
            ValueError: ``reward_fn`` gave another number of rewards than envs, or a NaN or infinite reward.
        """
        if self._obs is None:
            raise RuntimeError("LearnedReward.step before reset: call reset() first")
        obs, env_reward, terminated, truncated, info = self.env.step(actions)
        next_obs = true_successors(obs, info)
        reward = np.asarray(self.reward_fn(self._obs, actions, next_obs, terminated), dtype=np.float64).reshape(-1)
        if reward.shape != (self.num_envs,) or not np.all(np.isfinite(reward)):
            raise ValueError(f"LearnedReward: reward_fn gave {reward!r} for {self.num_envs} envs; it must return "
                             "one finite reward per env")
        self._obs = obs
        return obs, reward, terminated, truncated, {**info, "env_reward": np.asarray(env_reward)}


def true_successors(obs: Any, info: dict[str, Any]) -> Any:
    """``obs`` with the rows of envs whose episode ended replaced by their final observation (``info["final_obs"]``).

    Arrays or dicts/tuples of arrays; ``final_obs`` stacked as ``obs`` is (porcini's) or one entry per env, None
    where no episode ended (Gymnasium's).
    """
    if "final_obs" not in info:
        return obs
    ended = np.asarray(info["_final_obs"], dtype=bool)
    if not ended.any():
        return obs
    final = info["final_obs"]
    if isinstance(final, np.ndarray) and final.dtype == object:
        rows = [final[i] if ended[i] else _map_leaves(lambda x, i=i: np.asarray(x)[i], obs) for i in range(len(ended))]
        final = _map_leaves(lambda *leaves: np.stack([np.asarray(leaf) for leaf in leaves]), *rows)

    def successor(current: Any, last: Any) -> np.ndarray:
        current = np.asarray(current)
        where = ended.reshape((-1,) + (1,) * (current.ndim - 1))
        return np.where(where, np.asarray(last), current).astype(current.dtype, copy=False)

    return _map_leaves(successor, obs, final)


def _map_leaves(fn: Callable[..., Any], obs: Any, *others: Any) -> Any:
    """``fn`` on every leaf of a Dict or Tuple observation batch and the matching leaves of ``others``.

    (``porcini.core.obs_tree.map_obs``, which envs may not import.)
    """
    if isinstance(obs, dict):
        return {key: _map_leaves(fn, value, *(other[key] for other in others)) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(_map_leaves(fn, value, *(other[i] for other in others)) for i, value in enumerate(obs))
    return fn(obs, *others)
