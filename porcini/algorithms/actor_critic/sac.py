"""Soft Actor-Critic with automatic entropy tuning (Haarnoja et al. 2018, arXiv:1801.01290 and arXiv:1812.05905).

One update on a replay sample ``(s, a, r, s', terminated)``, in Stable-Baselines3's order::

    ã, log π(ã|s)  ~ π(·|s)                                    reparameterized (kept for the actor loss)
    α ← Adam step on  -log α · (log π(ã|s) + H̄)                 H̄ = -action_dim by default
    y = r + γ (1 - terminated) (min_i Q'_i(s', a') - α log π(a'|s')),   a' ~ π(·|s')
    Q ← Adam step on  0.5 Σ_i mean (Q_i(s, a) - y)^2
    π ← Adam step on  mean(α log π(ã|s) - min_i Q_i(s, ã))     through the just-updated critics
    Q' ← (1 - τ) Q' + τ Q                                      every ``target_update_interval`` updates

A truncated transition bootstraps from its true successor ``s'``; only ``terminated`` drops the bootstrap.

Design, for speed at equal arithmetic: the ``n_critics`` critics are one :class:`~porcini.networks.EnsembleMLP`
(one batched matrix product per layer for all critics), Adam is fused, the actor loss back-propagates only into
the actor's parameters (``backward(inputs=...)``: SB3 also computes critic weight gradients there, which its next
``zero_grad`` discards), the target update is one multi-tensor lerp, and a fit converts its replay sample
to tensors once and reads its metrics with one host sync.

Deviations from SB3: the tanh correction of ``log π`` is the exact ``2 (log 2 - u - softplus(-2u))`` instead of
``log(1 - tanh(u)^2 + 1e-6)``; metrics are those of the last update of a fit, not means over the fit. No gSDE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from porcini.algorithms.actor_critic.common import OffPolicyAgent, OffPolicyConfig, make_critic
from porcini.algorithms.kit import ReplaySample, seeded
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.functional import polyak_update, sac_actor_loss, sac_alpha_loss, soft_q_target, td_loss
from porcini.networks import TanhGaussianHead, make_trunk
from porcini.networks.distributions import TanhGaussian
from porcini.networks.optim import adam


@dataclass(frozen=True)
class SACConfig(OffPolicyConfig):
    """Hyperparameters of SAC; the shared ones are documented on :class:`OffPolicyConfig` (SB3 defaults)."""

    learning_rate: float = 3e-4
    """Adam step size of actor, critics and temperature (SB3: 3e-4; the RL Zoo uses 1e-3 on Pendulum)."""
    ent_coef: float | str = "auto"
    """Entropy temperature α: a float keeps it fixed; ``"auto"`` learns it from 1.0, ``"auto_0.1"`` from 0.1."""
    target_entropy: float | str = "auto"
    """Entropy target H̄ of the automatic tuning; ``"auto"`` is ``-action_dim``."""
    target_update_interval: int = 1
    """Updates between two Polyak updates of the target critics."""

    def __post_init__(self) -> None:
        super().__post_init__()
        ent = self.ent_coef
        if isinstance(ent, str):
            ok = ent == "auto" or (ent.startswith("auto_") and _positive_float(ent[5:]))
        else:
            ok = ent >= 0
        require(ok, "SACConfig", "ent_coef", ent, "a float >= 0, 'auto' or 'auto_<initial value>' such as 'auto_0.1'")
        target = self.target_entropy
        require(target == "auto" or not isinstance(target, str), "SACConfig", "target_entropy", target,
                "'auto' (-action_dim) or a float")
        require(self.target_update_interval >= 1, "SACConfig", "target_update_interval",
                self.target_update_interval, ">= 1")


def _positive_float(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


class SAC(OffPolicyAgent):
    """Soft Actor-Critic for Box actions: a tanh-Gaussian actor, an ensemble of critics, learned temperature.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = SAC(env.info, net_arch=(32, 32), batch_size=32, learning_starts=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=100)
        >>> agent.n_updates
        50
    """

    name = "sac"
    Config = SACConfig
    config: SACConfig
    actor_head: nn.Module  # a TanhGaussianHead here, a CategoricalHead in DiscreteSAC

    def __init__(self, info: EnvInfo, config: SACConfig | None = None, **overrides: Any) -> None:
        self.config = c = build_config(SACConfig, config, overrides)
        arch = self._setup(info)
        with seeded(c.seed):
            self.actor_trunk = make_trunk(info.observation_space, arch.pi, c.activation).to(self.device)
            self.actor_head = TanhGaussianHead(self.actor_trunk.out_dim, info.action_dim).to(self.device)
            self.critic = make_critic(info, arch, c.activation, c.n_critics).to(self.device)
        self._register_networks()
        self._setup_temperature(auto_target_entropy=-float(info.action_dim))

    def _register_networks(self) -> None:
        """Given ``actor_trunk``, ``actor_head`` and ``critic``: the target critics, the optimizers, checkpointing."""
        lr = self.config.learning_rate
        self.critic_target = self.target_of(self.critic)
        self.actor_params = [*self.actor_trunk.parameters(), *self.actor_head.parameters()]
        self.modules = {"actor_trunk": self.actor_trunk, "actor_head": self.actor_head, "critic": self.critic,
                        "critic_target": self.critic_target}
        self.optimizers = {"actor": adam(self.actor_params, lr, self.device),
                           "critic": adam(self.critic.parameters(), lr, self.device)}

    def _setup_temperature(self, auto_target_entropy: float) -> None:
        """The entropy target and α: fixed (``ent_coef`` a float) or learned (its ``log α`` and optimizer)."""
        c = self.config
        self.target_entropy = auto_target_entropy if c.target_entropy == "auto" else float(c.target_entropy)
        self.learn_alpha = isinstance(c.ent_coef, str)
        if isinstance(c.ent_coef, str):
            init = float(c.ent_coef[5:]) if c.ent_coef.startswith("auto_") else 1.0
            self.log_alpha = torch.nn.Parameter(torch.tensor(math.log(init), device=self.device))
            self.optimizers["alpha"] = adam([self.log_alpha], c.learning_rate, self.device)
            self.tensors["log_alpha"] = self.log_alpha
        else:
            self.fixed_alpha = torch.tensor(float(c.ent_coef), device=self.device)

    def policy(self, obs: Tensor) -> TanhGaussian:
        """The squashed Gaussian ``π(·|s)`` at observations ``[N, *obs_shape]`` (as ``obs_to_tensor`` gives them)."""
        return self.actor_head(self.actor_trunk(obs))

    def policy_action(self, obs: Tensor, explore: bool) -> Tensor:
        """A sample of ``π(·|s)`` when exploring, its mode ``tanh(mean)`` otherwise (normalized)."""
        dist = self.policy(obs)
        return dist.sample(self.generator) if explore else dist.mode()

    def explain_tensors(self, obs: Tensor) -> dict[str, Tensor]:
        """The critics' minimum ``Q(s, a*)`` at the deterministic action and the Gaussian before the tanh."""
        dist = self.policy(obs)
        return {**super().explain_tensors(obs), "pre_tanh_mean": dist.mean,
                "pre_tanh_std": dist.log_std.exp().expand(dist.mean.shape)}

    @property
    def alpha(self) -> Tensor:
        """The current temperature α (a 0-d tensor, no gradient)."""
        return self.log_alpha.detach().exp() if self.learn_alpha else self.fixed_alpha

    def critic_target_values(self, s: ReplaySample, alpha: Tensor) -> Tensor:
        """Soft TD targets ``y`` ``[N]``: ``r + γ (1 - terminated) (min_i Q'_i(s', a') - α log π(a'|s'))``."""
        with torch.no_grad():
            next_action, next_log_prob = self.policy(s.next_obs).rsample_with_log_prob(self.generator)
            next_q = self.critic_target(self.critic_target.q_input(s.next_obs, next_action)).squeeze(-1)  # [E, N]
            return soft_q_target(s.reward, next_q, next_log_prob, s.terminated, s.discount, alpha)

    def alpha_step(self, log_prob: Tensor, metrics: dict[str, Tensor]) -> None:
        """With a learned temperature, one step of α's loss on this update's ``log_prob`` (in ``metrics``)."""
        if self.learn_alpha:
            loss_alpha = sac_alpha_loss(self.log_alpha, log_prob, self.target_entropy)["loss_alpha"]
            self.optimizers["alpha"].zero_grad()
            loss_alpha.backward()
            self.optimizers["alpha"].step()
            metrics["loss_alpha"] = loss_alpha

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One SAC update (see the module docstring) on the sample ``s``."""
        opt = self.optimizers
        action_pi, log_prob = self.policy(s.obs).rsample_with_log_prob(self.generator)
        alpha = self.alpha  # the temperature before this update's α step, as in SB3
        metrics: dict[str, Tensor] = {"ent_coef": alpha}
        self.alpha_step(log_prob, metrics)

        target = self.critic_target_values(s, alpha)
        q = self.critic(self.critic.q_input(s.obs, s.action)).squeeze(-1)  # [E, N], all critics in one batched pass
        loss_critic = td_loss(q, target, kind="mse")["loss_td"] * (0.5 * q.shape[0])  # SB3: 0.5 Σ_i mse_i
        opt["critic"].zero_grad()
        loss_critic.backward()
        opt["critic"].step()

        q_pi = self.critic(self.critic.q_input(s.obs, action_pi)).squeeze(-1).amin(dim=0)
        loss_actor = sac_actor_loss(log_prob, q_pi, alpha)["loss_actor"]
        opt["actor"].zero_grad()
        loss_actor.backward(inputs=self.actor_params)  # the critics' weight gradients are not needed here
        opt["actor"].step()

        if self.n_updates % self.config.target_update_interval == 0:
            polyak_update(self.critic_target, self.critic, self.config.tau)
        metrics.update(loss_critic=loss_critic, loss_actor=loss_actor)
        return metrics
