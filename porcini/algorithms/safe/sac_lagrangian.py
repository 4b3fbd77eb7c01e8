"""Lagrangian SAC: SAC on a constrained MDP, twin cost critics and a Lagrange multiplier λ on the cost.

The task maximizes the return subject to the mean episode cost ``J_c <= cost_limit``, the cost being the env's
per-step ``info[cost_key]`` (Ha et al. 2020, arXiv:2002.08550, "Learning to walk in the real world with minimal
human effort", the Lagrangian SAC; Stooke, Achiam & Abbeel 2020, arXiv:2007.03964, for the PID rule). On top of
SAC (:mod:`porcini.algorithms.actor_critic.sac`), one update on a replay sample ``(s, a, r, c, s', terminated)``::

    α and the reward critics Q_r: SAC's steps, in SAC's order
    y_c = c + γ (1 - terminated) mean_i Q'_c,i(s', a')          the same a' ~ π(·|s') as the reward target
    Q_c ← Adam step on  0.5 Σ_i mean (Q_c,i(s, a) - y_c)^2      (no entropy term on the cost side)
    π ← Adam step on  mean(α log π(ã|s) - min_i Q_r,i(s, ã) + λ mean_i Q_c,i(s, ã))
    Q'_r, Q'_c ← Polyak updates                                 every ``target_update_interval`` updates

As on the reward side, a truncated transition bootstraps from its true successor ``s'``; only ``terminated`` drops
the bootstrap. The cost critics enter target and actor loss through their mean, not a max: the max of two
critics that start apart biases the cost up from the first update and makes λ's job (and the return) needlessly
pessimistic; the reward side keeps SAC's clipped double Q.

λ (:mod:`.lagrange`, ``gradient`` or ``pid``) steps once per fit in which training episodes ended, with the mean
cost of the episodes that ended since its last step (each counted from its first step, across fits); it weighs
every later actor update. The replay buffer keeps each transition's cost as the extra ``cost_key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.actor_critic.common import make_critic
from porcini.algorithms.actor_critic.sac import SAC, SACConfig
from porcini.algorithms.kit import ReplaySample, seeded
from porcini.algorithms.safe.lagrange import (
    GradientMultiplier,
    LagrangianFields,
    Multiplier,
    PIDMultiplier,
    batch_costs,
)
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.data.dataset import Dataset
from porcini.envs.info import EnvInfo
from porcini.functional import polyak_update, sac_actor_loss, soft_q_target, td_loss
from porcini.networks import parse_net_arch
from porcini.networks.optim import adam


@dataclass(frozen=True)
class SACLagrangianConfig(LagrangianFields, SACConfig):
    """Hyperparameters of Lagrangian SAC: SAC's, plus the constraint and λ's update rule (per fit ending episodes)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.replay == "uniform", type(self).__name__, "replay", self.replay,
                "'uniform' (relabelled goals carry no cost)")


def cost_q_target(cost: Tensor, next_cost_q: Tensor, terminated: Tensor, discount: float | Tensor) -> Tensor:
    """Cost TD targets ``y_c = c + γ (1 - terminated) mean_i Q'_c,i(s', a')`` ``[N]``.

    Args:
        cost: ``[N]`` per-step costs.
        next_cost_q: ``[E, N]`` target cost critics at ``(s', a')``, ``a' ~ π(·|s')``.
        terminated: ``[N]`` float, 1 where the MDP ended (a truncation bootstraps).
        discount: ``γ``, a float or ``[N]``.
    """
    return cost + discount * (1.0 - terminated) * next_cost_q.mean(dim=0)


def lagrangian_actor_loss(log_prob: Tensor, q_min: Tensor, cost_q: Tensor, alpha: float | Tensor,
                          multiplier: float) -> Tensor:
    """The actor's loss ``mean(α log π(ã|s) - min_i Q_r,i(s, ã) + λ Q_c(s, ã))``; SAC's for ``λ = 0``.

    Args:
        log_prob: ``[N]`` ``log π(ã|s)`` (with gradient).
        q_min: ``[N]`` minimum of the reward critics at ``(s, ã)``.
        cost_q: ``[N]`` mean of the cost critics at ``(s, ã)``.
        alpha: the temperature (detached).
        multiplier: λ.
    """
    return sac_actor_loss(log_prob, q_min, alpha)["loss_actor"] + multiplier * cost_q.mean()


