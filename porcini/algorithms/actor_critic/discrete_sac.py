"""Soft Actor-Critic for discrete actions (Christodoulou 2019, arXiv:1910.07207).

With ``n`` actions the policy is a categorical distribution and every critic outputs ``Q(s, ·)`` for all of them,
so each expectation over actions SAC estimates with one sample is computed exactly::

    π(·|s) = softmax(logits(s))
    α ← Adam step on  -log α · (Σ_a π(a|s) log π(a|s) + H̄)       H̄ = target_entropy_scale · log n by default
    y = r + γ (1 - terminated) Σ_a' π(a'|s') (min_i Q'_i(s', a') - α log π(a'|s'))
    Q ← Adam step on  0.5 Σ_i mean (Q_i(s, a) - y)^2
    π ← Adam step on  mean_s Σ_a π(a|s) (α log π(a|s) - min_i Q_i(s, a))    through π only
    Q' ← (1 - τ) Q' + τ Q                                         every ``target_update_interval`` updates

A truncated transition bootstraps from its true successor; only ``terminated`` drops the bootstrap. The critics
are one batched :class:`~porcini.networks.EnsembleMLP`, as in :class:`~porcini.algorithms.actor_critic.sac.SAC`;
the actor loss needs no gradient through the critics (the actions are not sampled), so they run without one.

Deviation from the paper: its entropy target ``0.98 · log n`` keeps the policy near uniform on small action sets
(α grows while the entropy cannot get that high and still act well); the default scale here is 0.89, CleanRL's
value (``sac_atari.py``), and is a hyperparameter (``target_entropy_scale``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.actor_critic.sac import SAC, SACConfig
from porcini.algorithms.kit import ReplaySample, obs_to_tensor, seeded
from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.agent import supports_action_space
from porcini.core.config import build_config, require
from porcini.core.obs_tree import obs_batch_size
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.functional import discrete_soft_q_target, polyak_update, sac_alpha_loss, sac_discrete_actor_loss, td_loss
from porcini.networks import CategoricalHead, make_trunk
from porcini.networks.critics import Critics
from porcini.networks.distributions import Categorical
from porcini.networks.encoders import make_encoder


@dataclass(frozen=True)
class DiscreteSACConfig(SACConfig):
    """Hyperparameters of discrete SAC: SAC's (:class:`SACConfig`), with the entropy target scaled to ``log n``."""

    target_entropy_scale: float = 0.89
    """With ``target_entropy="auto"``, H̄ is this fraction of the maximal entropy ``log n`` (the paper: 0.98)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(0 < self.target_entropy_scale <= 1, "DiscreteSACConfig", "target_entropy_scale",
                self.target_entropy_scale, "in (0, 1]")


class DiscreteSAC(SAC):
    """SAC for ``Discrete(n)`` actions: a categorical actor and critics that output ``Q(s, ·)`` for every action.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", seed=0)
        >>> agent = DiscreteSAC(env.info, net_arch=(32, 32), batch_size=32, learning_starts=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=100)
        >>> agent.n_updates
        50
    """

    name = "discrete_sac"
    Config = DiscreteSACConfig
    config: DiscreteSACConfig
    action_spaces = ("Discrete",)

    def __init__(self, info: EnvInfo, config: DiscreteSACConfig | None = None, **overrides: Any) -> None:
        self.config = c = build_config(DiscreteSACConfig, config, overrides)
        arch = self._setup(info)
        n = self.n_actions
        with seeded(c.seed):
            self.actor_trunk = make_trunk(info.observation_space, arch.pi, c.activation).to(self.device)
            self.actor_head = CategoricalHead(self.actor_trunk.out_dim, n).to(self.device)
            encoder = make_encoder(info.observation_space)
            self.critic = Critics(c.n_critics, encoder.features_dim, n, arch.vf, c.activation,
                                  encoder=encoder).to(self.device)
        self._register_networks()
        self._setup_temperature(auto_target_entropy=c.target_entropy_scale * math.log(n))

    def _setup_actions(self, info: EnvInfo) -> None:
        """Check for ``Discrete(n)`` actions starting at 0 and keep ``n``."""
        space = cast(gym.spaces.Discrete, info.action_space)  # once the check below passed
        if not supports_action_space(self, space) or int(space.start) != 0:
            raise UnsupportedSpaceError(
                f"DiscreteSAC needs a Discrete(n) action space starting at 0; {info.env_id} has {space}"
                + (" (use SAC for Box actions)" if isinstance(space, gym.spaces.Box) else multi_action_hint(space)))
        self.n_actions = int(space.n)

    def policy(self, obs: Tensor) -> Categorical:  # type: ignore[override]
        """The categorical ``π(·|s)`` at observations ``[N, *obs_shape]`` (as ``obs_to_tensor`` gives them)."""
        return self.actor_head(self.actor_trunk(obs))

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Actions ``[B]``: uniform before ``learning_starts``, then samples of ``π`` (its mode when not exploring)."""
        if explore and self.steps_seen < self.config.learning_starts and self.dataset is None:
            return self.rng.integers(0, self.n_actions, size=obs_batch_size(obs))
        with torch.inference_mode():
            x = obs_to_tensor(obs, self.device, self.info.observation_space)
            dist = self.policy(x)
            return (dist.sample(self.generator) if explore else dist.mode()).cpu().numpy()

    def explain_tensors(self, obs: Tensor) -> dict[str, Tensor]:
        """``action_probs``, the critics' minimum ``q_values``, and ``value`` at the most probable action."""
        dist = self.policy(obs)
        q_values = self.critic(self.critic.features(obs)).amin(dim=0)  # [B, n]
        value = q_values.gather(-1, dist.mode().unsqueeze(-1)).squeeze(-1)
        return {"value": value, "q_values": q_values, "action_probs": dist.probs}

    def _normalize(self, action: Any) -> np.ndarray:
        """Env actions ``[T, B]`` stored as int64 indices (nothing to rescale)."""
        return np.asarray(action, dtype=np.int64).reshape(action.shape[0], action.shape[1])

    def critic_target_values(self, s: ReplaySample, alpha: Tensor) -> Tensor:
        """Soft TD targets ``y`` ``[N]``, the exact expectation over the next actions (module docstring)."""
        with torch.no_grad():
            dist = self.policy(s.next_obs)
            next_q = self.critic_target(self.critic_target.features(s.next_obs))  # [E, N, n]
            return discrete_soft_q_target(s.reward, next_q, dist.probs, dist.log_probs, s.terminated,
                                          s.discount, alpha)

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One discrete SAC update (see the module docstring) on the sample ``s``."""
        opt = self.optimizers
        dist = self.policy(s.obs)
        probs, log_probs = dist.probs, dist.log_probs
        alpha = self.alpha  # the temperature before this update's α step, as in SAC
        metrics: dict[str, Tensor] = {"ent_coef": alpha}
        if self.learn_alpha:
            neg_entropy = (probs * log_probs).sum(dim=-1)
            loss_alpha = sac_alpha_loss(self.log_alpha, neg_entropy, self.target_entropy)["loss_alpha"]
            opt["alpha"].zero_grad()
            loss_alpha.backward()
            opt["alpha"].step()
            metrics.update(loss_alpha=loss_alpha, entropy=-neg_entropy.detach().mean())

        target = self.critic_target_values(s, alpha)
        q_all = self.critic(self.critic.features(s.obs))  # [E, N, n], all critics in one batched pass
        index = s.action.long().view(1, -1, 1).expand(q_all.shape[0], -1, 1)
        q = q_all.gather(-1, index).squeeze(-1)  # [E, N]
        loss_critic = td_loss(q, target, kind="mse")["loss_td"] * (0.5 * q.shape[0])  # 0.5 Σ_i mse_i
        opt["critic"].zero_grad()
        loss_critic.backward()
        opt["critic"].step()

        with torch.no_grad():
            # the just-updated critics, as SAC's actor step uses
            q_min = self.critic(self.critic.features(s.obs)).amin(dim=0)
        loss_actor = sac_discrete_actor_loss(probs, log_probs, q_min, alpha)["loss_actor"]
        opt["actor"].zero_grad()
        loss_actor.backward()
        opt["actor"].step()

        if self.n_updates % self.config.target_update_interval == 0:
            polyak_update(self.critic_target, self.critic, self.config.tau)
        metrics.update(loss_critic=loss_critic, loss_actor=loss_actor)
        return metrics
