"""Lagrangian PPO: PPO-clip on a constrained MDP, the cost weighed by a learned Lagrange multiplier λ.

The task maximizes the return subject to the mean episode cost ``J_c <= cost_limit``, the cost being the env's
per-step ``info[cost_key]`` (Ray, Achiam & Amodei 2019, "Benchmarking Safe Exploration in Deep RL", PPO-Lagrangian;
Stooke, Achiam & Abbeel 2020, arXiv:2007.03964, for the PID rule). Per rollout, on top of PPO
(:mod:`porcini.algorithms.policy_gradient.ppo`):

1. The rollout's mean episode cost ``J_c``: the mean cost of the episodes that ended in it (counted from their
   first step, which may lie in an earlier rollout), or, when none ended, the mean per-step cost times the
   episode's time limit (the rollout's length when the env has none).
2. One multiplier step with ``J_c`` (:mod:`.lagrange`): ``gradient`` takes ``λ ← max(0, λ + lagrangian_lr ·
   (J_c - cost_limit))``, ``pid`` the PID-Lagrangian. The new λ weighs this rollout's update.
3. A cost critic ``V_c`` (a network of its own, shaped as the value network) and cost advantages ``A_c`` by
   GAE(γ, λ_GAE) on the costs, with the rewards' handling of episode ends: a termination drops the bootstrap, a
   truncation keeps ``V_c(next_obs)`` and cuts the trace (:func:`cost_gae_rollout`).
4. PPO's epochs with the advantage ``A = (A_r - λ A_c) / (1 + λ)`` in the clipped surrogate, and
   ``vf_coef · (L_V + L_Vc)`` for the two critics, one optimizer over every parameter.

Deviations: with ``normalize_advantage`` the reward and the cost advantages are both standardized over the whole
rollout before they are mixed, not per minibatch (OmniSafe's PPO-Lag only centres the cost advantages; scaled
ones keep the mixed advantage's spread whatever λ); the cost critic shares ``gamma``, ``gae_lambda``, ``vf_coef``
and ``clip_range_vf`` with the reward critic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from porcini.algorithms.kit import seeded
from porcini.algorithms.policy_gradient.common import Rollout, flat, gae_rollout, minibatches
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.algorithms.safe.lagrange import (
    GradientMultiplier,
    LagrangianFields,
    Multiplier,
    PIDMultiplier,
    batch_costs,
)
from porcini.core.batch import TransitionBatch
from porcini.core.obs_tree import map_obs
from porcini.envs.info import EnvInfo
from porcini.functional import gae, normalize_advantage, value_loss
from porcini.networks.actor_critic import ActorCritic
from porcini.networks.builders import make_trunk, parse_net_arch
from porcini.networks.denormals import flush_denormals
from porcini.networks.heads import ValueHead
from porcini.networks.masking import has_action_mask, split_action_mask, without_action_mask
from porcini.networks.optim import FlatParameters


@dataclass(frozen=True)
class PPOLagrangianConfig(LagrangianFields, PPOConfig):
    """Hyperparameters of Lagrangian PPO: PPO's, plus the constraint and λ's update rule (once per rollout)."""


class CostCritic(nn.Module):
    """``V_c(s)``, the expected discounted cost to go: a trunk and a value head, shaped as PPO's value network.

    Args:
        observation_space: the env's observation space.
        net_arch: hidden widths, as PPO's ``net_arch`` (the ``vf`` entry of a dict).
        activation: hidden activation.
        ortho_init: orthogonal initialization (gain 1 on the output), else PyTorch's default.
    """

    def __init__(self, observation_space: Any, net_arch: Any, activation: str, ortho_init: bool) -> None:
        super().__init__()
        init = "orthogonal" if ortho_init else "default"
        self.masked = has_action_mask(observation_space)  # the policy applies it; it is not a feature
        self.trunk = make_trunk(without_action_mask(observation_space), parse_net_arch(net_arch).vf, activation, init)
        self.head = ValueHead(int(self.trunk.out_dim), init)

    def forward(self, obs: Any) -> torch.Tensor:
        """Cost values ``[*batch]`` of observations ``[*batch, *obs_shape]``."""
        return self.head(self.trunk(split_action_mask(obs)[0] if self.masked else obs))


@dataclass(frozen=True)
class CostRollout(Rollout):
    """A :class:`~porcini.algorithms.policy_gradient.common.Rollout` with the cost critic's targets, ``[N]`` each.

    Attributes:
        old_cost_value: cost values ``V_c(obs)`` under the collecting cost critic.
        cost_advantage: GAE advantages of the costs.
        cost_returns: cost-critic targets ``cost_advantage + old_cost_value``.
    """

    old_cost_value: torch.Tensor
    cost_advantage: torch.Tensor
    cost_returns: torch.Tensor

    def index(self, idx: torch.Tensor) -> CostRollout:
        """The samples at ``idx`` (a minibatch)."""
        return CostRollout(*(map_obs(lambda x: x[idx], getattr(self, f.name)) for f in dataclasses.fields(self)))


def cost_gae_rollout(model: ActorCritic, cost_critic: CostCritic, b: TransitionBatch, cost: torch.Tensor,
                     gamma: float, gae_lambda: float) -> CostRollout:
    """PPO's rollout (:func:`gae_rollout`) and GAE on the costs with the cost critic, flattened ``[T, B] -> [N]``.

    The costs get the rewards' treatment of episode ends: ``V_c(next_obs)`` of the true successor bootstraps
    through truncations and the batch end, not through terminations; the trace stops at every episode end.

    Args:
        model: the actor-critic.
        cost_critic: ``V_c``.
        b: the ``[T, B]`` batch as tensors on the model's device.
        cost: ``[T, B]`` per-step costs.
        gamma: discount.
        gae_lambda: GAE's λ.
    """
    rollout = gae_rollout(model, b, gamma, gae_lambda)
    n_rows = cost.shape[0]
    with torch.no_grad():
        values = cost_critic(map_obs(lambda obs, next_obs: torch.cat([obs, next_obs]), b.obs, b.next_obs))
        cost_value, next_cost_value = values[:n_rows], values[n_rows:]
        advantage, returns = gae(cost, cost_value, next_cost_value, b.terminated, b.episode_end, gamma, gae_lambda)
    return CostRollout(**{f.name: getattr(rollout, f.name) for f in dataclasses.fields(Rollout)},
                       old_cost_value=flat(cost_value), cost_advantage=flat(advantage), cost_returns=flat(returns))


def mixed_advantage(advantage: torch.Tensor, cost_advantage: torch.Tensor, multiplier: float,
                    normalize: bool) -> torch.Tensor:
    """``(A_r - λ A_c) / (1 + λ)``, the advantage of the Lagrangian ``J_r - λ J_c`` scaled to keep its size.

    With ``normalize``, both are standardized first, so the mix keeps a unit spread whatever λ: a cost whose
    advantages are small in its own units would otherwise shrink every step as λ grows.
    """
    if normalize:
        advantage = normalize_advantage(advantage)
        cost_advantage = normalize_advantage(cost_advantage)
    return (advantage - multiplier * cost_advantage) / (1.0 + multiplier)


class PPOLagrangian(PPO):
    """PPO-clip under a per-episode cost limit, with a cost critic and a Lagrange multiplier (gradient or PID).

    Needs the env's per-step cost in the batches: the agent names it in ``info_keys`` (the experiment runner
    passes them to :class:`~porcini.core.Core`, which also takes them from the agent when given none).

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("porcini/CartPoleBand-v0", n_envs=2, seed=0)
        >>> agent = PPOLagrangian(env.info, n_steps=16, batch_size=16, n_epochs=1, cost_limit=5.0)
        >>> Core(agent, env, progress=False).learn(steps=64).steps
        64
    """

    name = "ppo_lagrangian"
    Config: type[PPOLagrangianConfig] = PPOLagrangianConfig
    config: PPOLagrangianConfig

    def __init__(self, info: EnvInfo, config: PPOLagrangianConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        c = self.config
        self.cost_key: str = c.cost_key
        self.info_keys: tuple[str, ...] = (c.cost_key,)
        cap = c.lagrange_multiplier_max
        self.multiplier: Multiplier = (
            PIDMultiplier(c.pid_kp, c.pid_ki, c.pid_kd, max_value=cap) if c.lagrangian == "pid"
            else GradientMultiplier(c.lagrangian_lr, c.lagrange_multiplier_init, max_value=cap))
        self.episode_cost_so_far = np.zeros(info.n_envs)  # the cost of each env's episode in progress

    def _build(self, info: EnvInfo, with_value: bool = True) -> None:
        super()._build(info, with_value)
        c = self.config
        # seed + 1, not porcini.seeding.extra_networks_seed: the config of record's learning test passes on this
        # draw and not on the independent one (its cost ends above the limit); so the cost critic starts
        # as the networks of the run with seed + 1 do
        with seeded(c.seed + 1):
            self.cost_critic = CostCritic(info.observation_space, c.net_arch, c.activation, c.ortho_init)
        self.cost_critic.to(self.device)
        self.modules["cost_critic"] = self.cost_critic

    def _setup_optimizer(self, kind: str = "adam", eps: float = 1e-8, alpha: float = 0.99) -> None:
        """One optimizer over the actor-critic and the cost critic, as one flat buffer."""
        self.flat = FlatParameters([*self.model.parameters(), *self.cost_critic.parameters()])
        self.optimizer = self.make_optimizer(self.flat, self.config.learning_rate, kind, eps, alpha)
        self.optimizers = {kind: self.optimizer}

    @flush_denormals
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Update λ with the rollout's episode cost, then run PPO's epochs on the Lagrangian advantage."""
        c = self.config
        cost = batch_costs(self, batch)
        episode_cost = self.episode_cost(cost, np.asarray(batch.terminated | batch.truncated, dtype=bool))
        multiplier = self.multiplier.update(episode_cost, c.cost_limit)
        learning_rate, clip_range = self._schedules(batch)
        b = self._to_torch(batch)
        data = cost_gae_rollout(self.model, self.cost_critic, b, torch.as_tensor(cost, dtype=b.reward.dtype,
                                device=self.device), c.gamma, c.gae_lambda)
        data = dataclasses.replace(data, advantage=mixed_advantage(data.advantage, data.cost_advantage, multiplier,
                                                                   c.normalize_advantage))
        cost_losses: list[torch.Tensor] = []

        def epoch() -> Iterable[CostRollout]:
            return (data.index(idx) for idx in minibatches(len(data), c.batch_size, self.generator))

        def terms_of(mb: CostRollout) -> dict[str, torch.Tensor]:
            terms = self._minibatch_terms(mb, clip_range, normalize=False)
            terms["loss_cost_value"] = value_loss(self.cost_critic(mb.obs), mb.cost_returns, mb.old_cost_value,
                                                  c.clip_range_vf)["loss_value"]
            cost_losses.append(terms["loss_cost_value"].detach())
            return terms

        means, steps = self._epochs(epoch, terms_of)
        metrics = self._metrics(means, steps, data.old_value, data.returns, learning_rate, clip_range)
        metrics.update(lagrange_multiplier=multiplier, episode_cost=episode_cost,
                       loss_cost_value=float(torch.stack(cost_losses).mean()) if cost_losses else float("nan"))
        return metrics

    def _optimize(self, terms: dict[str, torch.Tensor]) -> None:
        """PPO's step with the cost critic's loss added to the value loss (both weighed by ``vf_coef``)."""
        super()._optimize({**terms, "loss_value": terms["loss_value"] + terms["loss_cost_value"]})

    def episode_cost(self, cost: np.ndarray, episode_end: np.ndarray) -> float:
        """The rollout's mean episode cost, counting each env's episode in progress across rollouts.

        The mean over the episodes that ended in the rollout (``cost`` and ``episode_end`` are ``[T, B]``); when
        none ended, the mean per-step cost times the env's time limit (the rollout's ``T`` without one).
        """
        finished: list[float] = []
        for step_cost, ended in zip(cost, episode_end):
            self.episode_cost_so_far += step_cost
            finished.extend(self.episode_cost_so_far[ended].tolist())
            self.episode_cost_so_far[ended] = 0.0
        if finished:
            return float(np.mean(finished))
        horizon = self.info.horizon if self.info.horizon is not None else cost.shape[0]
        return float(cost.mean()) * horizon

    def episodes_cut(self) -> None:
        """Forget the costs of the episodes in progress: they were cut after the last fit and never end."""
        self.episode_cost_so_far[:] = 0.0

    def state_dict(self) -> dict[str, Any]:
        """PPO's state, the multiplier's (λ and the PID terms) and the costs of the episodes in progress."""
        return {**super().state_dict(), "multiplier": self.multiplier.state_dict(),
                "episode_cost_so_far": self.episode_cost_so_far.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self.multiplier.load_state_dict(state["multiplier"])
        self.episode_cost_so_far = np.asarray(state["episode_cost_so_far"], dtype=np.float64).copy()
