"""Tabular Q-learning (Watkins, 1989; Sutton & Barto 2018, §6.5) with ε-greedy exploration.

Update, per transition: ``Q[s, a] += α (r + γ (1 - terminated) max_a' Q[s', a'] - Q[s, a])``. Truncated
transitions bootstrap from ``s'`` (time ran out, the state still has value); terminated ones do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.core.agent import BaseAgent
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class QLearningConfig:
    """Hyperparameters of tabular Q-learning."""

    learning_rate: float = 0.1
    """Step size α of the TD update."""
    gamma: float = 0.99
    """Discount factor."""
    epsilon: float = 0.1
    """Probability of a uniformly random action while exploring."""
    initial_value: float = 0.0
    """Initial value of every Q[s, a] (optimistic values encourage exploration)."""
    seed: int = 0
    """Seed of the exploration generator."""

    def __post_init__(self) -> None:
        require(0 < self.learning_rate <= 1, "QLearningConfig", "learning_rate", self.learning_rate, "in (0, 1]")
        require(0 <= self.gamma <= 1, "QLearningConfig", "gamma", self.gamma, "in [0, 1]")
        require(0 <= self.epsilon <= 1, "QLearningConfig", "epsilon", self.epsilon, "in [0, 1]")


class QLearning(BaseAgent):
    """Off-policy TD control on a Q-table; fits after every vector step."""

    name = "q_learning"
    Config = QLearningConfig

    def __init__(self, info: EnvInfo, config: QLearningConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(QLearningConfig, config, overrides)
        self.info = info
        self.q = np.full((info.n_observations, info.n_actions), self.config.initial_value, dtype=np.float64)
        self.rng = np.random.default_rng(self.config.seed)
        self.fit_every_steps = info.n_envs

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """ε-greedy actions while exploring (ties broken at random), greedy otherwise."""
        q = self.q[obs]
        best = q == q.max(axis=1, keepdims=True)
        # random tie-breaking: argmax of random keys restricted to the maximal entries
        greedy = np.argmax(best * self.rng.random(q.shape), axis=1)
        if not explore:
            return greedy
        random = self.rng.integers(0, q.shape[1], size=len(obs))
        return np.where(self.rng.random(len(obs)) < self.config.epsilon, random, greedy)

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Apply the Q-learning update to every transition of the batch, in time order."""
        c = self.config
        td_abs = 0.0
        for t in range(batch.n_steps):
            s, a, r = batch.obs[t], batch.action[t], batch.reward[t]
            bootstrap = np.where(batch.terminated[t], 0.0, self.q[batch.next_obs[t]].max(axis=1))
            td_error = r + c.gamma * bootstrap - self.q[s, a]
            np.add.at(self.q, (s, a), c.learning_rate * td_error)
            td_abs += float(np.abs(td_error).mean())
        return {"td_error_abs": td_abs / batch.n_steps}

    def state_dict(self) -> dict[str, Any]:
        """The Q-table and the exploration generator's state."""
        return {"q": self.q.copy(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`, checking the table's shape."""
        q = np.asarray(state["q"])
        if q.shape != self.q.shape:
            raise ValueError(f"Q-table of shape {q.shape} does not fit this env's {self.q.shape}")
        self.q = q.astype(np.float64, copy=True)
        self.rng.bit_generator.state = state["rng"]
