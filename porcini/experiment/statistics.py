"""Across-seed aggregate scores with stratified-bootstrap confidence intervals: the rliable protocol.

Agarwal, Schwarzer, Castro, Courville & Bellemare (2021), "Deep Reinforcement Learning at the Edge of the
Statistical Precipice", NeurIPS. Scores are arranged ``[n_runs, n_tasks]`` (runs = seeds); a 1-D array is one
task. Across tasks, scores should be normalized (e.g. human- or random-normalized returns) before aggregating.

- **mean**: mean over tasks of the per-task mean over runs.
- **median**: median over tasks of the per-task means (with one task it equals the mean, as in rliable).
- **IQM** (interquartile mean): the mean of the middle 50% of all ``n_runs * n_tasks`` scores. By default as
  rliable computes it (``scipy.stats.trim_mean(scores, 0.25, axis=None)``): drop ``floor(n / 4)`` scores at each
  end. ``fractional=True`` instead gives the boundary scores fractional weights, so exactly ``n / 2`` scores'
  worth is averaged (the textbook interquartile mean); both agree when ``n`` is a multiple of 4.
- **optimality gap**: ``gamma - mean(min(scores, gamma))``, how far below the target ``gamma`` runs fall.
- **stratified bootstrap**: resample ``n_runs`` runs with replacement *within each task* (tasks are never mixed),
  recompute the statistic, repeat ``n_bootstrap`` times; the 95% interval is the 2.5th and 97.5th percentile of
  the replicates (the percentile method, rliable's default).

Every aggregate here is vectorized over leading axes: ``[..., n_runs, n_tasks] -> [...]``, which is how the
bootstrap evaluates all replicates at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

Statistic = Callable[[np.ndarray], np.ndarray]

# bootstrap replicates are evaluated in chunks of at most this many scores, to bound memory
_CHUNK_SCORES = 4_000_000


def as_scores(scores: ArrayLike) -> np.ndarray:
    """Return ``scores`` as a float array ``[n_runs, n_tasks]`` (1-D means one task).

    Raises:
        ValueError: not 1-D or 2-D, no runs or tasks, or a non-finite score.
    """
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"scores must be shaped [n_runs] or [n_runs, n_tasks] with n >= 1, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"scores contain non-finite values at {np.argwhere(~np.isfinite(array)).tolist()}")
    return array


def batched_mean(scores: np.ndarray) -> np.ndarray:
    """Mean over tasks of per-task means: ``[..., n_runs, n_tasks] -> [...]``."""
    return scores.mean(axis=-2).mean(axis=-1)


def batched_median(scores: np.ndarray) -> np.ndarray:
    """Median over tasks of per-task means: ``[..., n_runs, n_tasks] -> [...]``."""
    return np.median(scores.mean(axis=-2), axis=-1)


def iqm_weights(n: int, *, fractional: bool = False) -> np.ndarray:
    """Weights (summing to 1) on the ``n`` sorted scores that make the interquartile mean a weighted sum.

    Default (rliable, ``scipy.stats.trim_mean``): ``1 / (n - 2k)`` on the middle scores, ``k = floor(n / 4)``
    dropped at each end. ``fractional=True``: score ``j`` (0-based) gets the length of ``[j, j + 1]`` inside
    ``[n / 4, 3n / 4]``, divided by ``n / 2``.
    """
    if fractional:
        edges = np.arange(n + 1, dtype=np.float64)
        inside = np.clip(np.minimum(edges[1:], 0.75 * n) - np.maximum(edges[:-1], 0.25 * n), 0.0, None)
        return inside / (0.5 * n)
    cut = n // 4
    weights = np.zeros(n)
    weights[cut : n - cut] = 1.0 / (n - 2 * cut)
    return weights


def batched_iqm(scores: np.ndarray, *, fractional: bool = False) -> np.ndarray:
    """Interquartile mean over all runs and tasks: ``[..., n_runs, n_tasks] -> [...]`` (see :func:`iqm_weights`)."""
    flat = np.sort(scores.reshape(*scores.shape[:-2], -1), axis=-1)
    return flat @ iqm_weights(flat.shape[-1], fractional=fractional)


def batched_optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Optimality gap ``gamma - mean(min(scores, gamma))``: ``[..., n_runs, n_tasks] -> [...]``."""
    return gamma - np.minimum(scores, gamma).mean(axis=(-2, -1))


def aggregate_mean(scores: ArrayLike) -> float:
    """Mean over tasks of the per-task mean score (``scores`` ``[n_runs]`` or ``[n_runs, n_tasks]``)."""
    return float(batched_mean(as_scores(scores)))


def aggregate_median(scores: ArrayLike) -> float:
    """Median over tasks of the per-task mean score (equals the mean for a single task)."""
    return float(batched_median(as_scores(scores)))


