import numpy as np
import pytest

from porcini.algorithms.exploration import (
    boltzmann,
    boltzmann_probs,
    epsilon_greedy,
    epsilon_greedy_probs,
    greedy,
    sample_categorical,
)
from porcini.algorithms.schedules import (
    ConstantSchedule,
    ExponentialSchedule,
    LinearSchedule,
    make_schedule,
)


def test_constant_schedule():
    assert ConstantSchedule(0.3)(0) == ConstantSchedule(0.3)(10**9) == 0.3


def test_linear_schedule_values():
    s = LinearSchedule(1.0, 0.1, decay_steps=100)
    assert s(0) == 1.0
    assert s(50) == pytest.approx(0.55)
    assert s(100) == s(10_000) == 0.1
    assert LinearSchedule(0.0, 1.0, 4)(1) == 0.25  # increasing works too


def test_exponential_schedule_is_geometric():
    s = ExponentialSchedule(1.0, 0.01, decay_steps=100)
    assert s(0) == 1.0 and s(100) == 0.01 and s(500) == 0.01
    assert s(50) == pytest.approx(0.1)
    # constant ratio per step
    assert s(11) / s(10) == pytest.approx(s(61) / s(60)) == pytest.approx(s.factor)
    with pytest.raises(ValueError, match="LinearSchedule"):
        ExponentialSchedule(1.0, 0.0, 10)


def test_make_schedule():
    assert isinstance(make_schedule("linear", 1.0, None, 10), ConstantSchedule)
    assert isinstance(make_schedule("exponential", 1.0, 0.5, 10), ExponentialSchedule)
    assert make_schedule("constant", 0.2, 0.1, 10)(100) == 0.2
    with pytest.raises(ValueError, match="unknown"):
        make_schedule("cosine", 1.0, 0.0, 10)
    with pytest.raises(ValueError, match="decay_steps"):
        make_schedule("linear", 1.0, 0.0, 0)


def test_greedy_breaks_ties_uniformly():
    rng = np.random.default_rng(0)
    q = np.tile([[1.0, 5.0, 5.0, 5.0]], (30_000, 1))
    counts = np.bincount(greedy(q, rng), minlength=4) / len(q)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:], 1 / 3, atol=0.015)  # ~5 standard errors


def test_epsilon_greedy_frequencies_match_probs():
    rng = np.random.default_rng(1)
    q = np.tile([[0.0, 2.0, 2.0, -1.0]], (40_000, 1))
    freq = np.bincount(epsilon_greedy(q, 0.2, rng), minlength=4) / len(q)
    probs = epsilon_greedy_probs(q[:1], 0.2)[0]
    np.testing.assert_allclose(probs, [0.05, 0.45, 0.45, 0.05])
    np.testing.assert_allclose(freq, probs, atol=0.012)


def test_boltzmann_probs_formula_and_limits():
    q = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]])
    p = boltzmann_probs(q, temperature=2.0)
    e = np.exp(np.array([1.0, 2.0, 3.0]) / 2.0)
    np.testing.assert_allclose(p[0], e / e.sum())
    np.testing.assert_allclose(p[1], [0.5, 0.5, 0.0], atol=1e-12)  # stable with large values
    np.testing.assert_allclose(boltzmann_probs(q[:1], 1e6), [[1 / 3] * 3], atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        boltzmann_probs(q, 0.0)


def test_boltzmann_and_categorical_sampling_frequencies():
    rng = np.random.default_rng(2)
    q = np.tile([[0.0, 1.0, 2.0]], (40_000, 1))
    freq = np.bincount(boltzmann(q, 1.0, rng), minlength=3) / len(q)
    np.testing.assert_allclose(freq, boltzmann_probs(q[:1], 1.0)[0], atol=0.012)
    probs = np.tile([[0.0, 0.7, 0.0, 0.3]], (40_000, 1))
    freq = np.bincount(sample_categorical(probs, rng), minlength=4) / len(probs)
    assert freq[0] == 0 and freq[2] == 0
    assert freq[1] == pytest.approx(0.7, abs=0.012)


def test_exploration_rejects_bad_input():
    with pytest.raises(ValueError, match="shaped"):
        greedy(np.zeros(3), np.random.default_rng(0))
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_greedy(np.zeros((1, 2)), 1.5, np.random.default_rng(0))
