"""Losses as named terms: each function returns ``dict[str, torch.Tensor]`` of scalar tensors.

The agent sums the terms it optimizes (``loss_policy + vf_coef * loss_value + ent_coef * loss_entropy``) and
decides when to turn diagnostics into floats: nothing here calls ``.item()`` or waits for the device.
Diagnostics (``approx_kl``, ``clip_fraction``) are computed without gradient.

Inputs that play the role of constants — advantages, returns, TD targets, old log-probabilities, the SAC
temperature in the actor loss — are detached here, so a forgotten ``no_grad`` upstream cannot leak gradient
into them. Every loss is a mean over all elements; matching shapes are required (no silent broadcasting), and
a mismatch raises ValueError naming the argument.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ppo_clip_loss",
    "value_loss",
    "policy_gradient_loss",
    "entropy_loss",
    "td_loss",
    "sac_actor_loss",
    "sac_discrete_actor_loss",
    "sac_alpha_loss",
    "deterministic_actor_loss",
]


def _same_shape(func: str, first: str, tensors: dict[str, Tensor]) -> None:
    shape = tuple(tensors[first].shape)
    for name, x in tensors.items():
        if tuple(x.shape) != shape:
            raise ValueError(f"{func}: {name} has shape {tuple(x.shape)}, expected {shape} like {first}")


def ppo_clip_loss(
    log_prob: Tensor, old_log_prob: Tensor, advantage: Tensor, clip_range: float
) -> dict[str, Tensor]:
    r"""PPO's clipped surrogate objective, negated for minimization (Schulman et al. 2017, arXiv:1707.06347).

    .. math::
        r = \exp(\log\pi - \log\pi_{old}), \qquad
        L = -\mathrm{mean}\big(\min(r A, \mathrm{clip}(r, 1 - \epsilon, 1 + \epsilon) A)\big)

    Diagnostics: ``approx_kl = mean((r - 1) - log r)``, the unbiased, always non-negative estimator of
    KL(π_old || π) (Schulman 2020, "Approximating KL divergence"), used for early stopping on a target KL;
    ``clip_fraction = mean(|r - 1| > ε)``.

    Args:
        log_prob: ``[N]`` log-probabilities of the taken actions under the current policy (with gradient).
        old_log_prob: ``[N]`` the same under the policy that collected the data (detached here).
        advantage: ``[N]`` advantages (detached here; normalize them beforehand if wanted).
        clip_range: ε > 0 (a schedule passes the current value).

    Returns:
        ``{"loss_policy", "approx_kl", "clip_fraction"}``, scalar tensors.

    Raises:
        ValueError: the shapes differ, or ``clip_range`` is not > 0.
    """
    func = "ppo_clip_loss"
    tensors = {"log_prob": log_prob, "old_log_prob": old_log_prob, "advantage": advantage}
    _same_shape(func, "log_prob", tensors)
    if not clip_range > 0:
        raise ValueError(f"{func}: clip_range = {clip_range!r} is invalid; pass a float > 0 (e.g. 0.2)")
    advantage = advantage.detach()
    log_ratio = log_prob - old_log_prob.detach()
    ratio = log_ratio.exp()
    surrogate = ratio * advantage
    clipped = ratio.clamp(1.0 - clip_range, 1.0 + clip_range) * advantage
    loss = -torch.minimum(surrogate, clipped).mean()
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip_range).to(ratio.dtype).mean()
    return {"loss_policy": loss, "approx_kl": approx_kl, "clip_fraction": clip_fraction}


def value_loss(
    value: Tensor,
    returns: Tensor,
    old_value: Tensor | None = None,
    clip_range_vf: float | None = None,
) -> dict[str, Tensor]:
    r"""Squared error of the value function, optionally clipped around the old values as in PPO.

    .. math::
        L = \mathrm{mean}\,(V - R)^2, \qquad \text{or with clipping:} \quad
        V_c = V_{old} + \mathrm{clip}(V - V_{old}, -\epsilon_V, \epsilon_V), \quad
        L = \mathrm{mean}\,\max\big((V - R)^2, (V_c - R)^2\big)

    The clipped form is the pessimistic one of OpenAI Baselines' ``ppo2`` (the PPO paper does not clip
    values); Stable-Baselines3 uses ``(V_c - R)^2`` alone. No factor 1/2, so with SB3's ``vf_coef`` the
    scale matches SB3.

    Args:
        value: ``[N]`` predictions ``V(obs)`` (with gradient).
        returns: ``[N]`` targets, e.g. GAE returns (detached here).
        old_value: ``[N]`` predictions of the data-collecting critic; required with ``clip_range_vf``.
        clip_range_vf: ε_V > 0, or None for no clipping. It depends on the reward scale.

    Returns:
        ``{"loss_value"}``, a scalar tensor.

    Raises:
        ValueError: the shapes differ, or ``clip_range_vf`` is given without ``old_value``.
    """
    func = "value_loss"
    tensors = {"value": value, "returns": returns}
    if old_value is not None:
        tensors["old_value"] = old_value
    _same_shape(func, "value", tensors)
    returns = returns.detach()
    loss = (value - returns).square()
    if clip_range_vf is not None:
        if old_value is None:
            raise ValueError(f"{func}: clip_range_vf = {clip_range_vf!r} needs old_value; pass the values "
                             "predicted when the data was collected, or clip_range_vf=None")
        old_value = old_value.detach()
        clipped = old_value + (value - old_value).clamp(-clip_range_vf, clip_range_vf)
        loss = torch.maximum(loss, (clipped - returns).square())
    return {"loss_value": loss.mean()}


def policy_gradient_loss(log_prob: Tensor, advantage: Tensor) -> dict[str, Tensor]:
    r"""Score-function policy-gradient loss :math:`L = -\mathrm{mean}(\log\pi(a|s) \, A)`.

    REINFORCE (Williams 1992) with ``A`` the return (minus a baseline); A2C/A3C (Mnih et al. 2016) with ``A``
    an advantage estimate such as :func:`~porcini.functional.gae`.

    Args:
        log_prob: ``[N]`` log-probabilities of the taken actions (with gradient).
        advantage: ``[N]`` returns or advantages (detached here).

    Returns:
        ``{"loss_policy"}``, a scalar tensor.

    Raises:
        ValueError: the shapes differ.
    """
    _same_shape("policy_gradient_loss", "log_prob", {"log_prob": log_prob, "advantage": advantage})
    return {"loss_policy": -(log_prob * advantage.detach()).mean()}


def entropy_loss(entropy: Tensor) -> dict[str, Tensor]:
    r"""Entropy bonus as a loss, :math:`L = -\mathrm{mean}\,H(\pi(\cdot|s))`; add ``ent_coef * loss_entropy``.

    Args:
        entropy: ``[N]`` per-state entropies of the policy (with gradient).

    Returns:
        ``{"loss_entropy"}``, a scalar tensor (minimizing it raises the entropy).
    """
    return {"loss_entropy": -entropy.mean()}


def td_loss(
    q: Tensor,
    target: Tensor,
    kind: str = "huber",
    weights: Tensor | None = None,
    huber_delta: float = 1.0,
) -> dict[str, Tensor]:
    r"""Regression of action values onto TD targets: Huber (DQN, Mnih et al. 2015) or squared error.

    .. math::
        L = \mathrm{mean}\big(w \cdot \ell(Q - y)\big), \qquad
        \ell_{huber}(x) = \begin{cases} x^2/2 & |x| \le \delta \\
                                        \delta(|x| - \delta/2) & \text{else}\end{cases}, \quad
        \ell_{mse}(x) = x^2

    With ``q`` shaped ``[E, *S]`` (an ensemble of critics, e.g. SAC/TD3 twins evaluated as one batch) every
    critic regresses onto the same target and the mean runs over critics too. For two critics and ``mse`` this
    equals Stable-Baselines3's ``0.5 * sum_i mse(Q_i, y)``.

    Args:
        q: ``S`` predictions ``Q(s, a)`` (with gradient), or ``[E, *S]`` for an ensemble.
        target: ``S`` targets (detached here).
        kind: ``"huber"`` (smooth L1, robust to large errors) or ``"mse"``.
        weights: optional ``S`` per-sample weights, e.g. prioritized-replay importance weights (Schaul et al.
            2016); detached here.
        huber_delta: δ of the Huber loss.

    Returns:
        ``{"loss_td"}``, a scalar tensor. (Priorities for prioritized replay:
        ``(q - target).abs().detach()``.)

    Raises:
        ValueError: unknown ``kind``, or ``q``, ``target`` and ``weights`` shapes disagree.
    """
    func = "td_loss"
    if kind not in ("huber", "mse"):
        raise ValueError(f"{func}: kind = {kind!r} is invalid; pass 'huber' or 'mse'")
    shape = tuple(target.shape)
    if tuple(q.shape) != shape and tuple(q.shape[1:]) != shape:
        raise ValueError(f"{func}: q has shape {tuple(q.shape)}, expected {shape} like target, or "
                         f"[n_critics, *{shape}] for an ensemble")
    if weights is not None and tuple(weights.shape) != shape:
        raise ValueError(f"{func}: weights has shape {tuple(weights.shape)}, expected {shape} like target")
    target = target.detach().expand_as(q)
    if kind == "huber":
        per_sample = F.huber_loss(q, target, reduction="none", delta=huber_delta)
    else:
        per_sample = (q - target).square()
    if weights is not None:
        per_sample = per_sample * weights.detach()
    return {"loss_td": per_sample.mean()}


def sac_actor_loss(log_prob: Tensor, q_min: Tensor, alpha: float | Tensor) -> dict[str, Tensor]:
    r"""SAC policy loss :math:`L = \mathrm{mean}(\alpha \log\pi(\tilde a|s) - \min_i Q_i(s, \tilde a))`.

    Haarnoja et al. 2018 (arXiv:1812.05905, §4.2), with ``ã`` a reparameterized sample of the current policy,
    so the gradient flows through ``q_min`` into the actor. ``alpha`` is detached (it has its own loss,
    :func:`sac_alpha_loss`).

    Args:
        log_prob: ``[N]`` ``log π(ã|s)`` (with gradient).
        q_min: ``[N]`` minimum over critics of ``Q(s, ã)`` (with gradient through ``ã``).
        alpha: the entropy temperature, a float or a 0-d tensor.

    Returns:
        ``{"loss_actor"}``, a scalar tensor.

    Raises:
        ValueError: the shapes differ.
    """
    _same_shape("sac_actor_loss", "log_prob", {"log_prob": log_prob, "q_min": q_min})
    if isinstance(alpha, Tensor):
        alpha = alpha.detach()
    return {"loss_actor": (alpha * log_prob - q_min).mean()}


def sac_discrete_actor_loss(
    probs: Tensor, log_probs: Tensor, q_min: Tensor, alpha: float | Tensor
) -> dict[str, Tensor]:
    r"""Discrete SAC policy loss, the exact expectation over actions (Christodoulou 2019, arXiv:1910.07207).

    .. math::
        L = \mathrm{mean}_s \sum_a \pi(a|s) \big(\alpha \log\pi(a|s) - \min_i Q_i(s, a)\big)

    ``q_min`` is detached (the gradient flows through ``π`` only) and so is ``alpha``. The matching
    temperature loss is :func:`sac_alpha_loss` with ``log_prob = (probs * log_probs).sum(-1)`` (minus the
    entropy).

    Args:
        probs: ``[N, A]`` policy probabilities (with gradient).
        log_probs: ``[N, A]`` their logarithms from ``log_softmax`` (with gradient).
        q_min: ``[N, A]`` minimum over critics of ``Q(s, ·)``.
        alpha: the entropy temperature, a float or a 0-d tensor.

    Returns:
        ``{"loss_actor"}``, a scalar tensor.

    Raises:
        ValueError: the shapes differ.
    """
    _same_shape("sac_discrete_actor_loss", "probs", {"probs": probs, "log_probs": log_probs, "q_min": q_min})
    if isinstance(alpha, Tensor):
        alpha = alpha.detach()
    return {"loss_actor": (probs * (alpha * log_probs - q_min.detach())).sum(dim=-1).mean()}


def sac_alpha_loss(log_alpha: Tensor, log_prob: Tensor, target_entropy: float) -> dict[str, Tensor]:
    r"""Automatic entropy tuning: :math:`L = -\mathrm{mean}(\log\alpha \, (\log\pi(a|s) + \bar H))`.

    Haarnoja et al. 2018 (arXiv:1812.05905, §5), parameterized by ``log α`` as in Stable-Baselines3: the
    gradient has the sign of the paper's loss in α, and α stays positive. The loss lowers α while the
    policy's entropy ``-log π`` exceeds ``target_entropy`` (commonly ``-action_dim``) and raises it otherwise.

    Args:
        log_alpha: 0-d (or ``[1]``) learnable tensor ``log α``.
        log_prob: ``[N]`` log-probabilities of fresh policy samples (detached here).
        target_entropy: the entropy target ``H̄``.

    Returns:
        ``{"loss_alpha"}``, a scalar tensor.
    """
    return {"loss_alpha": -(log_alpha * (log_prob.detach() + target_entropy)).mean()}


def deterministic_actor_loss(q: Tensor) -> dict[str, Tensor]:
    r"""Deterministic policy-gradient actor loss :math:`L = -\mathrm{mean}\, Q(s, \mu(s))` (DDPG, TD3).

    Silver et al. 2014; Lillicrap et al. 2016 (DDPG); Fujimoto et al. 2018 (TD3 uses the first critic).

    Args:
        q: ``[N]`` critic values at the actor's actions (gradient flows through the action into the actor).

    Returns:
        ``{"loss_actor"}``, a scalar tensor.
    """
    return {"loss_actor": -q.mean()}