def aggregate_iqm(scores: ArrayLike, *, fractional: bool = False) -> float:
    """Interquartile mean of all ``n_runs * n_tasks`` scores (rliable's convention unless ``fractional``).

    Example:
        >>> aggregate_iqm([1, 2, 3, 4, 5, 6, 7, 8])  # mean of 3, 4, 5, 6
        4.5
    """
    return float(batched_iqm(as_scores(scores), fractional=fractional))


def aggregate_optimality_gap(scores: ArrayLike, gamma: float = 1.0) -> float:
    """Optimality gap at threshold ``gamma`` (lower is better; scores above ``gamma`` count as ``gamma``)."""
    return float(batched_optimality_gap(as_scores(scores), gamma))


def statistic_by_name(name: str, *, gamma: float = 1.0, fractional_iqm: bool = False) -> Statistic:
    """Return the batched statistic called ``name``: ``mean``, ``median``, ``iqm`` or ``optimality_gap``."""
    table: dict[str, Statistic] = {
        "mean": batched_mean,
        "median": batched_median,
        "iqm": lambda s: batched_iqm(s, fractional=fractional_iqm),
        "optimality_gap": lambda s: batched_optimality_gap(s, gamma),
    }
    if name not in table:
        raise ValueError(f"unknown statistic {name!r}; choose one of {', '.join(table)}")
    return table[name]


