"""Per-episode aggregates of numeric ``info`` values (MuJoCo's ``reward_ctrl``...), logged under ``env/``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

# keys porcini's vector envs (and Gymnasium's) put in info that are not per-step env values
_RESERVED = frozenset({"final_obs", "final_info", "episode"})


class EpisodeInfoAggregator:
    """Accumulate numeric per-env ``info`` values over each episode; report per-episode sums and means.

    Reads the vector-env info layout: ``info[key]`` is an array over envs with the presence mask
    ``info["_" + key]``. With same-step autoreset, when env ``i`` ends, ``info`` holds the *reset* info of the
    next episode and the ended step's info is in ``info["final_info"]``; that is the value counted for the
    ended episode, and the reset info is not a step so it is not counted at all.

    Only scalar numbers per env are aggregated (booleans, arrays and nested dicts are ignored). For an
    episode, ``episode_sum`` is the sum over its steps and ``step_mean`` the mean over the steps where the
    key was present. :meth:`metrics` averages both over the episodes that ended since its last call.

    Args:
        n_envs: number of envs in the vector.
        keys: aggregate only these keys; None aggregates every numeric key.
        prefix: metric namespace.

    Example:
        >>> agg = EpisodeInfoAggregator(n_envs=1)
        >>> agg.update({"reward_ctrl": np.array([-1.0])}, np.array([False]), np.array([False]))
        >>> agg.update({"final_info": {"reward_ctrl": np.array([-3.0]), "_reward_ctrl": np.array([True])}},
        ...            np.array([True]), np.array([False]))
        >>> agg.metrics()
        {'env/reward_ctrl/episode_sum': -4.0, 'env/reward_ctrl/step_mean': -2.0}
    """

    def __init__(self, n_envs: int, *, keys: Iterable[str] | None = None, prefix: str = "env/") -> None:
        self.n_envs = n_envs
        self.keys = None if keys is None else frozenset(keys)
        self.prefix = prefix
        self._sum: dict[str, np.ndarray] = {}
        self._count: dict[str, np.ndarray] = {}
        self._episodes: dict[str, list[tuple[float, float]]] = {}

    def update(self, info: Mapping[str, Any], terminated: np.ndarray, truncated: np.ndarray) -> None:
        """Add one vector step's info; close the episodes of the envs where ``terminated | truncated``."""
        episode_end = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)
        self._add(info, ~episode_end)
        final = info.get("final_info")
        if isinstance(final, Mapping):
            self._add(final, episode_end)
        for i in np.flatnonzero(episode_end):
            for key, total in self._sum.items():
                count = self._count[key][i]
                if count > 0:
                    self._episodes.setdefault(key, []).append((float(total[i]), float(total[i] / count)))
                total[i] = 0.0
                self._count[key][i] = 0

    def _add(self, info: Mapping[str, Any], rows: np.ndarray) -> None:
        for key, value in info.items():
            if key.startswith("_") or key in _RESERVED or (self.keys is not None and key not in self.keys):
                continue
            array = np.asarray(value)
            if array.shape != (self.n_envs,) or array.dtype.kind not in "iuf":
                continue
            present = rows & np.asarray(info.get("_" + key, np.ones(self.n_envs, dtype=bool)), dtype=bool)
            if key not in self._sum:
                self._sum[key] = np.zeros(self.n_envs)
                self._count[key] = np.zeros(self.n_envs, dtype=np.int64)
            self._sum[key][present] += array[present]
            self._count[key][present] += 1

    def metrics(self) -> dict[str, float]:
        """Return ``{prefix}<key>/episode_sum`` and ``/step_mean`` averaged over ended episodes; forget them.

        Keys without an ended episode since the last call are absent.
        """
        out: dict[str, float] = {}
        for key, episodes in self._episodes.items():
            if episodes:
                sums, means = np.asarray(episodes).T
                out[f"{self.prefix}{key}/episode_sum"] = float(sums.mean())
                out[f"{self.prefix}{key}/step_mean"] = float(means.mean())
        self._episodes = {}
        return out
