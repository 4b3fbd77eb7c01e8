"""One name for a dataset, wherever it is stored: ``minari:NAME`` (a local Minari dataset) or ``PATH.npz``.

Minari is the standard to share data in (:mod:`porcini.data.minari_io`). porcini's own ``.npz``
(:func:`~porcini.data.save_dataset`) is kept for what Minari lacks: one self-contained file with no h5py or pyarrow
dependency, extras of any shape next to the transitions, and transitions that are not in episode order. Whichever
the source, porcini learns from one :class:`~porcini.data.Dataset` type, checked here before use: not empty, no NaNs,
shaped for the env.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from porcini.data._npz import DataFileError
from porcini.data.dataset import Dataset, load_dataset, save_dataset
from porcini.data.minari_io import check_minari_target, read_minari, write_minari
from porcini.data.validation import DatasetError, check_finite, check_spaces

MINARI_PREFIX = "minari:"
FORMS = "minari:NAME (a local Minari dataset, e.g. minari:pendulum/random-v0) or PATH.npz (porcini's own format)"


def open_dataset(source: str, env_info: Any = None, *, infos: Sequence[str] = ()) -> Dataset:
    """The dataset ``source`` names, checked: not empty, no NaN observations or rewards, fit for ``env_info``.

    Args:
        source: ``"minari:NAME"`` (a local Minari dataset) or the path of a porcini ``.npz`` dataset.
        env_info: the env the data will be used in (an :class:`~porcini.envs.EnvInfo`); None skips the space
            checks.
        infos: Minari ``infos`` keys to return as ``extras`` (an ``.npz`` keeps all its extras).

    Raises:
        DatasetError: a source of neither form, a missing or unreadable file or dataset, an empty one, NaNs, or
            spaces that do not fit ``env_info`` (one line naming the source and the problem).
        MissingExtraError: ``minari:`` without the ``minari`` extra.
    """
    if source.startswith(MINARI_PREFIX):
        return read_minari(source[len(MINARI_PREFIX) :], env_info, infos=infos)
    path = _npz_path(source)
    if infos:
        raise DatasetError(f"infos= selects Minari infos; the npz {source!r} keeps all its extras: drop infos")
    label = f"dataset file {str(path)!r}"
    if not path.is_file():
        raise DatasetError(f"no {label}; give {FORMS}")
    try:
        dataset = load_dataset(path)
    except DataFileError as err:
        raise DatasetError(str(err)) from err
    check_finite(dataset, label)
    if env_info is not None:
        check_spaces(dataset, env_info, label)
    return dataset


def write_dataset(dataset: Dataset, target: str, *, observation_space: Any, action_space: Any,
                  env_id: str | None = None, algorithm_name: str | None = None, **minari_fields: Any) -> str:
    """Write ``dataset`` to ``target`` (``minari:NAME`` or ``PATH.npz``), atomically, never over existing data.

    Args:
        dataset: the transitions.
        target: where to: ``"minari:NAME"`` or a ``.npz`` path.
        observation_space: the space of one observation.
        action_space: the space of one action.
        env_id: the Gymnasium id the data was recorded in.
        algorithm_name: what produced the actions.
        **minari_fields: further Minari metadata (``author``, ``author_email``, ``description``,
            ``code_permalink``, ``data_format``); an ``.npz`` keeps them in its metadata.

    Returns:
        Where the data now is: the Minari dataset's folder or the file.

    Raises:
        DatasetError: a target of neither form, one that exists already or cannot be written (a read-only
            folder, a full disk), an empty dataset or NaNs.
    """
    if target.startswith(MINARI_PREFIX):
        return str(write_minari(dataset, target[len(MINARI_PREFIX) :], observation_space=observation_space,
                                action_space=action_space, env_id=env_id, algorithm_name=algorithm_name,
                                **minari_fields))
    check_target(target)
    path = Path(target)
    label = f"dataset file {str(path)!r}"
    check_finite(dataset, label)
    extra = {"observation_space": str(observation_space), "action_space": str(action_space),
             "algorithm_name": algorithm_name, **{k: v for k, v in minari_fields.items() if k != "data_format"}}
    if env_id is not None:
        extra["env_id"] = env_id
    try:
        save_dataset(path, dataset, {k: v for k, v in extra.items() if v is not None})
    except OSError as err:  # a full disk: the temporary file is removed, no part of the data is left at path
        raise DatasetError(f"{err.strerror or err} while writing {label}; nothing was written: free some space or "
                           "write to another folder") from err
    return str(path)


def check_target(target: str) -> None:
    """Refuse, before anything is recorded, a ``target`` of neither form or one that exists already.

    Raises:
        DatasetError: the target is malformed, exists, or (a file) has no folder to go in or one that cannot be
            written.
        MissingExtraError: ``minari:`` without the ``minari`` extra.
    """
    if target.startswith(MINARI_PREFIX):
        check_minari_target(target[len(MINARI_PREFIX) :])
        return
    path = _npz_path(target)
    label = f"dataset file {str(path)!r}"
    if path.exists():
        raise DatasetError(f"{label} exists already; remove it or write another path")
    if not path.parent.is_dir():
        raise DatasetError(f"cannot write {label}: no folder {str(path.parent)!r}; create it first")
    try:  # a read-only folder fails here, before the episodes are recorded, not after
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as err:
        raise DatasetError(f"cannot write {label}: {err.strerror or err}; write to another folder") from err


def _npz_path(source: str) -> Path:
    if not source.endswith(".npz"):
        raise DatasetError(f"{source!r} names no dataset: give {FORMS}")
    return Path(source)
