"""RolloutStorage: the time slices the loop gathers between two fits, handed over as one TransitionBatch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import is_obs_tree, map_obs, obs_leaves
from porcini.errors import EnvCheckError

CHUNK_ROWS = 64  # rows allocated at once under a step cadence: whole fit periods, at least one
CHUNK_BYTES = 8 << 20  # ... unless they would take more than this many bytes


class RolloutStorage:
    """Collects ``[B, ...]`` time slices into a ``[T, B, ...]`` batch.

    With a known ``rows`` (a step cadence) the slices are written in place into arrays allocated for several fit
    periods at once (:data:`CHUNK_ROWS` rows, at most :data:`CHUNK_BYTES`: an agent that fits after every vector
    step would otherwise cost an allocation per field per step); ``take`` hands over the period's rows, which are
    never written again, so an agent may keep the batch it was given. Otherwise (an episode cadence) slices are
    kept in lists and stacked at ``take``. Dict and Tuple observations are kept as one array
    per entry, each with its own dtype (:mod:`porcini.core.obs_tree`).

    Args:
        rows: number of time rows per batch, or None when unknown.
        info_keys: numeric ``info`` keys copied into ``extras`` at every step.
        env_name: the env's name, for the error when it does not report one of ``info_keys``.
    """

    def __init__(self, rows: int | None, info_keys: Sequence[str] = (), env_name: str = "the env") -> None:
        self.rows = rows
        self.info_keys = tuple(info_keys)
        self.env_name = env_name
        self._t = 0  # rows of the current fit period
        self._arrays: list[Any] | None = None  # the chunk: one array (or observation tree) per field
        self._start = 0  # the chunk's row where the current period begins
        self._chunk_rows = 0
        self._plain = False  # the chunk holds one plain array per field and there are no info_keys
        self._lists: list[list[Any]] = [[] for _ in range(6 + len(self.info_keys))]

    def __len__(self) -> int:
        return self._t

    def append(self, obs: Any, action: Any, reward: Any, next_obs: Any, terminated: Any, truncated: Any,
               info: dict[str, Any]) -> None:
        """Add one time slice (all fields batched over envs)."""
        arrays = self._arrays
        if self._plain and arrays is not None:  # plain arrays and no extras, as most steps: six row copies
            t = self._start + self._t
            arrays[0][t], arrays[1][t], arrays[2][t] = obs, action, reward
            arrays[3][t], arrays[4][t], arrays[5][t] = next_obs, terminated, truncated
            self._t += 1
            return
        row = [obs, action, reward, next_obs, terminated, truncated]
        for key in self.info_keys:
            row.append(info_value(info, key, len(reward), self.env_name))
        if self.rows is None:
            for store, value in zip(self._lists, row):
                store.append(value)
        else:
            if arrays is None:
                arrays = self._arrays = self._allocate(row)
                self._plain = not self.info_keys and all(type(a) is np.ndarray for a in arrays)
            t = self._start + self._t
            for array, value in zip(arrays, row):
                if type(array) is np.ndarray:  # the common case first: this runs for every field of every step
                    array[t] = value
                else:
                    map_obs(lambda a, v: a.__setitem__(t, v), array, value)  # noqa: B023 (called at once)
        self._t += 1

    def _allocate(self, row: list[Any]) -> list[Any]:
        """A chunk of whole fit periods for slices like ``row`` (one ``[B, ...]`` value per field)."""
        assert self.rows is not None
        leaves = [np.asarray(leaf) for value in row for leaf in obs_leaves(value)]
        row_bytes = max(1, sum(leaf.nbytes for leaf in leaves))
        periods = max(1, min(CHUNK_ROWS // self.rows, CHUNK_BYTES // (row_bytes * self.rows)))
        n = self._chunk_rows = periods * self.rows
        self._start = 0
        arrays = [map_obs(lambda v: np.empty((n, *np.shape(v)), dtype=np.asarray(v).dtype), value) for value in row]
        # every field's [T, B] lead is checked here, once per chunk, so that take hands over its slices unchecked
        obs, action, reward, next_obs, terminated, truncated, *extras = (map_obs(lambda a: a[:1], a) for a in arrays)
        TransitionBatch(obs, action, reward, next_obs, terminated, truncated, dict(zip(self.info_keys, extras)))
        return arrays

    def state_dict(self) -> dict[str, Any]:
        """The slices gathered so far (for exact resume), as ``[t, B, ...]`` arrays."""
        if self._t == 0:
            return {"t": 0, "fields": []}
        if self.rows is None:
            fields = [_stack(values) for values in self._lists]
        else:
            assert self._arrays is not None
            start, stop = self._start, self._start + self._t
            fields = [map_obs(lambda a: a[start:stop].copy(), a) for a in self._arrays]
        return {"t": self._t, "fields": fields}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back the slices of :meth:`state_dict`."""
        self._t = self._start = 0
        self._arrays = None
        self._lists = [[] for _ in range(6 + len(self.info_keys))]
        fields = state["fields"]
        for t in range(int(state["t"])):
            obs, action, reward, next_obs, terminated, truncated, *extras = (
                map_obs(lambda a: np.asarray(a[t]), f) for f in fields)  # noqa: B023 (consumed at once)
            info = {key: value for key, value in zip(self.info_keys, extras)}
            self.append(obs, action, reward, next_obs, terminated, truncated, info)

    def truncate_last(self) -> None:
        """Mark every env's newest gathered transition ``truncated`` unless it terminated: its episode was cut there."""
        if self._t == 0:
            return
        if self.rows is None:
            terminated, truncated = self._lists[4][-1], self._lists[5][-1]
            self._lists[5][-1] = np.asarray(truncated, dtype=bool) | ~np.asarray(terminated, dtype=bool)
        else:
            assert self._arrays is not None
            t = self._start + self._t - 1
            self._arrays[5][t] |= ~self._arrays[4][t].astype(bool)

    def take(self) -> TransitionBatch:
        """Hand over everything gathered as a ``[T, B]`` batch and start empty."""
        if self.rows is None:
            fields = [_stack(values) for values in self._lists]
            self._lists = [[] for _ in fields]
        else:
            assert self._arrays is not None
            start, stop = self._start, self._start + self._t
            fields = ([a[start:stop] for a in self._arrays] if self._plain else
                      [map_obs(lambda a: a[start:stop], a) for a in self._arrays])
            # the next period starts after this one's full rows (a period cut short leaves the rest unused)
            self._start += self.rows
            if self._start + self.rows > self._chunk_rows:
                self._arrays = None
        self._t = 0
        obs, action, reward, next_obs, terminated, truncated = fields[:6]
        extras = dict(zip(self.info_keys, fields[6:])) if self.info_keys else {}
        if self.rows is not None:  # slices [start:stop] of arrays allocated [rows, B, ...]: the leads agree
            return TransitionBatch.of_checked_fields(
                {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs, "terminated": terminated,
                 "truncated": truncated, "extras": extras})
        return TransitionBatch(obs, action, reward, next_obs, terminated, truncated, extras)


