"""One-step TD targets from next-state action values: Q-learning, SARSA, Double Q, expected SARSA, soft (SAC).

Every function computes ``reward + gamma * (1 - terminated) * bootstrap`` for one batch of transitions.

Shapes: ``reward`` and ``terminated`` share any shape ``S`` — ``[N]`` for a replay sample, ``[T, B]`` for a
rollout. Per-action inputs (``next_q``, ``next_probs``) are ``S + [A]``. ``gamma`` is a float or an array
shaped ``S``: a per-sample discount, e.g. ``gamma ** k`` for an n-step transition of ``k`` steps, whose
``reward`` is the discounted sum of its ``k`` rewards and whose ``terminated`` says whether the window ended
by termination.

Only ``terminated`` is taken: a truncated transition is bootstrapped like any other (``next_obs`` is the true
successor), so truncation needs no argument here. NumPy arrays or torch tensors in, the same kind out. The
targets are differentiable under torch; compute them under ``torch.no_grad()`` (target networks) so the critic
regresses onto a constant.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from porcini.functional._backend import Array, Backend, as_array, backend_of, check_shape

__all__ = [
    "q_learning_target",
    "sarsa_target",
    "double_q_target",
    "expected_sarsa_target",
    "soft_q_target",
    "discrete_soft_value",
    "discrete_soft_q_target",
]


def _prepare(
    func: str,
    reward: Any,
    terminated: Any,
    gamma: Any,
    per_action: Mapping[str, Any],
    per_sample: Mapping[str, Any],
) -> tuple[Backend, Array, Array, Any, list[Array], list[Array]]:
    """Check shapes against ``reward`` (``S``) and cast; returns floats in one dtype, ``gamma`` included."""
    arrays: dict[str, Any] = {"reward": reward, "terminated": terminated, **per_action, **per_sample}
    if not isinstance(gamma, numbers.Real):
        arrays["gamma"] = gamma
    be = backend_of(func, arrays)
    reward, terminated = as_array(be, reward), as_array(be, terminated)
    shape = tuple(reward.shape)
    check_shape(func, "terminated", terminated, shape, "reward")
    acts = [as_array(be, a) for a in per_action.values()]
    for name, a in zip(per_action, acts):
        if a.ndim != len(shape) + 1 or tuple(a.shape[:-1]) != shape:
            raise ValueError(
                f"{func}: {name} has shape {tuple(a.shape)}, expected reward's shape {shape} + [n_actions]"
            )
    for name, a in zip(per_action, acts):
        check_shape(func, name, a, tuple(acts[0].shape), next(iter(per_action)))
    samples = [as_array(be, a) for a in per_sample.values()]
    for name, a in zip(per_sample, samples):
        check_shape(func, name, a, shape, "reward")
    if "gamma" in arrays:
        gamma = as_array(be, gamma)
        check_shape(func, "gamma", gamma, shape, "reward (or pass a float)")
    elif not 0.0 <= gamma <= 1.0:
        raise ValueError(
            f"{func}: gamma = {gamma!r} is invalid; pass a float in [0, 1] or a per-sample array"
        )
    floats = [reward, *acts, *samples] + ([gamma] if "gamma" in arrays else [])
    dtype = be.float_dtype(floats)
    if "gamma" in arrays:
        gamma = be.cast(gamma, dtype)
    acts = [be.cast(a, dtype) for a in acts]
    return be, be.cast(reward, dtype), be.cast(terminated, dtype), gamma, acts, samples


def q_learning_target(reward: Array, next_q: Array, terminated: Array, gamma: float | Array) -> Array:
    r"""Q-learning target :math:`r + \gamma (1 - \mathrm{terminated}) \max_a Q(s', a)`.

    Watkins 1989; DQN (Mnih et al. 2015) uses it with ``next_q`` from the target network.

    Args:
        reward: ``S`` rewards.
        next_q: ``S + [A]`` action values of the true next observation.
        terminated: ``S`` bool; no bootstrap.
        gamma: float in [0, 1] or an ``S``-shaped per-sample discount.

    Returns:
        ``S`` targets.

    Raises:
        ValueError: a shape does not match ``reward``'s (the message names the argument).
    """
    be, reward, terminated, gamma, (next_q,), _ = _prepare(
        "q_learning_target", reward, terminated, gamma, {"next_q": next_q}, {}
    )
    return reward + gamma * (1.0 - terminated) * be.max_last(next_q)


def sarsa_target(
    reward: Array, next_q: Array, next_action: Array, terminated: Array, gamma: float | Array
) -> Array:
    r"""SARSA target :math:`r + \gamma (1 - \mathrm{terminated}) Q(s', a')`, ``a'`` the next action taken.

    Rummery & Niranjan 1994; Sutton & Barto 2018, eq. 6.7.

    Args:
        reward: ``S`` rewards.
        next_q: ``S + [A]`` action values of the next observation.
        next_action: ``S`` integer actions chosen in the next observation.
        terminated: ``S`` bool; no bootstrap (``next_action`` is then ignored).
        gamma: float in [0, 1] or an ``S``-shaped per-sample discount.

    Returns:
        ``S`` targets.

    Raises:
        ValueError: a shape does not match ``reward``'s.
    """
    be, reward, terminated, gamma, (next_q,), (next_action,) = _prepare(
        "sarsa_target", reward, terminated, gamma, {"next_q": next_q}, {"next_action": next_action}
    )
    return reward + gamma * (1.0 - terminated) * be.take_last(next_q, next_action)


def double_q_target(
    reward: Array, next_q_online: Array, next_q_target: Array, terminated: Array, gamma: float | Array
) -> Array:
    r"""Double Q-learning target: the online network picks ``a*``, the target network evaluates it.

    .. math::
        a^* = \arg\max_a Q_{online}(s', a), \qquad
        y = r + \gamma (1 - \mathrm{terminated}) Q_{target}(s', a^*)

    Van Hasselt, Guez & Silver 2016 (Double DQN, arXiv:1509.06461); the tabular Double Q-learning of
    van Hasselt 2010 is the same formula with the two tables in the two roles. Ties pick the first action.

    Args:
        reward: ``S`` rewards.
        next_q_online: ``S + [A]`` next action values of the network being trained (selects).
        next_q_target: ``S + [A]`` next action values of the target network (evaluates).
        terminated: ``S`` bool; no bootstrap.
        gamma: float in [0, 1] or an ``S``-shaped per-sample discount.

    Returns:
        ``S`` targets.

    Raises:
        ValueError: a shape does not match ``reward``'s, or the two ``next_q`` differ in shape.
    """
    be, reward, terminated, gamma, (online, target), _ = _prepare(
        "double_q_target", reward, terminated, gamma,
        {"next_q_online": next_q_online, "next_q_target": next_q_target}, {},
    )
    return reward + gamma * (1.0 - terminated) * be.take_last(target, be.argmax_last(online))


def expected_sarsa_target(
    reward: Array, next_q: Array, next_probs: Array, terminated: Array, gamma: float | Array
) -> Array:
    r"""Target of expected SARSA, :math:`r + \gamma (1 - \mathrm{terminated}) \sum_a \pi(a|s') Q(s', a)`.

    Van Seijen et al. 2009; Sutton & Barto 2018, eq. 6.9. With a greedy ``π`` it is the Q-learning target.

    Args:
        reward: ``S`` rewards.
        next_q: ``S + [A]`` action values of the next observation.
        next_probs: ``S + [A]`` probabilities ``π(a|s')`` (rows sum to 1; not checked, to avoid a sync).
        terminated: ``S`` bool; no bootstrap.
        gamma: float in [0, 1] or an ``S``-shaped per-sample discount.

    Returns:
        ``S`` targets.

    Raises:
        ValueError: a shape does not match ``reward``'s.
    """
    be, reward, terminated, gamma, (next_q, next_probs), _ = _prepare(
        "expected_sarsa_target", reward, terminated, gamma, {"next_q": next_q, "next_probs": next_probs}, {}
    )
    return reward + gamma * (1.0 - terminated) * be.sum_last(next_probs * next_q)


def _check_critic_kind(func: str, reward: Any, next_q: Array | Sequence[Array]) -> None:
    """Raise TypeError if the critics' values and ``reward`` mix NumPy and torch."""
    critics = list(next_q) if isinstance(next_q, (list, tuple)) else [next_q]
    backend_of(func, {"reward": reward, **{f"next_q[{i}]": q for i, q in enumerate(critics)}})


def _critic_min(func: str, next_q: Array | Sequence[Array], shape: tuple[int, ...], be: Backend) -> Array:
    """Return the elementwise minimum over critics: ``next_q`` is ``shape``, ``[E, *shape]`` or a list."""
    if isinstance(next_q, (list, tuple)):
        if len(next_q) == 0:
            raise ValueError(f"{func}: next_q is an empty sequence; pass at least one critic's values")
        next_q = be.stack([as_array(be, q) for q in next_q])
    next_q = as_array(be, next_q)
    if tuple(next_q.shape) == shape:
        return next_q
    if tuple(next_q.shape[1:]) == shape:
        return be.min_first(next_q)
    raise ValueError(
        f"{func}: next_q has shape {tuple(next_q.shape)}, expected {shape} (one critic) or "
        f"[n_critics, *{shape}] "
        "(an ensemble, the minimum is taken)"
    )


def soft_q_target(
    reward: Array,
    next_q: Array | Sequence[Array],
    next_log_prob: Array,
    terminated: Array,
    gamma: float | Array,
    alpha: float | Array,
) -> Array:
    r"""Soft Q target of SAC for continuous actions, clipped double-Q over an ensemble of critics.

    .. math::
        y = r + \gamma (1 - \mathrm{terminated}) \big(\min_i Q_i(s', a') - \alpha \log \pi(a'|s')\big),
        \quad a' \sim \pi(\cdot|s')

    Haarnoja et al. 2018 (SAC, arXiv:1812.05905, §4.2); the minimum over twin critics is from TD3
    (Fujimoto et al. 2018). ``next_q`` and ``next_log_prob`` are evaluated at the SAME freshly sampled ``a'``.

    Args:
        reward: ``S`` rewards.
        next_q: target-critic values at ``(s', a')``: one array shaped ``S``, an ensemble ``[E, *S]`` (twin
            critics evaluated as one batch), or a list of ``S`` arrays. The elementwise minimum is taken.
        next_log_prob: ``S`` log-probabilities ``log π(a'|s')``.
        terminated: ``S`` bool; no bootstrap.
        gamma: float in [0, 1] or an ``S``-shaped per-sample discount.
        alpha: entropy temperature, a float or a 0-d array/tensor (pass ``log_alpha.exp().detach()``).

    Returns:
        ``S`` targets.

    Raises:
        ValueError: a shape does not match ``reward``'s.
    """
    func = "soft_q_target"
    _check_critic_kind(func, reward, next_q)
    be, reward, terminated, gamma, _, (next_log_prob,) = _prepare(
        func, reward, terminated, gamma, {}, {"next_log_prob": next_log_prob}
    )
    q_min = _critic_min(func, next_q, tuple(reward.shape), be)
    soft_value = q_min - alpha * next_log_prob
    return reward + gamma * (1.0 - terminated) * soft_value


def discrete_soft_value(
    next_q: Array, next_probs: Array, next_log_probs: Array, alpha: float | Array
) -> Array:
    r"""Soft state value for discrete actions: :math:`\sum_a \pi(a|s) (Q(s, a) - \alpha \log \pi(a|s))`.

    The exact expectation over actions replaces SAC's sampled estimate (Christodoulou 2019, discrete SAC,
    arXiv:1910.07207). Pass ``log_probs`` from the logits (``log_softmax``), not ``log(probs)``, so an
    action of probability 0 contributes ``0 * finite = 0`` instead of NaN.

    Args:
        next_q: ``[..., A]`` action values (already the minimum over critics, if several).
        next_probs: ``[..., A]`` policy probabilities.
        next_log_probs: ``[..., A]`` their logarithms.
        alpha: entropy temperature, a float or a 0-d array/tensor.

    Returns:
        ``[...]`` soft values.

    Raises:
        ValueError: the three arrays differ in shape.
    """
    func = "discrete_soft_value"
    be = backend_of(func, {"next_q": next_q, "next_probs": next_probs, "next_log_probs": next_log_probs})
    next_q, next_probs, next_log_probs = (as_array(be, a) for a in (next_q, next_probs, next_log_probs))
    check_shape(func, "next_probs", next_probs, tuple(next_q.shape), "next_q")
    check_shape(func, "next_log_probs", next_log_probs, tuple(next_q.shape), "next_q")
    return be.sum_last(next_probs * (next_q - alpha * next_log_probs))


def discrete_soft_q_target(
    reward: Array,
    next_q: Array | Sequence[Array],
    next_probs: Array,
    next_log_probs: Array,
    terminated: Array,
    gamma: float | Array,
    alpha: float | Array,
) -> Array:
    r"""Soft Q target of discrete SAC: :math:`r + \gamma (1 - \mathrm{terminated}) V_{soft}(s')`.

    ``V_soft`` is :func:`discrete_soft_value` of the per-action minimum over critics (Christodoulou 2019,
    arXiv:1910.07207).

    Args:
        reward: ``S`` rewards.
        next_q: ``S + [A]`` target-critic values, an ensemble ``[E, *S, A]``, or a list of ``S + [A]`` arrays.
        next_probs: ``S + [A]`` policy probabilities in the next observation.
        next_log_probs: ``S + [A]`` their logarithms (from ``log_softmax``).
        terminated: ``S`` bool; no bootstrap.
        gamma: float in [0, 1] or an ``S``-shaped per-sample discount.
        alpha: entropy temperature, a float or a 0-d array/tensor.

    Returns:
        ``S`` targets.

    Raises:
        ValueError: a shape does not match ``reward``'s.
    """
    func = "discrete_soft_q_target"
    _check_critic_kind(func, reward, next_q)
    be, reward, terminated, gamma, (next_probs, next_log_probs), _ = _prepare(
        func, reward, terminated, gamma, {"next_probs": next_probs, "next_log_probs": next_log_probs}, {}
    )
    q_min = _critic_min(func, next_q, tuple(next_probs.shape), be)
    return reward + gamma * (1.0 - terminated) * be.sum_last(next_probs * (q_min - alpha * next_log_probs))

