"""A finite MDP given by its outcome table, with the transition model exposed for dynamic programming.

Every built-in tabular environment (grid worlds, chains, the dice game) is a :class:`TabularEnv`: for each
state ``s`` and action ``a`` the table lists up to ``K`` outcomes, each a probability, a next state and the
reward of that transition. The environment samples from the table; :meth:`TabularEnv.transition_model` turns
it into the dense arrays that value iteration and policy iteration expect. Because the table is sparse
(``K`` is small: a grid move has at most three outcomes), grids with thousands of cells stay cheap to step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike, NDArray

_PROB_TOLERANCE = 1e-9


class TabularEnv(gym.Env):
    """A finite MDP with Discrete observations (the state index) and Discrete actions.

    The outcome table has shape ``[S, A, K]``: ``outcome_probs[s, a, k]`` is the probability that action
    ``a`` in state ``s`` leads to ``outcome_states[s, a, k]`` with reward ``outcome_rewards[s, a, k]``. Unused
    slots have probability 0. An episode starts in a state drawn from ``initial_probs`` and terminates when it
    enters a state whose ``terminal`` flag is set. Environments without terminal states are continuing tasks:
    give them a time limit (``max_episode_steps``), which truncates.

    Example:
        >>> import numpy as np
        >>> P = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])          # [S=2, A=1, S'=2]: always go to state 1
        >>> env = TabularEnv.from_dense(P, np.array([[1.0], [0.0]]), terminal=[False, True])
        >>> env.reset(seed=0)
        (0, {})
        >>> env.step(0)
        (1, 1.0, True, False, {})

    Args:
        outcome_probs: ``[S, A, K]`` probabilities; each ``[s, a]`` row sums to 1 (up to rounding, which is
            rescaled away).
        outcome_states: ``[S, A, K]`` next-state indices in ``[0, S)``.
        outcome_rewards: ``[S, A, K]`` reward of each outcome.
        terminal: ``[S]`` bool, True where entering the state ends the episode (``terminated``).
        initial_probs: ``[S]`` start-state distribution (up to rounding, rescaled); None starts in state 0.
        gamma: the task's natural discount, published as ``metadata["gamma"]`` (None publishes nothing).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        outcome_probs: ArrayLike,
        outcome_states: ArrayLike,
        outcome_rewards: ArrayLike,
        terminal: ArrayLike,
        initial_probs: ArrayLike | None = None,
        gamma: float | None = None,
    ) -> None:
        probs = np.asarray(outcome_probs, dtype=np.float64)
        states = np.asarray(outcome_states, dtype=np.int64)
        rewards = np.asarray(outcome_rewards, dtype=np.float64)
        name = type(self).__name__
        if probs.ndim != 3 or states.shape != probs.shape or rewards.shape != probs.shape:
            raise ValueError(
                f"{name}: outcome_probs, outcome_states, outcome_rewards must share a [S, A, K] shape; got "
                f"{probs.shape}, {states.shape}, {rewards.shape}"
            )
        n_states, n_actions, _ = probs.shape
        if np.any(probs < 0) or not np.allclose(probs.sum(-1), 1.0, atol=_PROB_TOLERANCE):
            bad = np.argwhere(~np.isclose(probs.sum(-1), 1.0, atol=_PROB_TOLERANCE) | np.any(probs < 0, axis=-1))
            s, a = bad[0]
            raise ValueError(
                f"{name}: outcome probabilities of state {s}, action {a} are {probs[s, a].tolist()}; they "
                "must be non-negative and sum to 1"
            )
        if np.any((states < 0) | (states >= n_states)):
            raise ValueError(f"{name}: outcome_states must lie in [0, {n_states}); got {states.min()}..{states.max()}")
        terminal_mask = np.asarray(terminal, dtype=bool)
        if terminal_mask.shape != (n_states,):
            raise ValueError(f"{name}: terminal must have shape ({n_states},), got {terminal_mask.shape}")
        if initial_probs is None:
            initial = np.zeros(n_states)
            initial[0] = 1.0
        else:
            initial = np.asarray(initial_probs, dtype=np.float64)
        if initial.shape != (n_states,) or np.any(initial < 0) or not np.isclose(initial.sum(), 1.0):
            raise ValueError(
                f"{name}: initial_probs must be a distribution over {n_states} states, got {initial.tolist()}"
            )
        if gamma is not None and not 0.0 <= gamma <= 1.0:
            raise ValueError(f"{name}: gamma must lie in [0, 1], got {gamma}")

        # Rows within the tolerance (rounded thirds, say) are rescaled to sum to 1: NumPy's choice (the start state)
        # refuses a distribution off by more than ~1e-8, and the sampler and transition_model() must agree.
        probs = probs / probs.sum(-1, keepdims=True)
        self._probs, self._states, self._rewards = probs, states, rewards
        self._terminal = terminal_mask
        self._initial = initial / initial.sum()
        # Sampling: u ~ U[0, 1) picks the first outcome whose cumulative probability exceeds u. The clamp to
        # the last outcome with positive probability guards against cumulative sums rounding to just below 1.
        self._cumulative = np.cumsum(probs, axis=-1)
        self._last_outcome = probs.shape[-1] - 1 - np.argmax(probs[..., ::-1] > 0, axis=-1)
        self.observation_space = gym.spaces.Discrete(n_states)
        self.action_space = gym.spaces.Discrete(n_actions)
        if gamma is not None:
            self.metadata = {**type(self).metadata, "gamma": float(gamma)}
        self._state: int | None = None

    @classmethod
    def from_dense(
        cls,
        P: ArrayLike,
        R: ArrayLike,
        terminal: ArrayLike,
        initial_probs: ArrayLike | None = None,
        gamma: float | None = None,
    ) -> TabularEnv:
        """Build a TabularEnv from dense arrays.

        Args:
            P: ``[S, A, S']`` transition probabilities.
            R: ``[S, A]`` rewards (the same whatever the next state) or ``[S, A, S']`` transition rewards.
            terminal: ``[S]`` bool terminal flags.
            initial_probs: ``[S]`` start distribution (None: state 0).
            gamma: natural discount for ``metadata["gamma"]``.

        Returns:
            The environment; ``transition_model()`` gives back ``P`` and the expected rewards.
        """
        # Always the base class: subclasses (grids, chains) have their own constructors.
        return TabularEnv(*dense_to_outcomes(P, R), terminal=terminal, initial_probs=initial_probs, gamma=gamma)

    @property
    def state(self) -> int:
        """The current state index (valid after ``reset``)."""
        if self._state is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before reading the state")
        return self._state

    @property
    def initial_state_distribution(self) -> NDArray[np.float64]:
        """``[S]`` probabilities of the start state."""
        return self._initial.copy()

    def transition_model(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Return the dense model for dynamic programming.

        Returns:
            ``(P, R, terminal)``: ``P[s, a, s']`` transition probabilities, ``R[s, a]`` expected immediate
            reward (``sum_s' P[s, a, s'] r(s, a, s')``) and the ``[S]`` terminal mask. Terminal states absorb
            with reward 0 in every built-in environment, so value iteration may use the mask or ignore it.
        """
        n_states, n_actions, n_outcomes = self._probs.shape
        P = np.zeros((n_states, n_actions, n_states))
        s_idx = np.broadcast_to(np.arange(n_states)[:, None, None], self._probs.shape)
        a_idx = np.broadcast_to(np.arange(n_actions)[None, :, None], self._probs.shape)
        np.add.at(P, (s_idx, a_idx, self._states), self._probs)
        R = np.sum(self._probs * self._rewards, axis=-1)
        return P, R, self._terminal.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Start an episode in a state drawn from the initial distribution.

        Args:
            seed: seeds ``self.np_random`` (Gymnasium convention).
            options: ``{"state": s}`` starts in state ``s`` instead (exploring starts, tests).

        Returns:
            ``(obs, info)``.
        """
        super().reset(seed=seed)
        if options is not None and "state" in options:
            state = options["state"]
            if (
                isinstance(state, bool)
                or not isinstance(state, (int, np.integer))
                or not 0 <= state < len(self._initial)
            ):
                raise ValueError(f"{type(self).__name__}: options['state'] = {state!r} is not a state index")
            self._state = int(state)
        else:
            self._state = int(self.np_random.choice(len(self._initial), p=self._initial))
        return self._observation(self._state), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Sample the next state and reward of ``action`` from the outcome table."""
        if self._state is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"{type(self).__name__}: action {action!r} is outside {self.action_space}")
        s, a = self._state, int(action)
        k = int(np.searchsorted(self._cumulative[s, a], self.np_random.random(), side="right"))
        k = min(k, int(self._last_outcome[s, a]))
        next_state = int(self._states[s, a, k])
        reward = float(self._rewards[s, a, k])
        self._state = next_state
        return self._observation(next_state), reward, bool(self._terminal[next_state]), False, {}

    def _observation(self, state: int) -> Any:
        """Return what the agent sees in ``state``: its index (subclasses may render it)."""
        return state


def dense_to_outcomes(P: ArrayLike, R: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Convert dense ``P[S, A, S']`` and ``R[S, A]`` (or ``R[S, A, S']``) into a padded outcome table.

    ``K`` is the largest number of next states with positive probability over all ``(s, a)``.

    Args:
        P: ``[S, A, S']`` transition probabilities.
        R: ``[S, A]`` or ``[S, A, S']`` rewards.

    Returns:
        ``(outcome_probs, outcome_states, outcome_rewards)``, each ``[S, A, K]``.
    """
    P = np.asarray(P, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise ValueError(f"P must have shape [S, A, S], got {P.shape}")
    if R.shape == P.shape[:2]:
        R = np.broadcast_to(R[..., None], P.shape)
    elif R.shape != P.shape:
        raise ValueError(f"R must have shape {P.shape[:2]} or {P.shape}, got {R.shape}")
    n_outcomes = max(1, int((P > 0).sum(-1).max()))
    probs = np.zeros(P.shape[:2] + (n_outcomes,))
    states = np.zeros(P.shape[:2] + (n_outcomes,), dtype=np.int64)
    rewards = np.zeros(P.shape[:2] + (n_outcomes,))
    for s in range(P.shape[0]):
        for a in range(P.shape[1]):
            (nonzero,) = np.nonzero(P[s, a] > 0)
            probs[s, a, : len(nonzero)] = P[s, a, nonzero]
            states[s, a, : len(nonzero)] = nonzero
            rewards[s, a, : len(nonzero)] = R[s, a, nonzero]
    return probs, states, rewards
