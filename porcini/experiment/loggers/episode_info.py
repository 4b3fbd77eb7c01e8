"""Per-episode aggregates of numeric ``info`` values (costs, MuJoCo's ``reward_ctrl``...), logged under ``env/``.

Envs report what their reward is made of, costs and other diagnostics in ``info``: PointHazard's ``cost``,
MuJoCo's ``reward_ctrl``, ``reward_forward``, ``x_position``. :class:`EpisodeInfoAggregator` sums and averages
each such key over every episode and reports the means over the episodes that ended since it was last asked, as
``env/<key>/episode_sum`` and ``env/<key>/step_mean``. The experiment runner logs them at every epoch; in Python,
pass it to ``Core`` as a callback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from porcini.core.callbacks import Callback

if TYPE_CHECKING:
    from porcini.core.loop import Core

# keys porcini's vector envs (and Gymnasium's) put in info that are not per-step env values
_RESERVED = frozenset({"final_obs", "final_info", "episode"})


class EpisodeInfoAggregator(Callback):
    """Accumulate numeric per-env ``info`` values over each episode; report per-episode sums and means.

    Reads the vector-env info layout: ``info[key]`` is an array over envs with the presence mask
    ``info["_" + key]``. With same-step autoreset, when env ``i`` ends, ``info`` holds the *reset* info of the
    next episode and the ended step's info is in ``info["final_info"]``; that is the value counted for the
    ended episode, and the reset info is not a step so it is not counted at all.

    Only scalar numbers per env are aggregated (booleans, arrays and nested dicts are ignored). For an
    episode, ``episode_sum`` is the sum over its steps and ``step_mean`` the mean over the steps where the
    key was present. :meth:`metrics` averages both over the episodes that ended since its last call.

    As a ``Core`` callback it reads every step's info; a step whose info is empty (no key reported, no episode
    ended) costs one truth test, and other steps only queue references to their values until an episode ends.

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
        self._queued: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}  # steps not yet in _sum

    def on_step(self, core: Core, action: np.ndarray, reward: np.ndarray, terminated: np.ndarray,
                truncated: np.ndarray, info: dict[str, Any]) -> None:
        """Add the step's info (see :meth:`update`); an empty info has nothing to add and ends no episode."""
        if info:
            self.update(info, terminated, truncated)

    def update(self, info: Mapping[str, Any], terminated: np.ndarray, truncated: np.ndarray) -> None:
        """Add one vector step's info; close the episodes of the envs where ``terminated | truncated``.

        Raises:
            ValueError: the step is not over ``n_envs`` envs.
        """
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        if terminated.shape != (self.n_envs,):
            raise ValueError(f"EpisodeInfoAggregator was built for {self.n_envs} envs, a step has "
                             f"{terminated.size}; build one per vector env")
        if not (terminated.any() or truncated.any()):  # the common case: only keep references to the values
            self._keep(info, None)
            return
        episode_end = terminated.astype(bool) | truncated.astype(bool)
        self._keep(info, ~episode_end)
        final = info.get("final_info")
        if isinstance(final, Mapping):
            self._keep(final, episode_end)
        self._fold()
        for i in np.flatnonzero(episode_end):
            for key, total in self._sum.items():
                count = self._count[key][i]
                if count > 0:
                    self._episodes.setdefault(key, []).append((float(total[i]), float(total[i] / count)))
                total[i] = 0.0
                self._count[key][i] = 0

    def _keep(self, info: Mapping[str, Any], rows: np.ndarray | None) -> None:
        """Queue the numeric per-env values of ``info`` for the envs where ``rows`` (None: all) and present."""
        n = self.n_envs
        for key, value in info.items():
            if key[:1] == "_" or key in _RESERVED or (self.keys is not None and key not in self.keys):
                continue
            if not isinstance(value, np.ndarray) or value.shape != (n,) or value.dtype.kind not in "iuf":
                continue
            mask = info.get("_" + key)
            present = rows if mask is None else (mask if rows is None else rows & mask)
            self._queued.setdefault(key, []).append((value, present))

    def _fold(self) -> None:
        """Add the queued values into the per-env sums and counts, all steps of a key in one array operation.

        Steps are queued, not added one by one, because one NumPy call per key and step costs more than the env
        step of a cheap env; folding happens when an episode ends, so a key's arrays are stacked once an episode.
        """
        n = self.n_envs
        for key, steps in self._queued.items():
            values = np.stack([value for value, _ in steps]).astype(np.float64)
            present = np.stack([np.ones(n, dtype=bool) if rows is None else rows for _, rows in steps])
            if key not in self._sum:
                self._sum[key] = np.zeros(n)
                self._count[key] = np.zeros(n, dtype=np.int64)
            # a running sum, one step after another: NumPy's pairwise .sum would round otherwise than the same steps
            # folded in two parts (at a checkpoint), and a resumed run must log what the straight run logs
            self._sum[key] = np.cumsum(np.vstack([self._sum[key], np.where(present, values, 0.0)]), axis=0)[-1]
            self._count[key] += present.sum(axis=0)
        self._queued = {}

    def ended_episodes(self) -> dict[str, list[tuple[float, float]]]:
        """Per key, ``(episode_sum, step_mean)`` of each episode ended since the last :meth:`metrics`, in order."""
        return {key: list(episodes) for key, episodes in self._episodes.items()}

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

    def state_dict(self) -> dict[str, Any]:
        """The episodes in progress and those not yet reported (a checkpoint resumes them exactly)."""
        self._fold()
        return {
            "sum": {k: v.copy() for k, v in self._sum.items()},
            "count": {k: v.copy() for k, v in self._count.items()},
            "episodes": {k: [list(e) for e in v] for k, v in self._episodes.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self._sum = {k: np.asarray(v, dtype=np.float64).copy() for k, v in state["sum"].items()}
        self._count = {k: np.asarray(v, dtype=np.int64).copy() for k, v in state["count"].items()}
        self._episodes = {k: [(float(s), float(m)) for s, m in v] for k, v in state["episodes"].items()}
        self._queued = {}
