"""Returns and advantages over a time-major batch ``[T, B]``: discounted, n-step, λ-returns, GAE.

Glossary (shared by every function here):
    ``reward[t]``: the reward of the transition ``obs[t] -> next_obs[t]``.
    ``value[t]``: ``V(obs[t])``.
    ``next_value[t]``: ``V(next_obs[t])``, the value of the TRUE successor (the final observation where an
        episode ended, never the reset observation). It must be valid where ``truncated``.
    ``terminated[t]``: the MDP ended at ``t``; the value of ``next_obs[t]`` is zero: no bootstrap.
    ``truncated[t]``: the episode was cut at ``t`` (time limit); bootstrap from ``next_value[t]``.
    ``episode_end = terminated | truncated``: the trace stops there; row ``t + 1`` is a new episode.
    Batch end: row ``T - 1`` is followed by nothing in the batch, so every estimator bootstraps from
        ``next_value[T - 1]`` there, as at a truncation (times ``1 - terminated``).

All functions accept NumPy arrays or torch tensors (not mixed) and return the same kind, in the promoted
floating dtype of the real-valued inputs. Masks may be bool or 0/1. Under torch they are differentiable;
compute targets under ``torch.no_grad()`` (or from detached inputs) when they must be constants.
"""

from __future__ import annotations

import numbers

from porcini.functional._backend import (
    Array,
    as_array,
    backend_of,
    backward_scan,
    check_unit,
    cut_mask,
    prepare_time_major,
)

__all__ = ["discounted_returns", "n_step_targets", "lambda_returns", "gae", "normalize_advantage"]


def discounted_returns(
    reward: Array, next_value: Array, terminated: Array, truncated: Array, gamma: float
) -> Array:
    r"""Discounted return of every step, bootstrapped where the batch cannot see the episode's end.

    Equation (backwards in ``t``, with ``cut_t = episode_end_t or t = T - 1``):

    .. math::
        G_t = r_t + \gamma (1 - \mathrm{terminated}_t)
              \begin{cases} V(s'_t) & \text{if } \mathrm{cut}_t \\ G_{t+1} & \text{otherwise} \end{cases}

    i.e. :math:`G_t = \sum_{k=t}^{e} \gamma^{k-t} r_k + \gamma^{e-t+1} (1 - \mathrm{terminated}_e) V(s'_e)`
    with ``e`` the first cut at or after ``t``. Monte-Carlo return (Sutton & Barto 2018, eq. 3.8) when every
    episode ends by termination inside the batch.

    Args:
        reward: ``[T, B]`` rewards.
        next_value: ``[T, B]`` values of the true next observations (used at truncations and at
            row ``T - 1``).
        terminated: ``[T, B]`` bool; no bootstrap.
        truncated: ``[T, B]`` bool; bootstrap from ``next_value``.
        gamma: discount in [0, 1].

    Returns:
        ``[T, B]`` returns ``G``.

    Raises:
        ValueError: a shape differs from ``reward``'s (the message names the argument), or ``gamma`` is
            outside [0, 1].

    Edge cases: where ``terminated`` and ``truncated`` are both set, termination wins (no bootstrap). An
    empty batch (``T = 0``) gives an empty result.
    """
    func = "discounted_returns"
    check_unit(func, "gamma", gamma)
    be, (reward, next_value), (terminated, truncated) = prepare_time_major(
        func, {"reward": reward, "next_value": next_value}, {"terminated": terminated, "truncated": truncated}
    )
    discount = gamma * (1.0 - terminated)
    cut = cut_mask(be, terminated, truncated)
    return backward_scan(be, reward + discount * cut * next_value, discount * (1.0 - cut))


