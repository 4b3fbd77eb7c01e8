"""TD3: Twin Delayed Deep Deterministic policy gradient (Fujimoto, van Hoof & Meger 2018, arXiv:1802.09477).

One update on a replay sample ``(s, a, r, s', terminated)``, as in the paper and Stable-Baselines3::

    ε  = clip(N(0, σ̃²), -c, c)                                 target policy smoothing (σ̃, c)
    y  = r + γ (1 - terminated) min_i Q'_i(s', clip(μ'(s') + ε, -1, 1))
    Q ← Adam step on  Σ_i mean (Q_i(s, a) - y)^2                clipped double Q over the critic ensemble
    every ``policy_delay`` updates:
        μ ← Adam step on  -mean Q_1(s, μ(s))                     deterministic policy gradient, first critic
        Q' ← (1 - τ) Q' + τ Q,  μ' ← (1 - τ) μ' + τ μ

Acting adds Gaussian noise ``N(0, action_noise_std²)`` to ``μ(s)`` in the normalized action space and clips to
``[-1, 1]`` (then scales to the env's bounds). A truncated transition bootstraps from its true successor; only
``terminated`` drops the bootstrap. DDPG (:mod:`porcini.algorithms.actor_critic.ddpg`) is this module with one
critic, no delay and no target smoothing.

Design: the critics are one batched :class:`~porcini.networks.EnsembleMLP`; the actor loss evaluates member 0
alone (:func:`~porcini.algorithms.actor_critic.common.first_member`) and back-propagates into the actor's
parameters only; Adam is fused and target updates are one multi-tensor lerp.

Deviations from SB3: SB3's default ``action_noise`` is None (no exploration noise); here it is Gaussian with
``action_noise_std = 0.1`` as in the paper. Metrics are those of the last update of a fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from porcini.algorithms.actor_critic.common import OffPolicyAgent, OffPolicyConfig, make_critic
from porcini.algorithms.kit import ReplaySample, seeded
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.functional import deterministic_actor_loss, polyak_update, q_learning_target, td_loss
from porcini.networks import DeterministicHead, make_trunk
from porcini.networks.critics import first_member
from porcini.networks.optim import adam


@dataclass(frozen=True)
class TD3Config(OffPolicyConfig):
    """Hyperparameters of TD3; the shared ones are documented on :class:`OffPolicyConfig` (SB3 defaults)."""

    net_arch: tuple[int, ...] | dict[str, tuple[int, ...]] = (400, 300)
    """Hidden widths of actor and critics (SB3 and the paper: 400, 300)."""
    policy_delay: int = 2
    """Critic updates per actor and target update."""
    target_policy_noise: float = 0.2
    """Std σ̃ of the Gaussian noise on the target action (normalized units); 0 turns smoothing off."""
    target_noise_clip: float = 0.5
    """The target noise is clipped to ``[-c, c]``."""
    action_noise_std: float = 0.1
    """Std of the Gaussian exploration noise added to the actor's action (normalized units); 0 for none."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.policy_delay >= 1, name, "policy_delay", self.policy_delay, ">= 1")
        require(self.target_policy_noise >= 0, name, "target_policy_noise", self.target_policy_noise, ">= 0")
        require(self.target_noise_clip >= 0, name, "target_noise_clip", self.target_noise_clip, ">= 0")
        require(self.action_noise_std >= 0, name, "action_noise_std", self.action_noise_std, ">= 0")


