"""Shared fixtures for the golden tests: random rollouts with mixed endings, episode splitting, backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch


def random_rollout(seed: int) -> dict:
    """A random ``[T, B]`` rollout in float64 with terminations and truncations at random places.

    Like real data, ``next_value[t] == value[t + 1]`` inside an episode (``next_obs[t]`` is ``obs[t + 1]``).
    Where an episode ended, row ``t + 1`` is the first step of a NEW episode, so ``value[t + 1]`` is
    unrelated to ``next_value[t]``; where it terminated, ``next_value[t]`` is a huge number that an
    estimator must ignore. Some steps are both terminated and truncated (termination must win).
    """
    rng = np.random.default_rng(seed)
    n_steps, n_envs = int(rng.integers(1, 14)), int(rng.integers(1, 5))
    p_term, p_trunc = rng.choice([0.0, 0.1, 0.3, 0.6]), rng.choice([0.0, 0.1, 0.3, 0.6])
    terminated = rng.random((n_steps, n_envs)) < p_term
    truncated = rng.random((n_steps, n_envs)) < p_trunc
    value = rng.normal(size=(n_steps, n_envs))
    next_value = rng.normal(size=(n_steps, n_envs))
    episode_end = terminated | truncated
    next_value[:-1][~episode_end[:-1]] = value[1:][~episode_end[:-1]]
    next_value[terminated] = 1e6 * rng.choice([-1.0, 1.0], size=int(terminated.sum()))
    gamma = float(rng.choice([0.0, 0.5, 0.9, 0.99, 1.0, rng.uniform()]))
    lambda_ = float(rng.choice([0.0, 0.5, 0.95, 1.0, rng.uniform()]))
    return {
        "reward": rng.normal(size=(n_steps, n_envs)),
        "value": value,
        "next_value": next_value,
        "terminated": terminated,
        "truncated": truncated,
        "log_rho": rng.normal(scale=0.7, size=(n_steps, n_envs)),
        "gamma": gamma,
        "lambda_": lambda_,
        "n": int(rng.integers(1, 6)),
    }


def segments(terminated: np.ndarray, truncated: np.ndarray) -> Iterator[tuple[int, int]]:
    """Split one column into ``(first, last)`` step ranges (inclusive): one per episode piece in the batch.

    A piece ends where the episode ended (terminated or truncated) or at the last row of the batch.
    """
    first = 0
    for t in range(len(terminated)):
        if terminated[t] or truncated[t] or t == len(terminated) - 1:
            yield first, t
            first = t + 1


class Kind:
    """Converts NumPy test data to the backend under test and results back to NumPy."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, x):
        if self.name == "numpy" or not isinstance(x, np.ndarray):
            return x
        return torch.from_numpy(x.copy())

    def back(self, out) -> np.ndarray:
        expected = torch.Tensor if self.name == "torch" else np.ndarray
        assert isinstance(out, expected), f"{self.name} in, {type(out).__name__} out"
        return out.numpy() if isinstance(out, torch.Tensor) else out


@pytest.fixture(params=["numpy", "torch"])
def kind(request) -> Kind:
    return Kind(request.param)


@pytest.fixture
def rollouts() -> Callable[[int], dict]:
    return random_rollout


@pytest.fixture
def split() -> Callable:
    return segments
