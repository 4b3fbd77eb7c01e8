"""Thompson sampling for multi-armed bandits, Bernoulli (Beta prior) and Gaussian.

Thompson (1933); Agrawal & Goyal (2012), "Analysis of Thompson sampling for the multi-armed bandit problem";
Russo et al. (2018), "A tutorial on Thompson sampling".

Keep a posterior over each arm's mean; each pull, draw one mean per arm from its posterior and pull the arm with
the largest draw. Two conjugate models:

* ``prior="beta"`` (Bernoulli rewards): ``Beta(α₀ + successes, β₀ + failures)``. Rewards in [0, 1] that are not
  0/1 are turned into a Bernoulli success with probability ``r`` (Agrawal & Goyal's trick), which keeps the
  regret guarantee.
* ``prior="gaussian"`` (Gaussian rewards with known noise σ): prior ``N(μ₀, σ₀²)``, posterior precision
  ``1/σ₀² + N(a)/σ²`` and mean ``(μ₀/σ₀² + Σ r / σ²) / precision``.

Regret grows logarithmically in the number of pulls. Deviations: none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from porcini.algorithms.bandits.base import BanditAgent
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo

PRIORS = ("beta", "gaussian")


@dataclass(frozen=True)
class ThompsonSamplingConfig:
    """Hyperparameters of Thompson sampling."""

    prior: str = "beta"
    """``"beta"`` for Bernoulli (or [0, 1]) rewards, ``"gaussian"`` for Gaussian rewards of known noise."""
    prior_alpha: float = 1.0
    """Beta prior: α₀ (pseudo-successes); 1 with ``prior_beta = 1`` is uniform."""
    prior_beta: float = 1.0
    """Beta prior: β₀ (pseudo-failures)."""
    prior_mean: float = 0.0
    """Gaussian prior: mean μ₀ of every arm's mean."""
    prior_std: float = 1.0
    """Gaussian prior: standard deviation σ₀ of every arm's mean."""
    noise_std: float = 1.0
    """Gaussian model: the known standard deviation σ of a reward around its arm's mean."""
    seed: int = 0
    """Seed of the posterior draws."""

    def __post_init__(self) -> None:
        name = "ThompsonSamplingConfig"
        require(self.prior in PRIORS, name, "prior", self.prior, f"one of {PRIORS}")
        for field in ("prior_alpha", "prior_beta", "prior_std", "noise_std"):
            require(getattr(self, field) > 0, name, field, getattr(self, field), "> 0")


class ThompsonSampling(BanditAgent):
    """Posterior sampling over arm means; fits after every vector step.

    Attributes:
        successes: ``[A]`` Bernoulli successes (beta prior).
        reward_sums: ``[A]`` sums of rewards (Gaussian prior).
    """

    name = "thompson"
    Config = ThompsonSamplingConfig

    def __init__(self, info: EnvInfo, config: ThompsonSamplingConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(ThompsonSamplingConfig, config, overrides)
        super().__init__(info, self.config.seed)
        self.successes = np.zeros(self.n_arms)
        self.reward_sums = np.zeros(self.n_arms)

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-arm posterior parameters: ``(α, β)`` for the beta prior, ``(mean, std)`` for the Gaussian one."""
        c = self.config
        if c.prior == "beta":
            return c.prior_alpha + self.successes, c.prior_beta + (self.counts - self.successes)
        precision = 1.0 / c.prior_std**2 + self.counts / c.noise_std**2
        mean = (c.prior_mean / c.prior_std**2 + self.reward_sums / c.noise_std**2) / precision
        return mean, 1.0 / np.sqrt(precision)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """One posterior draw per env and arm, the arm of the largest draw; posterior means when not exploring."""
        n = len(obs)
        a, b = self.posterior()
        if not explore:
            mean = a / (a + b) if self.config.prior == "beta" else a
            return self._argmax(mean, n, explore=False)
        draws = self.rng.beta(a, b, size=(n, self.n_arms)) if self.config.prior == "beta" else \
            self.rng.normal(a, b, size=(n, self.n_arms))
        return np.argmax(draws, axis=1).astype(np.int64)

    def _check_rewards(self, arms: np.ndarray, rewards: np.ndarray) -> None:
        """A Beta prior takes rewards in [0, 1] only: refuse the batch before any count or posterior moves."""
        if self.config.prior == "beta":
            outside = np.flatnonzero(~((rewards >= 0.0) & (rewards <= 1.0)))
            if outside.size:
                i = int(outside[0])
                raise ValueError(f"ThompsonSampling(prior='beta') needs rewards in [0, 1], got {rewards[i]} from arm "
                                 f"{arms[i]}; use prior='gaussian' for other rewards")

    def _observe(self, arm: int, reward: float) -> None:
        super()._observe(arm, reward)
        if self.config.prior == "beta":
            self.successes[arm] += float(self.rng.random() < reward) if 0.0 < reward < 1.0 else reward
        else:
            self.reward_sums[arm] += reward

    def state_dict(self) -> dict[str, Any]:
        """The base state plus the posterior statistics."""
        return {**super().state_dict(), "successes": self.successes.copy(), "reward_sums": self.reward_sums.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.successes = np.asarray(state["successes"], dtype=np.float64).copy()
        self.reward_sums = np.asarray(state["reward_sums"], dtype=np.float64).copy()
