"""Offline datasets: a fixed TransitionBatch to read shuffled minibatches or whole episodes from.

A dataset is a ``[T, B]`` batch exactly as collected: each env column in time order, episodes ending where
``terminated | truncated``. On disk it is one ``.npz`` (no pickle) holding the fields, the extras and the
metadata as an embedded JSON string.

``collect_dataset`` fills one from a vector env with any policy. Where collection stops in the middle of an
episode, that last transition is marked ``truncated`` ("end of data": bootstrap from ``next_obs``), so every
column ends at an episode end and :meth:`Dataset.episodes` yields whole episodes only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.core.schedule import LoopSchedule
from porcini.core.state import LoopState
from porcini.core.stepper import env_reset, env_step
from porcini.data._npz import DataFileError, read_npz, require_format, scalar, write_npz
from porcini.data.replay import check_count, check_rng

_FIELDS = tuple(f.name for f in dataclasses.fields(TransitionBatch) if f.name != "extras")
_FORMAT = "porcini.Dataset"
_VERSION = 1
_EXTRA = "extras."


class Dataset:
    """Transitions for offline learning, with shuffled minibatches, uniform samples and whole episodes.

    Args:
        batch: the transitions ``[T, B, ...]`` (NumPy arrays), each column in time order.
        metadata: JSON-serializable description (env id, policy, seed, ...).

    Example:
        >>> import numpy as np
        >>> from porcini.core.batch import TransitionBatch
        >>> ended = np.array([[False], [True], [False], [True]])
        >>> ds = Dataset(TransitionBatch(obs=np.arange(4.0).reshape(4, 1, 1),
        ...     action=np.zeros((4, 1), np.int64), reward=np.ones((4, 1)),
        ...     next_obs=np.arange(1.0, 5.0).reshape(4, 1, 1), terminated=ended,
        ...     truncated=np.zeros((4, 1), bool)), metadata={"env_id": "toy"})
        >>> len(ds), ds.n_episodes, [e.n_rows for e in ds.episodes()]
        (4, 2, [2, 2])
        >>> [mb.reward.shape for mb in ds.minibatches(3, np.random.default_rng(0))]
        [(3, 1), (1, 1)]
    """

    def __init__(self, batch: TransitionBatch, metadata: Mapping[str, Any] | None = None) -> None:
        if not isinstance(batch, TransitionBatch):
            raise TypeError(f"Dataset needs a TransitionBatch, got {type(batch).__name__}")
        self.batch = TransitionBatch(
            **{name: np.asarray(getattr(batch, name)) for name in _FIELDS},
            extras={k: np.asarray(v) for k, v in batch.extras.items()},
        )
        self.metadata: dict[str, Any] = dict(metadata or {})
        _check_json(self.metadata)
        self._flat = self.batch.flatten()  # [T * B, 1]: views, env-major within each time step

    def __len__(self) -> int:
        return self.batch.n_transitions

    @property
    def n_episodes(self) -> int:
        """Number of episode ends (``terminated | truncated``) in the data."""
        return int(np.count_nonzero(self.batch.episode_end))

    def sample(self, n: int, rng: np.random.Generator) -> TransitionBatch:
        """``n`` transitions drawn uniformly with replacement, shaped ``[n, 1, ...]``."""
        n = check_count(n, "Dataset.sample", "n")
        check_rng(rng, "Dataset.sample")
        if len(self) == 0:
            raise ValueError("Dataset.sample: the dataset is empty")
        return self._take(rng.integers(0, len(self), size=n))

    def minibatches(
        self, batch_size: int, rng: np.random.Generator, *, drop_last: bool = False
    ) -> Iterator[TransitionBatch]:
        """One pass over the data in random order, as ``[batch_size, 1, ...]`` minibatches.

        Args:
            batch_size: transitions per minibatch.
            rng: the generator that shuffles.
            drop_last: skip the final minibatch when it is smaller than ``batch_size``.
        """
        batch_size = check_count(batch_size, "Dataset.minibatches", "batch_size")
        order = check_rng(rng, "Dataset.minibatches").permutation(len(self))
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            yield self._take(order[start : start + batch_size])

    def episode_bounds(self) -> np.ndarray:
        """``[n, 3]`` int rows ``(env, first_step, stop_step)`` of every episode, env by env in time order.

        A column whose last transition is not an episode end contributes its unfinished tail as the last row.
        """
        end = np.asarray(self.batch.episode_end)
        n_steps = end.shape[0]
        rows = []
        for env in range(end.shape[1]):  # one loop per env column, not per transition
            stops = np.flatnonzero(end[:, env]) + 1
            if stops.size == 0 or stops[-1] != n_steps:
                stops = np.append(stops, n_steps)
            starts = np.concatenate(([0], stops[:-1]))
            keep = stops > starts
            rows.append(np.stack([np.full(keep.sum(), env), starts[keep], stops[keep]], axis=1))
        return np.concatenate(rows, axis=0) if rows else np.zeros((0, 3), dtype=np.int64)

    def episodes(self) -> Iterator[TransitionBatch]:
        """Every episode as a ``[L, 1, ...]`` batch, in the order of :meth:`episode_bounds`."""
        b = self.batch
        for env, start, stop in self.episode_bounds():
            yield TransitionBatch(
                **{name: getattr(b, name)[start:stop, env : env + 1] for name in _FIELDS},
                extras={k: v[start:stop, env : env + 1] for k, v in b.extras.items()},
            )

    def _take(self, indices: np.ndarray) -> TransitionBatch:
        f = self._flat
        return TransitionBatch(
            **{name: np.take(getattr(f, name), indices, axis=0) for name in _FIELDS},
            extras={k: np.take(v, indices, axis=0) for k, v in f.extras.items()},
        )


def save_dataset(
    path: str | os.PathLike[str], batch: TransitionBatch | Dataset, metadata: Mapping[str, Any] | None = None
) -> None:
    """Write a dataset to ``path`` as one ``.npz`` with the metadata embedded as JSON (atomically, no pickle).

    Args:
        path: the file to write (the name is kept as given).
        batch: the transitions ``[T, B]``, or a Dataset (whose metadata ``metadata`` then updates).
        metadata: JSON-serializable description of the data.

    Raises:
        TypeError: the metadata is not JSON-serializable, or a field has dtype object.
    """
    if isinstance(batch, Dataset):
        metadata = {**batch.metadata, **(metadata or {})}
        batch = batch.batch
    metadata = dict(metadata or {})
    _check_json(metadata)
    arrays = {name: np.asarray(getattr(batch, name)) for name in _FIELDS}
    arrays.update({_EXTRA + k: np.asarray(v) for k, v in batch.extras.items()})
    arrays.update(
        {
            "format": np.array(_FORMAT),
            "version": np.array(_VERSION),
            "metadata_json": np.array(json.dumps(metadata, sort_keys=True)),
        }
    )
    write_npz(path, arrays)


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset written by :func:`save_dataset`.

    Raises:
        FileNotFoundError: no file at ``path``.
        DataFileError: the file is corrupt, truncated, of another format or version, or inconsistent.
    """
    source = f"dataset file {str(path)!r}"
    arrays = read_npz(path, "dataset")
    require_format(arrays, source, _FORMAT, _VERSION)
    missing = [k for k in (*_FIELDS, "metadata_json") if k not in arrays]
    if missing:
        raise DataFileError(f"{source} misses {missing}; the file is corrupt")
    try:
        metadata = json.loads(scalar(arrays, "metadata_json", source))
        batch = TransitionBatch(
            **{name: arrays[name] for name in _FIELDS},
            extras={k[len(_EXTRA) :]: v for k, v in arrays.items() if k.startswith(_EXTRA)},
        )
    except ValueError as err:  # json.JSONDecodeError is a ValueError, as are TransitionBatch's shape errors
        raise DataFileError(f"{source} is inconsistent: {err}") from err
    return Dataset(batch, metadata)


