"""Heads: the last layer of a policy or value network, from trunk features ``[*batch, in_dim]`` to outputs.

Policy heads return a light distribution (:mod:`porcini.networks.distributions`) with ``sample()``,
``log_prob(action)``, ``entropy()`` and ``mode()`` (the deterministic action). Value heads return tensors:
:class:`ValueHead` ``[*batch]``, :class:`QHead` and :class:`DuelingQHead` ``[*batch, n_actions]``. A trunk
(:class:`~porcini.networks.MLP` with ``out_dim=None``, or :class:`~porcini.networks.NatureCNN`) computes the
features. Like :class:`~porcini.networks.MLP`, the heads call ``F.linear`` on their layer's parameter dict
directly, to keep per-call overhead low when acting.

Default initializations follow the implementations the benchmarks compare with: orthogonal gain 0.01 for the
PPO/A2C policy outputs and 1.0 for the value output (SB3 ``ortho_init=True``), PyTorch's default for the SAC,
DDPG/TD3 and DQN heads (SB3 uses no special init there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from porcini.networks.distributions import Bernoulli, Categorical, DiagGaussian, MultiCategorical, TanhGaussian
from porcini.networks.masking import masked_values
from porcini.networks.mlp import MLP, check_init, orthogonal_init_, parameter_dict

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)


def _linear(in_dim: int, out_dim: int, init: str, gain: float, owner: str) -> nn.Linear:
    if in_dim < 1 or out_dim < 1:
        raise ValueError(f"{owner}: sizes must be positive, got in_dim={in_dim}, out_dim={out_dim}")
    check_init(init, owner)
    layer = nn.Linear(in_dim, out_dim)
    return orthogonal_init_(layer, gain) if init == "orthogonal" else layer


class CategoricalHead(nn.Module):
    """Logits for ``n_actions`` discrete actions, as a :class:`Categorical` (REINFORCE, A2C, PPO).

    Args:
        in_dim: size of the features.
        n_actions: number of actions.
        init: ``"orthogonal"`` (default, gain ``gain``) or ``"default"`` (PyTorch's init).
        gain: orthogonal gain; 0.01 starts from a near-uniform policy.
    """

    def __init__(self, in_dim: int, n_actions: int, init: str = "orthogonal", gain: float = 0.01) -> None:
        super().__init__()
        self.linear = _linear(in_dim, n_actions, init, gain, "CategoricalHead")
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor, legal: torch.Tensor | None = None) -> Categorical:
        """Features ``[*batch, in_dim]`` to a distribution over actions ``[*batch]``.

        Args:
            features: the trunk's output.
            legal: bool ``[*batch, n_actions]`` action mask (:mod:`porcini.networks.masking`), or None: the
                logits of illegal actions are set to the dtype's most negative finite value (probability 0).
        """
        logits = F.linear(features, self._p["weight"], self._p["bias"])
        return Categorical(logits if legal is None else masked_values(logits, legal))


class MultiCategoricalHead(nn.Module):
    """Logits for each component of a ``MultiDiscrete`` action, as a :class:`MultiCategorical` (A2C, PPO, TRPO).

    One linear layer outputs ``sum(nvec)`` logits, component after component.

    Args:
        in_dim: size of the features.
        nvec: the number of values of each component, e.g. ``(3, 3)``.
        init: ``"orthogonal"`` (default, gain ``gain``) or ``"default"`` (PyTorch's init).
        gain: orthogonal gain; 0.01 starts from near-uniform components.
    """

    padding: torch.Tensor

    def __init__(self, in_dim: int, nvec: Sequence[int], init: str = "orthogonal", gain: float = 0.01) -> None:
        super().__init__()
        self.nvec = tuple(int(n) for n in nvec)
        if not self.nvec or min(self.nvec) < 1:
            raise ValueError(f"MultiCategoricalHead: every component needs at least one value, got nvec={nvec}")
        self.linear = _linear(in_dim, sum(self.nvec), init, gain, "MultiCategoricalHead")
        self.register_buffer("padding", MultiCategorical.padding_index(self.nvec), persistent=False)
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor, legal: torch.Tensor | None = None) -> MultiCategorical:
        """Features ``[*batch, in_dim]`` to a distribution over actions ``[*batch, k]``.

        Args:
            features: the trunk's output.
            legal: bool ``[*batch, sum(nvec)]`` action mask, the components' flags concatenated
                (:mod:`porcini.networks.masking`), or None: illegal values of a component get probability 0.
        """
        logits = F.linear(features, self._p["weight"], self._p["bias"])
        if legal is not None:
            logits = masked_values(logits, legal)
        return MultiCategorical.from_flat(logits, self.nvec, self.padding)


class BernoulliHead(nn.Module):
    """Log-odds of each bit of a ``MultiBinary`` action, as a :class:`Bernoulli` (A2C, PPO, TRPO).

    Args:
        in_dim: size of the features.
        n_bits: number of bits.
        init: ``"orthogonal"`` (default, gain ``gain``) or ``"default"`` (PyTorch's init).
        gain: orthogonal gain; 0.01 starts every bit near probability 1/2.
    """

    def __init__(self, in_dim: int, n_bits: int, init: str = "orthogonal", gain: float = 0.01) -> None:
        super().__init__()
        self.linear = _linear(in_dim, n_bits, init, gain, "BernoulliHead")
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor) -> Bernoulli:
        """Features ``[*batch, in_dim]`` to a distribution over actions ``[*batch, n_bits]``."""
        return Bernoulli(F.linear(features, self._p["weight"], self._p["bias"]))


class DiagGaussianHead(nn.Module):
    """A Gaussian with a state-dependent mean and a learnable, state-independent ``log_std`` (A2C, PPO, TRPO).

    Args:
        in_dim: size of the features.
        action_dim: number of action dimensions.
        log_std_init: initial value of every ``log_std`` entry (SB3: 0.0).
        init: ``"orthogonal"`` (default) or ``"default"``.
        gain: orthogonal gain of the mean layer (0.01).
    """

    def __init__(
        self,
        in_dim: int,
        action_dim: int,
        log_std_init: float = 0.0,
        init: str = "orthogonal",
        gain: float = 0.01,
    ) -> None:
        super().__init__()
        self.linear = _linear(in_dim, action_dim, init, gain, "DiagGaussianHead")
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))
        self._p = parameter_dict(self.linear)
        self._own = parameter_dict(self)

    def forward(self, features: torch.Tensor) -> DiagGaussian:
        """Features ``[*batch, in_dim]`` to a distribution over actions ``[*batch, action_dim]``."""
        return DiagGaussian(F.linear(features, self._p["weight"], self._p["bias"]), self._own["log_std"])


class TanhGaussianHead(nn.Module):
    """A tanh-squashed Gaussian with state-dependent mean and clamped ``log_std`` (SAC, Haarnoja et al. 2018).

    One linear layer outputs ``2 * action_dim`` values, the mean and the log-std: the same function class and
    initial distribution as SB3's two separate layers, in one matrix product. ``log_std`` is clamped to
    ``[log_std_min, log_std_max]`` (SB3: ``[-20, 2]``). Actions lie in ``(-1, 1)``; map them to the env's
    bounds with :func:`scale_action`.

    Args:
        in_dim: size of the features.
        action_dim: number of action dimensions.
        log_std_min: lower clamp of ``log_std``.
        log_std_max: upper clamp of ``log_std``.
        init: ``"default"`` (PyTorch's init, as SB3) or ``"orthogonal"``.
        gain: orthogonal gain, used with ``init="orthogonal"``.
    """

    def __init__(
        self,
        in_dim: int,
        action_dim: int,
        log_std_min: float = -20.0,
        log_std_max: float = 2.0,
        init: str = "default",
        gain: float = 0.01,
    ) -> None:
        super().__init__()
        if not log_std_min < log_std_max:
            raise ValueError(f"TanhGaussianHead: log_std_min {log_std_min} must be below log_std_max {log_std_max}")
        self.linear = _linear(in_dim, 2 * action_dim, init, gain, "TanhGaussianHead")
        self.action_dim = action_dim
        self.log_std_min = float(log_std_min)
        self.log_std_max = float(log_std_max)
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor) -> TanhGaussian:
        """Features ``[*batch, in_dim]`` to a distribution over actions ``[*batch, action_dim]`` in (-1,1)."""
        mean, log_std = F.linear(features, self._p["weight"], self._p["bias"]).chunk(2, dim=-1)
        return TanhGaussian(mean, log_std.clamp(self.log_std_min, self.log_std_max))


class DeterministicHead(nn.Module):
    """A deterministic action ``tanh(W x + b)`` ``[*batch, action_dim]`` in ``(-1, 1)`` (DDPG, TD3).

    Args:
        in_dim: size of the features.
        action_dim: number of action dimensions.
        init: ``"default"`` (PyTorch's init, as SB3) or ``"orthogonal"``.
        gain: orthogonal gain, used with ``init="orthogonal"``.
    """

    def __init__(self, in_dim: int, action_dim: int, init: str = "default", gain: float = 0.01) -> None:
        super().__init__()
        self.linear = _linear(in_dim, action_dim, init, gain, "DeterministicHead")
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``[*batch, in_dim]`` to actions ``[*batch, action_dim]``."""
        return torch.tanh(F.linear(features, self._p["weight"], self._p["bias"]))


class ValueHead(nn.Module):
    """A state value ``V(s)`` ``[*batch]`` (the trailing size-1 dimension is squeezed).

    Args:
        in_dim: size of the features.
        init: ``"orthogonal"`` (default) or ``"default"``.
        gain: orthogonal gain (1.0).
    """

    def __init__(self, in_dim: int, init: str = "orthogonal", gain: float = 1.0) -> None:
        super().__init__()
        self.linear = _linear(in_dim, 1, init, gain, "ValueHead")
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``[*batch, in_dim]`` to values ``[*batch]``."""
        return F.linear(features, self._p["weight"], self._p["bias"]).squeeze(-1)


class QHead(nn.Module):
    """Action values ``Q(s, a)`` for every discrete action, ``[*batch, n_actions]`` (DQN).

    Args:
        in_dim: size of the features.
        n_actions: number of actions.
        init: ``"default"`` (PyTorch's init, as SB3) or ``"orthogonal"``.
        gain: orthogonal gain, used with ``init="orthogonal"``.
    """

    def __init__(self, in_dim: int, n_actions: int, init: str = "default", gain: float = 1.0) -> None:
        super().__init__()
        self.linear = _linear(in_dim, n_actions, init, gain, "QHead")
        self._p = parameter_dict(self.linear)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``[*batch, in_dim]`` to action values ``[*batch, n_actions]``."""
        return F.linear(features, self._p["weight"], self._p["bias"])


class DuelingQHead(nn.Module):
    """Dueling action values ``Q = V + A - mean_a A`` (Wang et al. 2016, "Dueling Network Architectures").

    This is equation 9 of the paper. Subtracting the mean advantage makes ``V`` and ``A`` identifiable (the
    mean of ``Q`` over actions equals ``V``) and is the variant the paper uses, more stable than the max.

    Args:
        in_dim: size of the features.
        n_actions: number of actions.
        hidden: hidden widths of each stream (the paper: one layer of 512 after the CNN); ``()`` makes each
            stream a single linear layer.
        activation: hidden activation of the streams.
    """

    def __init__(self, in_dim: int, n_actions: int, hidden: Sequence[int] = (), activation: str = "relu") -> None:
        super().__init__()
        self.value = MLP(in_dim, 1, hidden, activation)
        self.advantage = MLP(in_dim, n_actions, hidden, activation)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``[*batch, in_dim]`` to action values ``[*batch, n_actions]``."""
        advantage = self.advantage(features)
        return self.value(features) + advantage - advantage.mean(dim=-1, keepdim=True)


def scale_action(action: ArrayOrTensor, low: ArrayOrTensor, high: ArrayOrTensor) -> ArrayOrTensor:
    """Map actions from ``[-1, 1]`` to ``[low, high]``: ``low + (action + 1) (high - low) / 2``.

    Works on NumPy arrays and torch tensors alike (``low``/``high`` of the same kind, broadcastable). Use it
    on the output of a :class:`TanhGaussianHead` or :class:`DeterministicHead` before stepping the env; store
    the ``[-1, 1]`` action (or :func:`unscale_action` the stored one) for the update.
    """
    return low + (action + 1.0) * 0.5 * (high - low)


def unscale_action(action: ArrayOrTensor, low: ArrayOrTensor, high: ArrayOrTensor) -> ArrayOrTensor:
    """Map actions from ``[low, high]`` back to ``[-1, 1]``: the inverse of :func:`scale_action`."""
    return 2.0 * (action - low) / (high - low) - 1.0


def normalization_bounds(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(low', span')`` such that ``2 (a - low') / span' - 1`` maps env actions in ``[low, high]`` to ``[-1, 1]``.

    Equal to ``(low, high - low)`` (:func:`unscale_action`'s map, the same numbers) except where ``low == high``:
    that entry holds one action, which maps to 0 instead of the ``0 / 0 = NaN`` of the plain formula.

    Example:
        >>> low, span = normalization_bounds(np.array([-1.0, 2.0]), np.array([3.0, 2.0]))
        >>> 2.0 * (np.array([1.0, 2.0]) - low) / span - 1.0
        array([0., 0.])
    """
    fixed = high == low
    return low - fixed, np.where(fixed, 2.0, high - low)


def as_action_dtype(action: np.ndarray, dtype: Any) -> np.ndarray:
    """Continuous actions (already within the bounds) as the action space's ``dtype``.

    An integer ``Box`` gets the nearest integer: a plain cast would truncate toward zero, giving the value 0 twice
    the share of the others and reaching the bounds only when the action sits exactly on them.

    Example:
        >>> as_action_dtype(np.array([2.7, -2.7, 0.4]), np.int64)
        array([ 3, -3,  0])
    """
    if np.issubdtype(dtype, np.integer):
        action = np.rint(action)
    return action.astype(dtype, copy=False)
