"""MLP: the fully connected stack every vector-observation agent is built on, with PPO-style orthogonal init.

The forward pass is written for per-call overhead, because acting on 1–8 environments with a 64-unit network
is bound by Python and dispatcher time, not arithmetic (benchmarks/README.md, "Acting"). The layers are
ordinary ``nn.Linear`` children (so
``state_dict`` keys, ``.to``, ``deepcopy``, ``torch.func.functional_call`` and optimizers all behave as
usual), but ``forward`` reads each layer's parameter dictionary directly and calls ``F.linear``, skipping the
``nn.Module.__call__`` and ``__getattr__`` machinery of every child. Holding the dictionaries (not the
tensors) keeps it correct when parameters are swapped, as ``functional_call`` and
``load_state_dict(assign=True)`` do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "leaky_relu": F.leaky_relu,
}
"""Activation names accepted by the networks in this package, mapped to the functions they apply."""

INITS = ("default", "orthogonal")
"""Weight initializations: PyTorch's own ``nn.Linear`` init, or orthogonal weights with zero biases."""


def get_activation(name: str, owner: str = "network") -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the activation function called ``name``.

    Args:
        name: one of :data:`ACTIVATIONS` (``"tanh"``, ``"relu"``, ...).
        owner: the class asking, named in the error message.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"{owner}: activation {name!r} is unknown; use one of {sorted(ACTIVATIONS)}") from None


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def orthogonal_init_(module: ModuleT, gain: float) -> ModuleT:
    """Initialize a linear or convolutional layer with orthogonal weights scaled by ``gain`` and zero biases.

    The PPO recipe (Engstrom et al. 2020, "Implementation Matters in Deep Policy Gradients"; Huang et al.
    2022, "The 37 Implementation Details of PPO") uses gain ``sqrt(2)`` for hidden layers, 0.01 for the policy
    output (near-uniform initial policy) and 1.0 for the value output.

    Args:
        module: an ``nn.Linear`` or ``nn.Conv*`` layer (anything with ``weight`` and optional ``bias``).
        gain: the scale of the orthogonal matrix.

    Returns:
        The same module, for chaining.
    """
    params = parameter_dict(module)
    nn.init.orthogonal_(params["weight"], gain=gain)
    if params.get("bias") is not None:
        nn.init.zeros_(params["bias"])
    return module


def parameter_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """Return ``module``'s own parameter dictionary (the live one, not a copy), for fast reads in ``forward``.

    Reading ``params["weight"]`` from this dict costs a dict lookup, where ``module.weight`` goes through
    ``nn.Module.__getattr__``; the dict is the one ``functional_call``, ``load_state_dict(assign=True)`` and
    ``.to()`` update, so the reads always see the current parameters.
    """
    return cast(dict[str, torch.Tensor], module._parameters)


def check_init(init: str, owner: str) -> None:
    """Raise a ValueError naming ``owner`` when ``init`` is not one of :data:`INITS`."""
    if init not in INITS:
        raise ValueError(f"{owner}: init {init!r} is unknown; use one of {INITS}")


def _as_shape(in_dim: int | Sequence[int], owner: str) -> tuple[int, ...]:
    shape = (int(in_dim),) if isinstance(in_dim, int) else tuple(int(d) for d in in_dim)
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"{owner}: in_dim {in_dim!r} must be a positive int or a non-empty shape of positive ints")
    return shape


class MLP(nn.Module):
    """A stack of fully connected layers: ``hidden`` layers with ``activation``, then an optional output.

    Input ``[*batch, *in_shape]`` is flattened over the observation dimensions (``in_dim`` may be a shape such
    as ``(4,)`` or ``(3, 5)``), so any number of leading batch dimensions (``[N]`` or ``[T, B]``) passes
    through. Output is ``[*batch, out_dim]``. Inputs must already have the parameters' dtype (float32 by
    default).

    Args:
        in_dim: the input size, or the shape of one observation to flatten.
        out_dim: the output size, or None for a feature trunk that ends after the last hidden activation.
        hidden: widths of the hidden layers; ``()`` gives one linear layer (or, with ``out_dim=None``, a
            flatten).
        activation: name of the hidden activation (see :data:`ACTIVATIONS`).
        output_activation: activation applied after the output layer (e.g. ``"tanh"`` for a DDPG actor), or
            None.
        init: ``"default"`` (PyTorch's ``nn.Linear`` init, as SB3 uses for DQN/SAC) or ``"orthogonal"`` (as
            PPO/A2C implementations use, with ``hidden_gain`` and ``output_gain``).
        hidden_gain: orthogonal gain of the hidden layers (``sqrt(2)``); ignored with ``init="default"``.
        output_gain: orthogonal gain of the output layer: 0.01 for a policy, 1.0 for a value; ignored with
            ``init="default"``.

    Attributes:
        in_shape: the shape of one input; ``in_dim`` is its flat size.
        out_dim: the size of the last output dimension.
    """

    def __init__(
        self,
        in_dim: int | Sequence[int],
        out_dim: int | None,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        output_activation: str | None = None,
        init: str = "default",
        hidden_gain: float = math.sqrt(2.0),
        output_gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_shape = _as_shape(in_dim, "MLP")
        self.in_dim = math.prod(self.in_shape)
        if out_dim is not None and out_dim < 1:
            raise ValueError(f"MLP: out_dim {out_dim} must be positive, or None for a trunk without output layer")
        if output_activation is not None and out_dim is None:
            raise ValueError(f"MLP: output_activation {output_activation!r} needs an output layer; give out_dim")
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"MLP: hidden {tuple(hidden)} must contain positive widths only")
        check_init(init, "MLP")
        self._activation = get_activation(activation, "MLP")
        self._output_activation = None if output_activation is None else get_activation(output_activation, "MLP")
        self.activation_name = activation

        widths = [self.in_dim, *(int(h) for h in hidden)]
        layers = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]
        self.n_hidden = len(layers)
        if out_dim is not None:
            layers.append(nn.Linear(widths[-1], out_dim))
        self.layers = nn.ModuleList(layers)
        self.out_dim = out_dim if out_dim is not None else widths[-1]
        if init == "orthogonal":
            for i, layer in enumerate(self.layers):
                orthogonal_init_(layer, hidden_gain if i < self.n_hidden else output_gain)
        # Parameter dicts of the layers, read in forward (see the module docstring for why).
        params = [parameter_dict(layer) for layer in self.layers]
        self._hidden_params = params[: self.n_hidden]
        self._output_params = params[self.n_hidden] if out_dim is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[*batch, *in_shape]`` to ``[*batch, out_dim]``."""
        if len(self.in_shape) > 1:
            x = x.flatten(-len(self.in_shape))
        act = self._activation
        for p in self._hidden_params:
            x = act(F.linear(x, p["weight"], p["bias"]))
        out = self._output_params
        if out is not None:
            x = F.linear(x, out["weight"], out["bias"])
            if self._output_activation is not None:
                x = self._output_activation(x)
        return x

    def extra_repr(self) -> str:
        """Show the activation next to the layers."""
        return f"activation={self.activation_name!r}, in_shape={self.in_shape}, out_dim={self.out_dim}"
