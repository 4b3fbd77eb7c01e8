"""Off-policy corrected targets over a time-major batch ``[T, B]``: V-trace and Retrace.

The batch was collected by a behaviour policy ``μ``; the targets are for the learner's policy ``π``. Both take
the log importance ratio ``log_rho[t] = log π(action[t] | obs[t]) - log μ(action[t] | obs[t])`` (stable where
the probabilities are tiny) and clip the ratios to keep the variance bounded.

Conventions are those of :mod:`porcini.functional.returns`: ``next_value[t]`` (or ``next_expected_q[t]``)
belongs to the TRUE next observation and is used where the episode was truncated and at the batch end (row ``T
- 1``); ``terminated`` drops the bootstrap; the trace never crosses an ``episode_end = terminated |
truncated``. NumPy arrays or torch tensors in, the same kind out.
"""

from __future__ import annotations

from typing import NamedTuple

from porcini.functional._backend import (
    Array,
    backward_scan,
    check_positive,
    check_unit,
    cut_mask,
    prepare_time_major,
)

__all__ = ["VTraceOutput", "vtrace", "retrace"]


class VTraceOutput(NamedTuple):
    """The two results of :func:`vtrace`.

    Attributes:
        vs: ``[T, B]`` V-trace value targets ``v_s`` (regress ``V(obs[s])`` onto them).
        pg_advantage: ``[T, B]`` advantages for the policy gradient, ``ρ^pg_s (r_s + γ v_{s+1} - V(x_s))``.
    """

    vs: Array
    pg_advantage: Array


def _check_vtrace_scalars(gamma: float, lambda_: float, rho: float, c: float, pg_rho: float) -> None:
    check_unit("vtrace", "gamma", gamma)
    check_unit("vtrace", "lambda_", lambda_)
    for name, threshold in (("clip_rho_threshold", rho), ("clip_c_threshold", c), ("clip_pg_rho_threshold", pg_rho)):
        check_positive("vtrace", name, threshold)


def vtrace(reward: Array, value: Array, next_value: Array, log_rho: Array, terminated: Array, truncated: Array,
           gamma: float, *, lambda_: float = 1.0, clip_rho_threshold: float = 1.0, clip_c_threshold: float = 1.0,
           clip_pg_rho_threshold: float = 1.0) -> VTraceOutput:
    r"""V-trace targets and policy-gradient advantages (IMPALA, Espeholt et al. 2018, arXiv:1802.01561).

    With :math:`\rho_t = \min(\bar\rho, \pi_t/\mu_t)`, :math:`c_t = \lambda \min(\bar c, \pi_t/\mu_t)` and
    :math:`\gamma_t = \gamma (1 - \mathrm{terminated}_t)`:

    .. math::
        \delta_t V = \rho_t (r_t + \gamma_t V(s'_t) - V(s_t)), \qquad
        v_s = V(s_s) + \sum_{t=s}^{e} \gamma^{t-s} \Big(\prod_{i=s}^{t-1} c_i\Big) \delta_t V

    computed backwards as :math:`v_s - V(s_s) = \delta_s V + \gamma c_s (v_{s+1} - V(s_{s+1}))`, where ``e``
    is the first ``episode_end`` or row ``T - 1`` at or after ``s`` (the trace stops there; ``V(s'_e)`` is the
    bootstrap, zero when terminated). The policy-gradient advantage (paper §4.2) is

    .. math::
        A_s = \min(\bar\rho_{pg}, \pi_s/\mu_s) \, (r_s + \gamma_s \hat v_{s+1} - V(s_s)),

    with :math:`\hat v_{s+1} = v_{s+1}` inside the episode and ``V(s'_s)`` at a cut. On-policy
    (``log_rho = 0``) with ``λ = 1`` and thresholds >= 1, ``vs`` is the discounted return bootstrapped at the
    cut (:func:`~porcini.functional.discounted_returns`); with ``λ < 1`` it is the λ-return.

    Args:
        reward: ``[T, B]`` rewards.
        value: ``[T, B]`` ``V(obs[t])`` under the learner's critic.
        next_value: ``[T, B]`` ``V(next_obs[t])``; valid where truncated and at ``T - 1``.
        log_rho: ``[T, B]`` ``log π(a_t|s_t) - log μ(a_t|s_t)``.
        terminated: ``[T, B]`` bool; no bootstrap.
        truncated: ``[T, B]`` bool; bootstrap from ``next_value`` and stop the trace.
        gamma: discount in [0, 1].
        lambda_: extra trace decay in [0, 1] multiplying ``c`` (1 in the paper; < 1 as in rlax).
        clip_rho_threshold: :math:`\bar\rho` > 0 (``math.inf`` for no clipping); sets the fixed point.
        clip_c_threshold: :math:`\bar c` > 0; sets the contraction speed (paper: :math:`\bar c \le \bar\rho`).
        clip_pg_rho_threshold: clip of the ratio in the policy-gradient advantage.

    Returns:
        :class:`VTraceOutput` ``(vs, pg_advantage)``, each ``[T, B]``.

    Raises:
        ValueError: a shape differs from ``reward``'s, or a scalar argument is out of range.
    """
    func = "vtrace"
    _check_vtrace_scalars(gamma, lambda_, clip_rho_threshold, clip_c_threshold, clip_pg_rho_threshold)
    be, (reward, value, next_value, log_rho), (terminated, truncated) = prepare_time_major(
        func, {"reward": reward, "value": value, "next_value": next_value, "log_rho": log_rho},
        {"terminated": terminated, "truncated": truncated})
    rho = be.exp(log_rho)
    discount = gamma * (1.0 - terminated)
    cut = cut_mask(be, terminated, truncated)
    td = be.minimum(rho, clip_rho_threshold) * (reward + discount * next_value - value)
    trace = lambda_ * be.minimum(rho, clip_c_threshold)
    vs = value + backward_scan(be, td, discount * (1.0 - cut) * trace)
    # v_{s+1} inside the episode, the bootstrap V(s'_s) at a cut (row T - 1 is always a cut).
    vs_ahead = be.concat([vs[1:], next_value[-1:]])
    next_target = cut * next_value + (1.0 - cut) * vs_ahead
    pg_advantage = be.minimum(rho, clip_pg_rho_threshold) * (reward + discount * next_target - value)
    return VTraceOutput(vs, pg_advantage)


