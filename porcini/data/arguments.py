"""Argument checks shared by the replay buffers and datasets: a NumPy generator, a count."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_rng(rng: Any, owner: str) -> np.random.Generator:
    """Return ``rng`` if it is a ``np.random.Generator``, else raise a TypeError that names the fix."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{owner} needs rng to be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}"
        )
    return rng


def check_count(value: Any, owner: str, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising ValueError unless it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
