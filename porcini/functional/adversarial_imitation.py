"""Losses and rewards of adversarial imitation: GAIL's discriminator and the rewards read from it.

A discriminator ``D(s, a) = σ(ℓ(s, a))`` tells the expert's state-action pairs (label 1) from the learner's (label
0); its logit ``ℓ`` is the input of everything here. GAIL (Ho & Ermon 2016, arXiv:1606.03476) rewards the learner
with ``-log(1 - D(s, a)) = softplus(ℓ)``, large where the learner looks like the expert; AIRL (Fu, Luo & Levine 2018)
uses ``log D - log(1 - D) = ℓ`` itself.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def discriminator_loss(expert_logits: Tensor, policy_logits: Tensor, label_smoothing: float = 0.0) -> dict[str, Tensor]:
    r"""Binary cross-entropy of the discriminator: expert pairs labelled 1, the learner's 0.

    .. math::
        L = -\tfrac12 \Big( \mathrm{mean}_E \big[(1 - \epsilon) \log D + \epsilon \log(1 - D)\big]
              + \mathrm{mean}_\pi \big[(1 - \epsilon) \log (1 - D) + \epsilon \log D\big] \Big)

    with ``ε = label_smoothing`` (both labels smoothed: expert ``1 - ε``, policy ``ε``; 0: the plain loss), the
    two halves weighted equally whatever their sizes.

    Args:
        expert_logits: ``[N]`` logits ``ℓ`` on expert pairs.
        policy_logits: ``[M]`` logits on the learner's pairs.
        label_smoothing: ``ε`` in ``[0, 0.5)``.

    Returns:
        ``loss_discriminator`` (with gradient), ``expert_accuracy`` and ``policy_accuracy`` (the shares classified
        right at ``D = 1/2``, no gradient).
    """
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing = {label_smoothing} is invalid: must be in [0, 0.5)")
    expert_target = torch.full_like(expert_logits, 1.0 - label_smoothing)
    policy_target = torch.full_like(policy_logits, label_smoothing)
    loss = 0.5 * (F.binary_cross_entropy_with_logits(expert_logits, expert_target)
                  + F.binary_cross_entropy_with_logits(policy_logits, policy_target))
    with torch.no_grad():
        expert_accuracy = (expert_logits > 0).float().mean()
        policy_accuracy = (policy_logits < 0).float().mean()
    return {"loss_discriminator": loss, "expert_accuracy": expert_accuracy, "policy_accuracy": policy_accuracy}


def gradient_penalty(logits_of: Callable[[Tensor], Tensor], expert_inputs: Tensor, policy_inputs: Tensor,
                     mix: Tensor, columns: slice = slice(None)) -> Tensor:
    r"""``mean (‖∇_x ℓ(x)‖ - 1)²`` at points ``x = m x_E + (1 - m) x_π`` between expert and learner inputs.

    The penalty of WGAN-GP (Gulrajani et al. 2017), used on GAIL's discriminator to keep it smooth, so its reward
    does not saturate.

    Args:
        logits_of: the discriminator, ``[N, d]`` inputs to ``[N]`` logits.
        expert_inputs: ``[N, d]`` expert pairs as the discriminator takes them.
        policy_inputs: ``[N, d]`` the learner's.
        mix: ``[N, 1]`` interpolation weights in ``[0, 1]`` (drawn uniformly by the caller).
        columns: the input columns whose gradient the norm takes (default all): the discriminator's features,
            not columns it reads without learning from them (AIRL's ``log π``, whose gradient is always -1).
    """
    points = (mix * expert_inputs + (1.0 - mix) * policy_inputs).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(logits_of(points).sum(), points, create_graph=True)
    return (grad[:, columns].norm(dim=-1) - 1.0).pow(2).mean()


def gail_reward(logits: Tensor) -> Tensor:
    """GAIL's reward ``-log(1 - D) = softplus(ℓ)`` (≥ 0), computed stably from the logits."""
    return F.softplus(logits)


def airl_reward(logits: Tensor) -> Tensor:
    """AIRL's reward ``log D - log(1 - D) = ℓ``, the logit itself."""
    return logits


def airl_logits(reward: Tensor, potential: Tensor, next_potential: Tensor, terminated: Tensor, log_pi: Tensor,
                gamma: float) -> Tensor:
    r"""The logit of AIRL's discriminator, ``f(s, a, s') - log π(a | s)``.

    .. math::
        f = g(s) + \gamma\,(1 - d)\,h(s') - h(s), \qquad D = \frac{e^{f}}{e^{f} + \pi(a \mid s)}
        \;\Rightarrow\; \log \frac{D}{1 - D} = f - \log \pi(a \mid s)

    ``d`` is ``terminated`` only: a terminal successor has potential 0, a truncated one keeps ``h(s')``.

    Args:
        reward: ``g`` ``[N]``.
        potential: ``h(s)`` ``[N]``.
        next_potential: ``h(s')`` ``[N]``.
        terminated: ``[N]`` 1.0 where ``s'`` is terminal.
        log_pi: ``log π(a | s)`` ``[N]`` under the learner's current policy.
        gamma: the learner's discount.
    """
    return reward + gamma * (1.0 - terminated) * next_potential - potential - log_pi
