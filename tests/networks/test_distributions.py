import math

import pytest
import torch
from torch import distributions as td

from porcini.networks import Categorical, DiagGaussian, TanhGaussian, tanh_log_det_jacobian


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_categorical_matches_torch():
    logits = torch.randn(5, 3, 4) * 3
    ours, ref = Categorical(logits), td.Categorical(logits=logits)
    action = torch.randint(0, 4, (5, 3))
    torch.testing.assert_close(ours.log_prob(action), ref.log_prob(action))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    torch.testing.assert_close(ours.probs, ref.probs)
    torch.testing.assert_close(ours.mode(), ref.probs.argmax(-1))
    assert ours.sample().shape == (5, 3) and ours.sample().dtype == torch.int64


def test_categorical_masked_actions():
    logits = torch.tensor([[0.0, -math.inf, 1.0], [-math.inf, -math.inf, 2.0]])
    dist = Categorical(logits)
    torch.testing.assert_close(dist.entropy(), td.Categorical(logits=logits).entropy())
    assert torch.isfinite(dist.entropy()).all()
    samples = torch.stack([dist.sample() for _ in range(200)])
    assert (samples[:, 0] != 1).all() and (samples[:, 1] == 2).all()


def test_categorical_gumbel_sampling_frequencies():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    dist = Categorical(probs.log().expand(100_000, 4))
    counts = torch.bincount(dist.sample(), minlength=4).double() / 100_000
    # Standard error is at most sqrt(0.25 / 1e5) = 0.0016; allow 5 of them.
    torch.testing.assert_close(counts, probs.double(), atol=0.008, rtol=0)


def test_sampling_follows_the_generator():
    logits = torch.randn(8, 3)
    first = Categorical(logits).sample(torch.Generator().manual_seed(3))
    again = Categorical(logits).sample(torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again)
    mean, log_std = torch.randn(8, 2), torch.randn(2)
    for cls in (DiagGaussian, TanhGaussian):
        a = cls(mean, log_std).sample(torch.Generator().manual_seed(5))
        b = cls(mean, log_std).sample(torch.Generator().manual_seed(5))
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("state_dependent_std", [False, True])
def test_diag_gaussian_matches_torch(state_dependent_std):
    mean = torch.randn(6, 3)
    log_std = torch.randn(6, 3) if state_dependent_std else torch.randn(3)
    ours = DiagGaussian(mean, log_std)
    ref = td.Independent(td.Normal(mean, log_std.exp().expand_as(mean)), 1)
    action = torch.randn(6, 3) * 2
    torch.testing.assert_close(ours.log_prob(action), ref.log_prob(action))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    torch.testing.assert_close(ours.mode(), mean)
    assert ours.sample().shape == (6, 3) and ours.rsample().shape == (6, 3)


def test_diag_gaussian_sample_moments_and_rsample_gradient():
    mean = torch.tensor([1.0, -2.0])
    log_std = torch.tensor([0.0, math.log(0.5)])
    samples = DiagGaussian(mean.expand(200_000, 2), log_std).sample()
    torch.testing.assert_close(samples.mean(0), mean, atol=0.01, rtol=0)
    torch.testing.assert_close(samples.std(0), log_std.exp(), atol=0.01, rtol=0)
    mean_p, log_std_p = mean.clone().requires_grad_(), log_std.clone().requires_grad_()
    dist = DiagGaussian(mean_p, log_std_p)
    dist.rsample().sum().backward()
    assert mean_p.grad is not None and log_std_p.grad is not None
    assert not DiagGaussian(mean_p, log_std_p).sample().requires_grad


def _torch_tanh_gaussian(mean, log_std):
    base = td.Normal(mean, log_std.exp().expand_as(mean))
    return td.Independent(td.TransformedDistribution(base, [td.TanhTransform()]), 1)


def test_tanh_gaussian_log_prob_matches_torch():
    mean, log_std = torch.randn(10, 2), torch.randn(10, 2).clamp(-2, 1)
    ours, ref = TanhGaussian(mean, log_std), _torch_tanh_gaussian(mean, log_std)
    action = torch.rand(10, 2) * 1.8 - 0.9  # interior, where torch's atanh is accurate
    torch.testing.assert_close(ours.log_prob(action), ref.log_prob(action), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.mode(), torch.tanh(mean))


def test_tanh_gaussian_rsample_with_log_prob_matches_torch_in_float64():
    mean, log_std = torch.randn(10, 3, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64) * 0.5
    ours = TanhGaussian(mean, log_std)
    action, log_prob = ours.rsample_with_log_prob()
    assert action.shape == (10, 3) and log_prob.shape == (10,)
    ref = _torch_tanh_gaussian(mean, log_std)
    torch.testing.assert_close(log_prob, ref.log_prob(action), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(log_prob, ours.log_prob(action), atol=1e-6, rtol=1e-6)


def test_tanh_gaussian_finite_at_the_bounds():
    mean, log_std = torch.zeros(4, 2), torch.zeros(4, 2)
    dist = TanhGaussian(mean, log_std)
    bounds = torch.tensor([[1.0, -1.0], [1.0, 1.0], [-1.0, -1.0], [0.0, 1.0]])
    assert torch.isfinite(dist.log_prob(bounds)).all()
    # A saturated policy (tanh(u) == ±1 in float32): the pre-squash log-prob stays finite and has gradients.
    mean_p = torch.full((4, 2), 30.0, requires_grad=True)
    action, log_prob = TanhGaussian(mean_p, torch.full((4, 2), -5.0)).rsample_with_log_prob()
    assert (action.abs() == 1.0).all() and torch.isfinite(log_prob).all()
    log_prob.sum().backward()
    assert torch.isfinite(mean_p.grad).all()


def test_tanh_log_det_jacobian_is_stable():
    u = torch.tensor([-50.0, -5.0, 0.0, 0.3, 5.0, 50.0], dtype=torch.float64)
    naive = torch.log(1 - torch.tanh(u) ** 2)
    ours = tanh_log_det_jacobian(u)
    torch.testing.assert_close(ours[1:-1], naive[1:-1])
    assert torch.isfinite(ours).all() and ours[0] == ours[-1]


def test_tanh_gaussian_entropy_is_an_unbiased_estimate():
    mean, log_std = torch.tensor([0.3, -0.2]), torch.tensor([-0.5, 0.1])
    dist = TanhGaussian(mean.expand(100_000, 2), log_std.expand(100_000, 2))
    estimate = dist.entropy()
    assert estimate.shape == (100_000,)
    ref = _torch_tanh_gaussian(mean.double(), log_std.double())
    samples = ref.sample((200_000,))
    torch.testing.assert_close(estimate.mean().double(), -ref.log_prob(samples).mean(), atol=0.02, rtol=0)
