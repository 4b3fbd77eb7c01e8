"""Chains of states where the large reward sits at the far end: exploration benchmarks with exact models.

Both are continuing tasks (no terminal state): run them with a time limit, which truncates.
"""

from __future__ import annotations

import numpy as np

from porcini.envs.builtin.tabular import TabularEnv, dense_to_outcomes


class Chain(TabularEnv):
    """The chain of Strens (2000), also in Dearden, Friedman & Russell (1998), "Bayesian Q-learning".

    States ``0 .. n-1``, the episode starts in state 0. Action 0 (forward) moves one state right with
    reward 0; in the last state it stays there and gives ``large_reward``. Action 1 (back) returns to state 0
    and gives ``small_reward``. With probability ``slip`` the other action is performed instead. A greedy
    learner is lured by the small, immediate reward of going back; the optimal policy goes forward all the
    way.
    Paper parameters: ``n_states=5, small_reward=2, large_reward=10, slip=0.2``, discount 0.99, 1000 steps.

    Example:
        >>> env = Chain(slip=0.0)
        >>> _ = env.reset(seed=0)
        >>> [env.step(Chain.FORWARD)[:2] for _ in range(5)]
        [(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0), (4, 10.0)]

    Args:
        n_states: length of the chain (at least 2).
        small_reward: reward of the back action.
        large_reward: reward of going forward in the last state.
        slip: probability that the opposite action is performed (0 makes the chain deterministic).
        gamma: the discount published as ``metadata["gamma"]``.
    """

    FORWARD = 0
    BACK = 1

    def __init__(
        self,
        n_states: int = 5,
        *,
        small_reward: float = 2.0,
        large_reward: float = 10.0,
        slip: float = 0.2,
        gamma: float | None = 0.99,
    ) -> None:
        if n_states < 2:
            raise ValueError(f"Chain: n_states must be at least 2, got {n_states}")
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"Chain: slip is a probability in [0, 1], got {slip}")
        self.n_states, self.slip = int(n_states), float(slip)
        P = np.zeros((n_states, 2, n_states))
        R = np.zeros((n_states, 2, n_states))
        for s in range(n_states):
            forward = min(s + 1, n_states - 1)
            forward_reward = large_reward if s == n_states - 1 else 0.0
            for action, p_forward in ((self.FORWARD, 1.0 - slip), (self.BACK, slip)):
                P[s, action, forward] += p_forward
                P[s, action, 0] += 1.0 - p_forward
                R[s, action, forward] = forward_reward
                R[s, action, 0] = small_reward  # forward never lands on state 0, so s' = 0 means "went back"
        super().__init__(*dense_to_outcomes(P, R), terminal=np.zeros(n_states, dtype=bool), gamma=gamma)


class RiverSwim(TabularEnv):
    """RiverSwim of Strehl & Littman (2008), "An analysis of model-based interval estimation for MDPs".

    A river of ``n_states`` (6 in the paper). Action 0 swims left, with the current: it always succeeds, and
    in state 0 it stays and gives ``small_reward`` (5). Action 1 swims right, against the current: in a
    middle state it moves right with probability 0.3, stays with 0.6 and drifts left with 0.1; in state 0 it
    moves right with 0.3 and stays with 0.7; in the last state it stays with 0.3, giving ``large_reward``
    (10000), and drifts left with 0.7. The episode starts in state 1 or 2 with equal probability.
    Only a persistent explorer finds the large reward. A common rescaled variant (Osband et al., 2013) uses
    ``small_reward=0.005, large_reward=1``; the discount of the paper's experiments is 0.95.

    Args:
        n_states: length of the river (at least 3).
        small_reward: reward of swimming left in state 0.
        large_reward: reward of swimming right and staying in the last state.
        gamma: the discount published as ``metadata["gamma"]``.
    """

    LEFT = 0
    RIGHT = 1

    def __init__(
        self,
        n_states: int = 6,
        *,
        small_reward: float = 5.0,
        large_reward: float = 10000.0,
        gamma: float | None = 0.95,
    ) -> None:
        if n_states < 3:
            raise ValueError(f"RiverSwim: n_states must be at least 3, got {n_states}")
        self.n_states = int(n_states)
        last = n_states - 1
        P = np.zeros((n_states, 2, n_states))
        R = np.zeros((n_states, 2, n_states))
        for s in range(n_states):
            P[s, self.LEFT, max(s - 1, 0)] = 1.0
            if s == 0:
                P[s, self.RIGHT, [0, 1]] = 0.7, 0.3
            elif s == last:
                P[s, self.RIGHT, [last - 1, last]] = 0.7, 0.3
            else:
                P[s, self.RIGHT, [s - 1, s, s + 1]] = 0.1, 0.6, 0.3
        R[0, self.LEFT, 0] = small_reward
        R[last, self.RIGHT, last] = large_reward
        initial = np.zeros(n_states)
        initial[[1, 2]] = 0.5
        super().__init__(
            *dense_to_outcomes(P, R),
            terminal=np.zeros(n_states, dtype=bool),
            initial_probs=initial,
            gamma=gamma,
        )
