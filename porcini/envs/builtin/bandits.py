"""Multi-armed bandits with known arm means, so regret is measured exactly.

Each pull reports ``info["regret"] = optimal_mean - mean[action]`` (the expected regret of the pulled arm,
not the noisy reward gap) and ``info["optimal_action"]``. Summing ``info["regret"]`` over pulls gives the
pseudo-regret of bandit theory (Lattimore & Szepesvari, 2020, Sec. 4.5).

Episodes: by default every pull is a one-step episode (``terminated=True``: nothing follows a pull). With
``horizon=H`` an episode is ``H`` pulls of the same bandit, never terminated and truncated after the ``H``-th
pull, so an episode's return is the reward collected over the horizon.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike, NDArray


class BanditEnv(gym.Env):
    """Shared mechanics of the bandits: a dummy ``Discrete(1)`` observation, ``Discrete(k)`` arms, regret.

    Subclasses set the arm means and draw rewards in :meth:`_draw_reward`.

    Args:
        means: expected reward of each arm.
        horizon: None for one-step episodes, else the number of pulls per episode.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, means: ArrayLike, horizon: int | None = None) -> None:
        self.means: NDArray[np.float64] = np.asarray(means, dtype=np.float64)
        name = type(self).__name__
        if self.means.ndim != 1 or len(self.means) < 1 or not np.all(np.isfinite(self.means)):
            raise ValueError(f"{name}: arm means must be a non-empty 1-D list of finite numbers, got {means!r}")
        if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer))
                                    or horizon < 1):
            raise ValueError(f"{name}: horizon must be a positive whole number of pulls (or None), got {horizon!r}")
        self.horizon = None if horizon is None else int(horizon)
        self.observation_space = gym.spaces.Discrete(1)
        self.action_space = gym.spaces.Discrete(len(self.means))
        self._pulls = 0

    @property
    def max_episode_steps(self) -> int | None:
        """The horizon, read as the env's time limit (``env.info.horizon``; None: one-pull episodes)."""
        return self.horizon

    @property
    def n_arms(self) -> int:
        """Number of arms."""
        return len(self.means)

    @property
    def optimal_arm(self) -> int:
        """Index of the arm with the largest mean (the first one on ties)."""
        return int(np.argmax(self.means))

    @property
    def optimal_mean(self) -> float:
        """The largest arm mean."""
        return float(np.max(self.means))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        """Start an episode; the bandit itself (its means) never changes."""
        super().reset(seed=seed)
        self._pulls = 0
        return 0, {}

    def step(self, action: Any) -> tuple[int, float, bool, bool, dict]:
        """Pull an arm: a random reward, and the pulled arm's expected regret in ``info["regret"]``."""
        if not self.action_space.contains(action):
            raise ValueError(f"{type(self).__name__}: action {action!r} is outside {self.action_space}")
        arm = int(action)
        reward = self._draw_reward(arm)
        self._pulls += 1
        regret = self.optimal_mean - float(self.means[arm])
        info = {"regret": regret, "optimal_action": bool(regret == 0.0)}
        if self.horizon is None:
            return 0, reward, True, False, info
        return 0, reward, False, self._pulls >= self.horizon, info

    def _draw_reward(self, arm: int) -> float:
        raise NotImplementedError


class BernoulliBandit(BanditEnv):
    """Arms pay 1 with probability ``probs[arm]`` and 0 otherwise.

    Example:
        >>> env = BernoulliBandit([0.2, 0.7])
        >>> _ = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> round(info["regret"], 10), env.optimal_arm
        (0.5, 1)

    Args:
        probs: success probability of each arm; None draws ``n_arms`` probabilities uniformly in [0, 1]
            from ``instance_seed`` (so every copy of a vector env holds the same bandit).
        n_arms: number of arms of a random instance.
        instance_seed: seed of a random instance (not of the rewards, which follow ``reset(seed=...)``).
        horizon: None for one-step episodes, else pulls per episode.
    """

    def __init__(
        self,
        probs: ArrayLike | None = None,
        *,
        n_arms: int = 10,
        instance_seed: int = 0,
        horizon: int | None = None,
    ) -> None:
        if probs is None:
            probs = np.random.default_rng(instance_seed).uniform(0.0, 1.0, size=n_arms)
        probs = np.asarray(probs, dtype=np.float64)
        if np.any((probs < 0) | (probs > 1)):
            raise ValueError(f"BernoulliBandit: probs must lie in [0, 1], got {probs.tolist()}")
        super().__init__(probs, horizon)

    def _draw_reward(self, arm: int) -> float:
        return float(self.np_random.random() < self.means[arm])


class GaussianBandit(BanditEnv):
    """Arms pay ``Normal(means[arm], stds[arm])``.

    The default random instance is the 10-armed testbed of Sutton & Barto (2018, Sec. 2.3): means drawn from
    ``Normal(0, 1)``, unit standard deviations.

    Args:
        means: expected reward of each arm; None draws ``n_arms`` means from ``Normal(0, 1)`` with
            ``instance_seed``.
        stds: standard deviation of each arm's reward (one number for all arms, or one per arm).
        n_arms: number of arms of a random instance.
        instance_seed: seed of a random instance (not of the rewards, which follow ``reset(seed=...)``).
        horizon: None for one-step episodes, else pulls per episode.
    """

    def __init__(
        self,
        means: ArrayLike | None = None,
        stds: ArrayLike = 1.0,
        *,
        n_arms: int = 10,
        instance_seed: int = 0,
        horizon: int | None = None,
    ) -> None:
        if means is None:
            means = np.random.default_rng(instance_seed).normal(0.0, 1.0, size=n_arms)
        super().__init__(means, horizon)
        stds = np.asarray(stds, dtype=np.float64)
        if stds.shape not in ((), self.means.shape) or np.any(stds < 0) or not np.all(np.isfinite(stds)):
            raise ValueError(
                f"GaussianBandit: stds must be one finite number >= 0 or one per arm ({self.n_arms}), "
                f"got {stds.tolist()}"
            )
        self.stds: NDArray[np.float64] = np.broadcast_to(stds, self.means.shape).copy()

    def _draw_reward(self, arm: int) -> float:
        return float(self.means[arm] + self.stds[arm] * self.np_random.standard_normal())
