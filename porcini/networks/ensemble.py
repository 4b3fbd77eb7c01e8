"""EnsembleMLP: K independent MLPs (twin critics, Q ensembles) evaluated as one batched computation.

SAC and TD3 evaluate two critics on the same batch for every gradient step, and SB3 runs them one after the
other. Here the K members' layers are stacked into parameters ``weight_l`` ``[K, in, out]`` and ``bias_l``
``[K, 1, out]``, and each layer is one ``torch.baddbmm`` over the members: one kernel launch and one autograd
node per layer instead of K, with identical arithmetic. Member ``k`` computes exactly what an
:class:`~porcini.networks.MLP` with weights ``weight_l[k].T`` and biases ``bias_l[k, 0]`` computes (tested),
and each member is initialized independently the way a separate ``nn.Linear`` stack would be.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from porcini.networks.mlp import check_init, get_activation, parameter_dict


class EnsembleMLP(nn.Module):
    """``n_members`` MLPs of identical shape, output ``[n_members, N, out_dim]``.

    Input is either ``[N, in_dim]``, shared by all members (a critic ensemble on one batch), or
    ``[n_members, N, in_dim]``, one batch per member (bootstrapped ensembles). Reduce over members with e.g.
    ``q.min(dim=0).values`` (clipped double Q).

    Args:
        n_members: number of members K (2 for twin critics).
        in_dim: input size.
        out_dim: output size (1 for a critic ``Q(s, a)``).
        hidden: hidden widths of every member.
        activation: hidden activation (see :data:`porcini.networks.mlp.ACTIVATIONS`).
        init: ``"default"`` (each member as PyTorch's ``nn.Linear``: weights and biases uniform in
            ``±1/sqrt(fan_in)``) or ``"orthogonal"`` (orthogonal per member, zero biases).
        hidden_gain: orthogonal gain of hidden layers, used with ``init="orthogonal"``.
        output_gain: orthogonal gain of the output layer, used with ``init="orthogonal"``.
    """

    def __init__(
        self,
        n_members: int,
        in_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        init: str = "default",
        hidden_gain: float = math.sqrt(2.0),
        output_gain: float = 1.0,
    ) -> None:
        super().__init__()
        widths = [int(in_dim), *(int(h) for h in hidden), int(out_dim)]
        if n_members < 1 or any(w < 1 for w in widths):
            raise ValueError(
                f"EnsembleMLP: n_members={n_members}, in_dim={in_dim}, hidden={tuple(hidden)}, "
                f"out_dim={out_dim} must all be positive"
            )
        check_init(init, "EnsembleMLP")
        self._activation = get_activation(activation, "EnsembleMLP")
        self.activation_name = activation
        self.n_members, self.in_dim, self.out_dim = int(n_members), int(in_dim), int(out_dim)
        self.n_layers = len(widths) - 1
        for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            weight = torch.empty(n_members, fan_in, fan_out)
            bias = torch.empty(n_members, 1, fan_out)
            self._init_layer(weight, bias, init, hidden_gain if layer < self.n_layers - 1 else output_gain)
            self.register_parameter(f"weight_{layer}", nn.Parameter(weight))
            self.register_parameter(f"bias_{layer}", nn.Parameter(bias))
        # (weight, bias) names per layer, looked up in parameter_dict(self) in forward: same reason as in MLP.
        self._names = [(f"weight_{layer}", f"bias_{layer}") for layer in range(self.n_layers)]

    @staticmethod
    def _init_layer(weight: torch.Tensor, bias: torch.Tensor, init: str, gain: float) -> None:
        fan_in = weight.shape[1]
        with torch.no_grad():
            if init == "orthogonal":
                for member in range(weight.shape[0]):
                    # orthogonal_ works on the [out, in] layout of nn.Linear; store its transpose.
                    weight[member] = nn.init.orthogonal_(torch.empty(weight.shape[2], fan_in), gain=gain).T
                bias.zero_()
            else:
                # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in); same for
                # bias.
                bound = 1.0 / math.sqrt(fan_in)
                weight.uniform_(-bound, bound)
                bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[N, in_dim]`` (shared) or ``[n_members, N, in_dim]`` to ``[n_members, N, out_dim]``."""
        if x.dim() == 2:
            x = x.expand(self.n_members, *x.shape)  # a view: no copy of the shared batch
        elif x.dim() != 3 or x.shape[0] != self.n_members:
            raise ValueError(
                f"EnsembleMLP: input shape {tuple(x.shape)} must be [N, {self.in_dim}] or "
                f"[{self.n_members}, N, {self.in_dim}]"
            )
        return self._layers(x, None)

    def forward_members(self, x: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        """Run only ``members`` (indices ``[M]``): block ``i`` of ``x`` ``[M, N, in_dim]`` through ``members[i]``.

        The output is ``[M, N, out_dim]`` (a model ensemble's elites, each on its own particles).
        """
        if x.dim() != 3 or x.shape[0] != len(members):
            raise ValueError(f"EnsembleMLP: input shape {tuple(x.shape)} must be [{len(members)}, N, {self.in_dim}]")
        return self._layers(x, members)

    def _layers(self, x: torch.Tensor, members: torch.Tensor | None) -> torch.Tensor:
        params = parameter_dict(self)
        act = self._activation
        last = self.n_layers - 1
        for layer, (w, b) in enumerate(self._names):
            if members is None:
                x = torch.baddbmm(params[b], x, params[w])
            else:
                x = torch.baddbmm(params[b][members], x, params[w][members])
            if layer < last:
                x = act(x)
        return x

    def extra_repr(self) -> str:
        """Show the member count and shapes."""
        widths = [self.in_dim] + [parameter_dict(self)[w].shape[2] for w, _ in self._names]
        return f"n_members={self.n_members}, widths={widths}, activation={self.activation_name!r}"
