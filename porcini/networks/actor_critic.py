"""The on-policy agents' network: a policy and an optional separate value network, and the clipped-Gaussian score.

Continuous actions are sampled from a diagonal Gaussian and clipped to the action space's bounds; their
log-probability is that of the *clipped* Gaussian (:func:`clipped_gaussian_log_prob`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from porcini.errors import UnsupportedSpaceError
from porcini.networks.builders import make_trunk, parse_net_arch
from porcini.networks.distributions import HALF_LOG_2PI, DiagGaussian, PolicyDistribution
from porcini.networks.heads import (
    BernoulliHead,
    CategoricalHead,
    DiagGaussianHead,
    MultiCategoricalHead,
    ValueHead,
)
from porcini.networks.masking import mask_setup, split_action_mask


def clipped_gaussian_log_prob(dist: DiagGaussian, action: torch.Tensor, low: torch.Tensor,
                              high: torch.Tensor) -> torch.Tensor:
    r"""Log-probability ``[*batch]`` of actions ``clip(u, low, high)``, ``u ~ N(mean, std^2)`` (per dimension).

    .. math::
        \log \pi(a_i) = \begin{cases} \log \Phi(z_i) & a_i \le \mathrm{low}_i \\
                                      \log \Phi(-z_i) & a_i \ge \mathrm{high}_i \\
                                      -z_i^2/2 - \log\sigma_i - \log\sqrt{2\pi} & \text{otherwise}
                        \end{cases}, \qquad z_i = (a_i - \mu_i) / \sigma_i

    summed over dimensions: the clipped Gaussian puts the whole tail beyond a bound on the bound (and all its mass
    on a dimension whose ``low_i = high_i``, which adds 0 and no gradient). Fujita & Maeda
    2018 (ICML, "Clipped Action Policy Gradient") show the score of this distribution is an unbiased policy
    gradient with lower variance than the unclipped one. Infinite bounds never clip (plain Gaussian).

    Args:
        dist: the Gaussian before clipping.
        action: clipped actions ``[*batch, action_dim]``.
        low: lower bounds ``[action_dim]``.
        high: upper bounds ``[action_dim]``.
    """
    log_std = dist.log_std
    z = (action - dist.mean) * torch.exp(-log_std)
    density = -0.5 * z.square() - log_std - HALF_LOG_2PI
    at_low, at_high = action <= low, action >= high
    tail = torch.special.log_ndtr(torch.where(at_low, z, -z)).masked_fill(at_low & at_high, 0.0)
    return torch.where(at_low | at_high, tail, density).sum(dim=-1)


def float32_inside(bound: np.ndarray, up: bool) -> np.ndarray:
    """``bound`` as float32, rounded toward the inside of the box (``up`` for lower bounds) where float32 misses it.

    The policy's actions are float32 tensors clamped to these bounds; a float64 bound such as -0.3 rounded to the
    nearest float32 (-0.30000001) would let a clamped action out of the env's float64 box.
    """
    exact = np.asarray(bound, dtype=np.float64)
    rounded = exact.astype(np.float32)
    outside = rounded < exact if up else rounded > exact
    inward = np.nextafter(rounded, np.float32(np.inf if up else -np.inf))
    return np.where(outside, inward, rounded).astype(np.float32)


def policy_head(space: gym.Space, in_dim: int, init: str = "orthogonal", log_std_init: float = 0.0) -> nn.Module:
    """The policy head for an action space.

    ``Discrete`` gets a :class:`CategoricalHead`, ``Box`` a :class:`DiagGaussianHead`, ``MultiDiscrete`` a
    :class:`MultiCategoricalHead` and ``MultiBinary`` a :class:`BernoulliHead`.

    Args:
        space: the env's action space.
        in_dim: size of the features the head reads.
        init: ``"orthogonal"`` or ``"default"``.
        log_std_init: initial ``log_std`` of a Gaussian head.

    Raises:
        UnsupportedSpaceError: another space, or a multi-dimensional ``MultiDiscrete``/``MultiBinary``.
    """
    if isinstance(space, gym.spaces.Discrete):
        return CategoricalHead(in_dim, int(space.n), init=init)
    if isinstance(space, gym.spaces.Box):
        action_dim = int(np.prod(space.shape)) if space.shape else 1
        return DiagGaussianHead(in_dim, action_dim, log_std_init, init=init)
    if isinstance(space, (gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)) and len(space.shape) != 1:
        raise UnsupportedSpaceError(f"ActorCritic needs a one-dimensional {type(space).__name__} action space, not "
                                    f"{space} of shape {space.shape}; flatten the actions with an ActionWrapper")
    if isinstance(space, gym.spaces.MultiDiscrete):  # categories 0..n-1 per component: the agent adds ``start``
        return MultiCategoricalHead(in_dim, space.nvec.tolist(), init=init)
    if isinstance(space, gym.spaces.MultiBinary):
        return BernoulliHead(in_dim, int(space.shape[0]), init=init)
    raise UnsupportedSpaceError(
        f"ActorCritic needs a Discrete, Box, MultiDiscrete or MultiBinary action space, not {space}")


class ActorCritic(nn.Module):
    """A policy network and, optionally, a separate value network (SB3's ``MlpPolicy``, not shared).

    The policy is a trunk (:func:`porcini.networks.make_trunk`) with the head :func:`policy_head` picks: a
    :class:`CategoricalHead` for ``Discrete`` actions, a :class:`DiagGaussianHead` (state-independent ``log_std``)
    for ``Box`` actions, a :class:`MultiCategoricalHead` for ``MultiDiscrete`` and a :class:`BernoulliHead` for
    ``MultiBinary`` ones; the critic a trunk with a :class:`ValueHead`.
    ``ortho_init`` uses the PPO recipe: gain sqrt(2) in hidden layers, 0.01 on the policy output, 1 on the value
    output. A Dict observation with an ``"action_mask"`` entry for ``Discrete`` or ``MultiDiscrete`` actions (one
    block of flags per component) is encoded without the mask, and the mask sets the probability of illegal actions
    (component values) to 0 (:mod:`porcini.networks.masking`); with other action spaces the entry is refused.

    Args:
        observation_space: the env's observation space.
        action_space: the env's action space (``Discrete``, ``Box``, ``MultiDiscrete`` or ``MultiBinary``).
        net_arch: hidden widths, SB3 style: ``(64, 64)`` for both or ``{"pi": [...], "vf": [...]}``.
        activation: hidden activation.
        ortho_init: orthogonal initialization, else PyTorch's default.
        log_std_init: initial ``log_std`` of a Gaussian policy.
        with_value: build the value network (REINFORCE without baseline does not).
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, net_arch: Any = (64, 64),
                 activation: str = "tanh", ortho_init: bool = True, log_std_init: float = 0.0,
                 with_value: bool = True) -> None:
        super().__init__()
        arch = parse_net_arch(net_arch)
        init = "orthogonal" if ortho_init else "default"
        # the mask is applied to the logits, not encoded as a feature; MultiDiscrete: one block per component
        observation_space, self.masked, self.mask_nvec = mask_setup(observation_space, action_space)
        self.pi_trunk = make_trunk(observation_space, arch.pi, activation, init)
        pi_dim = int(self.pi_trunk.out_dim)
        space = action_space
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.pi_head: nn.Module = policy_head(space, pi_dim, init, log_std_init)
        low, high = (space.low, space.high) if isinstance(space, gym.spaces.Box) else (np.zeros(1), np.zeros(1))
        low, high = low.reshape(-1), high.reshape(-1)  # the head's flat actions; see log_prob for other shapes
        # a Box of another shape than (d,): its actions are flattened to the head's [*batch, d] to be scored
        self.box_shape = tuple(space.shape) if isinstance(space, gym.spaces.Box) and len(space.shape) != 1 else None
        self.action_low: torch.Tensor
        self.action_high: torch.Tensor
        self.register_buffer("action_low", torch.as_tensor(float32_inside(low, up=True)), persistent=False)
        self.register_buffer("action_high", torch.as_tensor(float32_inside(high, up=False)), persistent=False)
        self.clips = isinstance(space, gym.spaces.Box) and bool(np.isfinite(low).any() or np.isfinite(high).any())
        self.vf_trunk: nn.Module | None = None
        self.v_head: nn.Module | None = None
        if with_value:
            self.vf_trunk = make_trunk(observation_space, arch.vf, activation, init)
            self.v_head = ValueHead(int(self.vf_trunk.out_dim), init)

    def policy(self, obs: Any) -> PolicyDistribution:
        """The action distribution at ``obs`` ``[*batch, *obs_shape]`` (illegal actions at probability 0 if masked)."""
        if self.masked:
            features, legal = split_action_mask(obs, self.mask_nvec)
            return self.pi_head(self.pi_trunk(features), legal)
        return self.pi_head(self.pi_trunk(obs))

    def value(self, obs: Any) -> torch.Tensor:
        """State values ``[*batch]``."""
        if self.masked:
            obs = split_action_mask(obs)[0]
        return self.v_head(self.vf_trunk(obs))  # type: ignore[misc]

    def log_prob(self, dist: PolicyDistribution, action: torch.Tensor) -> torch.Tensor:
        """Log-probability ``[*batch]`` of actions as the env received them (clipped, for bounded ``Box``)."""
        if self.box_shape is not None:
            action = action.reshape(*action.shape[:action.dim() - len(self.box_shape)], -1)
        if self.clips:
            return clipped_gaussian_log_prob(dist, action, self.action_low, self.action_high)  # type: ignore[arg-type]
        return dist.log_prob(action)

    def actor_parameters(self) -> list[nn.Parameter]:
        """Parameters of the policy only (TRPO steps them apart from the critic's)."""
        return [*self.pi_trunk.parameters(), *self.pi_head.parameters()]

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters of the value network only."""
        if self.vf_trunk is None or self.v_head is None:
            return []
        return [*self.vf_trunk.parameters(), *self.v_head.parameters()]
