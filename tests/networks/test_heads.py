import math

import numpy as np
import pytest
import torch

from porcini.networks import (
    MLP,
    Categorical,
    CategoricalHead,
    DeterministicHead,
    DiagGaussian,
    DiagGaussianHead,
    DuelingQHead,
    QHead,
    TanhGaussian,
    TanhGaussianHead,
    ValueHead,
    scale_action,
    unscale_action,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _gram_gain(weight: torch.Tensor) -> float:
    w = weight.detach()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return math.sqrt(float(gram.diagonal().mean()))


def test_categorical_head():
    head = CategoricalHead(16, 3)
    dist = head(torch.randn(5, 16))
    assert isinstance(dist, Categorical) and dist.logits.shape == (5, 3)
    assert dist.sample().shape == (5,) and dist.log_prob(dist.mode()).shape == (5,)
    assert _gram_gain(head.linear.weight) == pytest.approx(0.01, rel=1e-4)
    # Gain 0.01 gives a near-uniform initial policy.
    torch.testing.assert_close(dist.probs, torch.full((5, 3), 1 / 3), atol=0.02, rtol=0)


def test_diag_gaussian_head():
    head = DiagGaussianHead(16, 2, log_std_init=-0.5)
    dist = head(torch.randn(4, 7, 16))
    assert isinstance(dist, DiagGaussian) and dist.mean.shape == (4, 7, 2)
    assert dist.log_prob(dist.sample()).shape == (4, 7) and dist.entropy().shape == (4, 7)
    torch.testing.assert_close(dist.log_std.detach(), torch.full((2,), -0.5))
    dist.log_prob(torch.zeros(4, 7, 2)).sum().backward()
    assert head.log_std.grad is not None and head.linear.weight.grad is not None


def test_tanh_gaussian_head_clamps_log_std():
    head = TanhGaussianHead(8, 2, log_std_min=-3.0, log_std_max=1.0)
    with torch.no_grad():
        head.linear.bias[2:] = torch.tensor([-50.0, 50.0])
    dist = head(torch.zeros(5, 8))
    assert isinstance(dist, TanhGaussian) and dist.mean.shape == (5, 2)
    torch.testing.assert_close(dist.log_std, torch.tensor([-3.0, 1.0]).expand(5, 2))
    action, log_prob = dist.rsample_with_log_prob()
    assert action.shape == (5, 2) and log_prob.shape == (5,) and (action.abs() < 1).all()
    with pytest.raises(ValueError, match="log_std_min"):
        TanhGaussianHead(8, 2, log_std_min=2.0, log_std_max=1.0)


def test_deterministic_value_and_q_heads():
    features = torch.randn(6, 10)
    action = DeterministicHead(10, 3)(features * 100)
    assert action.shape == (6, 3) and (action.abs() <= 1).all()
    value_head = ValueHead(10)
    assert value_head(features).shape == (6,) and value_head(features.reshape(2, 3, 10)).shape == (2, 3)
    assert _gram_gain(value_head.linear.weight) == pytest.approx(1.0, rel=1e-4)
    assert QHead(10, 4)(features).shape == (6, 4)


@pytest.mark.parametrize("hidden", [(), (32,)])
def test_dueling_identity(hidden):
    head = DuelingQHead(10, 5, hidden=hidden)
    features = torch.randn(7, 10)
    q = head(features)
    value = head.value(features)  # [7, 1]
    advantage = head.advantage(features)  # [7, 5]
    assert q.shape == (7, 5)
    torch.testing.assert_close(q.mean(dim=-1, keepdim=True), value)
    torch.testing.assert_close(q - value, advantage - advantage.mean(dim=-1, keepdim=True))
    assert isinstance(head.value, MLP)


def test_heads_reject_bad_sizes_and_inits():
    with pytest.raises(ValueError, match="CategoricalHead"):
        CategoricalHead(0, 2)
    with pytest.raises(ValueError, match="init"):
        QHead(4, 2, init="he")


def test_scale_action_round_trip_numpy_and_torch():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    unit = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.5]])
    env_action = scale_action(unit, low, high)
    np.testing.assert_allclose(env_action, [[-2.0, 0.0], [2.0, 10.0], [0.0, 7.5]])
    np.testing.assert_allclose(unscale_action(env_action, low, high), unit)
    t_low, t_high = torch.as_tensor(low), torch.as_tensor(high)
    scaled = scale_action(torch.as_tensor(unit), t_low, t_high)
    torch.testing.assert_close(scaled, torch.as_tensor(env_action))
