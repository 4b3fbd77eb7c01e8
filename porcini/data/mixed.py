"""Minibatches drawn from two sources at a set ratio: online replay and an offline dataset (RLPD's sampling).

The agents that learn from a dataset (the off-policy actor-critics, the DQN family) keep it as replay content
(:func:`replay_dataset`) and draw their minibatches with :func:`mixed_sample`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import map_obs
from porcini.data.dataset import Dataset


def stored_obs(obs: Any) -> np.ndarray:
    """Observations as the replay buffer keeps them: floats as float32, other dtypes (``uint8`` images) as they are."""
    array = np.asarray(obs)
    return array.astype(np.float32, copy=False) if array.dtype.kind == "f" else array


def replay_dataset(dataset: Dataset, dataset_ratio: float, stored_action: Callable[[Any], np.ndarray]) -> Dataset:
    """``dataset`` converted once to the dtypes replay stores, after checking that it can be mixed in.

    Args:
        dataset: the offline transitions ``[T, B, ...]``.
        dataset_ratio: the dataset's share of an online minibatch, in ``[0, 1]``.
        stored_action: env actions ``[T, B, ...]`` to actions as the agent's replay stores them.

    Raises:
        ValueError: ``dataset_ratio`` is outside ``[0, 1]``, or the dataset is empty.
    """
    if not 0.0 <= dataset_ratio <= 1.0:
        raise ValueError(f"dataset_ratio = {dataset_ratio} is invalid: must be in [0, 1]")
    if len(dataset) == 0:
        raise ValueError("add_dataset: the dataset is empty")
    b = dataset.batch
    return Dataset(TransitionBatch(map_obs(stored_obs, b.obs), stored_action(b.action),
                                   np.asarray(b.reward, dtype=np.float32), map_obs(stored_obs, b.next_obs),
                                   np.asarray(b.terminated, dtype=bool), np.asarray(b.truncated, dtype=bool)),
                   dataset.metadata)


def mixed_sample(replay: Any, dataset: Any, n_minibatches: int, batch_size: int,
                 dataset_ratio: float, rng: np.random.Generator) -> TransitionBatch:
    """``n_minibatches`` consecutive minibatches ``[n_minibatches * batch_size, 1, ...]``, each mixed at the ratio.

    Each minibatch holds ``round(batch_size * dataset_ratio)`` transitions of ``dataset`` then the rest from
    ``replay``; while ``replay`` is empty all of it comes from the dataset (the offline phase). Both parts are drawn
    uniformly with replacement, each in one draw. ``dataset_ratio = 0.5`` is the symmetric sampling of RLPD (Ball
    et al. 2023). A mixed minibatch keeps the ``extras`` both parts carry; one that only the replay records (an
    ``info`` key the loop copies, which a dataset or model rollouts lack) is left out.

    Args:
        replay: a buffer with ``len`` and ``sample(n, rng)`` (a :class:`~porcini.data.ReplayBuffer`).
        dataset: the offline transitions, stored as the replay stores them (or anything with ``sample(n, rng)``
            whose share is fixed: MBPO's real transitions beside its model rollouts).
        n_minibatches: minibatches to draw.
        batch_size: transitions per minibatch.
        dataset_ratio: the dataset's share of a minibatch once ``replay`` holds transitions, in ``[0, 1]``.
        rng: the generator of both draws.
    """
    per_batch = batch_size if len(replay) == 0 else int(round(batch_size * dataset_ratio))
    if per_batch == batch_size:
        return dataset.sample(n_minibatches * batch_size, rng)
    if per_batch == 0:
        return replay.sample(n_minibatches * batch_size, rng)
    from_data = dataset.sample(n_minibatches * per_batch, rng)
    from_replay = replay.sample(n_minibatches * (batch_size - per_batch), rng)
    shared = from_data.extras.keys() & from_replay.extras.keys()
    from_data, from_replay = (dataclasses.replace(part, extras={k: v for k, v in part.extras.items() if k in shared})
                              for part in (from_data, from_replay))
    rows_data = np.arange(n_minibatches * per_batch).reshape(n_minibatches, per_batch)
    rows_replay = n_minibatches * per_batch + np.arange(n_minibatches * (batch_size - per_batch)).reshape(
        n_minibatches, -1)
    order = np.concatenate([rows_data, rows_replay], axis=1).reshape(-1)
    return TransitionBatch.concatenate([from_data, from_replay]).index(order)
