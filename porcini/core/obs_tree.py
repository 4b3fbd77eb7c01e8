"""Observation trees: Dict and Tuple observations as dicts and tuples of arrays, handled leaf by leaf.

A batch of ``Dict`` observations is a dict of arrays ``{key: [*batch, *key_shape]}`` (what Gymnasium's vector
envs return), a batch of ``Tuple`` observations a tuple of arrays; any other observation batch is one array (a
leaf). Storage (rollouts, transition batches, replay buffers) keeps every leaf in its own array with its own dtype,
so ``uint8`` images stay ``uint8`` next to ``int64`` Discrete entries. The helpers here work on NumPy arrays and
torch tensors alike and cost one ``isinstance`` check on a plain array.

Glossary:
    leaf: an array (or tensor) of the tree; a plain observation batch is a tree of one leaf.
    layout: the tree's shape without its arrays, as JSON-able data: None for a leaf, ``{"dict": {key: layout}}``
        or ``{"tuple": [layout, ...]}`` (:func:`obs_layout`); replay buffers save it next to their arrays.
    path key: the storage name of a leaf, its field name and the keys on its path joined by dots
        (``"obs.image"``, ``"next_obs.1"``; :func:`flatten_obs`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["flatten_obs", "is_obs_tree", "layout_keys", "map_obs", "obs_batch_size", "obs_layout", "obs_leaves",
           "unflatten_obs"]


def is_obs_tree(obs: Any) -> bool:
    """True when ``obs`` is a dict or tuple of observation arrays (not a single array)."""
    # the loop asks this of every array it stores: answer plain arrays before the slower Mapping (ABC) check
    if isinstance(obs, np.ndarray):
        return False
    return isinstance(obs, (dict, tuple, Mapping))


def map_obs(fn: Callable[..., Any], obs: Any, *others: Any) -> Any:
    """``fn`` applied to every leaf of ``obs`` (and the matching leaves of ``others``), in the same structure."""
    if isinstance(obs, np.ndarray):
        return fn(obs, *others)
    if isinstance(obs, Mapping):
        return {key: map_obs(fn, value, *(other[key] for other in others)) for key, value in obs.items()}
    if isinstance(obs, tuple):
        return tuple(map_obs(fn, value, *(other[i] for other in others)) for i, value in enumerate(obs))
    return fn(obs, *others)


def obs_leaves(obs: Any) -> list[Any]:
    """The leaves of ``obs`` in order (dict keys in their order, tuple entries in order)."""
    if isinstance(obs, np.ndarray):
        return [obs]
    if isinstance(obs, Mapping):
        return [leaf for value in obs.values() for leaf in obs_leaves(value)]
    if isinstance(obs, tuple):
        return [leaf for value in obs for leaf in obs_leaves(value)]
    return [obs]


def obs_batch_size(obs: Any) -> int:
    """The length of the first axis of an observation batch (``len(obs)`` of a dict would count its keys).

    Raises:
        ValueError: ``obs`` is an empty dict or tuple.
    """
    if isinstance(obs, np.ndarray):
        return len(obs)
    leaves = obs_leaves(obs)
    if not leaves:
        raise ValueError("an observation batch with no entries (an empty Dict or Tuple) has no batch size")
    return len(leaves[0])


def obs_layout(obs: Any) -> Any:
    """The JSON-able layout of ``obs``: None for a leaf, ``{"dict": {...}}`` or ``{"tuple": [...]}`` (see module)."""
    if isinstance(obs, Mapping):
        return {"dict": {str(key): obs_layout(value) for key, value in obs.items()}}
    if isinstance(obs, tuple):
        return {"tuple": [obs_layout(value) for value in obs]}
    return None


def flatten_obs(obs: Any, prefix: str) -> dict[str, Any]:
    """The leaves of ``obs`` under their path keys: ``{prefix: obs}`` for a leaf, ``{prefix.key: ...}`` for a tree."""
    if isinstance(obs, np.ndarray):
        return {prefix: obs}
    if isinstance(obs, Mapping):
        return {k: v for key, value in obs.items() for k, v in flatten_obs(value, f"{prefix}.{key}").items()}
    if isinstance(obs, tuple):
        return {k: v for i, value in enumerate(obs) for k, v in flatten_obs(value, f"{prefix}.{i}").items()}
    return {prefix: obs}


def unflatten_obs(layout: Any, leaves: Mapping[str, Any], prefix: str) -> Any:
    """Rebuild the tree of :func:`flatten_obs` from its ``layout`` and the path-keyed ``leaves``.

    Raises:
        KeyError: a leaf of the layout is missing from ``leaves``.
    """
    if layout is None:
        return leaves[prefix]
    if "dict" in layout:
        return {key: unflatten_obs(sub, leaves, f"{prefix}.{key}") for key, sub in layout["dict"].items()}
    return tuple(unflatten_obs(sub, leaves, f"{prefix}.{i}") for i, sub in enumerate(layout["tuple"]))


def layout_keys(layout: Any, prefix: str) -> list[str]:
    """The path keys :func:`flatten_obs` gives a tree of ``layout`` under ``prefix``, in order."""
    if layout is None:
        return [prefix]
    if "dict" in layout:
        return [k for key, sub in layout["dict"].items() for k in layout_keys(sub, f"{prefix}.{key}")]
    return [k for i, sub in enumerate(layout["tuple"]) for k in layout_keys(sub, f"{prefix}.{i}")]
