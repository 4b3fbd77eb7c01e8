r"""Action-value functions that are linear in features: ``Q(s, a) = w[:, a] · φ(s)``. A Q-table is the one-hot case.

One class serves tabular and linear agents, so one agent class serves both. Agents work with the sparse form of
the features, ``(indices [B, K], values [B, K])``:

.. math:: Q(s, a) = \sum_k w[\mathrm{idx}_k, a]\, \mathrm{val}_k

and a semi-gradient step on ``(s, a)`` adds ``step · val_k`` to ``w[idx_k, a]`` (the gradient of ``Q(s, a)`` with
respect to ``w[:, a]`` is ``φ(s)``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from porcini.approximators.features import (
    Features,
    FourierFeatures,
    OneHotFeatures,
    PolynomialFeatures,
    RBFFeatures,
)
from porcini.approximators.tile_coding import TileCoding
from porcini.errors import UnsupportedSpaceError

FEATURE_KINDS = ("auto", "one_hot", "tile", "rbf", "fourier", "polynomial")


class LinearQ:
    """``Q(s, a) = w[:, a] · φ(s)`` with weights ``[n_features, n_actions]``.

    Example:
        >>> q = LinearQ(OneHotFeatures(3), n_actions=2, initial_value=1.0)
        >>> q(np.array([0, 2]))
        array([[1., 1.],
               [1., 1.]])

    Args:
        features: the feature map.
        n_actions: number of discrete actions.
        initial_value: initial ``Q(s, a)`` everywhere; binary features (one-hot, tiles) get weights
            ``initial_value / n_active``; other features only support 0.

    Attributes:
        weights: ``[n_features, n_actions]`` float64.
        step_scale: ``1 / n_active`` for binary features, else 1; agents multiply their learning rate by it so
            that ``learning_rate`` is the fraction of the TD error applied to ``Q(s, a)`` with tiles as in a table.
    """

    def __init__(self, features: Features, n_actions: int, initial_value: float = 0.0) -> None:
        if n_actions < 1:
            raise ValueError(f"LinearQ: n_actions = {n_actions} must be >= 1")
        if initial_value != 0.0 and not features.binary:
            raise ValueError(
                f"LinearQ: initial_value = {initial_value} needs binary features (one-hot, tile coding); "
                f"{type(features).__name__} supports only 0"
            )
        self.features = features
        self.n_actions = int(n_actions)
        self.step_scale = 1.0 / features.n_active if features.binary else 1.0
        self.weights = np.full((features.n_features, self.n_actions), initial_value * self.step_scale)

    @property
    def n_features(self) -> int:
        """Length of the feature vector."""
        return self.features.n_features

    def active(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """The sparse features ``(indices [B, K], values [B, K])`` of a batch of observations."""
        return self.features.sparse(obs)

    def values_at(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``[B, n_actions]`` action values of the observations whose sparse features are given."""
        return np.einsum("bk,bka->ba", values, self.weights[indices])

    def __call__(self, obs: Any) -> np.ndarray:
        """``[B, n_actions]`` action values of a batch of observations."""
        return self.values_at(*self.active(obs))

    def values_of(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``[n_actions]`` action values of one observation from its sparse features ``[K]`` (a new array)."""
        return values @ self.weights[indices]

    def value_of(self, indices: np.ndarray, values: np.ndarray, action: int) -> float:
        """``Q(s, a)`` of one observation from its sparse features ``[K]``."""
        return float(values @ self.weights[indices, action])

    def add_one(self, indices: np.ndarray, values: np.ndarray, action: int, step: float) -> None:
        """Semi-gradient step on one observation: ``w[idx_k, a] += step · val_k`` (repeated indices add up)."""
        np.add.at(self.weights[:, action], indices, step * values)

    def add(self, indices: np.ndarray, values: np.ndarray, action: np.ndarray, step: np.ndarray) -> None:
        """Semi-gradient step: ``w[idx_k, a_b] += step_b · val_bk`` for every row ``b`` (repeated rows add up).

        Args:
            indices: ``[B, K]`` active features.
            values: ``[B, K]`` their values.
            action: ``[B]`` the action whose weights move.
            step: ``[B]`` step sizes times TD errors.
        """
        a = np.broadcast_to(np.asarray(action, dtype=np.int64)[:, None], indices.shape)
        np.add.at(self.weights, (indices, a), np.asarray(step, dtype=np.float64)[:, None] * values)


class QTable(LinearQ):
    """A Q-table ``[n_states, n_actions]``: :class:`LinearQ` over one-hot features.

    Example:
        >>> q = QTable(4, 2)
        >>> q.add(*q.active(np.array([3])), action=np.array([1]), step=np.array([0.5]))
        >>> q.table[3].tolist()
        [0.0, 0.5]

    Args:
        n_states: number of discrete observations.
        n_actions: number of discrete actions.
        initial_value: initial value of every entry.
        start: the first observation (``Discrete(n, start)``): observation ``start + i`` is row ``i``.
    """

    def __init__(self, n_states: int, n_actions: int, initial_value: float = 0.0, start: int = 0) -> None:
        super().__init__(OneHotFeatures(n_states, start), n_actions, initial_value)
        self.start = int(start)

    @property
    def table(self) -> np.ndarray:
        """The weights, which here are the table ``Q[s, a]`` itself."""
        return self.weights

    def __call__(self, obs: Any) -> np.ndarray:
        """``Q[obs]`` ``[B, n_actions]`` (a direct lookup, faster than the generic sparse product)."""
        return self.weights[np.asarray(obs, dtype=np.int64).reshape(-1) - self.start]

    def values_at(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``[B, n_actions]`` rows of the table (one active feature per row)."""
        return self.weights[indices[:, 0]] * values

    def add(self, indices: np.ndarray, values: np.ndarray, action: np.ndarray, step: np.ndarray) -> None:
        """``Q[s_b, a_b] += step_b`` for every row ``b`` (repeated rows add up)."""
        np.add.at(self.weights, (indices[:, 0], np.asarray(action, dtype=np.int64)),
                  np.asarray(step, dtype=np.float64) * values[:, 0])

    # One observation: plain indexing of the table (its one-hot feature has the value 1)

    def values_of(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``Q[s]`` ``[n_actions]`` (a copy) of one observation whose one active feature is ``indices[0] = s``."""
        return self.weights[indices[0]].copy()

    def value_of(self, indices: np.ndarray, values: np.ndarray, action: int) -> float:
        """``Q[s, a]`` of one observation."""
        return float(self.weights[indices[0], action])

    def add_one(self, indices: np.ndarray, values: np.ndarray, action: int, step: float) -> None:
        """``Q[s, a] += step`` for one observation."""
        self.weights[indices[0], action] += step


def make_features(
    observation_space: gym.Space,
    kind: str = "auto",
    *,
    low: Any = None,
    high: Any = None,
    n_tilings: int = 8,
    tiles_per_dim: int = 8,
    hash_size: int | None = None,
    rbf_centers_per_dim: int = 5,
    fourier_order: int = 3,
    poly_degree: int = 2,
) -> Features:
    """Build a feature map for an observation space from flat (config-friendly) arguments.

    Args:
        observation_space: ``Discrete`` (one-hot) or ``Box`` (any other kind).
        kind: ``"auto"`` (one-hot for Discrete, tile coding for Box), ``"one_hot"``, ``"tile"``, ``"rbf"``,
            ``"fourier"`` or ``"polynomial"``.
        low: bounds overriding the space's (needed when the space's bounds are infinite).
        high: upper bounds overriding the space's.
        n_tilings: tile coding: number of tilings.
        tiles_per_dim: tile coding: tiles per dimension.
        hash_size: tile coding: hash table size, None for exact indices.
        rbf_centers_per_dim: RBF grid points per dimension.
        fourier_order: Fourier basis order.
        poly_degree: polynomial total degree.

    Returns:
        The feature map.

    Raises:
        ValueError: unknown ``kind``, a kind that does not fit the space, or infinite bounds.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"features {kind!r} is unknown; choose one of {FEATURE_KINDS}")
    discrete = isinstance(observation_space, gym.spaces.Discrete)
    if kind == "auto":
        kind = "one_hot" if discrete else "tile"
    if kind == "one_hot":
        if not isinstance(observation_space, gym.spaces.Discrete):
            raise UnsupportedSpaceError(f"one-hot features need a Discrete observation space, got {observation_space}")
        return OneHotFeatures(int(observation_space.n), int(observation_space.start))
    if not isinstance(observation_space, gym.spaces.Box):
        fix = "use one_hot" if discrete else "flatten it into a Box first (gymnasium.wrappers.FlattenObservation)"
        raise UnsupportedSpaceError(f"{kind} features need a Box observation space, got {observation_space}; {fix}")
    low = np.asarray(observation_space.low if low is None else low, dtype=np.float64).ravel()
    high = np.asarray(observation_space.high if high is None else high, dtype=np.float64).ravel()
    if kind == "tile":
        return TileCoding(low, high, n_tilings, tiles_per_dim, hash_size)
    if kind == "rbf":
        return RBFFeatures(low, high, rbf_centers_per_dim)
    if kind == "fourier":
        return FourierFeatures(low, high, fourier_order)
    return PolynomialFeatures(low.size, poly_degree, low, high)
