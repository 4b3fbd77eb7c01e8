r"""Feature maps for linear value functions: one-hot (tabular), radial basis functions, Fourier basis, polynomials.

Every feature map is vectorized over a batch: ``features(obs)`` maps ``[B, *obs_shape]`` to dense ``[B, n_features]``,
and ``features.sparse(obs)`` gives the same vector as ``(indices [B, K], values [B, K])`` with ``K = n_active``
entries per row, which is what linear agents use for their updates (one-hot and tile coding have ``K`` tiny;
dense maps list every feature). Tile coding lives in :mod:`porcini.approximators.tile_coding`.

Continuous maps scale the observation into the unit cube first, :math:`\tilde x = (x - low) / (high - low)`,
clipped to [0, 1] (values outside the bounds get the features of the nearest boundary point).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from porcini.errors import UnsupportedSpaceError


class Features:
    """Base class of feature maps.

    Subclasses define ``n_features``, ``n_active``, ``binary`` and one of :meth:`dense` or :meth:`sparse` (the
    other follows).

    Attributes:
        n_features: length of the feature vector.
        n_active: entries per row returned by :meth:`sparse`.
        binary: True when every active value is 1 (one-hot, tile coding): agents then divide their step size by
            ``n_active`` so that ``learning_rate`` keeps its tabular meaning.
    """

    n_features: int
    n_active: int
    binary: bool = False

    def __call__(self, obs: Any) -> np.ndarray:
        """Dense features ``[B, n_features]`` of a batch of observations."""
        return self.dense(obs)

    def dense(self, obs: Any) -> np.ndarray:
        """Dense features ``[B, n_features]``, built from :meth:`sparse` unless overridden."""
        indices, values = self.sparse(obs)
        out = np.zeros((len(indices), self.n_features))
        np.add.at(out, (np.arange(len(indices))[:, None], indices), values)  # add.at: hashed tiles may collide
        return out

    def sparse(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(indices [B, K], values [B, K])`` with ``K = n_active``; dense maps list all features in order."""
        phi = self.dense(obs)
        indices = np.broadcast_to(np.arange(self.n_features), phi.shape)
        return indices, phi


