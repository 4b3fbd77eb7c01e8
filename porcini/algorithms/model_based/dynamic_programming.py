r"""Dynamic programming for a known finite MDP: value iteration and policy iteration.

Bellman (1957); Howard (1960); Sutton & Barto (2018), ch. 4.

The model: ``P[s, a, s']`` transition probabilities, ``R[s, a]`` expected rewards (or ``R[s, a, s']``, reduced to
``Σ_s' P R``), an optional ``terminal[s]`` mask (the value of a terminal state is 0 and it is never left) and
the discount γ. Built-in tabular environments give all three through ``env.transition_model()``, and
:func:`porcini.envs.tabular_model.tabular_model` builds them from any of those or from a Gymnasium toy-text env's
``P`` table. The agents :class:`~porcini.algorithms.model_based.value_iteration.ValueIteration` and
:class:`~porcini.algorithms.model_based.policy_iteration.PolicyIteration` plan with these functions.

.. math::
    Q(s, a) = R(s, a) + \gamma \sum_{s'} P(s' | s, a) V(s'), \qquad V(s) = \max_a Q(s, a)

Value iteration repeats that backup (synchronously, all states at once) until ``max |ΔV| < tol``; with
γ < 1 the greedy policy of the result is then optimal and ``V`` is within ``tol γ / (1 - γ)`` of ``V*``. With
γ = 1 a greedy policy can loop for free (an action that stays put ties with the best move), so among tied actions
value iteration takes one that leads toward a terminal state.
Policy iteration alternates exact policy evaluation (a linear solve, :math:`(I - \gamma P_\pi) V = R_\pi`) and
greedy improvement until the policy is stable; with γ = 1 every policy it visits must reach a terminal state
(a *proper* policy), which the initial policy must be. A state that no action leaves and that pays nothing (a
grid's wall) is worth 0 and counts as terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.core.agent import BaseAgent
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class DPResult:
    """Values and greedy policy found by dynamic programming.

    Attributes:
        values: ``[S]`` state values ``V``.
        q_values: ``[S, A]`` action values ``Q``.
        policy: ``[S]`` greedy actions. On ties value iteration gives the first maximizer (with γ = 1, the first
            one that leads toward a terminal state: :func:`greedy_policy`); policy iteration keeps the action its
            policy already had (the initial policy's, or the one an earlier improvement chose) unless another is
            better beyond rounding, which need not be the first maximizer.
        iterations: sweeps (value iteration) or improvement steps (policy iteration) done.
    """

    values: np.ndarray
    q_values: np.ndarray
    policy: np.ndarray
    iterations: int


def _check_model(P: Any, R: Any, gamma: float, terminal: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and normalize the model: ``P [S, A, S]``, ``R [S, A]``, ``terminal [S]`` bool."""
    P = np.asarray(P, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must be shaped [S, A, S], got {P.shape}")
    if not np.allclose(P.sum(-1), 1.0, atol=1e-8) or np.any(P < 0):
        s, a = np.argwhere(~np.isclose(P.sum(-1), 1.0, atol=1e-8) | np.any(P < 0, axis=-1))[0]
        raise ValueError(f"P[{s}, {a}] = {P[s, a].tolist()} is not a probability distribution over next states")
    if R.shape == P.shape:
        R = (P * R).sum(-1)
    if R.shape != P.shape[:2]:
        raise ValueError(f"R must be shaped [S, A] = {P.shape[:2]} or [S, A, S] = {P.shape}, got {R.shape}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma = {gamma} is invalid: must lie in [0, 1]")
    term = np.zeros(P.shape[0], dtype=bool) if terminal is None else np.asarray(terminal, dtype=bool)
    if term.shape != (P.shape[0],):
        raise ValueError(f"terminal must be shaped [S] = ({P.shape[0]},), got {term.shape}")
    # a state that no action leaves and that pays nothing (a grid's wall, never occupied) is worth 0 under every
    # policy and discount: terminal, so that with gamma = 1 it does not make every policy look improper
    states = np.arange(P.shape[0])
    stuck = np.all(P[states, :, states] == 1.0, axis=1) & np.all(R == 0.0, axis=1)
    return P, R, term | stuck


def _backup(P: np.ndarray, R: np.ndarray, gamma: float, terminal: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``Q = R + γ P V`` ``[S, A]``, with terminal states worth 0."""
    q = R + gamma * (P @ np.where(terminal, 0.0, values))
    q[terminal] = 0.0
    return q


def value_iteration(P: Any, R: Any, gamma: float, terminal: Any = None, *, tol: float = 1e-10,
                    max_iterations: int = 100_000) -> DPResult:
    """Synchronous value iteration from ``V = 0``.

    Args:
        P: ``[S, A, S]`` transition probabilities.
        R: ``[S, A]`` expected rewards, or ``[S, A, S]`` transition rewards.
        gamma: discount in [0, 1]; with 1, the task must end in ``terminal`` states under the optimal policy.
        terminal: ``[S]`` bool, states whose value is 0 (None: no terminal state).
        tol: stop once ``max_s |V_new(s) - V(s)| < tol``.
        max_iterations: raise if not converged after this many sweeps.

    Returns:
        :class:`DPResult` with ``V``, ``Q`` and the greedy policy.

    Raises:
        ValueError: malformed model.
        RuntimeError: no convergence within ``max_iterations`` (e.g. γ = 1 with no reachable terminal state).
    """
    P, R, terminal = _check_model(P, R, gamma, terminal)
    values = np.zeros(P.shape[0])
    for iteration in range(1, max_iterations + 1):
        q = _backup(P, R, gamma, terminal, values)
        new = q.max(axis=1)
        delta = float(np.max(np.abs(new - values))) if len(values) else 0.0
        values = new
        if delta < tol:
            return DPResult(values, q, greedy_policy(P, q, gamma, terminal, tol), iteration)
    raise RuntimeError(f"value iteration did not converge in {max_iterations} sweeps (last change {delta:.3g}); "
                       "with gamma = 1 make sure every policy can reach a terminal state, or use gamma < 1")


def greedy_policy(P: np.ndarray, q: np.ndarray, gamma: float, terminal: np.ndarray, tie_tol: float) -> np.ndarray:
    """``[S]`` greedy actions of ``q``: the first maximizer; with γ = 1, a maximizer that leads toward termination.

    With γ = 1 an action that stays put for free ties with the best move (``Q = 0 + V(s)``): the first maximizer
    can then loop forever and never collect the value ``V`` promises (a wall bump in a deterministic grid). So,
    working back from the terminal states, each state takes its first action within ``tie_tol`` (relative) of the
    maximum that enters a state already known to lead to termination; states with no such action keep the first
    maximizer.
    """
    policy = np.argmax(q, axis=1)
    if gamma < 1.0 or not terminal.any():
        return policy  # with discounting a tie never trades value for looping: any maximizer is optimal
    best = q.max(axis=1, keepdims=True)
    tied = q >= best - tie_tol * (1.0 + np.abs(best))
    leads = terminal.copy()
    while True:
        enters = tied & ~leads[:, None] & (P[:, :, leads].sum(axis=-1) > 0)
        new = enters.any(axis=1)
        if not new.any():
            return policy
        policy[new] = np.argmax(enters[new], axis=1)
        leads |= new


def policy_evaluation(P: Any, R: Any, gamma: float, policy: Any, terminal: Any = None) -> np.ndarray:
    r"""Exact ``V_π`` of a deterministic policy by solving :math:`(I - \gamma P_\pi) V = R_\pi`.

    Args:
        P: ``[S, A, S]`` transition probabilities.
        R: ``[S, A]`` or ``[S, A, S]`` rewards.
        gamma: discount in [0, 1].
        policy: ``[S]`` actions.
        terminal: ``[S]`` bool terminal mask.

    Returns:
        ``[S]`` values.

    Raises:
        ValueError: the system is singular: with γ = 1 the policy never reaches a terminal state from some
            state (an improper policy); pass a proper policy or γ < 1.
    """
    P, R, terminal = _check_model(P, R, gamma, terminal)
    policy = np.asarray(policy, dtype=np.int64)
    states = np.arange(P.shape[0])
    p_pi = np.where(terminal[:, None], 0.0, P[states, policy])  # terminal rows: V = 0
    p_pi[:, terminal] = 0.0  # entering a terminal state contributes no future value
    r_pi = np.where(terminal, 0.0, R[states, policy])
    if gamma == 1.0 and np.any(never_ends := _never_ends(p_pi, terminal)):
        raise ValueError(f"policy evaluation is singular: with gamma = 1 the policy never terminates from state "
                         f"{int(np.argmax(never_ends))} (an improper policy); start from a policy that reaches a "
                         "terminal state or use gamma < 1")
    return np.linalg.solve(np.eye(len(states)) - gamma * p_pi, r_pi)


def _never_ends(p_pi: np.ndarray, terminal: np.ndarray) -> np.ndarray:
    """``[S]`` bool: states from which ``p_pi`` (terminal rows and columns zeroed) never reaches a terminal state.

    Exactly the states that make ``I - P_π`` singular; a reachability check is far cheaper than a condition number.
    """
    ends = terminal | (p_pi.sum(axis=1) < 1.0 - 1e-12)  # terminal, or some probability of entering one now
    successors = p_pi > 0
    while True:
        grown = ends | successors[:, ends].any(axis=1)
        if np.array_equal(grown, ends):
            return ~ends
        ends = grown


def policy_iteration(P: Any, R: Any, gamma: float, terminal: Any = None, *, initial_policy: Any = None,
                     max_iterations: int = 10_000) -> DPResult:
    """Howard's policy iteration: exact evaluation, greedy improvement, until the policy is stable.

    Improvement changes a state's action only when another action is better beyond rounding (then to the first
    maximizer); on a tie it keeps the current action, so the policy cannot cycle among equally good ones and, with
    γ = 1, never trades a proper action for a tied one. The stable policy is thus greedy, but on ties not
    necessarily the first maximizer that value iteration gives.

    Args:
        P: ``[S, A, S]`` transition probabilities.
        R: ``[S, A]`` or ``[S, A, S]`` rewards.
        gamma: discount in [0, 1].
        terminal: ``[S]`` bool terminal mask.
        initial_policy: ``[S]`` actions to start from (all zeros if None); must be proper when γ = 1.
        max_iterations: raise if the policy still changes after this many improvements.

    Returns:
        :class:`DPResult`.

    Raises:
        ValueError: malformed model, or an improper policy under γ = 1.
        RuntimeError: no stable policy within ``max_iterations``.
    """
    P, R, terminal = _check_model(P, R, gamma, terminal)
    policy = np.zeros(P.shape[0], dtype=np.int64) if initial_policy is None else np.array(initial_policy)
    for iteration in range(1, max_iterations + 1):
        values = policy_evaluation(P, R, gamma, policy, terminal)
        q = _backup(P, R, gamma, terminal, values)
        # keep the current action unless another is strictly (beyond rounding) better: avoids cycling on ties
        current = q[np.arange(len(policy)), policy]
        improved = np.where(q.max(axis=1) > current + 1e-12 * (1.0 + np.abs(current)), np.argmax(q, axis=1), policy)
        if np.array_equal(improved, policy):
            return DPResult(values, q, policy, iteration)
        policy = improved
    raise RuntimeError(f"policy iteration did not stabilize in {max_iterations} improvements")


class TabularPolicyAgent(BaseAgent):
    """A fixed deterministic policy over Discrete observations, e.g. the result of DP, to run through ``Core``.

    Example:
        >>> import gymnasium as gym
        >>> info = EnvInfo("toy", gym.spaces.Discrete(3), gym.spaces.Discrete(2))
        >>> TabularPolicyAgent(info, [1, 0, 1]).act(np.array([0, 2]), explore=False)
        array([1, 1])

    Args:
        info: the env's :class:`EnvInfo` (Discrete observations and actions).
        policy: ``[S]`` action per state; observation ``start + i`` of a ``Discrete(S, start)`` is state ``i``.
    """

    name = "tabular_policy"

    def __init__(self, info: EnvInfo, policy: Any) -> None:
        self.policy = np.asarray(policy, dtype=np.int64)
        if self.policy.shape != (info.n_observations,):
            raise ValueError(f"policy must have one action per state ({info.n_observations}), got {self.policy.shape}")
        self.start = int(getattr(info.observation_space, "start", 0))

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """``policy[obs - start]``, whatever ``explore`` says."""
        return self.policy[np.asarray(obs, dtype=np.int64) - self.start]

    def state_dict(self) -> dict[str, Any]:
        """The policy array."""
        return {"policy": self.policy.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.policy = np.asarray(state["policy"], dtype=np.int64).copy()