def n_step_targets(
    reward: Array, next_value: Array, terminated: Array, truncated: Array, gamma: float, n: int
) -> Array:
    r"""n-step TD targets, with the window shortened where the episode or the batch ends first.

    Equation (Sutton & Barto 2018, eq. 7.1), with ``m = min(n, e - t + 1)`` and ``e`` the first cut
    (``episode_end`` or row ``T - 1``) at or after ``t``:

    .. math::
        G^{(n)}_t = \sum_{k=0}^{m-1} \gamma^k r_{t+k}
                    + \gamma^m (1 - \mathrm{terminated}_{t+m-1}) V(s'_{t+m-1})

    ``n = 1`` is the one-step TD target ``r_t + γ (1 - terminated_t) V(s'_t)``; ``n >= T`` gives
    :func:`discounted_returns`.

    Args:
        reward: ``[T, B]`` rewards.
        next_value: ``[T, B]`` values of the true next observations.
        terminated: ``[T, B]`` bool; no bootstrap.
        truncated: ``[T, B]`` bool; bootstrap from ``next_value`` and stop the window.
        gamma: discount in [0, 1].
        n: number of steps, >= 1.

    Returns:
        ``[T, B]`` targets.

    Raises:
        ValueError: a shape differs from ``reward``'s, ``gamma`` is outside [0, 1], or ``n < 1``.
    """
    func = "n_step_targets"
    check_unit(func, "gamma", gamma)
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{func}: n = {n!r} is invalid; pass an int >= 1")
    be, (reward, next_value), (terminated, truncated) = prepare_time_major(
        func, {"reward": reward, "next_value": next_value}, {"terminated": terminated, "truncated": truncated}
    )
    n_rows = reward.shape[0]
    discount = gamma * (1.0 - terminated)
    cut = cut_mask(be, terminated, truncated)

    def ahead(x: Array, k: int) -> Array:  # row t holds x[t + k]; rows past the end are zero (and unused)
        return be.concat([x[k:], be.xp.zeros_like(x[:k])])

    target = be.xp.zeros_like(reward)
    scale = be.xp.ones_like(reward)  # gamma^k while the window of row t is open, 0 once it closed
    for k in range(min(n, n_rows)):
        stop = ahead(cut, k) if k < n - 1 else be.xp.ones_like(cut)
        step_discount = ahead(discount, k)
        target = target + scale * (ahead(reward, k) + step_discount * stop * ahead(next_value, k))
        scale = scale * step_discount * (1.0 - stop)
    return target


def lambda_returns(
    reward: Array, next_value: Array, terminated: Array, truncated: Array, gamma: float, lambda_: float
) -> Array:
    r"""λ-returns (TD(λ) targets), bootstrapped at truncations and at the batch end.

    Recursive form (Sutton & Barto 2018, eq. 12.3 and §12.1; Watkins 1989), with ``cut_t = episode_end_t or
    t = T - 1``:

    .. math::
        G^\lambda_t = r_t + \gamma (1 - \mathrm{terminated}_t)
        \begin{cases} V(s'_t) & \text{if } \mathrm{cut}_t \\
                      (1 - \lambda) V(s'_t) + \lambda G^\lambda_{t+1} & \text{otherwise} \end{cases}

    Equivalently the λ-weighted average of the n-step returns up to the cut ``e``:
    :math:`G^\lambda_t = (1-\lambda) \sum_{n=1}^{N-1} \lambda^{n-1} G^{(n)}_t + \lambda^{N-1} G^{(N)}_t`,
    ``N = e - t + 1``. ``λ = 0`` is the one-step TD target, ``λ = 1`` is :func:`discounted_returns`.

    Args:
        reward: ``[T, B]`` rewards.
        next_value: ``[T, B]`` values of the true next observations.
        terminated: ``[T, B]`` bool; no bootstrap.
        truncated: ``[T, B]`` bool; bootstrap from ``next_value``.
        gamma: discount in [0, 1].
        lambda_: trace decay in [0, 1].

    Returns:
        ``[T, B]`` λ-returns.

    Raises:
        ValueError: a shape differs from ``reward``'s, or ``gamma`` or ``lambda_`` is outside [0, 1].
    """
    func = "lambda_returns"
    check_unit(func, "gamma", gamma)
    check_unit(func, "lambda_", lambda_)
    be, (reward, next_value), (terminated, truncated) = prepare_time_major(
        func, {"reward": reward, "next_value": next_value}, {"terminated": terminated, "truncated": truncated}
    )
    discount = gamma * (1.0 - terminated)
    carry = lambda_ * (1.0 - cut_mask(be, terminated, truncated))  # weight on G_{t+1}; 0 at a cut
    return backward_scan(be, reward + discount * (1.0 - carry) * next_value, discount * carry)


