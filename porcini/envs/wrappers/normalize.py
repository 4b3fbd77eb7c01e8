"""Observation and reward normalization over all envs of a vector env, and reward clipping.

Both normalizers are vector wrappers because their statistics must span every env. With porcini's same-step
autoreset the final observation of an ended episode travels in ``info["final_obs"]``, and ``NormalizeObservation``
transforms it with the same statistics as ``obs`` (it does not add it to the statistics: it is not otherwise
part of the observation stream, as in Stable-Baselines3's ``VecNormalize``).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space

from porcini.envs.wrappers._common import (
    map_final_obs,
    next_step_autoreset,
    require_box,
    require_env,
    reset_rows,
    vector_wrappers,
)
from porcini.envs.wrappers.running_stats import RunningMeanStd


def _check_clip(owner: str, clip: float | None) -> float | None:
    if clip is None:
        return None
    if not np.isfinite(clip) or clip <= 0:
        raise ValueError(f"{owner}: clip = {clip!r} is invalid: give a positive finite number, or None for no clipping")
    return float(clip)


def _repeated_rows(seed: Any, other: Any, n_envs: int) -> np.ndarray:
    """The envs that two resets in a row, with seeds ``other`` then ``seed`` (None, an int, one per env), reset alike.

    A None seed, for the whole vector or for one env, continues that env's generator: a new start, never a repeat.
    """
    if seed is None or other is None:
        return np.zeros(n_envs, dtype=np.bool_)
    if isinstance(seed, (int, np.integer)) or isinstance(other, (int, np.integer)):
        same = isinstance(seed, (int, np.integer)) and isinstance(other, (int, np.integer)) and int(seed) == int(other)
        return np.full(n_envs, same, dtype=np.bool_)
    return np.array([s is not None and s == o for s, o in zip(seed, other)], dtype=np.bool_)


class NormalizeObservation(gym.vector.VectorWrapper):
    """Normalizes observations to zero mean and unit variance with running statistics over all envs.

    ``obs' = clip((obs - mean) / sqrt(var + epsilon), -clip, clip)``, in float32. The statistics are updated
    with every observation the vector env returns (reset and step, all envs) before it is normalized, unless
    ``frozen``, each once: a reset with the seed of the reset just before it, no step in between, returns the same
    observations again and leaves the statistics as they are (``make_env(..., seed=s)`` resets once, and
    ``Core.learn`` resets again with ``s``); an env whose seed in a list is None starts anew and is counted.
    ``info["final_obs"]`` is normalized with the same statistics.

    For evaluation, share the training statistics and freeze them, so the agent sees observations scaled as
    in training: ``NormalizeObservation(eval_env, stats=train.stats, frozen=True)`` or
    ``eval_wrapper.share_statistics(train_wrapper)`` (porcini's experiment runner does this for you).

    Args:
        env: a vector env with a Box observation space.
        epsilon: added to the variance before the square root.
        clip: clip normalized observations to ``[-clip, clip]`` (10 by default, as Stable-Baselines3's
            VecNormalize); None: no clipping.
        frozen: do not update the statistics (evaluation); can be changed later through ``.frozen``.
        stats: a :class:`RunningMeanStd` to use (and update unless frozen), e.g. another wrapper's ``.stats``.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", n_envs=4, seed=0, wrappers=[NormalizeObservation])
        >>> obs, info = env.reset(seed=0)  # make_env's reset again: already counted
        >>> obs.dtype, env.stats.count
        (dtype('float32'), 4)
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        *,
        epsilon: float = 1e-8,
        clip: float | None = 10.0,
        frozen: bool = False,
        stats: RunningMeanStd | None = None,
    ) -> None:
        require_env("NormalizeObservation", env, vector=True)
        super().__init__(env)
        space = require_box("NormalizeObservation", env.single_observation_space, "observation",
                            "flatten Dict/Tuple observations first (FlattenObservation) and one-hot Discrete ones "
                            "(OneHotObservation)")
        if stats is not None and stats.shape != space.shape:
            raise ValueError(
                f"NormalizeObservation: the shared stats have shape {stats.shape} but observations have shape "
                f"{space.shape}; share statistics only between envs with the same observation space"
            )
        self.stats = stats if stats is not None else RunningMeanStd(space.shape)
        self.epsilon = float(epsilon)
        self.clip = _check_clip("NormalizeObservation", clip)
        self.frozen = bool(frozen)
        bound = np.inf if self.clip is None else self.clip
        self.single_observation_space = gym.spaces.Box(-bound, bound, shape=space.shape, dtype=np.float32)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)
        self._unstepped_seed: Any = None  # the seed of the last reset while no step followed it, else None

    def normalize(self, obs: Any) -> np.ndarray:
        """Normalize a batch of observations with the current statistics (no update)."""
        out = self.stats.normalize(obs, self.epsilon)
        if self.clip is not None:
            # maximum/minimum ufuncs: np.clip's Python wrapper costs more than the arithmetic on a few numbers
            np.minimum(np.maximum(out, -self.clip, out=out), self.clip, out=out)
        return out.astype(np.float32)

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset, update the statistics with the first observations (unless frozen or a repeat), normalize.

        With Gymnasium's ``options["reset_mask"]`` only the envs reset add their observations: the others return
        the observation of their last step again, which is counted already.
        """
        rows = reset_rows(options, self.num_envs)
        obs, info = self.env.reset(seed=seed, options=options)
        if options is None:  # envs reset with the seed of the reset just before: the same observations again
            rows &= ~_repeated_rows(seed, self._unstepped_seed, self.num_envs)
        if not self.frozen and rows.any():
            self.stats.update(obs[rows])
        self._unstepped_seed = seed if options is None else None
        return self.normalize(obs), info

    def step(self, actions: Any) -> tuple[np.ndarray, Any, Any, Any, dict[str, Any]]:
        """Step, update the statistics (unless frozen), normalize ``obs`` and ``info["final_obs"]``."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self._unstepped_seed = None
        if not self.frozen:
            self.stats.update(obs)
        return self.normalize(obs), reward, terminated, truncated, map_final_obs(info, self.normalize)

    def share_statistics(self, other: NormalizeObservation) -> None:
        """Read ``other``'s statistics from now on, frozen: makes this the evaluation twin of a training env."""
        if not isinstance(other, NormalizeObservation):
            raise TypeError(f"share_statistics needs another NormalizeObservation, got {type(other).__name__}")
        if other.stats.shape != self.stats.shape:
            raise ValueError(f"cannot share statistics of shape {other.stats.shape} with observations of shape "
                             f"{self.stats.shape}")
        self.stats = other.stats
        self.frozen = True

    def state_dict(self) -> dict[str, Any]:
        """The running statistics (``mean``, ``var``, ``count``)."""
        return self.stats.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the statistics in place, so an evaluation env sharing them sees the restored values."""
        self.stats.load_state_dict(state)


class NormalizeReward(gym.vector.VectorWrapper):
    """Scales rewards by the running standard deviation of the discounted return (the PPO reward-scaling trick).

    Per env, a discounted return accumulates ``R <- gamma * R + reward``; its running variance over all envs and
    steps scales the reward: ``reward' = clip(reward / sqrt(var(R) + epsilon), -clip, clip)``. The mean is not
    subtracted (that would change the optimal policy where episodes can end). ``R`` is set to 0 for an env
    whose episode ended (terminated or truncated) after that step's reward is counted, as in Stable-Baselines3's
    ``VecNormalize``. Around a Gymnasium vector env with next-step autoreset, the step after an episode's end (the
    reset, no transition) adds no return. See Engstrom et al. (2020), "Implementation Matters in Deep Policy Gradients".

    Core sums the rewards it sees, so training returns are in scaled units; an evaluation env should report
    the env's own units: ``share_statistics`` (used by porcini's experiment runner) shares the statistics,
    freezes them and turns scaling off (``scale=False``) for that env.

    Args:
        env: a vector env.
        gamma: discount of the return whose spread scales rewards (use the agent's gamma).
        epsilon: added to the variance before the square root.
        clip: clip scaled rewards to ``[-clip, clip]`` (10 by default, as Stable-Baselines3's VecNormalize); None:
            no clipping. It also bounds the first steps, where the returns of all envs can agree and their
            variance is near zero.
        frozen: do not update the statistics.
        scale: False passes rewards through unchanged (the statistics are still kept unless frozen).
        stats: a scalar :class:`RunningMeanStd` to use, e.g. another wrapper's ``.stats``.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0, wrappers=[(NormalizeReward, {"gamma": 0.99})])
        >>> _ = env.reset(seed=0)
        >>> for _ in range(3):
        ...     _, reward, *_ = env.step(np.array([0, 1]))
        >>> env.stats.count, round(float(reward[0] * np.sqrt(env.stats.var + 1e-8)), 6)
        (6, 1.0)
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        gamma: float = 0.99,
        *,
        epsilon: float = 1e-8,
        clip: float | None = 10.0,
        frozen: bool = False,
        scale: bool = True,
        stats: RunningMeanStd | None = None,
    ) -> None:
        require_env("NormalizeReward", env, vector=True)
        super().__init__(env)
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"NormalizeReward: gamma = {gamma!r} is invalid: must be in [0, 1]")
        if stats is not None and stats.shape != ():
            raise ValueError(f"NormalizeReward: stats must be scalar (shape ()), got shape {stats.shape}")
        self.gamma = float(gamma)
        self.epsilon = float(epsilon)
        self.clip = _check_clip("NormalizeReward", clip)
        self.frozen = bool(frozen)
        self.scale = bool(scale)
        self.stats = stats if stats is not None else RunningMeanStd(())
        self.discounted_return = np.zeros(env.num_envs, dtype=np.float64)
        self._next_step = next_step_autoreset(env)
        self._reset_next = np.zeros(env.num_envs, dtype=np.bool_)  # next-step autoreset: envs whose step resets

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the envs and the discounted return of each env reset (all, or those of ``options["reset_mask"]``)."""
        rows = reset_rows(options, self.num_envs)
        self.discounted_return[rows] = 0.0
        self._reset_next[rows] = False
        return self.env.reset(seed=seed, options=options)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, Any, Any, dict[str, Any]]:
        """Step, accumulate the discounted returns, update the statistics (unless frozen), scale the rewards."""
        obs, reward, terminated, truncated, info = self.env.step(actions)
        reward = np.asarray(reward, dtype=np.float64)
        self.discounted_return = self.discounted_return * self.gamma + reward
        if not self.frozen:
            self.stats.update(self.discounted_return[~self._reset_next])
        ended = np.logical_or(terminated, truncated)
        self.discounted_return[ended] = 0.0
        if self._next_step:
            self._reset_next = ended.copy()
        return obs, self.scale_reward(reward), terminated, truncated, info

    def scale_reward(self, reward: SupportsFloat | np.ndarray) -> np.ndarray:
        """Scale rewards with the current statistics (no update); unchanged when ``scale`` is False."""
        reward = np.asarray(reward, dtype=np.float64)
        if not self.scale:
            return reward
        out = reward / np.sqrt(self.stats.var + self.epsilon)
        if self.clip is not None:
            out = np.minimum(np.maximum(out, -self.clip), self.clip)
        return out

    def share_statistics(self, other: NormalizeReward) -> None:
        """Make this the evaluation twin of ``other``: its statistics, frozen, rewards passed through unscaled."""
        if not isinstance(other, NormalizeReward):
            raise TypeError(f"share_statistics needs another NormalizeReward, got {type(other).__name__}")
        self.stats = other.stats
        self.frozen = True
        self.scale = False

    def state_dict(self) -> dict[str, Any]:
        """The return statistics, every env's discounted return in progress and whose next step is a reset."""
        return {**self.stats.state_dict(), "discounted_return": self.discounted_return.copy(),
                "reset_next": self._reset_next.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (statistics in place)."""
        ret = np.asarray(state["discounted_return"], dtype=np.float64)
        if ret.shape != self.discounted_return.shape:
            raise ValueError(f"NormalizeReward state holds {ret.shape[0]} discounted returns, this env has "
                             f"{self.discounted_return.shape[0]} envs")
        self.stats.load_state_dict(state)
        self.discounted_return = ret.copy()
        # states saved before next-step autoreset was counted have no "reset_next"
        self._reset_next = np.asarray(state.get("reset_next", np.zeros_like(self._reset_next)), dtype=np.bool_).copy()


def share_normalization(eval_env: Any, train_env: Any) -> None:
    """Make each normalizing wrapper of ``eval_env`` the evaluation twin of ``train_env``'s at the same depth.

    For an env built with the training env's vector wrappers (``train_env.spawn(n, seed)``, or the same
    ``wrappers=``): its observations are then scaled with the training statistics, frozen, and its rewards are the
    env's own (``share_statistics`` of each wrapper).

    Raises:
        TypeError: a normalizing wrapper of ``eval_env`` faces a wrapper of another kind in ``train_env``.
    """
    for train_wrapper, eval_wrapper in zip(vector_wrappers(train_env), vector_wrappers(eval_env)):
        share = getattr(eval_wrapper, "share_statistics", None)
        if callable(share):
            share(train_wrapper)


class ClipReward(gym.RewardWrapper):
    """Clips every reward to ``[min_reward, max_reward]`` (e.g. ``[-1, 1]`` for Atari).

    Args:
        env: a single env (pass the class to ``make_env(wrappers=...)`` to wrap each env).
        min_reward: lower bound, or None for none.
        max_reward: upper bound, or None for none.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", seed=0, wrappers=[(ClipReward, {"min_reward": 0.0, "max_reward": 0.5})])
        >>> _ = env.reset(seed=0)
        >>> float(env.step(np.array([0]))[1][0])
        0.5
    """

    def __init__(self, env: gym.Env, min_reward: float | None = None, max_reward: float | None = None) -> None:
        require_env("ClipReward", env, vector=False)
        if min_reward is None and max_reward is None:
            raise ValueError("ClipReward needs min_reward, max_reward or both")
        if min_reward is not None and max_reward is not None and min_reward > max_reward:
            raise ValueError(f"ClipReward: min_reward = {min_reward} is above max_reward = {max_reward}")
        super().__init__(env)
        self.min_reward = -np.inf if min_reward is None else float(min_reward)
        self.max_reward = np.inf if max_reward is None else float(max_reward)

    def reward(self, reward: SupportsFloat) -> float:
        """The clipped reward."""
        return min(max(float(reward), self.min_reward), self.max_reward)
