"""GAIL's discriminator loss, gradient penalty and rewards against slow, obviously-correct references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from porcini.functional import airl_logits, airl_reward, discriminator_loss, gail_reward, gradient_penalty


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def reference_loss(expert: list[float], policy: list[float], eps: float) -> float:
    """The loss of the docstring, element by element."""
    e = sum((1 - eps) * math.log(sigmoid(x)) + eps * math.log(1 - sigmoid(x)) for x in expert) / len(expert)
    p = sum((1 - eps) * math.log(1 - sigmoid(x)) + eps * math.log(sigmoid(x)) for x in policy) / len(policy)
    return -0.5 * (e + p)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.25])
def test_discriminator_loss_matches_the_elementwise_reference(eps):
    rng = np.random.default_rng(0)
    expert, policy = rng.normal(0, 3, size=7), rng.normal(0, 3, size=11)  # unequal sizes: halves weighted equally
    out = discriminator_loss(torch.tensor(expert), torch.tensor(policy), label_smoothing=eps)
    assert out["loss_discriminator"].item() == pytest.approx(reference_loss(list(expert), list(policy), eps), rel=1e-9)
    assert out["expert_accuracy"].item() == pytest.approx(np.mean(expert > 0))
    assert out["policy_accuracy"].item() == pytest.approx(np.mean(policy < 0))


def test_the_loss_falls_as_the_discriminator_separates_the_two_sets():
    far = discriminator_loss(torch.full((4,), 5.0), torch.full((4,), -5.0))["loss_discriminator"]
    near = discriminator_loss(torch.full((4,), 0.5), torch.full((4,), -0.5))["loss_discriminator"]
    wrong = discriminator_loss(torch.full((4,), -5.0), torch.full((4,), 5.0))["loss_discriminator"]
    assert far < near < wrong


def test_label_smoothing_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="label_smoothing = 0.5 is invalid"):
        discriminator_loss(torch.zeros(2), torch.zeros(2), label_smoothing=0.5)


def test_gradient_penalty_of_a_linear_and_a_quadratic_discriminator():
    rng = np.random.default_rng(1)
    expert, policy = (torch.tensor(rng.normal(size=(5, 3))) for _ in range(2))
    mix = torch.tensor(rng.uniform(size=(5, 1)))
    w = torch.tensor([0.5, -2.0, 1.0], dtype=torch.float64)
    linear = gradient_penalty(lambda x: x @ w, expert, policy, mix)  # ∇ℓ = w everywhere
    assert linear.item() == pytest.approx((w.norm().item() - 1.0) ** 2)
    quadratic = gradient_penalty(lambda x: 0.5 * (x * x).sum(-1), expert, policy, mix)  # ∇ℓ(x) = x
    points = [mix[i, 0].item() * expert[i].numpy() + (1 - mix[i, 0].item()) * policy[i].numpy() for i in range(5)]
    assert quadratic.item() == pytest.approx(np.mean([(np.linalg.norm(x) - 1) ** 2 for x in points]))


def test_the_penalty_has_a_gradient_for_the_discriminators_parameters():
    w = torch.tensor([3.0, 0.0], requires_grad=True)
    penalty = gradient_penalty(lambda x: x @ w, torch.ones(4, 2), torch.zeros(4, 2), torch.full((4, 1), 0.5))
    penalty.backward()
    assert w.grad is not None and w.grad[0].item() == pytest.approx(2 * (3.0 - 1.0))  # d/dw0 (|w| - 1)² at w = (3, 0)


def test_gail_reward_is_minus_log_one_minus_d_and_stable_for_large_logits():
    logits = [-4.0, -0.5, 0.0, 1.5, 6.0]
    expected = [-math.log(1 - sigmoid(x)) for x in logits]
    np.testing.assert_allclose(gail_reward(torch.tensor(logits, dtype=torch.float64)).numpy(), expected, rtol=1e-12)
    big = gail_reward(torch.tensor([80.0, -80.0]))
    assert torch.isfinite(big).all() and big[0].item() == pytest.approx(80.0) and big[1].item() >= 0


def test_airl_reward_is_log_d_minus_log_one_minus_d():
    logits = torch.tensor([-2.0, 0.3, 4.0], dtype=torch.float64)
    expected = [math.log(sigmoid(x)) - math.log(1 - sigmoid(x)) for x in logits.tolist()]
    np.testing.assert_allclose(airl_reward(logits).numpy(), expected, rtol=1e-12)


def test_airl_logits_match_the_elementwise_reference_with_terminal_successors_unshaped():
    rng = np.random.default_rng(3)
    n, gamma = 12, 0.97
    g, h, h_next, log_pi = (rng.normal(size=n) for _ in range(4))
    terminated = (rng.random(n) < 0.4).astype(float)  # the truncated rows are the others: they keep h(s')
    out = airl_logits(*(torch.tensor(x) for x in (g, h, h_next, terminated, log_pi)), gamma)
    for i in range(n):
        successor = 0.0 if terminated[i] else h_next[i]
        assert out[i].item() == pytest.approx(g[i] + gamma * successor - h[i] - log_pi[i], rel=1e-12)
    assert airl_reward(out) is out or torch.equal(airl_reward(out), out)