class TD3(OffPolicyAgent):
    """TD3 for Box actions: a deterministic tanh actor, an ensemble of critics, target actor and critics.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = TD3(env.info, net_arch=(32, 32), batch_size=32, learning_starts=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=100)
        >>> agent.n_updates
        50
    """

    name = "td3"
    Config: type[TD3Config] = TD3Config
    config: TD3Config

    def __init__(self, info: EnvInfo, config: TD3Config | None = None, **overrides: Any) -> None:
        self.config = c = build_config(self.Config, config, overrides)
        arch = self._setup(info)
        with seeded(c.seed):
            trunk = make_trunk(info.observation_space, arch.pi, c.activation)
            self.actor = torch.nn.Sequential(trunk, DeterministicHead(trunk.out_dim, info.action_dim)).to(self.device)
            self.critic = make_critic(info, arch, c.activation, c.n_critics).to(self.device)
        self.actor_target = self.target_of(self.actor)
        self.critic_target = self.target_of(self.critic)
        self.actor_params = list(self.actor.parameters())
        self.modules = {"actor": self.actor, "critic": self.critic, "actor_target": self.actor_target,
                        "critic_target": self.critic_target}
        self.optimizers = {"actor": adam(self.actor_params, c.learning_rate, self.device),
                           "critic": adam(self.critic.parameters(), c.learning_rate, self.device)}
        # the last actor update's terms, reported between delayed actor updates
        self._actor_metrics = {"loss_actor": torch.zeros((), device=self.device)}

    def policy_action(self, obs: Tensor, explore: bool) -> Tensor:
        """``μ(s)``, plus clipped Gaussian exploration noise when exploring (normalized)."""
        action = self.actor(obs)
        std = self.config.action_noise_std
        if explore and std > 0:
            noise = torch.randn(action.shape, generator=self.generator, device=action.device)
            action = (action + std * noise).clamp(-1.0, 1.0)
        return action

    def critic_target_values(self, s: ReplaySample) -> Tensor:
        """TD targets ``y`` ``[N]``: ``r + γ (1 - terminated) min_i Q'_i(s', clip(μ'(s') + ε, -1, 1))``."""
        c = self.config
        with torch.no_grad():
            next_action = self.actor_target(s.next_obs)
            if c.target_policy_noise > 0:
                noise = torch.randn(next_action.shape, generator=self.generator, device=next_action.device)
                noise = (noise * c.target_policy_noise).clamp(-c.target_noise_clip, c.target_noise_clip)
                next_action = (next_action + noise).clamp(-1.0, 1.0)
            next_q = self.critic_target(self.critic_target.q_input(s.next_obs, next_action)).squeeze(-1).amin(dim=0)
            # one "action" per sample: the max in q_learning_target is over a single value, i.e. the value itself
            return q_learning_target(s.reward, next_q.unsqueeze(-1), s.terminated, s.discount)

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One TD3 update (see the module docstring) on the sample ``s``."""
        c, opt = self.config, self.optimizers
        target = self.critic_target_values(s)
        q = self.critic(self.critic.q_input(s.obs, s.action)).squeeze(-1)  # [E, N], all critics in one batched pass
        loss_critic = td_loss(q, target, kind="mse")["loss_td"] * q.shape[0]  # SB3: Σ_i mse_i
        opt["critic"].zero_grad()
        loss_critic.backward()
        opt["critic"].step()

        if (self.n_updates + 1) % c.policy_delay == 0:  # SB3 counts updates from 1
            terms = self.actor_loss(s)
            opt["actor"].zero_grad()
            terms["loss_actor"].backward(inputs=self.actor_params)  # the critics' weight gradients are not needed
            opt["actor"].step()
            self._actor_metrics = {name: value.detach() for name, value in terms.items()}
            polyak_update(self.critic_target, self.critic, c.tau)
            polyak_update(self.actor_target, self.actor, c.tau)
        return {"loss_critic": loss_critic, **self._actor_metrics}

    def actor_loss(self, s: ReplaySample) -> dict[str, Tensor]:
        """The actor's loss terms on ``s``; ``loss_actor`` is minimized: ``-mean Q_1(s, μ(s))``, first critic."""
        q1 = first_member(self.critic, self.critic.q_input(s.obs, self.actor(s.obs))).squeeze(-1)
        return deterministic_actor_loss(q1)
