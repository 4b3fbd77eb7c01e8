"""UCB1 (Auer, Cesa-Bianchi & Fischer, 2002, "Finite-time analysis of the multiarmed bandit problem", Fig. 1).

Pull every arm once, then the arm maximizing the upper confidence bound

    Q(a) + c · sqrt(2 ln t / N(a))

with ``Q(a)`` the sample mean, ``N(a)`` the pulls of arm ``a`` and ``t`` all pulls so far. For rewards in [0, 1]
and ``c = 1`` the expected regret after ``n`` pulls is at most ``8 Σ_{a: Δ_a > 0} ln n / Δ_a + (1 + π²/3) Σ Δ_a``:
logarithmic, hence sub-linear. Scale ``c`` with the reward range for other rewards. With several envs acting in
one step they all see the same statistics, so they pull the same arm (ties, as among untried arms, are broken at
random per env). Deviations: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.bandits.base import BanditAgent
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo


@dataclass(frozen=True)
class UCBConfig:
    """Hyperparameters of UCB1."""

    ucb_coef: float = 1.0
    """``c``, the width of the confidence bonus ``c · sqrt(2 ln t / N(a))`` (1 is UCB1 for rewards in [0, 1])."""
    seed: int = 0
    """Seed of the tie-breaking generator."""

    def __post_init__(self) -> None:
        require(self.ucb_coef >= 0, "UCBConfig", "ucb_coef", self.ucb_coef, ">= 0")


class UCB(BanditAgent):
    """Optimism in the face of uncertainty: the arm with the highest upper confidence bound."""

    name = "ucb"
    Config = UCBConfig

    def __init__(self, info: EnvInfo, config: UCBConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(UCBConfig, config, overrides)
        super().__init__(info, self.config.seed)

    def upper_bounds(self) -> np.ndarray:
        """``[A]`` UCB indices; untried arms are +inf (so each is pulled once first)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.config.ucb_coef * np.sqrt(2.0 * np.log(max(self.pulls, 1)) / self.counts)
        return np.where(self.counts == 0, np.inf, self.means + bonus)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """The arms of highest upper bound while exploring, of highest mean otherwise."""
        if not explore:
            return self._argmax(np.where(self.counts == 0, -np.inf, self.means), len(obs), explore=False)
        return self._argmax(self.upper_bounds(), len(obs))
