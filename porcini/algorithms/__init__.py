"""Algorithms: one module per algorithm, each a Config dataclass and an Agent class.

Classes are imported lazily (``from porcini.algorithms import PPO`` imports torch only then).
"""

from __future__ import annotations

from typing import Any

from porcini.algorithms.registry import ALGORITHMS, available, get_algorithm

_BY_CLASS = {target.split(":")[1]: name for name, target in ALGORITHMS.items()}


def __getattr__(attr: str) -> Any:
    if attr in _BY_CLASS:
        return get_algorithm(_BY_CLASS[attr])
    raise AttributeError(f"module 'porcini.algorithms' has no attribute {attr!r}")


__all__ = ["ALGORITHMS", "available", "get_algorithm", *_BY_CLASS]