def _as_rows(obs: Any) -> np.ndarray:
    """``[B, *obs_shape]`` -> ``[B, obs_dim]`` float64."""
    x = np.asarray(obs, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError("features need a batch of observations [B, ...], got a scalar")
    return x.reshape(len(x), -1)


class BoundedFeatures(Features):
    """Shared bounds handling: ``low``/``high`` per observation dimension, finite, ``high > low``.

    Args:
        low: lower bound of each dimension.
        high: upper bound of each dimension.
    """

    def __init__(self, low: Any, high: Any) -> None:
        self.low = np.asarray(low, dtype=np.float64).ravel()
        self.high = np.asarray(high, dtype=np.float64).ravel()
        name = type(self).__name__
        if self.low.shape != self.high.shape or self.low.size == 0:
            raise ValueError(f"{name}: low {self.low.shape} and high {self.high.shape} must be equal-length bounds")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
            raise UnsupportedSpaceError(
                f"{name}: bounds must be finite, got low={self.low.tolist()}, high={self.high.tolist()}; pass "
                "obs_low/obs_high for observation spaces with infinite bounds"
            )
        if np.any(self.high <= self.low):
            raise ValueError(f"{name}: need high > low in every dimension, got {self.low} and {self.high}")
        self.obs_dim = self.low.size
        self._span = self.high - self.low

    def unit(self, obs: Any) -> np.ndarray:
        """Observations scaled into [0, 1] per dimension (clipped), ``[B, obs_dim]``."""
        x = _as_rows(obs)
        if x.shape[1] != self.obs_dim:
            raise ValueError(f"{type(self).__name__}: observations have {x.shape[1]} dims, bounds have {self.obs_dim}")
        # np.minimum(np.maximum(...)) is np.clip without its Python-level argument handling
        return np.minimum(np.maximum((x - self.low) / self._span, 0.0), 1.0)


class OneHotFeatures(Features):
    """One-hot encoding of a discrete observation: the tabular case of a linear function.

    Example:
        >>> OneHotFeatures(3)(np.array([2, 0]))
        array([[0., 0., 1.],
               [1., 0., 0.]])

    Args:
        n_states: number of discrete observations.
        start: the first observation (``Discrete(n, start)``): observation ``start + i`` is feature ``i``.
    """

    binary = True

    def __init__(self, n_states: int, start: int = 0) -> None:
        if n_states < 1:
            raise ValueError(f"OneHotFeatures: n_states = {n_states} must be >= 1")
        self.n_features = int(n_states)
        self.n_active = 1
        self.start = int(start)

    def sparse(self, obs: Any) -> tuple[np.ndarray, np.ndarray]:
        """The observation (minus ``start``) is the one active index."""
        s = np.asarray(obs).reshape(-1, 1).astype(np.int64)
        if self.start:
            s -= self.start
        if len(s):
            # one observation per env at every step: Python's min and max of a short list cost less than NumPy's
            states = s.ravel().tolist() if len(s) <= 16 else None
            lo, hi = (min(states), max(states)) if states else (int(s.min()), int(s.max()))
            if lo < 0 or hi >= self.n_features:
                raise ValueError(f"OneHotFeatures: observation {(lo if lo < 0 else hi) + self.start} is outside "
                                 f"[{self.start}, {self.start + self.n_features})")
        return s, np.ones(s.shape)


class RBFFeatures(BoundedFeatures):
    r"""Gaussian radial basis functions on a regular grid of centers in the unit cube.

    .. math:: \phi_i(x) = \exp\big(-\lVert \tilde x - c_i \rVert^2 / (2 \sigma^2)\big)

    with ``centers_per_dim`` centers per dimension at ``0, 1/(n-1), ..., 1`` (Sutton & Barto 2018, §9.5.5).

    Args:
        low: lower bounds of the observation.
        high: upper bounds of the observation.
        centers_per_dim: grid points per dimension (>= 2); ``centers_per_dim ** obs_dim`` features.
        width: σ in unit-cube coordinates; None uses the grid spacing ``1 / (centers_per_dim - 1)``.
        normalize: divide by the sum of the activations (a normalized RBF network), so every observation's
            features sum to 1.
    """

    def __init__(self, low: Any, high: Any, centers_per_dim: int = 5, width: float | None = None,
                 normalize: bool = False) -> None:
        super().__init__(low, high)
        if centers_per_dim < 2:
            raise ValueError(f"RBFFeatures: centers_per_dim = {centers_per_dim} must be >= 2")
        self.width = float(width) if width is not None else 1.0 / (centers_per_dim - 1)
        if not self.width > 0:
            raise ValueError(f"RBFFeatures: width = {width} must be > 0")
        grid = np.linspace(0.0, 1.0, centers_per_dim)
        self.centers = np.array(list(itertools.product(grid, repeat=self.obs_dim)))  # [C, d]
        self.normalize = normalize
        self.n_features = self.n_active = len(self.centers)

    def dense(self, obs: Any) -> np.ndarray:
        """``[B, n_centers]`` activations."""
        x = self.unit(obs)
        sq = ((x[:, None, :] - self.centers[None]) ** 2).sum(-1)
        phi = np.exp(-sq / (2.0 * self.width**2))
        return phi / phi.sum(axis=1, keepdims=True) if self.normalize else phi


class FourierFeatures(BoundedFeatures):
    r"""The Fourier cosine basis.

    Konidaris, Osentoski & Thomas (2011), "Value function approximation in reinforcement learning using the
    Fourier basis".

    .. math:: \phi_i(x) = \cos(\pi\, c_i \cdot \tilde x), \qquad c_i \in \{0, \dots, n\}^d

    ``(order + 1) ** obs_dim`` features, ``c_0 = 0`` being the constant feature. The paper scales each feature's
    step size by ``1 / ||c_i||``; porcini uses one step size for all (see ``coefficients`` to scale yourself).

    Args:
        low: lower bounds of the observation.
        high: upper bounds of the observation.
        order: the largest frequency ``n`` per dimension.
    """

    def __init__(self, low: Any, high: Any, order: int = 3) -> None:
        super().__init__(low, high)
        if order < 0:
            raise ValueError(f"FourierFeatures: order = {order} must be >= 0")
        self.order = int(order)
        self.coefficients = np.array(list(itertools.product(range(order + 1), repeat=self.obs_dim)), dtype=float)
        self.n_features = self.n_active = len(self.coefficients)

    def dense(self, obs: Any) -> np.ndarray:
        """``[B, (order + 1) ** obs_dim]`` cosine features."""
        return np.cos(np.pi * self.unit(obs) @ self.coefficients.T)


class PolynomialFeatures(Features):
    r"""All monomials of total degree at most ``degree``: :math:`\phi_i(x) = \prod_j \tilde x_j^{e_{ij}}`.

    Exponent vectors ``e_i`` are listed in ``exponents`` (``[n_features, obs_dim]``), ordered by total degree; the
    first is all zeros (the constant feature). With bounds, ``x̃`` is the observation scaled into [0, 1]; without,
    the raw observation (Sutton & Barto 2018, §9.5.1).

    Args:
        obs_dim: number of observation dimensions.
        degree: the largest total degree.
        low: optional lower bounds (give both or neither).
        high: optional upper bounds.
    """

    def __init__(self, obs_dim: int, degree: int = 2, low: Any = None, high: Any = None) -> None:
        if degree < 0 or obs_dim < 1:
            raise ValueError(f"PolynomialFeatures: need degree >= 0 and obs_dim >= 1, got {degree}, {obs_dim}")
        if (low is None) != (high is None):
            raise ValueError("PolynomialFeatures: give both low and high, or neither")
        self.bounds = BoundedFeatures(low, high) if low is not None else None
        if self.bounds is not None and self.bounds.obs_dim != obs_dim:
            raise ValueError(f"PolynomialFeatures: bounds have {self.bounds.obs_dim} dims, obs_dim is {obs_dim}")
        self.obs_dim, self.degree = int(obs_dim), int(degree)
        exps = [e for e in itertools.product(range(degree + 1), repeat=obs_dim) if sum(e) <= degree]
        self.exponents = np.array(sorted(exps, key=lambda e: (sum(e), tuple(-v for v in e))), dtype=np.int64)
        self.n_features = self.n_active = len(self.exponents)

    def dense(self, obs: Any) -> np.ndarray:
        """``[B, n_features]`` monomials."""
        x = self.bounds.unit(obs) if self.bounds is not None else _as_rows(obs)
        if x.shape[1] != self.obs_dim:
            raise ValueError(f"PolynomialFeatures: observations have {x.shape[1]} dims, expected {self.obs_dim}")
        return np.prod(x[:, None, :] ** self.exponents[None], axis=-1)
