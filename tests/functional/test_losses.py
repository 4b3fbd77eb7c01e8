"""Losses against values computed by hand on tiny inputs (the computation is in the comments)."""

from __future__ import annotations

import math

import pytest
import torch

from porcini.functional import (
    deterministic_actor_loss,
    entropy_loss,
    policy_gradient_loss,
    ppo_clip_loss,
    sac_actor_loss,
    sac_alpha_loss,
    sac_discrete_actor_loss,
    td_loss,
    value_loss,
)


def t(*values: float, grad: bool = False) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def test_ppo_clip_loss_by_hand():
    # ratios r = [1.5, 0.5, 1.0], advantages [1, 1, -2], clip 0.2:
    #   min(1.5 * 1, 1.2 * 1) = 1.2;  min(0.5 * 1, 0.8 * 1) = 0.5;  min(1 * -2, 1 * -2) = -2
    #   loss = -(1.2 + 0.5 - 2) / 3 = 0.1
    #   approx_kl = mean((r - 1) - log r) = ((0.5 - ln 1.5) + (-0.5 - ln 0.5) + 0) / 3
    #   clip_fraction: |r - 1| > 0.2 for the first two -> 2/3
    #   d loss / d log_prob = -r A / 3 where the unclipped term is the min: [0, -0.5/3, 2/3]
    log_prob = t(math.log(1.5), math.log(0.5), 0.0, grad=True)
    out = ppo_clip_loss(log_prob, t(0.0, 0.0, 0.0), t(1.0, 1.0, -2.0), 0.2)
    assert set(out) == {"loss_policy", "approx_kl", "clip_fraction"}
    torch.testing.assert_close(out["loss_policy"], torch.tensor(0.1, dtype=torch.float64))
    kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5))) / 3
    torch.testing.assert_close(out["approx_kl"], torch.tensor(kl, dtype=torch.float64))
    torch.testing.assert_close(out["clip_fraction"], torch.tensor(2 / 3, dtype=torch.float64))
    assert not out["approx_kl"].requires_grad and not out["clip_fraction"].requires_grad
    out["loss_policy"].backward()
    torch.testing.assert_close(log_prob.grad, t(0.0, -0.5 / 3, 2 / 3))


def test_ppo_constants_get_no_gradient():
    old = t(0.1, 0.2, grad=True)
    adv = t(1.0, -1.0, grad=True)
    ppo_clip_loss(t(0.0, 0.0, grad=True), old, adv, 0.2)["loss_policy"].backward()
    assert old.grad is None and adv.grad is None


def test_value_loss_by_hand():
    # value [1, 2], returns [2, 2]: mean((-1)^2, 0) = 0.5
    torch.testing.assert_close(value_loss(t(1.0, 2.0), t(2.0, 2.0))["loss_value"], t(0.5)[0])
    # clipped around old [0, 2] with 0.5: V_c = [0.5, 2]; (V_c - R)^2 = [2.25, 0]; max([1, 0], [2.25, 0]) -> 1.125
    out = value_loss(t(1.0, 2.0), t(2.0, 2.0), old_value=t(0.0, 2.0), clip_range_vf=0.5)
    torch.testing.assert_close(out["loss_value"], t(1.125)[0])
    with pytest.raises(ValueError, match="old_value"):
        value_loss(t(1.0), t(1.0), clip_range_vf=0.2)


def test_policy_gradient_and_entropy_by_hand():
    # -mean([-1 * 1, -2 * 3]) = 3.5;  -mean([1, 3]) = -2
    torch.testing.assert_close(policy_gradient_loss(t(-1.0, -2.0), t(1.0, 3.0))["loss_policy"], t(3.5)[0])
    torch.testing.assert_close(entropy_loss(t(1.0, 3.0))["loss_entropy"], t(-2.0)[0])
    torch.testing.assert_close(deterministic_actor_loss(t(1.0, 3.0))["loss_actor"], t(-2.0)[0])


