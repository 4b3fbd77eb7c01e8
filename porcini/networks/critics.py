"""Q-networks of the off-policy actor-critics: the critics as one batched ensemble, and member 0 alone.

Twin (or ``n_critics``) critics ``Q(s, a)`` read ``[obs, normalized action]`` and are evaluated as one
:class:`EnsembleMLP`, so every member costs one batched kernel per layer.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from porcini.networks.ensemble import EnsembleMLP
from porcini.networks.mlp import ACTIVATIONS, parameter_dict


class Critics(EnsembleMLP):
    """An :class:`EnsembleMLP` of Q-networks with one output each: the same parameters and function, faster.

    The 1-unit output layer is computed as an elementwise product and a sum instead of ``baddbmm``: torch's CPU
    batched matrix product has no fast path for a matrix-vector product per member, so that layer's forward and
    backward are several times cheaper as a product and a sum.

    Args:
        *args: the :class:`EnsembleMLP` arguments (``in_dim`` counts the encoder's features and the action).
        encoder: the observation encoder shared by the members
            (:func:`porcini.networks.encoders.make_encoder`: a CNN for images, one per entry for Dict
            observations), trained with the critics and copied with them into the target critics; None flattens
            the observations.
        **kwargs: further :class:`EnsembleMLP` arguments.
    """

    def __init__(self, *args: Any, encoder: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.encoder = encoder

    def features(self, obs: Any) -> Tensor:
        """The observations' features ``[N, features_dim]``: the encoder's, or the flattened observations."""
        return obs.flatten(1) if self.encoder is None else self.encoder(obs)

    def q_input(self, obs: Any, action: Tensor) -> Tensor:
        """The input of ``Q(s, a)``: the features of ``obs`` next to normalized actions ``[N, action_dim]``."""
        return torch.cat([self.features(obs), action], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``[N, in_dim]`` (shared by the members) to ``[n_members, N, 1]``."""
        if self.out_dim != 1 or x.dim() != 2:
            return super().forward(x)
        params = parameter_dict(self)
        act = ACTIVATIONS[self.activation_name]
        last = self.n_layers - 1
        x = x.expand(self.n_members, *x.shape)
        for layer in range(last):
            x = act(torch.baddbmm(params[f"bias_{layer}"], x, params[f"weight_{layer}"]))
        weight, bias = params[f"weight_{last}"], params[f"bias_{last}"]  # [K, H, 1], [K, 1, 1]
        return (x * weight.transpose(1, 2)).sum(dim=-1, keepdim=True) + bias


def critic_input(obs: Tensor, action: Tensor) -> Tensor:
    """The critics' input ``[N, obs_dim + action_dim]``: flattened observations next to normalized actions."""
    return torch.cat([obs.flatten(1), action], dim=-1)


def first_member(ensemble: EnsembleMLP, x: Tensor) -> Tensor:
    """Member 0 of ``ensemble`` alone, ``[N, out_dim]``: TD3/DDPG's actor loss uses the first critic only.

    It reads the same parameters (views of the stacked ``weight_l``/``bias_l``), so the gradient reaches member 0
    exactly as :meth:`EnsembleMLP.forward` would, at half the cost of evaluating every member.
    """
    params = parameter_dict(ensemble)
    act = ACTIVATIONS[ensemble.activation_name]
    last = ensemble.n_layers - 1
    for layer in range(ensemble.n_layers):
        x = torch.addmm(params[f"bias_{layer}"][0], x, params[f"weight_{layer}"][0])
        if layer < last:
            x = act(x)
    return x
