from __future__ import annotations

import numpy as np
import pytest

from porcini.experiment.statistics import (
    Estimate,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    aggregate_optimality_gap,
    aggregate_scores,
    batched_iqm,
    bootstrap_ci,
    bootstrap_replicates,
    curve_band,
    iqm_weights,
)


def test_iqm_by_hand() -> None:
    assert aggregate_iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5  # mean(3, 4, 5, 6)
    assert aggregate_iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # order does not matter
    assert aggregate_iqm([[1, 5], [2, 6], [3, 7], [4, 8]]) == 4.5  # all runs x tasks pooled
    assert aggregate_iqm([1, 2, 3, 100]) == 2.5  # the outlier is trimmed
    squares = [i * i for i in range(1, 11)]  # n = 10: floor(10 / 4) = 2 dropped at each end
    assert aggregate_iqm(squares) == pytest.approx((9 + 16 + 25 + 36 + 49 + 64) / 6)
    # fractional: 2.5 scores dropped at each end; 9 and 64 count half; 5 scores' worth averaged
    assert aggregate_iqm(squares, fractional=True) == pytest.approx((0.5 * 9 + 16 + 25 + 36 + 49 + 0.5 * 64) / 5)
    assert aggregate_iqm([7.0]) == 7.0 and aggregate_iqm([7.0], fractional=True) == 7.0
    assert aggregate_iqm([1.0, 3.0]) == 2.0 and aggregate_iqm([1.0, 3.0], fractional=True) == 2.0


def test_iqm_matches_scipy_trim_mean_which_rliable_calls() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for n_runs in range(1, 14):
        for n_tasks in (1, 3):
            scores = rng.standard_cauchy((n_runs, n_tasks))
            assert aggregate_iqm(scores) == pytest.approx(stats.trim_mean(scores, 0.25, axis=None), rel=1e-12)


def _fractional_iqm_reference(values: np.ndarray) -> float:
    """Integrate the empirical quantile function over [0.25, 0.75], one sorted score per 1/n of mass."""
    x = np.sort(values)
    n = len(x)
    total = 0.0
    for j, v in enumerate(x):
        overlap = max(0.0, min((j + 1) / n, 0.75) - max(j / n, 0.25))
        total += overlap * v
    return total / 0.5


def test_fractional_iqm_matches_quantile_integral() -> None:
    rng = np.random.default_rng(2)
    for n in range(1, 30):
        values = rng.normal(size=n)
        assert aggregate_iqm(values, fractional=True) == pytest.approx(_fractional_iqm_reference(values))
        assert iqm_weights(n, fractional=True).sum() == pytest.approx(1.0)
        assert iqm_weights(n).sum() == pytest.approx(1.0)


def test_mean_median_and_optimality_gap_by_hand() -> None:
    scores = [[1.0, 10.0, 100.0], [3.0, 30.0, 200.0], [5.0, 50.0, 0.0]]  # task means 3, 30, 100
    assert aggregate_mean(scores) == pytest.approx((3 + 30 + 100) / 3)
    assert aggregate_median(scores) == 30.0
    assert aggregate_median([1.0, 2.0, 10.0]) == pytest.approx(13 / 3)  # one task: median of task means = mean
    assert aggregate_optimality_gap([[0.5, 1.5], [1.0, 0.0]]) == pytest.approx(1 - (0.5 + 1 + 1 + 0) / 4)
    assert aggregate_optimality_gap([200.0, 100.0], gamma=150.0) == pytest.approx(150 - 125)


def test_batched_statistics_equal_a_loop_over_resamples() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(7, 3))
    n_bootstrap = 50
    indices = np.random.default_rng(9).integers(0, 7, size=(n_bootstrap, 7, 3))  # the documented draw
    for name, direct in [("mean", aggregate_mean), ("median", aggregate_median), ("iqm", aggregate_iqm)]:
        replicates = bootstrap_replicates(scores, name, n_bootstrap=n_bootstrap, rng=9)
        expected = []
        for b in range(n_bootstrap):
            resample = np.empty_like(scores)
            for t in range(3):  # within each task, runs drawn from that task only
                resample[:, t] = scores[indices[b, :, t], t]
            expected.append(direct(resample))
        np.testing.assert_allclose(replicates, expected, rtol=1e-12)


def test_stratification_keeps_each_task_to_its_own_runs() -> None:
    scores = np.stack([np.arange(6) + 100.0 * t for t in range(4)], axis=1)  # task t lives in [100t, 100t + 5]
    seen = []

    def record(resamples: np.ndarray) -> np.ndarray:
        seen.append(resamples.copy())
        return resamples.mean(axis=(-2, -1))

    bootstrap_replicates(scores, record, n_bootstrap=300, rng=0)
    resamples = np.concatenate(seen)
    assert resamples.shape == (300, 6, 4)  # every resample keeps n_runs runs per task
    for t in range(4):
        assert np.isin(resamples[:, :, t], scores[:, t]).all()
    # runs are drawn with replacement: some resamples repeat a run
    assert any(len(np.unique(r[:, 0])) < 6 for r in resamples)


