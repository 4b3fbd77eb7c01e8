"""Probability of improvement and performance profiles against slow reference loops and against rliable."""

import itertools

import numpy as np
import pytest

from porcini.experiment.statistics import performance_profile, probability_of_improvement


def _poi_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Every pair of runs on every task, ties half: the definition, one comparison at a time."""
    per_task = []
    for task in range(x.shape[1]):
        wins = 0.0
        for a, b in itertools.product(x[:, task], y[:, task]):
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
        per_task.append(wins / (x.shape[0] * y.shape[0]))
    return float(np.mean(per_task))


def test_probability_of_improvement_equals_the_pairwise_count_with_ties():
    rng = np.random.default_rng(3)
    for n_x, n_y, n_tasks in [(1, 1, 1), (3, 5, 2), (5, 5, 4), (10, 2, 3)]:
        x = rng.integers(0, 4, (n_x, n_tasks)).astype(float)  # small integers: many ties
        y = rng.integers(0, 4, (n_y, n_tasks)).astype(float)
        estimate = probability_of_improvement(x, y, n_bootstrap=300)
        assert estimate.point == pytest.approx(_poi_reference(x, y), abs=1e-12)
        assert estimate.low <= estimate.point <= estimate.high
        assert probability_of_improvement(y, x, n_bootstrap=10).point == pytest.approx(1 - estimate.point)


def test_probability_of_improvement_matches_rliable():
    metrics = pytest.importorskip("rliable.metrics")
    rng = np.random.default_rng(4)
    for _ in range(20):
        n_tasks = int(rng.integers(1, 5))
        x = rng.normal(size=(int(rng.integers(1, 8)), n_tasks)).round(1)
        y = rng.normal(size=(int(rng.integers(1, 8)), n_tasks)).round(1)
        ours = probability_of_improvement(x, y, n_bootstrap=10).point
        assert ours == pytest.approx(metrics.probability_of_improvement(x, y), abs=1e-12)


def test_probability_of_improvement_interval_resamples_within_tasks():
    x = np.array([[1.0, 10.0], [2.0, 11.0], [3.0, 12.0]])
    y = x - 100.0  # X beats Y in every resample
    assert probability_of_improvement(x, y, n_bootstrap=200) .low == 1.0
    with pytest.raises(ValueError, match="scores_x has 2 tasks and scores_y 1"):
        probability_of_improvement(x, y[:, :1])


def test_performance_profile_is_rliables_score_distribution():
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(6, 3))
    taus = np.linspace(-2, 2, 9)
    point, low, high = performance_profile(scores, taus, n_bootstrap=500)
    # rliable.library.run_score_deviation: np.mean(scores > tau) over all runs and tasks
    assert point == pytest.approx([np.mean(scores > tau) for tau in taus])
    assert np.all(low <= point + 1e-12) and np.all(point <= high + 1e-12)
    assert np.all(np.diff(point) <= 0)  # fewer runs clear a higher bar
