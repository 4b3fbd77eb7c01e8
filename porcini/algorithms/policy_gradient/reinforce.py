"""REINFORCE: Monte Carlo policy gradient, optionally with a learned state-value baseline.

Williams 1992 ("Simple statistical gradient-following algorithms"); Sutton & Barto 2018, §13.3-13.4. The loop
fits after every ``fit_every_episodes`` finished episodes on the ``[T, B]`` batch gathered since the last fit:

1. Returns ``G_t = Σ_k γ^k r_{t+k}`` to the end of the episode (:func:`porcini.functional.discounted_returns`).
2. With the baseline: ``A_t = G_t - V(s_t)`` and ``V`` regresses onto ``G_t``; without it, ``A_t = G_t``.
3. ``L = -mean(log π(a_t|s_t) A_t) + vf_coef · mean((V(s_t) - G_t)²) - ent_coef · mean(H)``, one Adam step.

Where the episode did not end by termination inside the batch, the Monte Carlo return is not available:

- At a truncation (time limit), the return is completed by the baseline, ``G = ... + γ^k V(final obs)``; without a
  baseline it is the truncated sum (the textbook estimate, biased low for time-limited tasks).
- Episodes still running at the end of the batch (other envs of the vector finish at other times) are treated
  alike: with a baseline they bootstrap from ``V(next_obs)`` of the last row; without one their rows are left out
  of the update (their return is unknown). With one env and ``fit_every_episodes = k`` every batch holds exactly
  ``k`` whole episodes and nothing is bootstrapped or left out.

The baseline is a separate value network trained with the same optimizer. Advantages are standardized per
batch by default (``normalize_advantage``), a common variance reduction not in the original algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from porcini.algorithms.policy_gradient.common import OnPolicyAgent, OnPolicyConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.functional import (
    discounted_returns,
    entropy_loss,
    normalize_advantage,
    policy_gradient_loss,
    value_loss,
)
from porcini.networks.denormals import flush_denormals


@dataclass(frozen=True)
class ReinforceConfig(OnPolicyConfig):
    """Hyperparameters of REINFORCE (Stable-Baselines3 has no REINFORCE; names follow its other agents)."""

    learning_rate: float = 1e-3
    """Adam step size."""
    fit_every_episodes: int | None = None
    """Finished episodes between updates; None means one per env (``n_envs``)."""
    baseline: bool = True
    """Learn a state-value baseline ``V`` and use ``G - V`` as the advantage."""
    vf_coef: float = 0.5
    """Weight of the baseline's regression loss."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    normalize_advantage: bool = True
    """Standardize the advantages (or returns) of each batch (a batch of one row keeps its own)."""
    max_grad_norm: float | None = None
    """Clip the gradient's global norm to this; None: no clipping."""
    adam_eps: float = 1e-8
    """Adam's ε."""

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "ReinforceConfig"
        require(self.fit_every_episodes is None or self.fit_every_episodes >= 1, owner, "fit_every_episodes",
                self.fit_every_episodes, "an int >= 1 or None")
        require(self.vf_coef >= 0, owner, "vf_coef", self.vf_coef, ">= 0")
        require(self.ent_coef >= 0, owner, "ent_coef", self.ent_coef, ">= 0")
        require(self.adam_eps > 0, owner, "adam_eps", self.adam_eps, "> 0")


def finished_rows(episode_end: torch.Tensor) -> torch.Tensor:
    """``[T, B]`` mask of the rows whose episode ends inside the batch (an end at or after them in their column)."""
    ends = episode_end.to(torch.uint8).flip(0)
    return torch.cummax(ends, dim=0).values.flip(0).bool()


class Reinforce(OnPolicyAgent):
    """Monte Carlo policy gradient with an optional learned baseline; fits every ``fit_every_episodes`` episodes.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=1, seed=0)
        >>> agent = Reinforce(env.info, fit_every_episodes=2)
        >>> Core(agent, env, progress=False).learn(episodes=4).episodes.n_episodes
        4
    """

    name = "reinforce"
    Config = ReinforceConfig

    def __init__(self, info: EnvInfo, config: ReinforceConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(ReinforceConfig, config, overrides)
        self._build(info, with_value=self.config.baseline)
        self.fit_every_episodes = self.config.fit_every_episodes or info.n_envs
        self._setup_optimizer(eps=self.config.adam_eps)

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """One policy-gradient step on the episodes of the batch; return the losses."""
        c = self.config
        self.steps_seen += batch.n_transitions
        b = self._to_torch(batch)
        if c.baseline:
            value = self.model.value(b.obs)
            with torch.no_grad():
                next_value = self.model.value(b.next_obs)  # used at truncations and the batch end only
            keep = torch.ones_like(b.terminated)
        else:
            value = next_value = torch.zeros_like(b.reward)
            keep = finished_rows(b.episode_end)
        returns = discounted_returns(b.reward, next_value, b.terminated, b.truncated, c.gamma)
        if not bool(keep.any()):
            return {}  # no episode ended in this batch: nothing has a return yet
        dist = self.model.policy(b.obs)
        log_prob = self.model.log_prob(dist, b.action)[keep]
        returns, value = returns[keep], value[keep]
        advantage = returns - value.detach()
        if c.normalize_advantage and advantage.numel() > 1:  # one row (a one-step episode) keeps its advantage
            advantage = normalize_advantage(advantage)
        terms = policy_gradient_loss(log_prob, advantage)
        if c.baseline:
            terms.update(value_loss(value, returns))
        with torch.set_grad_enabled(c.ent_coef > 0):
            terms.update(entropy_loss(dist.entropy()[keep]))
        self._optimize(terms)
        self.fits += 1
        metrics = {k: float(v.detach()) for k, v in terms.items()}
        metrics["rows_used"] = float(keep.sum())
        metrics["return_mean"] = float(returns.mean())
        return metrics
