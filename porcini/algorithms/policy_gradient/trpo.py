"""Trust Region Policy Optimization (Schulman et al. 2015, arXiv:1502.05477), as in Stable-Baselines3-contrib.

Every ``n_steps * n_envs`` env steps the loop hands over a ``[T = n_steps, B = n_envs]`` rollout. The update:

1. Old log-probabilities and values in one no-grad forward each; GAE(γ, λ) advantages ``A`` (normalized) and
   λ-returns ``R`` (:func:`porcini.functional.gae`, truncations bootstrapped from ``V(next_obs)``).
2. Policy step, solving ``max_θ g·(θ - θ_old)`` subject to ``KL(π_old || π_θ) ≤ δ`` (``δ = target_kl``) with the
   quadratic approximation of the KL: ``g = ∇ mean(r A)`` with ``r = π_θ(a|s) / π_old(a|s)``, the direction
   ``s ≈ H⁻¹ g`` by ``cg_max_steps`` conjugate-gradient iterations on Hessian-vector products of the mean KL
   (``H v = ∇(∇KL · v) + cg_damping · v``), the full step ``β s`` with ``β = sqrt(2 δ / sᵀ H s)``.
3. Backtracking line search: try ``θ_old + c β s`` for ``c = 1, f, f², ...`` (``f = line_search_shrinking_factor``,
   ``line_search_max_iter`` tries) and keep the first that improves the surrogate with ``KL < δ``; if none
   does, keep ``θ_old``.
4. Critic: ``n_critic_updates`` epochs of Adam on ``mean((V(s) - R)²)`` in minibatches of ``batch_size``.

Deviations: no ``sub_sampling_factor`` (SB3-contrib's option to compute H on a subset). For continuous actions the
KL is that of the unclipped Gaussians, an upper bound of the clipped policies' KL (data processing), so the trust
region is conservative; the surrogate uses the clipped log-probabilities (:mod:`.common`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from porcini.algorithms.policy_gradient.common import (
    OnPolicyAgent,
    OnPolicyConfig,
    explained_variance,
    gae_rollout,
    minibatches,
)
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.core.obs_tree import map_obs
from porcini.envs.info import EnvInfo
from porcini.functional import normalize_advantage, value_loss
from porcini.networks.denormals import flush_denormals
from porcini.networks.distributions import DiagGaussian
from porcini.networks.kl import kl_divergence
from porcini.networks.optim import FlatParameters


@dataclass(frozen=True)
class TRPOConfig(OnPolicyConfig):
    """Hyperparameters of TRPO; names and defaults follow Stable-Baselines3-contrib."""

    learning_rate: float = 1e-3
    """Adam step size of the critic (the policy step size comes from the trust region)."""
    n_steps: int = 2048
    """Env steps per env between fits: the rollout has ``n_steps * n_envs`` transitions."""
    batch_size: int = 128
    """Minibatch size of the critic updates."""
    gae_lambda: float = 0.95
    """GAE's λ."""
    target_kl: float = 0.01
    """δ, the trust region: the largest mean KL(π_old || π) a policy step may reach."""
    cg_max_steps: int = 15
    """Conjugate-gradient iterations for the step direction."""
    cg_damping: float = 0.1
    """Damping added to the KL Hessian (``H + cg_damping · I``) for a stable solve."""
    line_search_shrinking_factor: float = 0.8
    """Step shrink factor between line-search tries."""
    line_search_max_iter: int = 10
    """Line-search tries before the policy step is abandoned."""
    n_critic_updates: int = 10
    """Epochs of critic updates per rollout."""
    normalize_advantage: bool = True
    """Standardize the advantages of each rollout (a rollout of one transition keeps its advantage)."""
    adam_eps: float = 1e-5
    """ε of the critic's Adam (SB3-contrib's policy optimizer uses 1e-5, not PyTorch's 1e-8)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "TRPOConfig"
        for name in ("n_steps", "batch_size", "cg_max_steps", "line_search_max_iter", "n_critic_updates"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, owner, name, value, "an int >= 1")
        require(0 <= self.gae_lambda <= 1, owner, "gae_lambda", self.gae_lambda, "in [0, 1]")
        require(self.target_kl > 0, owner, "target_kl", self.target_kl, "> 0")
        require(self.cg_damping >= 0, owner, "cg_damping", self.cg_damping, ">= 0")
        require(self.adam_eps > 0, owner, "adam_eps", self.adam_eps, "> 0")
        require(0 < self.line_search_shrinking_factor < 1, owner, "line_search_shrinking_factor",
                self.line_search_shrinking_factor, "in (0, 1)")


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, max_steps: int,
                       residual_tol: float = 1e-10) -> torch.Tensor:
    """Approximately solve ``A x = b`` for a symmetric positive definite ``A`` given only ``v -> A v``.

    Hestenes & Stiefel 1952; starts from ``x = 0`` and stops after ``max_steps`` iterations or once the squared
    residual falls below ``residual_tol``.
    """
    x = torch.zeros_like(b)
    residual, direction = b.clone(), b.clone()
    rr = residual @ residual
    for _ in range(max_steps):
        a_dir = matvec(direction)
        alpha = rr / (direction @ a_dir)
        x += alpha * direction
        residual -= alpha * a_dir
        rr_new = residual @ residual
        if rr_new.item() < residual_tol:
            break
        direction = residual + (rr_new / rr) * direction
        rr = rr_new
    return x


def flat_grad(output: torch.Tensor, params: list[torch.nn.Parameter], **kwargs: Any) -> torch.Tensor:
    """The gradient of a scalar ``output`` with respect to ``params``, as one flat vector (no ``.grad`` touched)."""
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(output, params, **kwargs)])


class TRPO(OnPolicyAgent):
    """TRPO with a separate Adam-trained critic; fits every ``n_steps`` vector steps.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> agent = TRPO(env.info, n_steps=32, batch_size=32)
        >>> Core(agent, env, progress=False).learn(steps=128).steps
        128
    """

    name = "trpo"
    Config: type[TRPOConfig] = TRPOConfig

    def __init__(self, info: EnvInfo, config: TRPOConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides)
        self._build(info)
        self.fit_every_steps = self.config.n_steps * info.n_envs
        self.actor = FlatParameters(self.model.actor_parameters())
        self.critic = FlatParameters(self.model.critic_parameters())
        self.optimizer = self.make_optimizer(self.critic, self.config.learning_rate, eps=self.config.adam_eps)
        self.optimizers = {"critic_adam": self.optimizer}

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """One trust-region policy step and the critic epochs on a rollout; return the diagnostics."""
        c = self.config
        self.steps_seen += batch.n_transitions
        data = gae_rollout(self.model, self._to_torch(batch), c.gamma, c.gae_lambda)
        normalize = c.normalize_advantage and len(data) > 1  # a lone advantage is kept as it is (see PPO)
        advantage = normalize_advantage(data.advantage) if normalize else data.advantage
        with torch.no_grad():
            old_dist = self.model.policy(data.obs)
            if isinstance(old_dist, DiagGaussian):  # its log_std is the live parameter: freeze a copy
                old_dist = DiagGaussian(old_dist.mean, old_dist.log_std.clone())

        def surrogate() -> torch.Tensor:  # mean(r A): the policy objective, maximized
            log_prob = self.model.log_prob(self.model.policy(data.obs), data.action)
            return (torch.exp(log_prob - data.old_log_prob) * advantage).mean()

        objective = surrogate()
        gradient = flat_grad(objective, self.actor.params)
        kl = kl_divergence(old_dist, self.model.policy(data.obs)).mean()
        kl_grad = flat_grad(kl, self.actor.params, create_graph=True)

        def hessian_vector(v: torch.Tensor) -> torch.Tensor:
            return flat_grad(kl_grad @ v, self.actor.params, retain_graph=True) + c.cg_damping * v

        direction = conjugate_gradient(hessian_vector, gradient, c.cg_max_steps)
        step = math.sqrt(2.0 * c.target_kl / float(direction @ hessian_vector(direction))) * direction
        success, kl_new, tries = self._line_search(step, float(objective.detach()), surrogate, old_dist, data.obs)
        loss_value = self._fit_critic(data)
        self.fits += 1
        return {
            "policy_objective": float(objective.detach()),
            "kl_divergence": kl_new,
            "line_search_success": float(success),
            "line_search_tries": float(tries),
            "loss_value": loss_value,
            "explained_variance": float(explained_variance(data.old_value, data.returns)),
        }

    def _line_search(self, step: torch.Tensor, objective: float, surrogate: Callable[[], torch.Tensor],
                     old_dist: Any, obs: torch.Tensor) -> tuple[bool, float, int]:
        """Backtrack from the full step until the surrogate improves inside the trust region; else undo."""
        c = self.config
        params = self.actor.data.detach()
        original = params.clone()
        coeff, kl = 1.0, 0.0
        with torch.no_grad():
            for tries in range(1, c.line_search_max_iter + 1):
                params.copy_(original + coeff * step)
                kl = float(kl_divergence(old_dist, self.model.policy(obs)).mean())
                if kl < c.target_kl and float(surrogate()) > objective:
                    return True, kl, tries
                coeff *= c.line_search_shrinking_factor
            params.copy_(original)
        return False, 0.0, c.line_search_max_iter

    def _fit_critic(self, data: Any) -> float:
        """``n_critic_updates`` epochs of minibatch Adam on the value regression; the mean loss."""
        c = self.config
        total = torch.zeros((), device=self.device)
        steps = 0
        for _ in range(c.n_critic_updates):
            for idx in minibatches(len(data), c.batch_size, self.generator):
                obs = map_obs(lambda x: x[idx], data.obs)  # noqa: B023 (used in this iteration only)
                loss = value_loss(self.model.value(obs), data.returns[idx])["loss_value"]
                self.critic.zero_grad()
                loss.backward()
                self.optimizer.step()
                total += loss.detach()
                steps += 1
        self.n_updates += steps
        return float(total / steps)
