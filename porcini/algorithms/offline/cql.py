"""CQL: Conservative Q-Learning, CQL(H) on SAC for continuous actions.

Kumar, Zhou, Tucker & Levine 2020, "Conservative Q-Learning for Offline Reinforcement Learning", arXiv:2006.04779.

SAC (:mod:`porcini.algorithms.actor_critic.sac`) whose critics also minimize CQL(H)'s regularizer, which pushes
``Q`` down on actions the data does not support and up on the data's actions. One update on a replay sample::

    ã, log π(ã|s) ~ π(·|s);  α ← Adam step on -log α (log π(ã|s) + H̄)               SAC's temperature
    y = r + γ (1 - terminated) (min_i Q'_i(s', a') [- α log π(a'|s') with backup_entropy]),  a' ~ π(·|s')
    P_i = mean_s log (1/M) Σ_j exp(Q_i(s, a_j) - log μ(a_j|s)) - mean_s Q_i(s, a)     M = 3 · cql_n_actions
    Q ← Adam step on  Σ_i [mean (Q_i(s, a) - y)² + α' P_i]
    α' ← Adam step on  -α' (mean_i P_i - cql_target_gap)          with cql_alpha="auto" (Lagrange)
    π ← Adam step on  mean(α log π(ã|s) - min_i Q_i(s, ã))         through the just-updated critics
    Q' ← (1 - τ) Q' + τ Q                                          every ``target_update_interval`` updates

The log-sum-exp over actions is importance-sampled as in the paper's appendix F and the official code: per state,
``cql_n_actions`` actions from the uniform distribution on ``[-1, 1]^d`` (density ``2^-d``), as many from
``π(·|s)`` and as many from ``π(·|s')`` (densities ``π(a|s)`` and ``π(a|s')``), all under no gradient
(:func:`~porcini.functional.cql_penalty`). A truncated transition bootstraps from its true successor; only
``terminated`` drops the bootstrap.

The estimator is the paper's ``log (1/M) Σ_j``; the official code omits the ``1/M``, which shifts the penalty by
the constant ``log M``: its target gaps correspond to ``cql_target_gap`` values ``log(3 · cql_n_actions)`` lower
here (the critics' gradients are the same). Deviation from the paper: no behaviour-cloning warm-up of the actor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from porcini.algorithms.actor_critic.sac import SAC, SACConfig, _positive_float
from porcini.algorithms.kit import ReplaySample
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.functional import (
    cql_alpha_loss,
    cql_penalty,
    polyak_update,
    sac_actor_loss,
    soft_q_target,
    td_loss,
)
from porcini.networks.optim import adam


@dataclass(frozen=True)
class CQLConfig(SACConfig):
    """Hyperparameters of CQL: SAC's (:class:`SACConfig`) plus the conservative penalty's."""

    actor_learning_rate: float | None = 1e-4
    """Adam step size of the actor (the paper: 1e-4, below the critics' 3e-4); None: ``learning_rate``."""
    cql_alpha: float | str = "auto"
    """Weight α' of the penalty: a float keeps it fixed (the paper: 5 or 10 on locomotion); ``"auto"`` tunes it
    by Lagrange dual descent toward ``cql_target_gap`` from 1.0, ``"auto_5"`` from 5."""
    cql_target_gap: float = 1.0
    """With ``cql_alpha="auto"``: the gap τ between the log-sum-exp of ``Q`` and ``Q`` at the data's actions that
    α' keeps (α' grows while the gap exceeds τ)."""
    cql_n_actions: int = 10
    """Sampled actions per proposal (uniform, ``π(·|s)``, ``π(·|s')``) per state in the log-sum-exp."""
    backup_entropy: bool = False
    """Subtract ``α log π(a'|s')`` in the TD target (SAC's soft backup); off as in the paper's experiments."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name, alpha = type(self).__name__, self.cql_alpha
        if isinstance(alpha, str):
            ok = alpha == "auto" or (alpha.startswith("auto_") and _positive_float(alpha[5:]))
        else:
            ok = alpha >= 0
        require(ok, name, "cql_alpha", alpha, "a float >= 0, 'auto' or 'auto_<initial value>' such as 'auto_5'")
        require(self.cql_n_actions >= 1, name, "cql_n_actions", self.cql_n_actions, ">= 1")
        lr = self.actor_learning_rate
        require(lr is None or lr > 0, name, "actor_learning_rate", lr, "> 0 or None")


class CQL(SAC):
    """CQL(H) for Box actions: SAC with the conservative penalty on its critics and a Lagrange-tuned weight.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = CQL(env.info, net_arch=(32, 32), batch_size=32, learning_starts=50)
        >>> _ = Core(agent, env, progress=False).learn(steps=100)
        >>> agent.n_updates
        50
    """

    name = "cql"
    Config = CQLConfig
    config: CQLConfig

    def __init__(self, info: EnvInfo, config: CQLConfig | None = None, **overrides: Any) -> None:
        c = build_config(CQLConfig, config, overrides)
        super().__init__(info, c)  # SAC's networks, optimizers and temperature
        if c.actor_learning_rate is not None:
            self.optimizers["actor"] = adam(self.actor_params, c.actor_learning_rate, self.device)
        self.learn_cql_alpha = isinstance(c.cql_alpha, str)
        if isinstance(c.cql_alpha, str):
            init = float(c.cql_alpha[5:]) if c.cql_alpha.startswith("auto_") else 1.0
            self.log_cql_alpha = torch.nn.Parameter(torch.tensor(math.log(init), device=self.device))
            self.optimizers["cql_alpha"] = adam([self.log_cql_alpha], c.learning_rate, self.device)
            self.tensors["log_cql_alpha"] = self.log_cql_alpha
        else:
            self.fixed_cql_alpha = torch.tensor(float(c.cql_alpha), device=self.device)

    @property
    def cql_alpha(self) -> Tensor:
        """The current weight α' of the conservative penalty (a 0-d tensor, no gradient)."""
        return self.log_cql_alpha.detach().exp() if self.learn_cql_alpha else self.fixed_cql_alpha

    def critic_target_values(self, s: ReplaySample, alpha: Tensor) -> Tensor:
        """TD targets ``y`` ``[N]``: SAC's, without the entropy term unless ``backup_entropy``."""
        with torch.no_grad():
            next_action, next_log_prob = self.policy(s.next_obs).rsample_with_log_prob(self.generator)
            next_q = self.critic_target(self.critic_target.q_input(s.next_obs, next_action)).squeeze(-1)  # [E, N]
            backup_alpha = alpha if self.config.backup_entropy else torch.zeros_like(alpha)
            return soft_q_target(s.reward, next_q, next_log_prob, s.terminated, s.discount, backup_alpha)

    def sampled_actions(self, s: ReplaySample) -> tuple[Tensor, Tensor]:
        """Proposal actions ``[N, M, action_dim]`` and their log-densities ``[N, M]`` (no gradient), ``M = 3 n``.

        ``n = cql_n_actions`` uniform actions, then ``n`` from ``π(·|s)``, then ``n`` from ``π(·|s')``.
        """
        n_samples, dim = self.config.cql_n_actions, self.info.action_dim
        with torch.no_grad():
            n = s.reward.shape[0]
            uniform = torch.rand((n, n_samples, dim), generator=self.generator, device=self.device) * 2.0 - 1.0
            log_uniform = torch.full((n, n_samples), -dim * math.log(2.0), device=self.device)
            sampled, log_density = [uniform], [log_uniform]
            for obs in (s.obs, s.next_obs):
                features = self.actor_trunk(obs).repeat_interleave(n_samples, dim=0)
                action, log_prob = self.actor_head(features).rsample_with_log_prob(self.generator)
                sampled.append(action.reshape(n, n_samples, dim))
                log_density.append(log_prob.reshape(n, n_samples))
            return torch.cat(sampled, dim=1), torch.cat(log_density, dim=1)

    def critic_loss(self, s: ReplaySample, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Σ_i of the TD and the weighted penalty terms; returns it, the TD loss and the penalty (mean over critics)."""
        features = self.critic.features(s.obs)  # once for the data's and the sampled actions
        q = self.critic(torch.cat([features, s.action], dim=-1)).squeeze(-1)  # [E, N]
        actions, log_density = self.sampled_actions(s)
        n, m, dim = actions.shape
        x = torch.cat([features.repeat_interleave(m, dim=0), actions.reshape(n * m, dim)], dim=-1)
        q_sampled = self.critic(x).reshape(q.shape[0], n, m)
        loss_td = td_loss(q, target, kind="mse")["loss_td"]
        penalty = cql_penalty(q_sampled, log_density, q)["loss_cql"]
        return (loss_td + self.cql_alpha * penalty) * q.shape[0], loss_td, penalty

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One CQL update (see the module docstring) on the sample ``s``."""
        opt = self.optimizers
        action_pi, log_prob = self.policy(s.obs).rsample_with_log_prob(self.generator)
        alpha, cql_alpha = self.alpha, self.cql_alpha  # both before this update's steps, as SAC's α
        metrics: dict[str, Tensor] = {"ent_coef": alpha, "cql_alpha": cql_alpha}
        self.alpha_step(log_prob, metrics)

        loss_critic, loss_td, penalty = self.critic_loss(s, self.critic_target_values(s, alpha))
        opt["critic"].zero_grad()
        loss_critic.backward()
        opt["critic"].step()
        if self.learn_cql_alpha:
            loss_cql_alpha = cql_alpha_loss(self.log_cql_alpha, penalty, self.config.cql_target_gap)
            opt["cql_alpha"].zero_grad()
            loss_cql_alpha["loss_cql_alpha"].backward()
            opt["cql_alpha"].step()

        q_pi = self.critic(self.critic.q_input(s.obs, action_pi)).squeeze(-1).amin(dim=0)
        loss_actor = sac_actor_loss(log_prob, q_pi, alpha)["loss_actor"]
        opt["actor"].zero_grad()
        loss_actor.backward(inputs=self.actor_params)  # the critics' weight gradients are not needed here
        opt["actor"].step()

        if self.n_updates % self.config.target_update_interval == 0:
            polyak_update(self.critic_target, self.critic, self.config.tau)
        metrics.update(loss_critic=loss_critic, loss_td=loss_td, loss_cql=penalty, loss_actor=loss_actor)
        return metrics