def test_td_loss_by_hand():
    # q = 0, targets [0.5, 2, -3], huber delta 1: [0.5 * 0.25, 2 - 0.5, 3 - 0.5] = [0.125, 1.5, 2.5] -> 4.125 / 3
    q, target = t(0.0, 0.0, 0.0, grad=True), t(0.5, 2.0, -3.0)
    torch.testing.assert_close(td_loss(q, target)["loss_td"], t(4.125 / 3)[0])
    # mse: [0.25, 4, 9] -> 13.25 / 3
    torch.testing.assert_close(td_loss(q, target, kind="mse")["loss_td"], t(13.25 / 3)[0])
    # weights [1, 0, 2] on huber: (0.125 + 0 + 5) / 3
    torch.testing.assert_close(td_loss(q, target, weights=t(1.0, 0.0, 2.0))["loss_td"], t(5.125 / 3)[0])
    # twin critics [[0, 0, 0], [1, 1, 1]] onto [1, 1, 1], mse: six errors [1, 1, 1, 0, 0, 0] -> 0.5
    twins = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(td_loss(twins, t(1.0, 1.0, 1.0), kind="mse")["loss_td"], t(0.5)[0])
    with pytest.raises(ValueError, match="kind"):
        td_loss(q, target, kind="l1")
    with pytest.raises(ValueError, match="q has shape"):
        td_loss(t(0.0, 0.0), target)
    with pytest.raises(ValueError, match="weights"):
        td_loss(q, target, weights=t(1.0))


def test_sac_losses_by_hand():
    # actor: mean(0.5 * [-1, 1] - [2, 3]) = mean([-2.5, -2.5]) = -2.5
    alpha = torch.tensor(0.5, requires_grad=True)
    out = sac_actor_loss(t(-1.0, 1.0), t(2.0, 3.0), alpha.double())
    torch.testing.assert_close(out["loss_actor"], t(-2.5)[0])
    assert not out["loss_actor"].requires_grad  # alpha is detached, nothing else needs a gradient here
    # alpha: log_prob + target = [-1, -3] + (-1) = [-2, -4], mean -3 -> loss = -log(0.5) * -3, d/dlog_alpha = 3
    log_alpha = torch.tensor(math.log(0.5), dtype=torch.float64, requires_grad=True)
    loss = sac_alpha_loss(log_alpha, t(-1.0, -3.0), target_entropy=-1.0)["loss_alpha"]
    torch.testing.assert_close(loss, torch.tensor(3 * math.log(0.5), dtype=torch.float64))
    loss.backward()
    torch.testing.assert_close(log_alpha.grad, torch.tensor(3.0, dtype=torch.float64))
    # discrete: π = [0.5, 0.5], Q = [1, 3], alpha 1: 0.5 (ln 0.5 - 1) + 0.5 (ln 0.5 - 3) = ln 0.5 - 2
    probs = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    q_min = torch.tensor([[1.0, 3.0]], dtype=torch.float64)
    out = sac_discrete_actor_loss(probs, probs.log(), q_min, 1.0)
    torch.testing.assert_close(out["loss_actor"], torch.tensor(math.log(0.5) - 2, dtype=torch.float64))


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="advantage"):
        ppo_clip_loss(t(0.0, 0.0), t(0.0, 0.0), t(1.0), 0.2)
    with pytest.raises(ValueError, match="returns"):
        value_loss(t(0.0, 0.0), t(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="q_min"):
        sac_actor_loss(t(0.0, 0.0), t(0.0), 0.1)
    with pytest.raises(ValueError, match="clip_range"):
        ppo_clip_loss(t(0.0), t(0.0), t(1.0), 0.0)


def test_bc_regularized_actor_loss_matches_a_loop_over_the_batch():
    from porcini.functional import bc_regularized_actor_loss

    gen = torch.Generator().manual_seed(0)
    q = torch.randn(6, generator=gen, dtype=torch.float64) * 10
    action = torch.rand(6, 2, generator=gen, dtype=torch.float64) * 2 - 1
    data_action = torch.rand(6, 2, generator=gen, dtype=torch.float64) * 2 - 1
    abs_q = sum(abs(float(x)) for x in q) / 6
    lam = 2.5 / abs_q
    bc = sum((float(action[i, j]) - float(data_action[i, j])) ** 2 for i in range(6) for j in range(2)) / 12
    expected = -lam * sum(float(x) for x in q) / 6 + bc
    terms = bc_regularized_actor_loss(q, action, data_action, alpha=2.5)
    assert abs(float(terms["loss_actor"]) - expected) < 1e-12
    assert abs(float(terms["loss_bc"]) - bc) < 1e-12 and abs(float(terms["lambda"]) - lam) < 1e-12
    q.requires_grad_(True)
    bc_regularized_actor_loss(q, action, data_action)["loss_actor"].backward()
    torch.testing.assert_close(q.grad, torch.full_like(q, -lam / 6))  # λ carries no gradient
    with pytest.raises(ValueError, match="data_action has shape"):
        bc_regularized_actor_loss(q, action, data_action[:, :1])