def collect_dataset(
    env: Any,
    policy: Callable[[np.ndarray], Any],
    *,
    steps: int | None = None,
    episodes: int | None = None,
    seed: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Dataset:
    """Run ``policy`` in the vector ``env`` and record the transitions, with true final observations.

    The env must autoreset in Gymnasium's SAME_STEP mode (``porcini.envs.make_env`` does): when env ``i``
    ends, ``step`` returns the reset observation in ``obs[i]`` and the final one in ``info["final_obs"][i]``
    where ``info["_final_obs"][i]``; the final one becomes ``next_obs``, the reset one the next ``obs``.

    Args:
        env: a ``gymnasium.vector.VectorEnv`` with ``B = env.num_envs`` envs.
        policy: maps observations ``[B, *obs_shape]`` to actions ``[B, *action_shape]``, e.g.
            ``lambda obs: agent.act(obs, explore=True)``.
        steps: stop after at least this many transitions summed over envs (rounded up to a multiple of B).
        episodes: or stop once this many episodes have ended (summed over envs).
        seed: passed to ``env.reset``.
        metadata: stored with the data, on top of ``env_id``, ``n_envs`` and ``seed``.

    Returns:
        A Dataset of ``[T, B]`` transitions; an episode still running at the end has its last step
        ``truncated``.

    Raises:
        ValueError: not exactly one of ``steps``/``episodes``, or the env does not autoreset in SAME_STEP
            mode (an episode ended without ``info["final_obs"]``).
    """
    schedule = _collection_schedule(env, steps, episodes)
    n_envs = int(env.num_envs)
    rows: list[tuple[np.ndarray, ...]] = []
    state = LoopState(n_envs)
    env_reset(env, state, seed)
    while schedule.keep_going(state.env_steps, state.episodes):
        obs = np.array(state.obs, copy=True)  # a vector env built with copy=False reuses its observation buffer
        action = np.asarray(policy(obs))
        next_obs, reward, terminated, truncated, _, ended = env_step(env, state, action)
        if ended is not None:
            state.end_episodes(ended)
        # copied too: with copy=False the env reuses its buffer for the next observations
        rows.append((obs, action, np.asarray(reward), np.array(next_obs, copy=True), np.asarray(terminated, bool),
                      np.asarray(truncated, bool)))
    fields: dict[str, Any] = dict(zip(_FIELDS, (np.stack(column) for column in zip(*rows))))
    fields["truncated"][-1] |= ~(fields["terminated"][-1] | fields["truncated"][-1])  # "end of data"
    spec = getattr(env, "spec", None)
    info_meta = {"env_id": getattr(spec, "id", None), "n_envs": n_envs, "seed": seed}
    return Dataset(TransitionBatch(**fields), {**info_meta, **(metadata or {})})


def _collection_schedule(env: Any, steps: int | None, episodes: int | None) -> LoopSchedule:
    """The length of a collection; refuses a bad length or an env that does not autoreset in SAME_STEP mode."""
    if (steps is None) == (episodes is None):
        raise ValueError(
            f"collect_dataset needs exactly one of steps, episodes; got steps={steps}, episodes={episodes}"
        )
    mode = getattr(env, "metadata", {}).get("autoreset_mode")
    if mode is not None and getattr(mode, "value", mode) != "SameStep":
        raise ValueError(
            f"collect_dataset needs a vector env with autoreset_mode SAME_STEP, got {mode}; build it "
            "with gymnasium.vector.AutoresetMode.SAME_STEP (porcini.envs.make_env does)"
        )
    return LoopSchedule(
        steps=check_count(steps, "collect_dataset", "steps") if steps is not None else None,
        episodes=check_count(episodes, "collect_dataset", "episodes") if episodes is not None else None,
    )


def _check_json(metadata: Mapping[str, Any]) -> None:
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as err:
        raise TypeError(f"dataset metadata must be JSON-serializable (str, numbers, lists, dicts): {err}") from err
