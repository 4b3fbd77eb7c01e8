"""RunningMeanStd: a running mean and variance that merges batches exactly and stably.

Each batch's mean and variance come from two-pass formulas (a single sample uses Welford's update); batches
are merged with the parallel algorithm of Chan, Golub and LeVeque (1979), "Updating formulae and a pairwise
algorithm for computing sample variances": with counts ``n_a, n_b``, means ``m_a, m_b`` and sums of squared
deviations ``M_a, M_b``,

    n = n_a + n_b,   d = m_b - m_a,   m = m_a + d * n_b / n,   M = M_a + M_b + d^2 * n_a * n_b / n.

Unlike the textbook ``E[x^2] - E[x]^2`` this does not cancel catastrophically when the mean is large compared
with the spread. The variance is the population variance (``ddof=0``), so after any sequence of updates ``mean``
and ``var`` equal ``np.mean(all_data, axis=0)`` and ``np.var(all_data, axis=0)`` up to rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RunningMeanStd:
    """Running mean and (population) variance of arrays of a fixed shape, updated batch by batch.

    One object can be shared by several wrappers (a training env that updates it and an evaluation env that only
    reads it): the wrappers hold a reference, and :meth:`load_state_dict` changes the object in place.

    Args:
        shape: shape of one sample (``()`` for scalars such as returns).

    Example:
        >>> stats = RunningMeanStd(shape=(2,))
        >>> stats.update(np.array([[0.0, 1.0], [2.0, 3.0]]))
        >>> stats.mean, stats.var, stats.count
        (array([1., 2.]), array([1., 1.]), 2)
    """

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.mean = np.zeros(self.shape, dtype=np.float64)
        # var = 1 before any data, so that normalizing with no statistics is the identity
        self.var = np.ones(self.shape, dtype=np.float64)
        self.count = 0

    @property
    def std(self) -> np.ndarray:
        """Standard deviation (population)."""
        return np.sqrt(self.var)

    def update(self, batch: Any) -> None:
        """Merge a batch of samples shaped ``[N, *shape]`` into the statistics."""
        x = np.asarray(batch, dtype=np.float64)
        if x.shape[1:] != self.shape:
            raise ValueError(
                f"RunningMeanStd.update got a batch of shape {x.shape}, expected [N, *{self.shape}]; "
                "pass one sample per row"
            )
        n = x.shape[0]
        if n == 1:
            self._add_one(x[0])
        elif n > 1:
            # NumPy's two-pass mean and variance, without np.var's per-call overhead (this runs every env step)
            mean = np.add.reduce(x, axis=0) / n
            deviation = x - mean
            self.update_from_moments(mean, np.add.reduce(deviation * deviation, axis=0) / n, n)

    def _add_one(self, x: np.ndarray) -> None:
        """Welford's (1962) update for one sample: ``M += (x - m_old) * (x - m_new)``."""
        self.count += 1
        if self.count == 1:
            self.mean, self.var = np.array(x, dtype=np.float64), np.zeros(self.shape)
            return
        delta = x - self.mean
        self.mean = np.asarray(self.mean + delta / self.count)
        self.var = np.asarray(self.var + (delta * (x - self.mean) - self.var) / self.count)

    def update_from_moments(self, batch_mean: Any, batch_var: Any, batch_count: int) -> None:
        """Merge a batch given by its mean, population variance and size (the Chan et al. merge)."""
        batch_mean = np.asarray(batch_mean, dtype=np.float64)
        batch_var = np.asarray(batch_var, dtype=np.float64)
        if batch_count <= 0:
            return
        if self.count == 0:
            self.mean = np.array(batch_mean, dtype=np.float64).reshape(self.shape)
            self.var = np.array(batch_var, dtype=np.float64).reshape(self.shape)
            self.count = int(batch_count)
            return
        total = self.count + batch_count
        delta = batch_mean - self.mean
        m2 = self.var * self.count + batch_var * batch_count + delta**2 * (self.count * batch_count / total)
        # np.asarray keeps 0-d results (scalar statistics) arrays rather than NumPy scalars
        self.mean = np.asarray(self.mean + delta * (batch_count / total))
        self.var = np.asarray(m2 / total)
        self.count = int(total)

    def normalize(self, x: Any, epsilon: float = 1e-8) -> np.ndarray:
        """``(x - mean) / sqrt(var + epsilon)`` in float64."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / np.sqrt(self.var + epsilon)

    def copy(self) -> RunningMeanStd:
        """An independent copy (a snapshot that later updates do not change)."""
        out = RunningMeanStd(self.shape)
        out.load_state_dict(self.state_dict())
        return out

    def state_dict(self) -> dict[str, Any]:
        """``mean``, ``var`` (arrays) and ``count`` (int)."""
        return {"mean": np.array(self.mean), "var": np.array(self.var), "count": int(self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` in place (wrappers sharing this object see the new values)."""
        mean = np.asarray(state["mean"], dtype=np.float64)
        var = np.asarray(state["var"], dtype=np.float64)
        if mean.shape != self.shape or var.shape != self.shape:
            raise ValueError(
                f"RunningMeanStd state has mean shape {mean.shape} and var shape {var.shape}, expected {self.shape}; "
                "was it saved from an env with another observation shape?"
            )
        self.mean = mean.copy()
        self.var = var.copy()
        self.count = int(state["count"])

    def __repr__(self) -> str:
        return f"RunningMeanStd(shape={self.shape}, count={self.count})"
