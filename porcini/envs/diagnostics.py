"""Per-episode aggregates of numeric ``info`` values (MuJoCo reward components, x position, velocity, costs).

MuJoCo tasks report what their reward is made of in ``info`` (``reward_ctrl``, ``reward_forward``, ``x_position``,
``x_velocity``, ...). :class:`EpisodeInfoStats` is a ``porcini.core.Callback`` that sums and averages such values
over every episode, per key, and hands the finished episodes' aggregates to a logger under ``env/<key>/sum`` and
``env/<key>/mean``.

With same-step autoreset, the step on which env ``i`` ended carries two infos: the ended step's under
``info["final_info"]`` and the next episode's reset info at the top level. The ended step's values come from the
former; reset infos are not steps and are never counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from porcini.core.callbacks import Callback

if TYPE_CHECKING:
    from porcini.core.loop import Core

SKIPPED_KEYS = ("final_obs", "final_info", "episode")


def _numeric_keys(info: dict[str, Any], n_envs: int) -> list[str]:
    """Keys of per-env numeric arrays (shape ``[B]``) in a vector env's info."""
    return [
        k for k, v in info.items()
        if not k.startswith("_") and k not in SKIPPED_KEYS and isinstance(v, np.ndarray)
        and v.shape == (n_envs,) and v.dtype.kind in "biuf"
    ]


def _masked(info: dict[str, Any], key: str, n_envs: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(values, mask)`` of ``info[key]`` as float64, or None when absent or not a per-env numeric array."""
    value = info.get(key)
    if not isinstance(value, np.ndarray) or value.shape != (n_envs,) or value.dtype.kind not in "biuf":
        return None
    mask = info.get("_" + key)
    mask = np.ones(n_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    return value.astype(np.float64), mask


class EpisodeInfoStats(Callback):
    """Sums and means of numeric ``info`` values over every episode, per key, for loggers.

    Args:
        keys: the info keys to follow; None follows every per-env numeric key that appears (except the
            bookkeeping ones such as ``final_obs``).
        prefix: prefix of the names :meth:`pull` returns.

    Attributes:
        episodes: one dict per finished episode (in the order they ended) with ``"<key>/sum"`` and
            ``"<key>/mean"`` for every followed key that had a value in that episode.

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.algorithms.random import RandomAgent
        >>> env = make_env("porcini/PointHazard-v0", seed=0)
        >>> stats = EpisodeInfoStats(keys=["cost"])
        >>> _ = Core(RandomAgent(env.info), env, callbacks=[stats], progress=False).learn(n_steps=400)
        >>> sorted(stats.pull())
        ['env/cost/mean', 'env/cost/sum']
    """

    def __init__(self, keys: Sequence[str] | None = None, prefix: str = "env/") -> None:
        self.keys = list(keys) if keys is not None else None
        self.prefix = prefix
        self.episodes: list[dict[str, float]] = []
        self._pulled = 0
        self._sums: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}
        self._n_envs: int | None = None

    def on_step(self, core: Core, action: np.ndarray, reward: np.ndarray, terminated: np.ndarray,
                truncated: np.ndarray, info: dict[str, Any]) -> None:
        """Add this step's values (see :meth:`update`)."""
        self.update(info, np.asarray(terminated) | np.asarray(truncated))

    def update(self, info: dict[str, Any], episode_end: np.ndarray) -> None:
        """Add one vector step's info values, and close the episodes that ended on it.

        Args:
            info: the vector env's info of this step.
            episode_end: bool ``[B]``, ``terminated | truncated``.
        """
        episode_end = np.asarray(episode_end, dtype=bool)
        n = len(episode_end)
        if self._n_envs is None:
            self._n_envs = n
        elif n != self._n_envs:
            raise ValueError(f"EpisodeInfoStats saw {self._n_envs} envs before and {n} now; use one per env")
        final = info.get("final_info") if episode_end.any() else None
        final = final if isinstance(final, dict) else {}
        keys = self.keys if self.keys is not None else _numeric_keys(info, n) + _numeric_keys(final, n)
        for key in dict.fromkeys(keys):
            live = _masked(info, key, n)
            ended = _masked(final, key, n)
            if live is None and ended is None:
                continue
            if key not in self._sums:
                self._sums[key] = np.zeros(n)
                self._counts[key] = np.zeros(n, dtype=np.int64)
            if live is not None:  # top-level values of ended envs belong to the reset: skip them
                take = live[1] & ~episode_end
                self._sums[key][take] += live[0][take]
                self._counts[key][take] += 1
            if ended is not None:
                take = ended[1] & episode_end
                self._sums[key][take] += ended[0][take]
                self._counts[key][take] += 1
        for i in np.flatnonzero(episode_end):
            self._close(int(i))

    def _close(self, i: int) -> None:
        record: dict[str, float] = {}
        for key, sums in self._sums.items():
            count = int(self._counts[key][i])
            if count:
                record[f"{key}/sum"] = float(sums[i])
                record[f"{key}/mean"] = float(sums[i]) / count
            sums[i] = 0.0
            self._counts[key][i] = 0
        self.episodes.append(record)

    def pull(self) -> dict[str, float]:
        """Means over the episodes that ended since the last pull: ``{prefix + "<key>/sum": ..., "/mean": ...}``.

        Returns an empty dict when no episode ended since the last pull.
        """
        new = self.episodes[self._pulled:]
        self._pulled = len(self.episodes)
        names = dict.fromkeys(name for record in new for name in record)
        return {self.prefix + name: float(np.mean([r[name] for r in new if name in r])) for name in names}

    def reset(self) -> None:
        """Forget everything, including episodes in progress (call after resetting the env outside the loop)."""
        self.episodes = []
        self._pulled = 0
        self._sums = {}
        self._counts = {}
        self._n_envs = None