def gae(
    reward: Array,
    value: Array,
    next_value: Array,
    terminated: Array,
    episode_end: Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[Array, Array]:
    r"""Generalized Advantage Estimation, GAE(γ, λ) (Schulman et al. 2016, arXiv:1506.02438, §3).

    .. math::
        \delta_t = r_t + \gamma (1 - \mathrm{terminated}_t) V(s'_t) - V(s_t), \qquad
        A_t = \delta_t + \gamma \lambda (1 - \mathrm{episode\_end}_t) A_{t+1}, \qquad A_T = 0

    and ``returns = A + value`` (the λ-return, the value-function target of PPO/A2C). A truncated step keeps
    its bootstrap ``V(s'_t)`` in ``δ_t`` but stops the trace; a terminated step has no bootstrap. The last row
    needs no special case: its ``δ`` already bootstraps from ``next_value[T - 1]``.

    Args:
        reward: ``[T, B]`` rewards.
        value: ``[T, B]`` values ``V(obs[t])``.
        next_value: ``[T, B]`` values of the true next observations ``V(next_obs[t])``.
        terminated: ``[T, B]`` bool; no bootstrap.
        episode_end: ``[T, B]`` bool, ``terminated | truncated``; the trace stops. A step that is terminated
            but not marked in ``episode_end`` is treated as an end too.
        gamma: discount in [0, 1].
        gae_lambda: λ in [0, 1]; 0 gives the one-step TD error, 1 the Monte-Carlo advantage.

    Returns:
        ``(advantage, returns)``, both ``[T, B]``.

    Raises:
        ValueError: a shape differs from ``reward``'s, or ``gamma`` or ``gae_lambda`` is outside [0, 1].
    """
    func = "gae"
    check_unit(func, "gamma", gamma)
    check_unit(func, "gae_lambda", gae_lambda)
    be, (reward, value, next_value), (terminated, episode_end) = prepare_time_major(
        func,
        {"reward": reward, "value": value, "next_value": next_value},
        {"terminated": terminated, "episode_end": episode_end},
    )
    delta = reward + gamma * (1.0 - terminated) * next_value - value
    keep = 1.0 - be.xp.maximum(terminated, episode_end)
    advantage = backward_scan(be, delta, (gamma * gae_lambda) * keep)
    return advantage, advantage + value


def normalize_advantage(advantage: Array, eps: float = 1e-8) -> Array:
    r"""Standardize advantages over all elements: :math:`(A - \bar A) / (\mathrm{std}(A) + \epsilon)`.

    The standard deviation is the unbiased one (``ddof = 1``), as in Stable-Baselines3 and CleanRL, which
    apply this per minibatch in PPO. It keeps the policy-gradient scale independent of the reward scale.

    Args:
        advantage: array of any shape (NumPy or torch).
        eps: added to the standard deviation so a constant input gives zeros, not NaN.

    Returns:
        The standardized array, same shape and kind. With fewer than two elements (no spread to estimate), the
        result is ``advantage - mean`` (zeros).
    """
    be = backend_of("normalize_advantage", {"advantage": advantage})
    advantage = as_array(be, advantage)
    if be.torch:
        if not advantage.dtype.is_floating_point:
            advantage = advantage.to(be.xp.get_default_dtype())
        centered = advantage - advantage.mean()
        return centered if advantage.numel() < 2 else centered / (advantage.std() + eps)
    advantage = be.cast(advantage, be.float_dtype([advantage]))
    centered = advantage - advantage.mean()
    return centered if advantage.size < 2 else centered / (advantage.std(ddof=1) + eps)
