"""Shared helpers for the porcini.data tests: batches whose contents say where they came from."""

import numpy as np
import pytest

from porcini.core.batch import TransitionBatch


def chi2_upper(df: int, z: float = 3.5) -> float:
    """Upper chi-square quantile by the Wilson-Hilferty approximation (z = 3.5 is a tail of about 2e-4)."""
    return df * (1 - 2 / (9 * df) + z * np.sqrt(2 / (9 * df))) ** 3


def labelled_batch(t0: int, n_steps: int, n_envs: int, rng: np.random.Generator, *, extras: bool = True):
    """A [T, B] batch where obs = (global step, env) so every transition can be traced.

    uint8 image-like obs are carried in extras["pixels"] to check that dtypes are kept.
    """
    t = np.arange(t0, t0 + n_steps)[:, None] * np.ones((1, n_envs), dtype=np.int64)
    env = np.ones((n_steps, 1), dtype=np.int64) * np.arange(n_envs)[None, :]
    obs = np.stack([t, env], axis=-1).astype(np.float32)
    ended = rng.random((n_steps, n_envs))
    ex = {}
    if extras:
        ex = {
            "pixels": rng.integers(0, 256, size=(n_steps, n_envs, 3, 2), dtype=np.uint8),
            "cost": rng.normal(size=(n_steps, n_envs)).astype(np.float64),
        }
    return TransitionBatch(
        obs=obs,
        action=rng.integers(0, 4, size=(n_steps, n_envs)),
        reward=rng.normal(size=(n_steps, n_envs)).astype(np.float32),
        next_obs=obs + np.array([1.0, 0.0], np.float32),
        terminated=ended < 0.1,
        truncated=(ended >= 0.1) & (ended < 0.2),
        extras=ex,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def make_batch():
    return labelled_batch


@pytest.fixture
def chi2_limit():
    return chi2_upper
