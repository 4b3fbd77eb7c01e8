"""The clipped Gaussian on a dimension with low == high: its one action has probability 1 and gives no gradient."""

from __future__ import annotations

import torch
from torch.distributions import Normal

from porcini.networks.actor_critic import clipped_gaussian_log_prob
from porcini.networks.distributions import DiagGaussian


def reference(mean: torch.Tensor, std: torch.Tensor, action: torch.Tensor, low: torch.Tensor,
              high: torch.Tensor) -> torch.Tensor:
    """The clipped Gaussian's log-probability entry by entry: log P(a_i) of clip(u_i, low_i, high_i)."""
    out = torch.zeros(action.shape[0], dtype=torch.float64)
    for n in range(action.shape[0]):
        for i in range(action.shape[1]):
            normal = Normal(mean[n, i], std[i])
            a, lo, hi = action[n, i], low[i], high[i]
            if lo == hi:
                term = torch.tensor(0.0, dtype=torch.float64)  # every sample is clipped onto the one action
            elif a <= lo:
                term = normal.cdf(lo).log()
            elif a >= hi:
                term = (1 - normal.cdf(hi)).log()
            else:
                term = normal.log_prob(a)
            out[n] += term
    return out


def test_a_fixed_dimension_adds_nothing_and_the_others_are_scored_as_before():
    generator = torch.Generator().manual_seed(0)
    low = torch.tensor([-1.0, 2.0, 0.0], dtype=torch.float64)
    high = torch.tensor([3.0, 2.0, 10.0], dtype=torch.float64)
    mean = torch.randn((64, 3), generator=generator, dtype=torch.float64, requires_grad=True)
    log_std = torch.full((3,), 0.7, dtype=torch.float64, requires_grad=True)
    u = mean.detach() * 3 + 2 * torch.randn((64, 3), generator=generator, dtype=torch.float64)
    action = torch.maximum(torch.minimum(u, high), low)
    got = clipped_gaussian_log_prob(DiagGaussian(mean, log_std), action, low, high)
    torch.testing.assert_close(got, reference(mean.detach(), log_std.detach().exp(), action, low, high))
    got.sum().backward()
    assert mean.grad is not None and log_std.grad is not None
    assert torch.all(mean.grad[:, 1] == 0) and log_std.grad[1] == 0
    assert torch.all(mean.grad[:, [0, 2]].abs().sum(0) > 0)
