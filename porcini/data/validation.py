"""Checks a dataset passes before anything learns from it: not empty, finite, shaped for the env it is used in."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from porcini.errors import UserError


class DatasetError(UserError, ValueError):
    """A dataset cannot be used: missing, unreadable, empty, with NaNs, or recorded in other spaces.

    The message names the dataset (its file or Minari id), the problem and the fix (CLI: one line, exit 2).
    """


def check_finite(dataset: Any, source: str) -> None:
    """Refuse an empty dataset, and NaN observations or non-finite rewards, naming where the first one is.

    Args:
        dataset: a :class:`~porcini.data.Dataset`.
        source: how the dataset is named in messages (``"dataset file 'x.npz'"``).

    Raises:
        DatasetError: no transitions, a NaN in ``obs``/``next_obs`` or a NaN/inf ``reward``.
    """
    b = dataset.batch
    if len(dataset) == 0:
        raise DatasetError(f"{source} holds no transitions; record some (porcini collect) or pick another dataset")
    for name, bad in (("obs", np.isnan), ("next_obs", np.isnan), ("reward", lambda x: ~np.isfinite(x))):
        values = np.asarray(getattr(b, name))
        if not np.issubdtype(values.dtype, np.floating):
            continue
        where = bad(values)
        if where.any():
            row, column = np.argwhere(where.reshape(where.shape[0], where.shape[1], -1).any(axis=2))[0]
            kind = "NaN" if name != "reward" else "non-finite"
            raise DatasetError(f"{source} has {kind} {name} (first at step {row} of env column {column}); "
                               "clean or re-record the data")


def check_spaces(dataset: Any, env_info: Any, source: str) -> None:
    """Refuse a dataset whose observations or actions cannot come from ``env_info``'s spaces.

    Shapes are compared for observations and Box actions; Box actions must lie within the bounds, Discrete actions
    must be integers in ``[start, start + n)``.

    Args:
        dataset: a :class:`~porcini.data.Dataset`.
        env_info: an :class:`~porcini.envs.EnvInfo` (anything with ``env_id``, ``observation_space``,
            ``action_space``).
        source: how the dataset is named in messages.

    Raises:
        DatasetError: a shape, dtype kind or action range that does not fit.
    """
    b = dataset.batch
    env = getattr(env_info, "env_id", "the env")
    obs_shape = tuple(env_info.observation_space.shape or ())
    if tuple(b.obs.shape[2:]) != obs_shape:
        raise DatasetError(f"{source} has observations of shape {tuple(b.obs.shape[2:])}, but {env} observes "
                           f"{env_info.observation_space}; use the env the data was recorded in")
    check_actions(dataset, env_info.action_space, env, source)


def check_agent_dataset(dataset: Any, env_info: Any, owner: str) -> None:
    """What an agent's ``add_dataset`` refuses (in Python, as the CLI refuses a dataset file).

    :func:`check_finite`, array observations of another shape than the env's, and :func:`check_actions`.

    Args:
        dataset: a :class:`~porcini.data.Dataset`.
        env_info: the agent's :class:`~porcini.envs.EnvInfo`.
        owner: the agent's class name, for the message.

    Raises:
        DatasetError: empty, NaN observations or non-finite rewards, observations or actions that do not fit.
    """
    source = f"the dataset given to {owner}.add_dataset"
    check_finite(dataset, source)
    obs, space = dataset.batch.obs, env_info.observation_space
    if isinstance(obs, np.ndarray) and isinstance(space, gym.spaces.Box) and tuple(obs.shape[2:]) != space.shape:
        raise DatasetError(f"{source} has observations of shape {tuple(obs.shape[2:])}, but {env_info.env_id} "
                           f"observes {space}; use the env the data was recorded in")
    check_actions(dataset, env_info.action_space, env_info.env_id, source)


def check_actions(dataset: Any, space: gym.Space, env: str, source: str) -> None:
    """Refuse a dataset whose actions cannot come from ``space``: another shape, or values outside it.

    Args:
        dataset: a :class:`~porcini.data.Dataset`.
        space: the env's action space.
        env: how the env is named in messages.
        source: how the dataset is named in messages.

    Raises:
        DatasetError: a shape, dtype kind or action range that does not fit (NaN Box actions included).
    """
    action = np.asarray(dataset.batch.action)
    action_shape = tuple(space.shape or ())
    if tuple(action.shape[2:]) != action_shape:
        raise DatasetError(f"{source} has actions of shape {tuple(action.shape[2:])}, but {env} acts in {space}; "
                           "use the env the data was recorded in")
    if isinstance(space, gym.spaces.Box) and action.size:
        _check_box_actions(action, space, env, source)
    n = getattr(space, "n", None)
    if n is not None and action.size:
        if not np.issubdtype(action.dtype, np.integer):
            raise DatasetError(f"{source} has {action.dtype} actions, but {env} acts in {space} (integers); "
                               "use the env the data was recorded in")
        start = int(getattr(space, "start", 0))
        low, high = int(action.min()), int(action.max())
        if low < start or high >= start + int(n):
            raise DatasetError(f"{source} has actions in [{low}, {high}], outside {env}'s {space}; "
                               "use the env the data was recorded in")


def _check_box_actions(action: np.ndarray, space: gym.spaces.Box, env: str, source: str) -> None:
    """Refuse actions ``[T, B, *shape]`` outside the bounds of ``space`` (NaNs included), naming the first."""
    as_space = action.astype(space.dtype, copy=False) if space.dtype is not None else action  # bounds' precision
    outside = ~((as_space >= space.low) & (as_space <= space.high))
    if outside.any():
        row, column = np.argwhere(outside.reshape(outside.shape[0], outside.shape[1], -1).any(axis=2))[0]
        raise DatasetError(f"{source} has actions outside {env}'s {space} (first at step {row} of env column "
                           f"{column}: {action[row, column].tolist()}); clip them to the bounds or use the env the "
                           "data was recorded in")