class SACLagrangian(SAC):
    """SAC under a per-episode cost limit: twin cost critics and a Lagrange multiplier (gradient or PID).

    Needs the env's per-step cost in the batches: the agent names it in ``info_keys`` (the experiment runner
    passes them to :class:`~porcini.core.Core`, which also takes them from the agent when given none).

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("porcini/PendulumSpeed-v0", seed=0)
        >>> agent = SACLagrangian(env.info, net_arch=(16,), batch_size=16, learning_starts=50, cost_limit=5.0)
        >>> Core(agent, env, progress=False).learn(steps=100).steps
        100
    """

    name = "sac_lagrangian"
    Config = SACLagrangianConfig
    config: SACLagrangianConfig

    def __init__(self, info: EnvInfo, config: SACLagrangianConfig | None = None, **overrides: Any) -> None:
        c = build_config(SACLagrangianConfig, config, overrides)
        super().__init__(info, c)
        arch = parse_net_arch(c.net_arch, "SACLagrangianConfig.net_arch")
        # seed + 1, not porcini.seeding.extra_networks_seed: the config of record's learning test passes on this
        # draw and not on the independent one (its cost ends above the limit); so the cost critic starts
        # as the networks of the run with seed + 1 do
        with seeded(c.seed + 1):
            self.cost_critic = make_critic(info, arch, c.activation, c.n_critics).to(self.device)
        self.cost_critic_target = self.target_of(self.cost_critic)
        self.modules.update(cost_critic=self.cost_critic, cost_critic_target=self.cost_critic_target)
        self.optimizers["cost_critic"] = adam(self.cost_critic.parameters(), c.learning_rate, self.device)
        self.cost_key: str = c.cost_key
        self.info_keys: tuple[str, ...] = (c.cost_key,)
        cap = c.lagrange_multiplier_max
        self.multiplier: Multiplier = (
            PIDMultiplier(c.pid_kp, c.pid_ki, c.pid_kd, max_value=cap) if c.lagrangian == "pid"
            else GradientMultiplier(c.lagrangian_lr, c.lagrange_multiplier_init, max_value=cap))
        self.episode_cost_so_far = np.zeros(info.n_envs)  # the cost of each env's episode in progress
        self.last_episode_cost = float("nan")  # the episode cost of λ's last step
        self._drawn_cost: Tensor | None = None  # the costs of the last draw, consumed minibatch by minibatch
        self._cost_cursor = 0

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Step λ with the episodes that ended in ``batch`` (if any), then SAC's fit; adds λ and the episode cost."""
        cost = batch_costs(self, batch)
        finished: list[float] = []
        for step_cost, ended in zip(cost, np.asarray(batch.terminated | batch.truncated, dtype=bool)):
            self.episode_cost_so_far += step_cost
            finished.extend(self.episode_cost_so_far[ended].tolist())
            self.episode_cost_so_far[ended] = 0.0
        if finished:
            self.last_episode_cost = float(np.mean(finished))
            self.multiplier.update(self.last_episode_cost, self.config.cost_limit)
        metrics = super().fit(batch)
        return {**metrics, "lagrange_multiplier": self.multiplier.value, "episode_cost": self.last_episode_cost}

    def draw(self, n_updates: int) -> TransitionBatch:
        """SAC's draw; its costs are kept for the gradient steps that follow, one minibatch each."""
        batch = super().draw(n_updates)
        cost = batch_costs(self, batch)
        self._drawn_cost = torch.as_tensor(cost.reshape(-1), dtype=torch.float32, device=self.device)
        self._cost_cursor = 0
        return batch

    def _next_costs(self, n: int) -> Tensor:
        """The costs ``[n]`` of the next minibatch of the last draw (``update`` selects minibatches in order)."""
        if self._drawn_cost is None or self._cost_cursor + n > len(self._drawn_cost):
            raise RuntimeError("SACLagrangian.gradient_step runs on minibatches of a draw (call update or fit)")
        cost = self._drawn_cost[self._cost_cursor:self._cost_cursor + n]
        self._cost_cursor += n
        return cost

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 0.5) -> None:
        """Refused: a dataset's transitions carry no cost.

        Raises:
            ValueError: always.
        """
        raise ValueError("SACLagrangian does not learn from datasets: their transitions carry no cost")

    def critic_targets(self, s: ReplaySample, cost: Tensor, alpha: Tensor) -> tuple[Tensor, Tensor]:
        """SAC's soft reward targets and the cost targets ``[N]`` each, both at one sample ``a' ~ π(·|s')``."""
        with torch.no_grad():
            next_action, next_log_prob = self.policy(s.next_obs).rsample_with_log_prob(self.generator)
            next_q = self.critic_target(self.critic_target.q_input(s.next_obs, next_action)).squeeze(-1)
            target = soft_q_target(s.reward, next_q, next_log_prob, s.terminated, s.discount, alpha)
            return target, self.cost_target_values(s, cost, next_action)

    def cost_target_values(self, s: ReplaySample, cost: Tensor, next_action: Tensor) -> Tensor:
        """Cost TD targets ``[N]`` (:func:`cost_q_target`) with the target cost critics at ``(s', next_action)``."""
        with torch.no_grad():
            next_cost_q = self.cost_critic_target(self.cost_critic_target.q_input(s.next_obs, next_action))
            return cost_q_target(cost, next_cost_q.squeeze(-1), s.terminated, s.discount)

    def _critic_step(self, name: str, s: ReplaySample, target: Tensor) -> Tensor:
        """One Adam step of the ensemble ``self.<name>`` on ``0.5 Σ_i mean (Q_i(s, a) - target)^2``; its loss."""
        critic = getattr(self, name)
        q = critic(critic.q_input(s.obs, s.action)).squeeze(-1)  # [E, N]
        loss = td_loss(q, target, kind="mse")["loss_td"] * (0.5 * q.shape[0])
        self.optimizers[name].zero_grad()
        loss.backward()
        self.optimizers[name].step()
        return loss

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One Lagrangian SAC update (see the module docstring) on the sample ``s``."""
        cost = self._next_costs(len(s.reward))
        opt = self.optimizers
        action_pi, log_prob = self.policy(s.obs).rsample_with_log_prob(self.generator)
        alpha = self.alpha
        metrics: dict[str, Tensor] = {"ent_coef": alpha}
        self.alpha_step(log_prob, metrics)

        target, cost_target = self.critic_targets(s, cost, alpha)
        loss_critic = self._critic_step("critic", s, target)
        loss_cost_critic = self._critic_step("cost_critic", s, cost_target)

        q_pi = self.critic(self.critic.q_input(s.obs, action_pi)).squeeze(-1).amin(dim=0)
        cost_q_pi = self.cost_critic(self.cost_critic.q_input(s.obs, action_pi)).squeeze(-1).mean(dim=0)
        loss_actor = lagrangian_actor_loss(log_prob, q_pi, cost_q_pi, alpha, self.multiplier.value)
        opt["actor"].zero_grad()
        loss_actor.backward(inputs=self.actor_params)
        opt["actor"].step()

        if self.n_updates % self.config.target_update_interval == 0:
            polyak_update(self.critic_target, self.critic, self.config.tau)
            polyak_update(self.cost_critic_target, self.cost_critic, self.config.tau)
        metrics.update(loss_critic=loss_critic, loss_cost_critic=loss_cost_critic, loss_actor=loss_actor,
                       cost_q=cost_q_pi.detach().mean())
        return metrics

    def explain_tensors(self, obs: Tensor) -> dict[str, Tensor]:
        """SAC's, plus ``cost_value``: the cost critics' mean ``Q_c(s, a*)`` at the deterministic action."""
        action = self.policy_action(obs, explore=False)
        cost_value = self.cost_critic(self.cost_critic.q_input(obs, action)).squeeze(-1).mean(dim=0)
        return {**super().explain_tensors(obs), "cost_value": cost_value}

    def episodes_cut(self) -> None:
        """SAC's (the replayed episodes end truncated), and forget the costs of the cut episodes, which never end."""
        super().episodes_cut()
        self.episode_cost_so_far[:] = 0.0

    def state_dict(self) -> dict[str, Any]:
        """SAC's state (with the cost critics and their optimizer), the multiplier's and the episode costs."""
        return {**super().state_dict(), "multiplier": self.multiplier.state_dict(),
                "episode_cost_so_far": self.episode_cost_so_far.copy(), "last_episode_cost": self.last_episode_cost}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (same config and env)."""
        super().load_state_dict(state)
        self.multiplier.load_state_dict(state["multiplier"])
        self.episode_cost_so_far = np.asarray(state["episode_cost_so_far"], dtype=np.float64).copy()
        self.last_episode_cost = float(state["last_episode_cost"])
