"""Read and write the ``.npz`` files of replay buffers and datasets: atomic, no pickle, clear errors."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from porcini.data.atomic import atomic_write
from porcini.errors import CheckpointError


class DataFileError(CheckpointError, ValueError):
    """A replay-buffer or dataset file is corrupt, truncated, of another format or version, or does not fit.

    Subclasses CheckpointError (these files are part of checkpoints) and ValueError.
    """


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` as an uncompressed ``.npz``, atomically (:func:`~porcini.data.atomic.atomic_write`).

    The file is written exactly at ``path`` (NumPy's habit of appending ``.npz`` is avoided).

    Raises:
        TypeError: an array has dtype ``object``, which could only be stored with pickle.
    """
    path = Path(path)
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(
                f"array {key!r} has dtype object, which npz can only store with pickle; "
                "convert it to a numeric, bool or str array"
            )
    with atomic_write(path, "wb") as f:
        # typed as Any: savez's keyword-only allow_pickle would otherwise make mypy reject an array value
        payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
        np.savez(f, **payload)
    return path


def read_npz(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    """Read every array of the ``.npz`` at ``path`` into memory (which verifies each member's CRC).

    Args:
        path: the file.
        what: what the file should be (``"replay buffer"``), used in error messages.

    Raises:
        FileNotFoundError: no file at ``path``.
        DataFileError: the file is not a readable npz (corrupt, truncated) or needs pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file at {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
        raise DataFileError(
            f"{str(path)!r} is not a readable {what} file (corrupt, truncated or not an npz "
            f"written by porcini): {type(err).__name__}: {err}"
        ) from err


def scalar(state: Mapping[str, Any], key: str, source: object, default: Any = None) -> Any:
    """Return the Python value of the one-element entry ``key`` of ``state`` (``default`` if absent).

    Accepts 0-d and 1-element arrays (some containers store scalars with shape ``(1,)``) and plain scalars.

    Raises:
        DataFileError: the entry holds more than one element.
    """
    if key not in state:
        return default
    value = np.asarray(state[key])
    if value.size != 1:
        raise DataFileError(f"{source}: entry {key!r} should hold one value, it has shape {value.shape}; corrupt state")
    return value.reshape(-1)[0].item()


def require_format(arrays: Mapping[str, np.ndarray], path: object, fmt: str, version: int) -> None:
    """Raise DataFileError unless ``arrays`` carries ``format == fmt`` and ``version == version``."""
    found = scalar(arrays, "format", path)
    if found != fmt:
        raise DataFileError(f"{path} holds format {found!r}, expected {fmt!r}; load it with the matching class")
    found_version = scalar(arrays, "version", path)
    if found_version != version:
        raise DataFileError(
            f"{path} has {fmt} format version {found_version}, this porcini reads version "
            f"{version}; re-save it with a matching porcini"
        )


def json_entry(value: Any) -> np.ndarray:
    """``value`` as a 0-d string array holding its JSON, storable in an ``.npz`` (read by :func:`read_json_entry`)."""
    return np.array(json.dumps(value))


def read_json_entry(state: Mapping[str, Any], key: str, source: object, default: Any,
                    keys: tuple[str, ...]) -> Any:
    """The JSON mapping stored under ``key`` by :func:`json_entry` (``default`` when absent).

    Raises:
        DataFileError: the entry is not valid JSON, or not a mapping with exactly ``keys``.
    """
    if key not in state:
        return default
    try:
        value = json.loads(str(np.asarray(state[key])))
    except json.JSONDecodeError as err:
        raise DataFileError(f"{source}: its {key} is not valid JSON ({err}); the file is corrupt") from None
    if not isinstance(value, dict) or set(value) != set(keys):
        raise DataFileError(f"{source}: its {key} {value!r} does not name {' and '.join(keys)}; the file is corrupt")
    return value
