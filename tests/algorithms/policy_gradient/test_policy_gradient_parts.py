"""Shared on-policy parts against independent references: clipped-Gaussian log-probs, KL, CG, finished rows."""

import math

import numpy as np
import pytest
import torch

from porcini.algorithms.policy_gradient.common import clipped_gaussian_log_prob, minibatches
from porcini.algorithms.policy_gradient.reinforce import finished_rows
from porcini.algorithms.policy_gradient.trpo import conjugate_gradient
from porcini.networks.distributions import Categorical, DiagGaussian
from porcini.networks.kl import kl_divergence


def normal_cdf(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_clipped_gaussian_log_prob_matches_a_per_element_reference():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(200, 3, generator=gen, dtype=torch.float64)
    log_std = torch.randn(3, generator=gen, dtype=torch.float64) * 0.5
    low, high = torch.tensor([-1.0, -0.5, -math.inf], dtype=torch.float64), torch.tensor([1.0, 2.0, math.inf],
                                                                                        dtype=torch.float64)
    raw = mean + log_std.exp() * torch.randn(200, 3, generator=gen, dtype=torch.float64)
    action = torch.maximum(torch.minimum(raw, high), low)
    got = clipped_gaussian_log_prob(DiagGaussian(mean, log_std), action, low, high)
    for n in range(200):
        total = 0.0
        for i in range(3):
            mu, sigma, a = float(mean[n, i]), math.exp(float(log_std[i])), float(action[n, i])
            if a <= float(low[i]):
                total += math.log(normal_cdf((float(low[i]) - mu) / sigma))
            elif a >= float(high[i]):
                total += math.log(1.0 - normal_cdf((float(high[i]) - mu) / sigma))
            else:
                total += -0.5 * ((a - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
        assert float(got[n]) == pytest.approx(total, rel=1e-9, abs=1e-9)
    assert bool((action == low).any()) and bool((action == high).any())  # both branches were exercised


def test_clipped_gaussian_is_a_distribution_in_one_dimension():
    mean, log_std = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([0.2], dtype=torch.float64)
    low, high = torch.tensor([-1.0], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64)
    dist = DiagGaussian(mean, log_std)
    n, width = 20000, 1.5
    midpoints = (-1.0 + width * (torch.arange(n, dtype=torch.float64) + 0.5) / n).reshape(-1, 1, 1)
    inside = float(clipped_gaussian_log_prob(dist, midpoints, low, high).exp().sum()) * width / n
    masses = clipped_gaussian_log_prob(dist, torch.tensor([[[-1.0]], [[0.5]]], dtype=torch.float64), low, high)
    assert inside + float(masses.exp().sum()) == pytest.approx(1.0, abs=1e-6)


def test_kl_divergence_agrees_with_torch_distributions():
    gen = torch.Generator().manual_seed(1)
    p_logits, q_logits = torch.randn(50, 4, generator=gen), torch.randn(50, 4, generator=gen)
    expected = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=p_logits),
                                                 torch.distributions.Categorical(logits=q_logits))
    torch.testing.assert_close(kl_divergence(Categorical(p_logits), Categorical(q_logits)), expected)
    p_mean, q_mean = torch.randn(50, 2, generator=gen), torch.randn(50, 2, generator=gen)
    p_std, q_std = torch.randn(2, generator=gen), torch.randn(2, generator=gen)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Independent(torch.distributions.Normal(p_mean, p_std.exp()), 1),
        torch.distributions.Independent(torch.distributions.Normal(q_mean, q_std.exp()), 1),
    )
    torch.testing.assert_close(kl_divergence(DiagGaussian(p_mean, p_std), DiagGaussian(q_mean, q_std)), expected)
    masked = torch.tensor([[0.0, -math.inf, 1.0]])
    assert math.isfinite(float(kl_divergence(Categorical(masked), Categorical(torch.zeros(1, 3)))))
    with pytest.raises(TypeError, match="two distributions of the same class"):
        kl_divergence(Categorical(p_logits), DiagGaussian(p_mean, p_std))


def test_conjugate_gradient_solves_a_positive_definite_system():
    gen = torch.Generator().manual_seed(2)
    m = torch.randn(20, 20, generator=gen, dtype=torch.float64)
    a = m @ m.T + 0.5 * torch.eye(20, dtype=torch.float64)
    b = torch.randn(20, generator=gen, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, max_steps=200, residual_tol=1e-20)
    torch.testing.assert_close(x, torch.linalg.solve(a, b))


def test_finished_rows_marks_rows_followed_by_an_episode_end():
    rng = np.random.default_rng(3)
    ends = rng.random((12, 5)) < 0.2
    got = finished_rows(torch.from_numpy(ends)).numpy()
    for b in range(5):
        for t in range(12):
            assert got[t, b] == ends[t:, b].any()


def test_minibatches_cover_every_sample_once():
    gen = torch.Generator().manual_seed(0)
    chunks = list(minibatches(10, 4, gen))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert sorted(torch.cat(chunks).tolist()) == list(range(10))
