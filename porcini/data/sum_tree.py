"""A vectorized sum-tree (with a parallel min-tree) for proportional prioritized sampling.

The tree is a flat array of ``2 * P`` nodes, ``P`` the smallest power of two ``>= capacity``: node 1 is the
root, node ``i`` has children ``2i`` and ``2i + 1``, and leaf ``j`` lives at node ``P + j``. Every operation
works on a whole batch of leaves at once and loops over the ``log2(P)`` tree levels only, never over items.

Parents are always recomputed as the sum of their children (never updated by adding a delta), so
floating-point error does not accumulate over millions of updates.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SumTree:
    """Leaf values ``p_j >= 0`` with O(log N) batched update, total, minimum and prefix-sum search.

    Args:
        capacity: number of leaves; all start at 0.

    Example:
        >>> tree = SumTree(4)
        >>> tree.update(np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]))
        >>> tree.total, tree.min
        (10.0, 1.0)
        >>> tree.find_prefix_sum(np.array([0.5, 1.0, 9.99])).tolist()
        [0, 1, 3]
    """

    def __init__(self, capacity: int) -> None:
        if int(capacity) < 1:
            raise ValueError(f"SumTree capacity must be >= 1, got {capacity}")
        self._capacity = int(capacity)
        self._depth = max(int(np.ceil(np.log2(self._capacity))), 0)
        self._n_leaves = 1 << self._depth
        self._sum = np.zeros(2 * self._n_leaves, dtype=np.float64)
        # Zero leaves are never sampled, so the min-tree ignores them (stores +inf): its root is min p_j > 0.
        self._min = np.full(2 * self._n_leaves, np.inf, dtype=np.float64)

    @property
    def capacity(self) -> int:
        """Number of leaves."""
        return self._capacity

    @property
    def total(self) -> float:
        """Sum of all leaf values."""
        return float(self._sum[1])

    @property
    def min(self) -> float:
        """Smallest positive leaf value (``inf`` when every leaf is 0)."""
        return float(self._min[1])

    def get(self, indices: Any) -> np.ndarray:
        """Leaf values at ``indices`` (an int array), float64."""
        return self._sum[self._n_leaves + self._check_indices(indices)]

    def update(self, indices: Any, values: Any) -> None:
        """Set leaves ``indices`` to ``values`` and refresh their ancestors, one vectorized step per level.

        Where ``indices`` repeats, the last occurrence wins (as if the updates ran in order).

        Raises:
            IndexError: an index is outside ``[0, capacity)``.
            ValueError: a value is negative, NaN or infinite, or the shapes differ.
        """
        indices = self._check_indices(indices)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != indices.shape:
            raise ValueError(f"SumTree.update got {indices.size} indices but {values.size} values")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            bad = values[~np.isfinite(values) | (values < 0)][:5]
            raise ValueError(f"SumTree values must be finite and >= 0, got e.g. {bad.tolist()}")
        if indices.size == 0:
            return
        # Keep the last occurrence of each repeated index: NumPy does not define which write wins.
        reversed_idx = indices[::-1]
        indices, first = np.unique(reversed_idx, return_index=True)
        values = values[::-1][first]
        nodes = indices + self._n_leaves
        self._sum[nodes] = values
        self._min[nodes] = np.where(values > 0, values, np.inf)
        for _ in range(self._depth):
            nodes = np.unique(nodes >> 1)
            left = nodes << 1
            self._sum[nodes] = self._sum[left] + self._sum[left + 1]
            self._min[nodes] = np.minimum(self._min[left], self._min[left + 1])

    def set_all(self, values: Any) -> None:
        """Replace all ``capacity`` leaves at once and rebuild the tree level by level."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (self._capacity,):
            raise ValueError(f"SumTree.set_all needs {self._capacity} values, got shape {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("SumTree values must be finite and >= 0")
        n = self._n_leaves
        self._sum[n:] = 0.0
        self._sum[n : n + self._capacity] = values
        self._min[n:] = np.where(self._sum[n:] > 0, self._sum[n:], np.inf)
        lo = n
        while lo > 1:
            lo //= 2
            self._sum[lo : 2 * lo] = self._sum[2 * lo : 4 * lo : 2] + self._sum[2 * lo + 1 : 4 * lo : 2]
            self._min[lo : 2 * lo] = np.minimum(self._min[2 * lo : 4 * lo : 2], self._min[2 * lo + 1 : 4 * lo : 2])

    def values(self) -> np.ndarray:
        """Return a copy of all ``capacity`` leaf values."""
        return self._sum[self._n_leaves : self._n_leaves + self._capacity].copy()

    def find_prefix_sum(self, mass: Any) -> np.ndarray:
        """For each ``m`` in ``mass``, the leaf ``j`` with ``sum(p[:j]) <= m < sum(p[:j + 1])``.

        This is inverse-CDF sampling: with ``m ~ U[0, total)`` leaf ``j`` comes out with probability
        ``p_j / total``. A leaf with value 0 is never returned; masses at or past ``total`` (rounding) return
        the last positive leaf.

        Raises:
            ValueError: the tree is empty (total is 0) or a mass is negative or NaN.
        """
        mass = np.array(mass, dtype=np.float64, copy=True).reshape(-1)
        if self._sum[1] <= 0:
            raise ValueError("cannot search an empty SumTree: every leaf is 0")
        if np.any(~(mass >= 0)):
            raise ValueError(f"prefix-sum masses must be >= 0, got e.g. {mass[~(mass >= 0)][:5].tolist()}")
        nodes = np.ones(mass.shape, dtype=np.int64)
        for _ in range(self._depth):
            left = nodes << 1
            left_sum = self._sum[left]
            # Go right only into a subtree with mass: rounding can leave m >= left_sum, nothing on the right.
            go_right = (mass >= left_sum) & (self._sum[left + 1] > 0)
            mass = np.where(go_right, mass - left_sum, mass)
            nodes = left + go_right
        return nodes - self._n_leaves

    def _check_indices(self, indices: Any) -> np.ndarray:
        indices = np.asarray(indices).reshape(-1)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise IndexError(f"SumTree indices must be integers, got dtype {indices.dtype}")
        indices = indices.astype(np.int64, copy=False)
        if indices.size and (indices.min() < 0 or indices.max() >= self._capacity):
            raise IndexError(
                f"SumTree indices must lie in [0, {self._capacity}), got min {indices.min()} max {indices.max()}"
            )
        return indices
