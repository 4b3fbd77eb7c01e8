"""The updates of sampling-based planners: CEM's elite refit and MPPI's exponentially weighted average.

A planner samples ``N`` action sequences ``[N, H, A]`` (H steps of A-dimensional actions), a model scores them
with costs ``[N]`` (lower is better), and the update turns the scores into the next sampling distribution or the
plan. Torch tensors in, torch tensors out.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cem_update(actions: Tensor, costs: Tensor, n_elites: int, mean: Tensor, std: Tensor,
               momentum: float = 0.0) -> tuple[Tensor, Tensor]:
    """The cross-entropy method's refit: mean and std of the ``n_elites`` cheapest sequences, smoothed.

    ``mean' = momentum · mean + (1 - momentum) · mean(elites)``, and the same for ``std`` (the elites' standard
    deviation, population form).

    Args:
        actions: ``[N, H, A]`` sampled sequences.
        costs: ``[N]`` their costs.
        n_elites: how many of the cheapest refit the distribution (``1 <= n_elites <= N``).
        mean: ``[H, A]`` the distribution's mean before the update.
        std: ``[H, A]`` its standard deviation.
        momentum: weight of the old distribution, in ``[0, 1)``.
    """
    if not 1 <= n_elites <= len(costs):
        raise ValueError(f"cem_update: n_elites = {n_elites} is invalid: must lie in [1, {len(costs)}]")
    elites = actions[torch.topk(costs, n_elites, largest=False).indices]
    new_mean = elites.mean(dim=0)
    new_std = elites.std(dim=0, unbiased=False)
    return momentum * mean + (1 - momentum) * new_mean, momentum * std + (1 - momentum) * new_std


def mppi_weights(costs: Tensor, temperature: float) -> Tensor:
    """MPPI's weights ``w_i ∝ exp(-(c_i - min c) / λ)`` ``[N]``, summing to 1 (``λ = temperature > 0``)."""
    if temperature <= 0:
        raise ValueError(f"mppi_weights: temperature = {temperature} is invalid: must be > 0")
    return torch.softmax(-(costs - costs.min()) / temperature, dim=0)


def mppi_update(actions: Tensor, costs: Tensor, temperature: float) -> Tensor:
    """MPPI's plan: the ``mppi_weights``-weighted average of the sequences ``[H, A]``."""
    return torch.einsum("n,nha->ha", mppi_weights(costs, temperature), actions)
