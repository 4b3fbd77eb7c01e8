"""IQL's and CQL's losses against slow, obvious loops over the elements, on random inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from porcini.functional import (
    advantage_weighted_actor_loss,
    advantage_weights,
    cql_alpha_loss,
    cql_penalty,
    discrete_cql_penalty,
    expectile_loss,
)

SEEDS = range(6)


def f64(rng: np.random.Generator, *shape: int, scale: float = 1.0, grad: bool = False) -> torch.Tensor:
    return torch.tensor(rng.normal(scale=scale, size=shape), dtype=torch.float64, requires_grad=grad)


@pytest.mark.parametrize("seed", SEEDS)
def test_expectile_loss_matches_a_loop_and_its_minimizer_is_the_expectile(seed):
    rng = np.random.default_rng(seed)
    n, tau = int(rng.integers(1, 20)), float(rng.uniform(0.05, 0.95))
    q, v = f64(rng, n), f64(rng, n, grad=True)
    total = 0.0
    for i in range(n):
        u = float(q[i]) - float(v.detach()[i])
        total += (tau if u >= 0 else 1 - tau) * u * u
    out = expectile_loss(q, v, tau)
    assert set(out) == {"loss_value"}
    assert out["loss_value"].item() == pytest.approx(total / n, rel=1e-12)
    # one V for all samples: the minimizer solves Σ |τ - 1{q < v}| (q - v) = 0, the τ-expectile of the q's
    v_star = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v_star], max_iter=200, tolerance_grad=1e-14, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = expectile_loss(q, v_star.expand(n), tau)["loss_value"]
        loss.backward()
        return loss

    opt.step(closure)
    grid = np.linspace(float(q.min()) - 1, float(q.max()) + 1, 200_001)
    q_np = q.numpy()[:, None]
    balance = np.abs((np.where(q_np >= grid, tau, 1 - tau) * (q_np - grid)).sum(0))
    assert v_star.item() == pytest.approx(grid[balance.argmin()], abs=1e-4)


def test_expectile_loss_at_one_half_is_half_the_mse_and_q_gets_no_gradient():
    rng = np.random.default_rng(0)
    q, v = f64(rng, 7, grad=True), f64(rng, 7, grad=True)
    out = expectile_loss(q, v, 0.5)["loss_value"]
    torch.testing.assert_close(out, 0.5 * ((q - v) ** 2).mean())
    out.backward()
    assert q.grad is None and v.grad is not None


@pytest.mark.parametrize("seed", SEEDS)
def test_advantage_weights_and_actor_loss_match_a_loop(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 20))
    beta, w_max = float(rng.choice([0.0, 0.5, 3.0, 10.0])), float(rng.choice([1.0, 20.0, 100.0]))
    advantage, log_prob = f64(rng, n, scale=2.0), f64(rng, n, grad=True)
    weights = advantage_weights(advantage, beta, w_max)
    loss = advantage_weighted_actor_loss(log_prob, advantage, beta, w_max)["loss_actor"]
    total = 0.0
    for i in range(n):
        w = min(math.exp(beta * float(advantage[i])), w_max)
        assert float(weights[i]) == pytest.approx(w, rel=1e-12)
        total -= w * float(log_prob.detach()[i])
    assert loss.item() == pytest.approx(total / n, rel=1e-12, abs=1e-12)
    loss.backward()
    torch.testing.assert_close(log_prob.grad, -weights / n)


def test_advantage_weights_do_not_overflow_and_reject_bad_arguments():
    huge = torch.tensor([1e4, -1e4], dtype=torch.float32)
    torch.testing.assert_close(advantage_weights(huge, 3.0, 100.0), torch.tensor([100.0, 0.0]))
    with pytest.raises(ValueError, match="temperature"):
        advantage_weights(huge, -1.0)
    with pytest.raises(ValueError, match="max_weight"):
        advantage_weights(huge, 1.0, 0.0)
    with pytest.raises(ValueError, match="advantage"):
        advantage_weighted_actor_loss(torch.zeros(3), torch.zeros(4), 1.0)


def reference_cql_penalty(q_sampled: torch.Tensor, log_density: torch.Tensor, q_data: torch.Tensor) -> float:
    """``mean over critics and states of log((1/M) Σ_j exp(Q_j) / μ_j) - Q_data``, one element at a time."""
    n_critics, n, m = q_sampled.shape
    total = 0.0
    for e in range(n_critics):
        for i in range(n):
            mean = sum(math.exp(float(q_sampled[e, i, j])) / math.exp(float(log_density[i, j])) for j in range(m)) / m
            total += math.log(mean) - float(q_data[e, i])
    return total / (n_critics * n)


@pytest.mark.parametrize("seed", SEEDS)
def test_cql_penalty_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    e, n, m = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 31))
    q_sampled, q_data = f64(rng, e, n, m, scale=3.0, grad=True), f64(rng, e, n, scale=3.0, grad=True)
    log_density = f64(rng, n, m, scale=2.0, grad=True)
    out = cql_penalty(q_sampled, log_density, q_data)
    assert set(out) == {"loss_cql"}
    reference = reference_cql_penalty(q_sampled.detach(), log_density.detach(), q_data.detach())
    assert out["loss_cql"].item() == pytest.approx(reference, rel=1e-10)
    out["loss_cql"].backward()
    assert log_density.grad is None  # the proposals' densities are constants
    # d/dQ_j of log-mean-exp is the softmax weight of sample j; d/dQ_data is -1; each divided by e * n
    soft = torch.softmax(q_sampled.detach() - log_density.detach(), dim=-1) / (e * n)
    torch.testing.assert_close(q_sampled.grad, soft)
    torch.testing.assert_close(q_data.grad, torch.full((e, n), -1.0 / (e * n), dtype=torch.float64))


def test_cql_penalty_estimates_the_log_integral_of_exp_q():
    # Q(a) = 2a on [-1, 1]: ∫ e^{2a} da = (e^2 - e^-2) / 2; uniform samples with density 1/2 estimate it
    a = torch.rand(1, 200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    penalty = cql_penalty(2 * a, torch.full_like(a, math.log(0.5)), torch.zeros(1, dtype=torch.float64))
    assert float(penalty["loss_cql"]) == pytest.approx(math.log((math.e ** 2 - math.e ** -2) / 2), abs=0.01)


def test_cql_penalty_rejects_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="q_data"):
        cql_penalty(torch.zeros(2, 3, 4), torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="log_density"):
        cql_penalty(torch.zeros(2, 3, 4), torch.zeros(3, 5), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="log_density"):
        cql_penalty(torch.zeros(3, 4), torch.zeros(2, 3, 4), torch.zeros(3))


@pytest.mark.parametrize("seed", SEEDS)
def test_discrete_cql_penalty_matches_a_loop(seed):
    rng = np.random.default_rng(seed)
    t, b, a = int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 7))
    q = f64(rng, t, b, a, scale=3.0, grad=True)
    action = torch.as_tensor(rng.integers(0, a, size=(t, b)))
    values, total = q.detach().numpy(), 0.0
    for i in range(t):
        for j in range(b):
            lse = math.log(sum(math.exp(values[i, j, k]) for k in range(a)))
            total += lse - values[i, j, action[i, j]]
    out = discrete_cql_penalty(q, action)
    assert out["loss_cql"].item() == pytest.approx(total / (t * b), rel=1e-10, abs=1e-12)
    out["loss_cql"].backward()
    expected = torch.softmax(q.detach(), -1) - torch.nn.functional.one_hot(action, a)
    torch.testing.assert_close(q.grad, expected / (t * b))
    with pytest.raises(ValueError, match="action"):
        discrete_cql_penalty(q, action[:, :1].expand(t, b + 1))


def test_cql_alpha_loss_moves_alpha_toward_the_target_gap():
    log_alpha = torch.tensor(0.3, requires_grad=True)
    penalty = torch.tensor(7.0, requires_grad=True)
    loss = cql_alpha_loss(log_alpha, penalty, 5.0)["loss_cql_alpha"]
    assert loss.item() == pytest.approx(-math.exp(0.3) * 2.0)
    loss.backward()
    assert float(log_alpha.grad) == pytest.approx(-math.exp(0.3) * 2.0)  # gradient descent raises α': gap exceeded
    assert penalty.grad is None
    log_alpha.grad = None
    cql_alpha_loss(log_alpha, torch.tensor([3.0, 4.0]), 5.0)["loss_cql_alpha"].backward()
    assert float(log_alpha.grad) == pytest.approx(math.exp(0.3) * 1.5)  # below the gap: α' shrinks
