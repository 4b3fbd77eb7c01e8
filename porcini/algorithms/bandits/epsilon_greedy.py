"""ε-greedy for multi-armed bandits (Sutton & Barto 2018, §2.2–2.4; Auer, Cesa-Bianchi & Fischer, 2002, §3).

With probability ε pull a uniformly random arm, otherwise an arm with the highest estimated mean. Estimates are
sample averages ``Q(a) += (r - Q(a)) / N(a)`` or, with ``learning_rate``, exponential recency-weighted averages
``Q(a) += α (r - Q(a))`` for non-stationary bandits. A constant ε gives regret linear in the number of pulls
(ε · mean gap per pull); a decaying ε (``exploration_final``) can do better. Deviations: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.bandits.base import BanditAgent
from porcini.algorithms.schedules import SCHEDULE_KINDS, make_schedule
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class EpsilonGreedyBanditConfig:
    """Hyperparameters of the ε-greedy bandit."""

    epsilon: float = 0.1
    """Probability of a uniformly random arm (the initial value when ``exploration_final`` is set)."""
    exploration_final: float | None = None
    """Final ε reached after ``decay_steps`` pulls; None keeps ε constant."""
    exploration_schedule: str = "linear"
    """Shape of the ε decay: ``"linear"``, ``"exponential"`` (ε and its final value > 0) or ``"constant"``."""
    decay_steps: int = 1000
    """Pulls over which ε reaches ``exploration_final``."""
    initial_value: float = 0.0
    """Initial estimate of every arm (optimistic values explore; Sutton & Barto §2.6)."""
    learning_rate: float | None = None
    """Constant step size α of the estimates; None uses sample averages (1 / N(a))."""
    seed: int = 0
    """Seed of the exploration generator."""

    def __post_init__(self) -> None:
        name = "EpsilonGreedyBanditConfig"
        require(0 <= self.epsilon <= 1, name, "epsilon", self.epsilon, "in [0, 1]")
        require(self.exploration_final is None or 0 <= self.exploration_final <= 1, name, "exploration_final",
                self.exploration_final, "in [0, 1] or None")
        require(self.exploration_schedule in SCHEDULE_KINDS, name, "exploration_schedule",
                self.exploration_schedule, f"one of {SCHEDULE_KINDS}")
        require(self.decay_steps >= 1, name, "decay_steps", self.decay_steps, ">= 1")
        if self.exploration_schedule == "exponential" and self.exploration_final is not None:
            # a geometric decay never reaches 0 and cannot start from it
            require(self.epsilon > 0, name, "epsilon", self.epsilon, "> 0 with an exponential schedule")
            require(self.exploration_final > 0, name, "exploration_final", self.exploration_final,
                    "> 0 with an exponential schedule (decay to 0 with exploration_schedule='linear')")
        require(self.learning_rate is None or 0 < self.learning_rate <= 1, name, "learning_rate",
                self.learning_rate, "in (0, 1] or None")


class EpsilonGreedyBandit(BanditAgent):
    """ε-greedy arm selection on estimated means; fits after every vector step."""

    name = "epsilon_greedy"
    Config = EpsilonGreedyBanditConfig

    def __init__(self, info: EnvInfo, config: EpsilonGreedyBanditConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(EpsilonGreedyBanditConfig, config, overrides)
        c = self.config
        super().__init__(info, c.seed, c.initial_value)
        self.epsilon_schedule = make_schedule(c.exploration_schedule, c.epsilon, c.exploration_final, c.decay_steps)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """ε-greedy arms while exploring, greedy otherwise (ties at random)."""
        n = len(obs)
        if not explore:
            return self._argmax(self.means, n, explore=False)
        greedy = self._argmax(self.means, n)
        random = self.rng.random(n) < self.epsilon_schedule(self.pulls)
        return np.where(random, self.rng.integers(0, self.n_arms, size=n), greedy)

    def _observe(self, arm: int, reward: float) -> None:
        if self.config.learning_rate is None:
            super()._observe(arm, reward)
        else:
            self.means[arm] += self.config.learning_rate * (reward - self.means[arm])
