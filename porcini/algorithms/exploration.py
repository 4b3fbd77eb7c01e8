"""Action selection from action values: greedy, ε-greedy and Boltzmann (softmax), as actions or as probabilities.

Pure NumPy over a batch: ``q`` is ``[B, A]``, actions come back ``[B]`` int64, probabilities ``[B, A]``. Greedy
choices break ties uniformly at random (``argmax`` alone would always prefer the first action, which biases
learning when values start equal, e.g. a zero-initialized Q-table). The probability functions split the greedy
mass evenly over tied actions, so they are the exact distribution the sampling functions draw from.

Example:
    >>> import numpy as np
    >>> epsilon_greedy_probs(np.array([[1.0, 3.0, 3.0]]), epsilon=0.3)
    array([[0.1 , 0.45, 0.45]])
"""

from __future__ import annotations

import numpy as np

EXPLORATIONS = ("epsilon_greedy", "boltzmann")


def _check_q(func: str, q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] < 1:
        raise ValueError(f"{func}: q must be shaped [B, n_actions], got shape {q.shape}")
    return q


def greedy(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return ``argmax_a q[b, a]`` per row, ties broken uniformly at random.

    Args:
        q: ``[B, A]`` action values.
        rng: generator for the tie-breaking.

    Returns:
        ``[B]`` int64 actions.
    """
    q = _check_q("greedy", q)
    best = q == q.max(axis=1, keepdims=True)
    # argmax of random keys restricted to the maximal entries: one uniform draw among the tied actions
    return np.argmax(best * (rng.random(q.shape) + 1e-12), axis=1).astype(np.int64)


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """With probability ``epsilon`` a uniformly random action, otherwise a greedy one (ties at random).

    Args:
        q: ``[B, A]`` action values.
        epsilon: exploration probability in [0, 1].
        rng: generator.

    Returns:
        ``[B]`` int64 actions.
    """
    q = _check_q("epsilon_greedy", q)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon_greedy: epsilon = {epsilon} is invalid: must lie in [0, 1]")
    actions = greedy(q, rng)
    explore = rng.random(len(q)) < epsilon
    return np.where(explore, rng.integers(0, q.shape[1], size=len(q)), actions)


def greedy_one(values: np.ndarray, rng: np.random.Generator) -> int:
    """:func:`greedy` for one observation: ``argmax_a values[a]``, ties broken uniformly at random.

    In plain Python: per-step agents act on one observation at a time, where NumPy's per-call cost dominates.
    A uniform draw is made only when there is a tie (:func:`uniform_index`).

    Args:
        values: ``[A]`` action values.
        rng: generator for the tie-breaking.
    """
    row = values.tolist()
    best = max(row)
    ties = [a for a, v in enumerate(row) if v == best]
    if len(ties) == 1:
        return ties[0]
    if not ties:  # NaN values: no action is maximal, so every action ties
        ties = list(range(len(row)))
    return ties[uniform_index(len(ties), rng)]


def uniform_index(n: int, rng: np.random.Generator) -> int:
    """A uniform draw from ``0, ..., n - 1``: ``floor(n * u)`` of one uniform ``u`` in [0, 1).

    ``rng.integers(n)`` draws the same distribution (up to a bias below 2**-53 here) at several times the cost of
    one ``rng.random()``, which matters once per step.
    """
    return int(rng.random() * n)


def epsilon_greedy_one(values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """:func:`epsilon_greedy` for one observation: a uniform action with probability ``epsilon``, else greedy.

    Args:
        values: ``[A]`` action values.
        epsilon: exploration probability in [0, 1].
        rng: generator.
    """
    if rng.random() < epsilon:
        return uniform_index(len(values), rng)
    return greedy_one(values, rng)


def epsilon_greedy_probs(q: np.ndarray, epsilon: float) -> np.ndarray:
    """The ε-greedy distribution: ``ε / A`` on every action plus ``(1 - ε) / n_tied`` on each greedy one.

    Args:
        q: ``[B, A]`` action values.
        epsilon: exploration probability in [0, 1].

    Returns:
        ``[B, A]`` probabilities (rows sum to 1).
    """
    q = _check_q("epsilon_greedy_probs", q)
    best = (q == q.max(axis=1, keepdims=True)).astype(np.float64)
    return epsilon / q.shape[1] + (1.0 - epsilon) * best / best.sum(axis=1, keepdims=True)


def boltzmann_probs(q: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ``q / temperature`` per row (numerically stable: the row maximum is subtracted first).

    Args:
        q: ``[B, A]`` action values.
        temperature: τ > 0; small τ approaches greedy (ties split evenly), large τ approaches uniform.

    Returns:
        ``[B, A]`` probabilities.
    """
    q = _check_q("boltzmann_probs", q)
    if not temperature > 0:
        raise ValueError(f"boltzmann_probs: temperature = {temperature} is invalid: must be > 0")
    z = (q - q.max(axis=1, keepdims=True)) / temperature
    weights = np.exp(z)
    return weights / weights.sum(axis=1, keepdims=True)


def boltzmann(q: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Sample actions from the softmax of ``q / temperature`` (see :func:`boltzmann_probs`).

    Args:
        q: ``[B, A]`` action values.
        temperature: τ > 0.
        rng: generator.

    Returns:
        ``[B]`` int64 actions.
    """
    return sample_categorical(boltzmann_probs(q, temperature), rng)


def sample_categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one action per row of ``probs`` ``[B, A]`` (inverse CDF with one uniform per row).

    Args:
        probs: ``[B, A]`` probabilities, rows summing to 1.
        rng: generator.

    Returns:
        ``[B]`` int64 actions.
    """
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((len(probs), 1)) * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1).astype(np.int64)