def bootstrap_replicates(
    scores: ArrayLike,
    statistic: str | Statistic,
    *,
    n_bootstrap: int = 2000,
    rng: np.random.Generator | int | None = 0,
) -> np.ndarray:
    """Evaluate ``statistic`` on ``n_bootstrap`` stratified resamples of ``scores``.

    Resample ``b`` takes, for each task ``t`` separately, ``n_runs`` runs with replacement:
    ``resample[b, :, t] = scores[idx[b, :, t], t]`` with ``idx = rng.integers(0, n_runs, (n_bootstrap, n_runs,
    n_tasks))`` drawn in chunks of whole replicates.

    Args:
        scores: ``[n_runs]`` or ``[n_runs, n_tasks]``.
        statistic: a name (:func:`statistic_by_name`) or a function ``[B, n_runs, n_tasks] -> [B]``; extra
            trailing axes of its output are kept (``[B, ...]``).
        n_bootstrap: number of resamples.
        rng: a NumPy Generator or a seed; a seed makes the result repeatable.

    Returns:
        The replicates, ``[n_bootstrap]`` (or ``[n_bootstrap, ...]``).
    """
    scores = as_scores(scores)
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap = {n_bootstrap} is invalid: must be >= 1")
    fn = statistic_by_name(statistic) if isinstance(statistic, str) else statistic
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    n_runs, n_tasks = scores.shape
    chunk = max(1, _CHUNK_SCORES // scores.size)
    tasks = np.arange(n_tasks)
    parts = []
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        idx = generator.integers(0, n_runs, size=(size, n_runs, n_tasks))
        parts.append(np.asarray(fn(scores[idx, tasks])))
    return np.concatenate(parts, axis=0)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-method interval over axis 0: the ``(1 - c) / 2`` and ``(1 + c) / 2`` quantiles (linear)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence} is invalid: must be in (0, 1)")
    low, high = np.quantile(replicates, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return low, high


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap confidence interval ``[low, high]``."""

    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.point:.4g} [{self.low:.4g}, {self.high:.4g}]"


def bootstrap_ci(
    scores: ArrayLike,
    statistic: str | Statistic = "iqm",
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    rng: np.random.Generator | int | None = 0,
) -> Estimate:
    """Point estimate of ``statistic`` on ``scores`` and its stratified-bootstrap percentile interval.

    Example:
        >>> est = bootstrap_ci([[1.0, 10.0], [2.0, 12.0], [3.0, 11.0]], "mean", n_bootstrap=500)
        >>> est.low <= est.point == 6.5 <= est.high
        True
    """
    fn = statistic_by_name(statistic) if isinstance(statistic, str) else statistic
    array = as_scores(scores)
    point = float(np.asarray(fn(array[None]))[0])
    low, high = percentile_interval(bootstrap_replicates(array, fn, n_bootstrap=n_bootstrap, rng=rng), confidence)
    return Estimate(point, float(low), float(high))


def aggregate_scores(
    scores: ArrayLike,
    statistics: Sequence[str] = ("mean", "median", "iqm"),
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    seed: int = 0,
    gamma: float = 1.0,
) -> dict[str, Estimate]:
    """Each named statistic (``mean``, ``median``, ``iqm``, ``optimality_gap``) with its bootstrap interval.

    All statistics are computed on the same resamples (one seeded generator per statistic, same seed), so
    their intervals are comparable.
    """
    return {
        name: bootstrap_ci(
            scores, statistic_by_name(name, gamma=gamma), confidence=confidence, n_bootstrap=n_bootstrap, rng=seed
        )
        for name in statistics
    }


def curve_band(
    curves: ArrayLike,
    statistic: str = "mean",
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Across-run statistic of learning curves at each evaluation point, with a pointwise bootstrap interval.

    Runs are resampled as whole curves (one resample of seeds serves every point).

    Args:
        curves: ``[n_runs, n_points]``, the runs' returns on a common grid of env steps.
        statistic: ``mean``, ``median`` or ``iqm`` over runs at each point.
        confidence: interval coverage.
        n_bootstrap: number of resamples.
        seed: seed of the resampling.

    Returns:
        ``(point, low, high)``, each ``[n_points]``.
    """
    curves = as_scores(curves)
    fn = statistic_by_name(statistic)
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap = {n_bootstrap} is invalid: must be >= 1")

    def per_point(runs: np.ndarray) -> np.ndarray:  # [B, n_runs, n_points] -> [B, n_points]
        # each point's runs as one-run tasks: the median is over runs (over one task's runs it would be their mean)
        return fn(np.moveaxis(runs, -1, -2)[..., None, :])

    rng = np.random.default_rng(seed)
    n_runs = curves.shape[0]
    chunk = max(1, _CHUNK_SCORES // curves.size)
    replicates = np.concatenate([
        per_point(curves[rng.integers(0, n_runs, size=(min(chunk, n_bootstrap - start), n_runs))])
        for start in range(0, n_bootstrap, chunk)
    ])
    low, high = percentile_interval(replicates, confidence)
    return per_point(curves[None])[0], low, high


def batched_probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> np.ndarray:
    """P(X > Y) averaged over tasks, ties counting half: ``[..., n_x, n_tasks], [..., n_y, n_tasks] -> [...]``.

    Per task it is the Mann-Whitney U statistic of X over Y divided by ``n_x * n_y``: the chance that a run of X
    drawn at random beats one of Y drawn at random (rliable's ``probability_of_improvement``).
    """
    x = scores_x[..., :, None, :]
    y = scores_y[..., None, :, :]
    wins = (x > y).mean(axis=(-3, -2)) + 0.5 * (x == y).mean(axis=(-3, -2))
    return np.asarray(wins.mean(axis=-1))


def probability_of_improvement(
    scores_x: ArrayLike,
    scores_y: ArrayLike,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    rng: np.random.Generator | int | None = 0,
) -> Estimate:
    """How likely a run of algorithm X beats a run of Y on a task, averaged over tasks, with a bootstrap interval.

    Args:
        scores_x: ``[n_x, n_tasks]`` (or ``[n_x]``), X's score of each run on each task.
        scores_y: ``[n_y, n_tasks]``, the same tasks in the same order; ``n_y`` may differ from ``n_x``.
        confidence: interval coverage.
        n_bootstrap: resamples; each resamples X's and Y's runs independently within each task.
        rng: a NumPy Generator or a seed.

    Raises:
        ValueError: the two score sets do not have the same tasks.
    """
    x, y = as_scores(scores_x), as_scores(scores_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"scores_x has {x.shape[1]} tasks and scores_y {y.shape[1]}: compare on the same tasks")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    tasks = np.arange(x.shape[1])
    replicates = np.concatenate([
        batched_probability_of_improvement(
            x[generator.integers(0, x.shape[0], size=(size, *x.shape)), tasks],
            y[generator.integers(0, y.shape[0], size=(size, *y.shape)), tasks],
        )
        for start in range(0, n_bootstrap, 200) for size in [min(200, n_bootstrap - start)]
    ])
    low, high = percentile_interval(replicates, confidence)
    return Estimate(float(batched_probability_of_improvement(x, y)), float(low), float(high))


def performance_profile(
    scores: ArrayLike,
    taus: ArrayLike,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The score distribution: the fraction of all runs (of all tasks) scoring above each threshold ``tau``.

    rliable's performance profile with ``use_score_distribution=True``; the band comes from the stratified
    bootstrap over runs.

    Args:
        scores: ``[n_runs, n_tasks]`` normalized scores.
        taus: thresholds, ``[n_taus]``.
        confidence: band coverage.
        n_bootstrap: resamples.
        seed: seed of the resampling.

    Returns:
        ``(point, low, high)``, each ``[n_taus]``.
    """
    thresholds = np.asarray(taus, dtype=np.float64)

    def above(batch: np.ndarray) -> np.ndarray:  # [B, n_runs, n_tasks] -> [B, n_taus]
        return (batch[..., None] > thresholds).mean(axis=(-3, -2))

    array = as_scores(scores)
    low, high = percentile_interval(bootstrap_replicates(array, above, n_bootstrap=n_bootstrap, rng=seed), confidence)
    return above(array[None])[0], low, high