def _stack(values: list[Any]) -> Any:
    """Time slices ``[B, ...]`` (arrays, or observation trees of arrays) stacked into ``[T, B, ...]``."""
    if values and is_obs_tree(values[0]):
        return map_obs(lambda *slices: np.stack(slices), *values)
    return np.stack(values)


def info_value(info: dict[str, Any], key: str, n_envs: int, env_name: str = "the env") -> np.ndarray:
    """The value of ``info[key]`` per env; for envs whose episode ended, the value of the ended step.

    An env that leaves the key out of its info at this step (the presence mask ``info["_" + key]`` is False)
    gets 0.

    Raises:
        EnvCheckError: no env reported ``key`` at this step, neither in ``info`` nor in ``info["final_info"]``.
    """
    final = info.get("final_info")
    if key not in info and not (isinstance(final, dict) and key in final):
        raise EnvCheckError(f"{env_name} reported no info[{key!r}] at a step, and the agent needs it (its info_keys); "
                            f"use an env that reports {key!r} on every step, or set the agent's cost_key")
    value = np.zeros(n_envs)
    if key in info:
        mask = info.get("_" + key, np.ones(n_envs, dtype=bool))
        value[mask] = np.asarray(info[key], dtype=np.float64)[mask]
    if isinstance(final, dict) and key in final:
        mask = final.get("_" + key, np.zeros(n_envs, dtype=bool))
        value[mask] = np.asarray(final[key], dtype=np.float64)[mask]
    return value
