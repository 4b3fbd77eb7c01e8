"""Losses of the offline agents (IQL, CQL, discrete CQL), as named terms like :mod:`porcini.functional.losses`.

Each function returns ``dict[str, torch.Tensor]`` of scalar tensors (except :func:`advantage_weights`, a tensor of
weights), detaches the inputs that play the role of constants, and calls nothing that waits for the device.

- IQL (Kostrikov, Nair & Levine 2021, arXiv:2110.06169): :func:`expectile_loss` fits ``V(s)`` to an upper
  expectile of ``Q(s, a)`` over the data's actions; :func:`advantage_weights` and
  :func:`advantage_weighted_actor_loss` extract the policy by advantage-weighted regression.
- CQL (Kumar, Zhou, Tucker & Levine 2020, arXiv:2006.04779): :func:`cql_penalty` is CQL(H)'s regularizer
  ``log Σ_a exp Q(s, a) - Q(s, a_data)`` with the log-sum-exp over continuous actions estimated by importance
  sampling; :func:`discrete_cql_penalty` computes it exactly over a discrete action set;
  :func:`cql_alpha_loss` tunes its weight by dual gradient descent on a target gap (the paper's Lagrange
  version).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "advantage_weighted_actor_loss",
    "advantage_weights",
    "cql_alpha_loss",
    "cql_penalty",
    "discrete_cql_penalty",
    "expectile_loss",
]


def _check(func: str, name: str, x: Tensor, shape: tuple[int, ...], like: str) -> None:
    if tuple(x.shape) != shape:
        raise ValueError(f"{func}: {name} has shape {tuple(x.shape)}, expected {shape} like {like}")


def expectile_loss(q: Tensor, value: Tensor, expectile: float) -> dict[str, Tensor]:
    r"""IQL's value loss: the asymmetric squared error of ``u = Q(s, a) - V(s)`` (Kostrikov et al. 2021, eq. 5).

    .. math::
        L = \mathrm{mean}\, |\tau - 1\{u < 0\}| \, u^2, \qquad u = Q(s, a) - V(s)

    Minimizing it over ``V`` makes ``V(s)`` the τ-expectile of ``Q(s, a)`` over the data's actions: the mean at
    ``τ = 0.5``, approaching the maximum as ``τ → 1``. ``q`` (the target critics' values) is detached.

    Args:
        q: ``S`` ``Q(s, a)`` at the data's actions (a constant here).
        value: ``S`` ``V(s)`` (with gradient).
        expectile: τ in (0, 1).

    Returns:
        ``{"loss_value"}``, a scalar tensor.

    Raises:
        ValueError: the shapes differ or τ is outside (0, 1).
    """
    _check("expectile_loss", "value", value, tuple(q.shape), "q")
    if not 0.0 < expectile < 1.0:
        raise ValueError(f"expectile_loss: expectile = {expectile!r} is invalid; pass a float in (0, 1)")
    u = q.detach() - value
    weight = (expectile - (u < 0).to(u.dtype)).abs()
    return {"loss_value": (weight * u.square()).mean()}


def advantage_weights(advantage: Tensor, temperature: float, max_weight: float = 100.0) -> Tensor:
    r"""IQL's policy-extraction weights :math:`\min(\exp(\beta A), w_{max})` (no gradient).

    Kostrikov et al. 2021, eq. 7 (advantage-weighted regression, Peng et al. 2019); the clip at ``w_max = 100``
    is the official implementation's and keeps one large advantage from dominating a minibatch.

    Args:
        advantage: ``S`` advantages ``Q(s, a) - V(s)`` at the data's actions (detached here).
        temperature: the inverse temperature β >= 0 (0: plain behaviour cloning).
        max_weight: the clip ``w_max > 0``.

    Returns:
        ``S`` weights.

    Raises:
        ValueError: β < 0 or ``max_weight`` <= 0.
    """
    if not temperature >= 0:
        raise ValueError(f"advantage_weights: temperature = {temperature!r} is invalid; pass a float >= 0")
    if not max_weight > 0:
        raise ValueError(f"advantage_weights: max_weight = {max_weight!r} is invalid; pass a float > 0")
    # exp of the clipped exponent: the same value as clipping exp, without overflowing to inf first
    return torch.exp((temperature * advantage.detach()).clamp(max=math.log(max_weight)))


def advantage_weighted_actor_loss(log_prob: Tensor, advantage: Tensor, temperature: float,
                                  max_weight: float = 100.0) -> dict[str, Tensor]:
    r"""IQL's actor loss :math:`L = -\mathrm{mean}\, \min(\exp(\beta A), w_{max}) \log\pi(a|s)` at the data's actions.

    Args:
        log_prob: ``S`` ``log π(a|s)`` of the data's actions (with gradient).
        advantage: ``S`` advantages (detached here; see :func:`advantage_weights`).
        temperature: the inverse temperature β >= 0.
        max_weight: the clip of the weights.

    Returns:
        ``{"loss_actor"}``, a scalar tensor.

    Raises:
        ValueError: the shapes differ, or a bad β or ``max_weight``.
    """
    _check("advantage_weighted_actor_loss", "advantage", advantage, tuple(log_prob.shape), "log_prob")
    return {"loss_actor": -(advantage_weights(advantage, temperature, max_weight) * log_prob).mean()}


def cql_penalty(q_sampled: Tensor, log_density: Tensor, q_data: Tensor) -> dict[str, Tensor]:
    r"""CQL(H)'s regularizer with an importance-sampled log-sum-exp (Kumar et al. 2020, eq. 4 and appendix F).

    .. math::
        \log \int e^{Q(s, a)} da \approx \log \frac{1}{M} \sum_{j=1}^{M} \frac{e^{Q(s, a_j)}}{\mu(a_j|s)},
        \qquad L = \mathrm{mean}_s \Big( \log \frac{1}{M} \sum_j e^{Q(s, a_j) - \log\mu(a_j|s)} - Q(s, a_{data}) \Big)

    The actions ``a_j`` are drawn from proposals ``μ`` (uniform over the action box and the current policy);
    minimizing ``L`` pushes ``Q`` down where the proposals reach and up at the data's actions. ``log_density``
    is detached. With several critics (a leading ``E`` dimension) the mean runs over critics too.

    Args:
        q_sampled: ``[*S, M]`` ``Q(s, a_j)`` at ``M`` sampled actions per state (with gradient); ``S`` may start
            with the critic ensemble's ``E``.
        log_density: ``[*S', M]`` ``log μ(a_j|s)`` of each sample under its proposal, broadcastable to
            ``q_sampled`` (e.g. ``[N, M]`` for ``[E, N, M]`` values).
        q_data: ``S`` ``Q(s, a)`` at the data's actions (with gradient).

    Returns:
        ``{"loss_cql"}``, a scalar tensor.

    Raises:
        ValueError: ``q_data`` is not ``q_sampled``'s shape without the last dimension, or ``log_density`` does
            not broadcast to ``q_sampled``.
    """
    _check("cql_penalty", "q_data", q_data, tuple(q_sampled.shape[:-1]), "q_sampled without its sample dimension")
    try:
        weighted = q_sampled - log_density.detach()
    except RuntimeError as exc:
        raise ValueError(f"cql_penalty: log_density has shape {tuple(log_density.shape)}, which does not "
                         f"broadcast to q_sampled's {tuple(q_sampled.shape)}") from exc
    if tuple(weighted.shape) != tuple(q_sampled.shape):
        raise ValueError(f"cql_penalty: log_density has shape {tuple(log_density.shape)}, which does not "
                         f"broadcast to q_sampled's {tuple(q_sampled.shape)}")
    log_mean_exp = torch.logsumexp(weighted, dim=-1) - math.log(q_sampled.shape[-1])
    return {"loss_cql": (log_mean_exp - q_data).mean()}


def discrete_cql_penalty(q_values: Tensor, action: Tensor) -> dict[str, Tensor]:
    r"""CQL(H)'s regularizer over a discrete action set, computed exactly.

    .. math::
        L = \mathrm{mean}_s \Big( \log \sum_a e^{Q(s, a)} - Q(s, a_{data}) \Big)

    Kumar et al. 2020, eq. 4, with ``Q(s, ·)`` of a Q-network over all actions (the paper's discrete-action CQL).

    Args:
        q_values: ``S + [A]`` ``Q(s, ·)`` (with gradient).
        action: ``S`` integer actions of the data.

    Returns:
        ``{"loss_cql"}``, a scalar tensor.

    Raises:
        ValueError: ``action`` is not ``q_values``'s shape without the last dimension.
    """
    _check("discrete_cql_penalty", "action", action, tuple(q_values.shape[:-1]),
           "q_values without its action dimension")
    q_data = q_values.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
    return {"loss_cql": (torch.logsumexp(q_values, dim=-1) - q_data).mean()}


def cql_alpha_loss(log_alpha: Tensor, penalty: Tensor, target_gap: float) -> dict[str, Tensor]:
    r"""Lagrange tuning of CQL's weight α' = exp(log α'): :math:`L = -\alpha' (\mathrm{penalty} - \tau)`.

    Kumar et al. 2020, eq. 30 (appendix F, "CQL-Lagrange"): α' grows while the penalty (:func:`cql_penalty`,
    detached here) exceeds the target gap τ and shrinks toward 0 otherwise, so the critics keep the gap between
    the log-sum-exp and the data's values near τ.

    Args:
        log_alpha: 0-d learnable ``log α'``.
        penalty: the penalty, a 0-d tensor (or one per critic, averaged).
        target_gap: τ.

    Returns:
        ``{"loss_cql_alpha"}``, a scalar tensor.
    """
    return {"loss_cql_alpha": -(log_alpha.exp() * (penalty.detach() - target_gap)).mean()}
