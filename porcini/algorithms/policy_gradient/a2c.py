"""Advantage Actor-Critic, the synchronous variant of A3C (Mnih et al. 2016, arXiv:1602.01783).

Every ``n_steps * n_envs`` env steps the loop hands over a ``[T = n_steps, B = n_envs]`` rollout; one gradient
step on the whole of it:

1. ``V(s)`` with gradient and ``V(s')`` without, for every row; GAE(γ, λ) advantages ``A`` and returns
   ``R = A + V(s)`` (:func:`porcini.functional.gae`; ``gae_lambda = 1`` gives A3C's n-step returns cut at the
   rollout's end).
2. ``L = -mean(log π(a|s) A) + vf_coef · mean((V(s) - R)²) - ent_coef · mean(H[π(·|s)])``, one RMSprop (or Adam)
   step after clipping the gradient's global norm to ``max_grad_norm``.

Defaults are Stable-Baselines3's (RMSprop with α = 0.99, ε = 1e-5, PyTorch's RMSprop with ε outside the square
root). Deviations from SB3: truncation bootstraps from ``V(next_obs)`` inside the advantage rather than by
``reward += γ V(final_obs)`` (the same estimate); continuous actions are scored by the clipped Gaussian
(:mod:`.common`); the learning-rate schedule's clock is the agent's own count of fitted env steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from porcini.algorithms.policy_gradient.common import (
    OnPolicyAgent,
    OnPolicyConfig,
    explained_variance,
    flat,
    scheduled,
)
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.functional import entropy_loss, gae, normalize_advantage, policy_gradient_loss, value_loss
from porcini.networks.denormals import flush_denormals


@dataclass(frozen=True)
class A2CConfig(OnPolicyConfig):
    """Hyperparameters of A2C; names and defaults follow Stable-Baselines3."""

    learning_rate: float = 7e-4
    """Optimizer step size (its initial value under a linear schedule)."""
    learning_rate_schedule: Literal["constant", "linear"] = "constant"
    """``linear`` decays the learning rate to 0 at the run's end (the horizon ``Core.learn`` sets)."""
    n_steps: int = 5
    """Env steps per env between updates: the rollout has ``n_steps * n_envs`` transitions."""
    gae_lambda: float = 1.0
    """GAE's λ; 1 gives the classic n-step advantage."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float | None = 0.5
    """Clip the gradient's global norm to this; None: no clipping."""
    use_rms_prop: bool = True
    """RMSprop (as A3C and SB3) if true, else Adam."""
    rms_prop_eps: float = 1e-5
    """ε of RMSprop (or of Adam)."""
    normalize_advantage: bool = False
    """Standardize the advantages of each rollout (a rollout of one transition keeps its advantage)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "A2CConfig"
        require(isinstance(self.n_steps, int) and self.n_steps >= 1, owner, "n_steps", self.n_steps, "an int >= 1")
        require(0 <= self.gae_lambda <= 1, owner, "gae_lambda", self.gae_lambda, "in [0, 1]")
        require(self.ent_coef >= 0, owner, "ent_coef", self.ent_coef, ">= 0")
        require(self.vf_coef >= 0, owner, "vf_coef", self.vf_coef, ">= 0")
        require(self.rms_prop_eps > 0, owner, "rms_prop_eps", self.rms_prop_eps, "> 0")


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic with separate policy and value networks; one update per rollout.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=4, seed=0)
        >>> agent = A2C(env.info)
        >>> Core(agent, env, progress=False).learn(steps=200).steps
        200
    """

    name = "a2c"
    Config = A2CConfig

    def __init__(self, info: EnvInfo, config: A2CConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(A2CConfig, config, overrides)
        self._build(info)
        c = self.config
        self.fit_every_steps = c.n_steps * info.n_envs
        self._setup_optimizer("rmsprop" if c.use_rms_prop else "adam", eps=c.rms_prop_eps, alpha=0.99)

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """One actor-critic gradient step on the rollout; return the losses and diagnostics."""
        c = self.config
        self.steps_seen += batch.n_transitions
        learning_rate = scheduled(c.learning_rate, c.learning_rate_schedule, self.progress_remaining())
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        b = self._to_torch(batch)
        value = self.model.value(b.obs)
        with torch.no_grad():
            # V(next_obs) of the true successor: bootstrap at truncations and at the rollout's end, not after a
            # termination (gae drops it there), and the trace stops at every episode end.
            next_value = self.model.value(b.next_obs)
            advantage, returns = gae(b.reward, value.detach(), next_value, b.terminated, b.episode_end, c.gamma,
                                     c.gae_lambda)
        dist = self.model.policy(b.obs)
        advantage = flat(advantage)
        if c.normalize_advantage and advantage.numel() > 1:  # a lone advantage is kept as it is (see PPO)
            advantage = normalize_advantage(advantage)
        terms = policy_gradient_loss(flat(self.model.log_prob(dist, b.action)), advantage)
        terms.update(value_loss(flat(value), flat(returns)))
        with torch.set_grad_enabled(c.ent_coef > 0):  # without a bonus, the entropy is only a diagnostic
            terms.update(entropy_loss(flat(dist.entropy())))
        self._optimize(terms)
        self.fits += 1
        with torch.no_grad():
            ev = explained_variance(flat(value), flat(returns))
            values = torch.stack([terms["loss_policy"], terms["loss_value"], terms["loss_entropy"], ev]).tolist()
        metrics = dict(zip(("loss_policy", "loss_value", "loss_entropy", "explained_variance"), values))
        metrics["learning_rate"] = learning_rate
        return metrics
