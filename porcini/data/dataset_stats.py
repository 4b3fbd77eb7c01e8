"""What a dataset holds, in numbers: episodes, steps, returns, how episodes ended, spaces (``porcini dataset info``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from porcini.data.dataset import Dataset


def describe_dataset(dataset: Dataset) -> dict[str, Any]:
    """Statistics of ``dataset`` as a JSON-serializable dict.

    Episodes are those of :meth:`~porcini.data.Dataset.episode_bounds` (an unfinished tail counts as one).
    ``terminated`` and ``truncated`` count the episodes by how they ended, so they add up to ``episodes``: a step
    both terminated and truncated counts as terminated (the MDP ended), an unfinished tail as truncated (the end of
    the data).

    Example:
        >>> import numpy as np
        >>> from porcini.core.batch import TransitionBatch
        >>> ds = Dataset(TransitionBatch(obs=np.zeros((3, 1, 2)), action=np.zeros((3, 1), np.int64),
        ...     reward=np.array([[1.0], [2.0], [4.0]]), next_obs=np.zeros((3, 1, 2)),
        ...     terminated=np.array([[True], [False], [False]]), truncated=np.array([[False], [False], [True]])))
        >>> s = describe_dataset(ds)
        >>> s["episodes"], s["steps"], s["return_min"], s["return_max"], s["terminated"], s["truncated"]
        (2, 3, 1.0, 6.0, 1, 1)
    """
    b = dataset.batch
    bounds = dataset.episode_bounds()
    reward = np.asarray(b.reward, dtype=np.float64)
    returns = np.array([reward[start:stop, env].sum() for env, start, stop in bounds])
    lengths = bounds[:, 2] - bounds[:, 1] if len(bounds) else np.zeros(0, dtype=np.int64)
    n_terminated = int(np.asarray(b.terminated, bool)[bounds[:, 2] - 1, bounds[:, 0]].sum())
    meta = dataset.metadata

    def stat(values: np.ndarray, fn: Any) -> float | None:
        return float(fn(values)) if values.size else None

    return {
        "episodes": int(len(bounds)), "steps": len(dataset), "n_envs": b.n_envs,
        "return_mean": stat(returns, np.mean), "return_min": stat(returns, np.min),
        "return_max": stat(returns, np.max), "return_std": stat(returns, np.std),
        "length_mean": stat(lengths, np.mean), "length_min": stat(lengths, np.min),
        "length_max": stat(lengths, np.max),
        "terminated": n_terminated, "truncated": len(bounds) - n_terminated,
        "observation_space": meta.get("observation_space") or _array_space(b.obs),
        "action_space": meta.get("action_space") or _array_space(b.action),
        "env_id": meta.get("env_id"), "extras": sorted(b.extras),
    }


def complete_episode_returns(dataset: Dataset) -> np.ndarray:
    """The return of each episode of ``dataset`` that ends in it (``terminated | truncated``); unfinished tails are out.

    A replay buffer's contents end where its run stopped, often in the middle of an episode: that tail's return is
    not an episode's return.

    Example:
        >>> import numpy as np
        >>> from porcini.core.batch import TransitionBatch
        >>> ds = Dataset(TransitionBatch(obs=np.zeros((3, 1, 2)), action=np.zeros((3, 1), np.int64),
        ...     reward=np.array([[1.0], [2.0], [4.0]]), next_obs=np.zeros((3, 1, 2)),
        ...     terminated=np.array([[False], [True], [False]]), truncated=np.zeros((3, 1), bool)))
        >>> complete_episode_returns(ds)
        array([3.])
    """
    end = np.asarray(dataset.batch.episode_end, bool)
    reward = np.asarray(dataset.batch.reward, dtype=np.float64)
    return np.array([reward[start:stop, env].sum() for env, start, stop in dataset.episode_bounds()
                     if end[stop - 1, env]], dtype=np.float64)


def format_description(description: dict[str, Any], source: str) -> str:
    """The lines ``porcini dataset info`` prints for the statistics ``description`` of ``source``."""
    d = description

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = [
        f"{source}: {d['episodes']} episodes, {d['steps']} steps" + (f" in {d['env_id']}" if d["env_id"] else ""),
        f"  return: mean {number(d['return_mean'])}, min {number(d['return_min'])}, max {number(d['return_max'])}",
        f"  episode length: mean {number(d['length_mean'])}, min {number(d['length_min'])}, "
        f"max {number(d['length_max'])}",
        f"  episode ends: {d['terminated']} terminated, {d['truncated']} truncated",
        f"  observation space: {d['observation_space']}",
        f"  action space: {d['action_space']}",
    ]
    if d["extras"]:
        lines.append(f"  extras: {', '.join(d['extras'])}")
    return "\n".join(lines)


def _array_space(values: np.ndarray) -> str:
    """Shape and dtype of one element, where the data names no space (an ``.npz`` from ``collect_dataset``)."""
    values = np.asarray(values)
    return f"shape {tuple(values.shape[2:])}, dtype {values.dtype}"
