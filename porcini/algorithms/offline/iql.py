"""IQL: Implicit Q-Learning.

Kostrikov, Nair & Levine 2021, "Offline Reinforcement Learning with Implicit Q-Learning", arXiv:2110.06169.

IQL never evaluates ``Q`` at an action outside the data: ``V(s)`` is fitted to an upper expectile of the data's
``Q(s, a)``, ``Q`` regresses onto ``r + γ V(s')``, and the policy is extracted by advantage-weighted regression.
One update on a replay sample ``(s, a, r, s', terminated)``, in the official implementation's order::

    V ← Adam step on  mean |τ - 1{u < 0}| u²,   u = min_i Q'_i(s, a) - V(s)      expectile τ (target critics)
    π ← Adam step on  -mean min(exp(β (min_i Q'_i(s, a) - V(s))), 100) log π(a|s)   with the updated V
    y = r + γ (1 - terminated) V(s')                                                 with the updated V
    Q ← Adam step on  Σ_i mean (Q_i(s, a) - y)²
    Q' ← (1 - τ_polyak) Q' + τ_polyak Q

The losses are :func:`~porcini.functional.expectile_loss` and
:func:`~porcini.functional.advantage_weighted_actor_loss`. A truncated transition bootstraps from its true
successor; only ``terminated`` drops the bootstrap.

The policy is the official one for continuous control: a Gaussian whose mean is ``tanh`` of the actor's output and
whose log-std is a state-independent parameter (clamped to ``[-10, 2]``), unsquashed, so ``log π(a|s)`` is exact
at every data action, the bounds included. Evaluation acts with the mean; exploring (online fine-tuning) samples
and clips to the action bounds.

IQL runs online like SAC (``fit`` stores transitions and runs the due updates on replay), which is how offline
pretraining continues online with the same agent. Deviation from the paper: no cosine decay of the actor's
learning rate, and no dropout.
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
from porcini.functional import (
    advantage_weighted_actor_loss,
    expectile_loss,
    polyak_update,
    q_learning_target,
    td_loss,
)
from porcini.networks import DiagGaussianHead, NetArch, make_trunk
from porcini.networks.critics import Critics
from porcini.networks.distributions import DiagGaussian
from porcini.networks.encoders import make_encoder
from porcini.networks.optim import adam

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0
"""Clamp of the policy's log-std (the official implementation's bounds)."""


@dataclass(frozen=True)
class IQLConfig(OffPolicyConfig):
    """Hyperparameters of IQL; the shared ones are documented on :class:`OffPolicyConfig` (the paper's defaults)."""

    learning_rate: float = 3e-4
    """Adam step size of the actor, the critics and the value network."""
    expectile: float = 0.7
    """Expectile τ of the value loss: 0.5 fits the mean of ``Q`` over the data's actions, → 1 its maximum."""
    temperature: float = 3.0
    """Inverse temperature β of the advantage weights ``exp(β A)``: 0 is behaviour cloning, large β greedier."""
    max_weight: float = 100.0
    """Clip of the advantage weights."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(0 < self.expectile < 1, name, "expectile", self.expectile, "in (0, 1)")
        require(self.temperature >= 0, name, "temperature", self.temperature, ">= 0")
        require(self.max_weight > 0, name, "max_weight", self.max_weight, "> 0")


def make_value_network(info: EnvInfo, arch: NetArch, activation: str) -> Critics:
    """``V(s)`` as a one-member :class:`Critics` over the encoded observations (``value(value.features(obs))``)."""
    encoder = make_encoder(info.observation_space)
    return Critics(1, encoder.features_dim, 1, arch.vf, activation, encoder=encoder)


class IQL(OffPolicyAgent):
    """Implicit Q-Learning for Box actions: expectile value, twin critics, advantage-weighted Gaussian actor.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = IQL(env.info, net_arch=(32, 32), batch_size=32, learning_starts=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=100)
        >>> agent.n_updates
        50
    """

    name = "iql"
    Config: type[IQLConfig] = IQLConfig
    config: IQLConfig

    def __init__(self, info: EnvInfo, config: IQLConfig | None = None, **overrides: Any) -> None:
        self.config = c = build_config(self.Config, config, overrides)
        arch = self._setup(info)
        with seeded(c.seed):
            self.actor_trunk = make_trunk(info.observation_space, arch.pi, c.activation).to(self.device)
            self.actor_head = DiagGaussianHead(self.actor_trunk.out_dim, info.action_dim, init="default").to(
                self.device)
            self.critic = make_critic(info, arch, c.activation, c.n_critics).to(self.device)
            self.value = make_value_network(info, arch, c.activation).to(self.device)
        self.critic_target = self.target_of(self.critic)
        self.actor_params = [*self.actor_trunk.parameters(), *self.actor_head.parameters()]
        self.modules = {"actor_trunk": self.actor_trunk, "actor_head": self.actor_head, "critic": self.critic,
                        "critic_target": self.critic_target, "value": self.value}
        self.optimizers = {"actor": adam(self.actor_params, c.learning_rate, self.device),
                           "critic": adam(self.critic.parameters(), c.learning_rate, self.device),
                           "value": adam(self.value.parameters(), c.learning_rate, self.device)}

    def policy(self, obs: Tensor) -> DiagGaussian:
        """``π(·|s)``: a Gaussian with mean ``tanh(μ(s))`` and a clamped state-independent log-std."""
        dist = self.actor_head(self.actor_trunk(obs))
        return DiagGaussian(torch.tanh(dist.mean), dist.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX))

    def policy_action(self, obs: Tensor, explore: bool) -> Tensor:
        """The policy's mean, or a sample of it clipped to ``[-1, 1]`` when exploring (normalized)."""
        dist = self.policy(obs)
        return dist.sample(self.generator).clamp(-1.0, 1.0) if explore else dist.mode()

    def state_value(self, obs: Any) -> Tensor:
        """``V(s)`` ``[N]`` at observations as :func:`~porcini.algorithms.kit.obs_to_tensor` gives them."""
        return self.value(self.value.features(obs))[0, :, 0]

    def explain_tensors(self, obs: Tensor) -> dict[str, Tensor]:
        """The critics' minimum at the mean action, ``V(s)`` and the policy's mean (before the bounds' scaling)."""
        return {**super().explain_tensors(obs), "state_value": self.state_value(obs),
                "policy_mean": self.policy(obs).mean}

    def critic_target_values(self, s: ReplaySample) -> Tensor:
        """TD targets ``y`` ``[N]``: ``r + γ (1 - terminated) V(s')``."""
        with torch.no_grad():
            # one "action" per sample: the max in q_learning_target is over a single value, i.e. the value itself
            return q_learning_target(s.reward, self.state_value(s.next_obs).unsqueeze(-1), s.terminated, s.discount)

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One IQL update (see the module docstring) on the sample ``s``."""
        c, opt = self.config, self.optimizers
        with torch.no_grad():
            q_data = self.critic_target(self.critic_target.q_input(s.obs, s.action)).squeeze(-1).amin(dim=0)
        loss_value = expectile_loss(q_data, self.state_value(s.obs), c.expectile)["loss_value"]
        opt["value"].zero_grad()
        loss_value.backward()
        opt["value"].step()

        with torch.no_grad():
            advantage = q_data - self.state_value(s.obs)
        log_prob = self.policy(s.obs).log_prob(s.action)
        loss_actor = advantage_weighted_actor_loss(log_prob, advantage, c.temperature, c.max_weight)["loss_actor"]
        opt["actor"].zero_grad()
        loss_actor.backward()
        opt["actor"].step()

        target = self.critic_target_values(s)
        q = self.critic(self.critic.q_input(s.obs, s.action)).squeeze(-1)  # [E, N], all critics in one batched pass
        loss_critic = td_loss(q, target, kind="mse")["loss_td"] * q.shape[0]  # Σ_i mse_i, as the official code
        opt["critic"].zero_grad()
        loss_critic.backward()
        opt["critic"].step()

        polyak_update(self.critic_target, self.critic, c.tau)
        return {"loss_value": loss_value, "loss_actor": loss_actor, "loss_critic": loss_critic,
                "advantage_mean": advantage.mean()}