def test_bootstrap_is_repeatable_with_a_seed_and_varies_with_it() -> None:
    scores = np.random.default_rng(4).normal(size=(10, 2))
    a = bootstrap_replicates(scores, "iqm", n_bootstrap=200, rng=5)
    assert np.array_equal(a, bootstrap_replicates(scores, "iqm", n_bootstrap=200, rng=np.random.default_rng(5)))
    assert not np.array_equal(a, bootstrap_replicates(scores, "iqm", n_bootstrap=200, rng=6))


def test_percentile_interval_of_the_mean_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(7)
    n_runs, n_tasks = 60, 3
    scores = rng.normal(size=(n_runs, n_tasks)) * np.array([1.0, 2.0, 4.0])
    est = bootstrap_ci(scores, "mean", n_bootstrap=20_000, rng=0)
    # the bootstrap variance of the mean of task means is sum_t var_t / n_runs / n_tasks^2 (population var)
    se = np.sqrt(scores.var(axis=0).sum() / n_runs) / n_tasks
    assert est.point == pytest.approx(scores.mean())
    assert est.high - est.low == pytest.approx(2 * 1.959964 * se, rel=0.05)
    assert (est.low + est.high) / 2 == pytest.approx(est.point, abs=0.1 * se)


def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(8)
    true_means = np.array([0.0, 5.0, -3.0, 10.0])
    n_trials, hits = 300, 0
    for trial in range(n_trials):
        scores = true_means + rng.normal(size=(20, 4)) * np.array([1.0, 3.0, 0.5, 2.0])
        est = bootstrap_ci(scores, "mean", n_bootstrap=1000, rng=trial)
        hits += est.low <= true_means.mean() <= est.high
    coverage = hits / n_trials
    # the percentile bootstrap under-covers a little with 20 runs per task (~0.94); 300 trials: std 0.014
    assert 0.90 <= coverage <= 0.98, coverage


def test_aggregate_scores_reports_every_statistic_with_its_interval() -> None:
    scores = np.random.default_rng(10).normal(loc=1.0, size=(8, 5))
    results = aggregate_scores(scores, ("mean", "median", "iqm", "optimality_gap"), n_bootstrap=500, gamma=1.0)
    assert results["mean"].point == pytest.approx(scores.mean())
    assert results["median"].point == pytest.approx(np.median(scores.mean(axis=0)))
    assert results["iqm"].point == pytest.approx(aggregate_iqm(scores))
    assert results["optimality_gap"].point == pytest.approx(1 - np.minimum(scores, 1).mean())
    for est in results.values():
        assert isinstance(est, Estimate) and est.low <= est.point <= est.high
    assert str(Estimate(1.0, 0.5, 2.0)) == "1 [0.5, 2]"


def test_curve_band_is_the_pointwise_statistic_over_runs_with_bounds_around_it() -> None:
    rng = np.random.default_rng(11)
    curves = np.linspace(0, 100, 20) + rng.normal(scale=5.0, size=(6, 20))
    point, low, high = curve_band(curves, "mean", n_bootstrap=400)
    np.testing.assert_allclose(point, curves.mean(axis=0))
    assert point.shape == low.shape == high.shape == (20,)
    assert (low <= point + 1e-12).all() and (point <= high + 1e-12).all()
    assert (low >= curves.min(axis=0)).all() and (high <= curves.max(axis=0)).all()
    iqm_point, _, _ = curve_band(curves, "iqm", n_bootstrap=10)
    np.testing.assert_allclose(iqm_point, [aggregate_iqm(curves[:, j]) for j in range(20)])
    single, single_low, single_high = curve_band(curves[:1], n_bootstrap=10)  # one seed: no spread
    np.testing.assert_array_equal(single_low, single) and np.testing.assert_array_equal(single_high, single)


def test_curve_band_median_is_the_median_over_runs_at_each_point() -> None:
    # one run far above the others: the median across seeds ignores it, the mean does not
    curves = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [100.0, 100.0]])
    point, low, high = curve_band(curves, "median", n_bootstrap=200)
    np.testing.assert_allclose(point, np.median(curves, axis=0))
    assert (low <= point).all() and (point <= high).all() and (high <= curves.max(axis=0)).all()


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\[n_runs\] or \[n_runs, n_tasks\]"):
        aggregate_mean(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        aggregate_iqm([1.0, np.nan])
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_replicates([1.0], "mean", n_bootstrap=0)
    with pytest.raises(ValueError, match="unknown statistic 'avg'"):
        bootstrap_ci([1.0], "avg")
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0, 2.0], "mean", confidence=95)
    assert batched_iqm(np.zeros((5, 3, 4, 2))).shape == (5, 3)
