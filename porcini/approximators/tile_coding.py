"""Tile coding: several offset grids over a bounded observation space, one active tile per grid.

Sutton & Barto (2018), §9.5.4. The observation is scaled so that each grid has ``tiles_per_dim`` tiles per
dimension across ``[low, high]``. Tiling ``i`` is shifted by ``(i * d_j / n_tilings) mod 1`` tile widths in
dimension ``j``, with the asymmetric displacement ``d = (1, 3, 5, ...)`` the book recommends (uniform offsets
``d = (1, 1, ...)`` line the tilings up along the diagonal). Because of the shift each grid needs one extra tile
per dimension, so a tiling has ``(tiles_per_dim + 1) ** obs_dim`` tiles.

Without hashing, tile ``(i, coords)`` has the index ``i * tiles_per_tiling + ravel(coords)``. With ``hash_size``,
indices are a hash of ``(i, coords)`` modulo ``hash_size`` (a random linear combination of the key, then the
splitmix64 finalizer, so that any table size, powers of two included, fills as uniformly as a random hash would):
the table stays small for many dimensions at the price of collisions (distinct tiles sharing a weight), as in
Sutton's ``tiles3`` IHT/hashing.
Observations outside the bounds are clipped to them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from porcini.approximators.features import BoundedFeatures

_HASH_SEED = 0x9E3779B97F4A7C15  # any fixed odd 64-bit constant; fixes the hash across runs and machines


class TileCoding(BoundedFeatures):
    """Binary features: ``n_tilings`` active tiles per observation.

    Example:
        >>> tc = TileCoding(low=[0.0], high=[1.0], n_tilings=2, tiles_per_dim=4)
        >>> tc.indices(np.array([[0.0], [0.3]]))
        array([[0, 5],
               [1, 6]])

    Args:
        low: lower bound of each observation dimension.
        high: upper bound of each observation dimension.
        n_tilings: number of offset grids (a power of two >= 4 * obs_dim is the book's advice).
        tiles_per_dim: tiles per dimension across the bounds, one int or one per dimension.
        hash_size: None for exact indices, else hash tiles into a table of this many entries.
        asymmetric: use the displacement ``(1, 3, 5, ...)``; False shifts every dimension alike.

    Attributes:
        n_features: size of the weight table (``n_tilings * tiles_per_tiling``, or ``hash_size``).
        n_active: ``n_tilings``.
    """

    binary = True

    def __init__(self, low: Any, high: Any, n_tilings: int = 8, tiles_per_dim: int | Any = 8,
                 hash_size: int | None = None, asymmetric: bool = True) -> None:
        super().__init__(low, high)
        if n_tilings < 1:
            raise ValueError(f"TileCoding: n_tilings = {n_tilings} must be >= 1")
        tiles = np.broadcast_to(np.asarray(tiles_per_dim, dtype=np.int64), (self.obs_dim,)).copy()
        if np.any(tiles < 1):
            raise ValueError(f"TileCoding: tiles_per_dim = {tiles_per_dim} must be >= 1 in every dimension")
        if hash_size is not None and hash_size < 1:
            raise ValueError(f"TileCoding: hash_size = {hash_size} must be >= 1 (or None for no hashing)")
        self.n_tilings = int(n_tilings)
        self.tiles_per_dim = tiles
        self.grid_shape = tuple(int(t) + 1 for t in tiles)  # one extra tile per dimension for the shift
        self.tiles_per_tiling = int(np.prod(self.grid_shape))
        self.hash_size = hash_size
        displacement = 2 * np.arange(self.obs_dim) + 1 if asymmetric else np.ones(self.obs_dim)
        # [n_tilings, obs_dim] shifts in tile widths, each in [0, 1)
        self.offsets = (np.arange(self.n_tilings)[:, None] * displacement[None, :] / self.n_tilings) % 1.0
        self.n_features = int(hash_size) if hash_size is not None else self.n_tilings * self.tiles_per_tiling
        self.n_active = self.n_tilings
        if hash_size is None and self.n_features > 50_000_000:
            raise ValueError(f"TileCoding: {self.n_features} tiles without hashing; pass hash_size (e.g. 2**20)")
        # tile (i, coords) -> i * tiles_per_tiling + ravel(coords): the row-major strides of the grid and each
        # tiling's first index (coordinates are within the grid by construction, so no bounds check is needed)
        self._strides = np.array([int(np.prod(self.grid_shape[j + 1:])) for j in range(self.obs_dim)], np.int64)
        self._tiling_base = np.arange(self.n_tilings, dtype=np.int64) * self.tiles_per_tiling
        if hash_size is not None:
            rng = np.random.default_rng(_HASH_SEED)
            self._multipliers = (rng.integers(1, 2**62, size=self.obs_dim + 1, dtype=np.uint64) * 2 + 1)

    def coordinates(self, obs: Any) -> np.ndarray:
        """Tile coordinates ``[B, n_tilings, obs_dim]`` of each observation in each tiling."""
        scaled = self.unit(obs) * self.tiles_per_dim  # [B, d] in [0, tiles]
        return np.floor(scaled[:, None, :] + self.offsets[None]).astype(np.int64)

    def indices(self, obs: Any) -> np.ndarray:
        """Active feature indices ``[B, n_tilings]`` (one per tiling)."""
        coords = self.coordinates(obs)
        if self.hash_size is None:
            return self._tiling_base + coords @ self._strides
        tiling = np.arange(self.n_tilings)
        keys = np.concatenate([np.broadcast_to(tiling[None, :, None], coords.shape[:2] + (1,)), coords], axis=-1)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps around: that is the hash
            mixed = (keys.astype(np.uint64) * self._multipliers).sum(axis=-1, dtype=np.uint64)
            # splitmix64's finalizer: a linear key alone leaves the low bits (a power-of-two table) badly mixed
            mixed ^= mixed >> np.uint64(30)
            mixed *= np.uint64(0xBF58476D1CE4E5B9)
            mixed ^= mixed >> np.uint64(27)
            mixed *= np.uint64(0x94D049BB133111EB)
            mixed ^= mixed >> np.uint64(31)
        return (mixed % np.uint64(self.hash_size)).astype(np.int64)

    def sparse(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(indices [B, n_tilings], ones [B, n_tilings])``."""
        idx = self.indices(obs)
        return idx, np.ones(idx.shape)