def retrace(
    reward: Array,
    q_taken: Array,
    next_expected_q: Array,
    log_rho: Array,
    terminated: Array,
    truncated: Array,
    gamma: float,
    *,
    lambda_: float = 1.0,
    clip_c_threshold: float = 1.0,
) -> Array:
    r"""Retrace(λ) targets for ``Q(obs[t], action[t])`` (Munos et al. 2016, arXiv:1606.02647).

    With :math:`c_t = \lambda \min(\bar c, \pi(a_t|s_t)/\mu(a_t|s_t))` and
    :math:`\gamma_t = \gamma (1 - \mathrm{terminated}_t)`:

    .. math::
        \delta_t = r_t + \gamma_t \, \mathbb{E}_{a \sim \pi} Q(s'_t, a) - Q(s_t, a_t), \qquad
        Q^{ret}_t = Q(s_t, a_t) + \sum_{u=t}^{e} \gamma^{u-t} \Big(\prod_{i=t+1}^{u} c_i\Big) \delta_u

    computed backwards as :math:`Q^{ret}_t = r_t + \gamma_t [\mathbb{E}_\pi Q(s'_t, \cdot) + c_{t+1}
    (Q^{ret}_{t+1} - Q(s_{t+1}, a_{t+1}))]`, the correction term dropped at the first cut ``e`` (an
    ``episode_end`` or row ``T - 1``). Note the trace coefficient of step ``t`` is the ratio of the NEXT
    action ``c_{t+1}``: the first action is not corrected, since ``Q(s_t, a_t)`` is conditioned on it. ``λ =
    0`` is the expected-SARSA target; ``log_rho = 0`` gives Q^π(λ) (Harutyunyan et al. 2016).

    Args:
        reward: ``[T, B]`` rewards.
        q_taken: ``[T, B]`` ``Q(obs[t], action[t])``.
        next_expected_q: ``[T, B]`` ``Σ_a π(a|next_obs[t]) Q(next_obs[t], a)``; valid where truncated and at
            ``T - 1``.
        log_rho: ``[T, B]`` ``log π(a_t|s_t) - log μ(a_t|s_t)``.
        terminated: ``[T, B]`` bool; no bootstrap.
        truncated: ``[T, B]`` bool; bootstrap from ``next_expected_q`` and stop the trace.
        gamma: discount in [0, 1].
        lambda_: trace decay in [0, 1].
        clip_c_threshold: clip of the trace ratio, 1 in the paper (``math.inf``: plain importance sampling).

    Returns:
        ``[T, B]`` targets ``Q^ret``.

    Raises:
        ValueError: a shape differs from ``reward``'s, or a scalar argument is out of range.
    """
    func = "retrace"
    check_unit(func, "gamma", gamma)
    check_unit(func, "lambda_", lambda_)
    check_positive(func, "clip_c_threshold", clip_c_threshold)
    be, (reward, q_taken, next_expected_q, log_rho), (terminated, truncated) = prepare_time_major(
        func,
        {"reward": reward, "q_taken": q_taken, "next_expected_q": next_expected_q, "log_rho": log_rho},
        {"terminated": terminated, "truncated": truncated},
    )
    trace = lambda_ * be.minimum(be.exp(log_rho), clip_c_threshold)
    trace_next = be.concat([trace[1:], be.xp.zeros_like(trace[:1])])  # c_{t+1}; unused at row T - 1 (a cut)
    discount = gamma * (1.0 - terminated)
    cut = cut_mask(be, terminated, truncated)
    delta = reward + discount * next_expected_q - q_taken
    return q_taken + backward_scan(be, delta, discount * (1.0 - cut) * trace_next)
