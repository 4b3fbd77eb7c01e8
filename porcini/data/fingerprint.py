"""A dataset's content hash: the same transitions give the same fingerprint, wherever they were read from."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import flatten_obs
from porcini.data.dataset import Dataset

_FIELDS = tuple(f.name for f in dataclasses.fields(TransitionBatch) if f.name != "extras")


def dataset_fingerprint(dataset: Dataset) -> str:
    """SHA-256 over every field's name, dtype, shape and bytes (extras included, metadata not), as hex.

    A resumed run re-opens its dataset from the source and compares fingerprints, so training never continues on
    other data than it started with.

    Example:
        >>> import numpy as np
        >>> from porcini.core.batch import TransitionBatch
        >>> batch = TransitionBatch(np.zeros((2, 1, 3)), np.zeros((2, 1)), np.ones((2, 1)), np.zeros((2, 1, 3)),
        ...                         np.array([[False], [True]]), np.zeros((2, 1), bool))
        >>> dataset_fingerprint(Dataset(batch)) == dataset_fingerprint(Dataset(batch, {"note": "other"}))
        True
    """
    digest = hashlib.sha256()
    leaves: dict[str, np.ndarray] = {}
    for name in _FIELDS:
        leaves.update(flatten_obs(getattr(dataset.batch, name), name))
    leaves.update({f"extras.{k}": v for k, v in dataset.batch.extras.items()})
    for key in sorted(leaves):
        array = np.ascontiguousarray(leaves[key])
        digest.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
