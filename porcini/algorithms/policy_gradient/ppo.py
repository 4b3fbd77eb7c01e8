"""Proximal Policy Optimization with the clipped surrogate (Schulman et al. 2017, arXiv:1707.06347).

Every ``n_steps * n_envs`` env steps the loop hands over a ``[T = n_steps, B = n_envs]`` rollout. The update:

1. Old log-probabilities ``log π_old(a|s)`` and values ``V_old(s)``, ``V_old(s')`` in one no-grad forward each;
   GAE(γ, λ) advantages ``A`` and λ-returns ``R = A + V_old`` (:func:`porcini.functional.gae`).
2. ``n_epochs`` passes over the rollout in random minibatches of ``batch_size``; per minibatch, with ``A``
   normalized over the minibatch (a minibatch of one keeps its advantage, as SB3) and ``r = π(a|s) / π_old(a|s)``:
   ``L = -mean(min(r A, clip(r, 1 ± ε) A)) + vf_coef · mean((V(s) - R)²) - ent_coef · mean(H[π(·|s)])``,
   one Adam step on ``L`` after clipping the gradient's global norm to ``max_grad_norm``.
3. Optional early stop of the epochs when a minibatch's approximate KL exceeds ``1.5 · target_kl`` (as SB3).

Learning rate and clip range follow a schedule by progress through the run: ``"linear"`` multiplies them by
``progress_remaining = 1 - steps_seen / horizon`` (SB3/RL Zoo ``lin_``), evaluated once per fit after counting
the rollout's steps, exactly where SB3 evaluates it. The horizon is the run's length, which ``Core.learn`` tells
the agent (``set_horizon``; the run's ``steps`` from the CLI); ``steps_seen`` is the agent's own count of the steps
it has fitted on.

Deviations from Stable-Baselines3 (which the benchmark config follows otherwise):
- Truncation: ``V(next_obs)`` of the true final observation enters the advantage and the trace is cut, instead of
  SB3's ``reward += γ V(final_obs)``; the same estimate, stated where it belongs.
- Value clipping (``clip_range_vf``) takes the pessimistic ``max`` of the clipped and unclipped errors
  (OpenAI Baselines ``ppo2``); SB3 uses the clipped error alone.
- Continuous actions are scored by the clipped Gaussian (see :mod:`.common`), SB3 scores the unclipped sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from porcini.algorithms.policy_gradient.common import (
    OnPolicyAgent,
    OnPolicyConfig,
    Rollout,
    explained_variance,
    gae_rollout,
    minibatches,
    scheduled,
)
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.envs.info import EnvInfo
from porcini.functional import entropy_loss, normalize_advantage, ppo_clip_loss, value_loss
from porcini.networks.denormals import flush_denormals

_MIN_CLIP = float(torch.finfo(torch.float32).eps)
_METRICS = ("loss_policy", "loss_value", "loss_entropy", "approx_kl", "clip_fraction")


@dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    """Hyperparameters of PPO; names and defaults follow Stable-Baselines3."""

    learning_rate: float = 3e-4
    """Adam step size (its initial value under a linear schedule)."""
    learning_rate_schedule: Literal["constant", "linear"] = "constant"
    """``linear`` decays the learning rate to 0 at the run's end (RL Zoo ``lin_``; the horizon ``Core.learn`` sets)."""
    n_steps: int = 2048
    """Env steps per env between fits: the rollout has ``n_steps * n_envs`` transitions."""
    batch_size: int = 64
    """Minibatch size (transitions)."""
    n_epochs: int = 10
    """Passes over each rollout."""
    gae_lambda: float = 0.95
    """GAE's λ: 0 gives one-step TD advantages, 1 Monte Carlo ones."""
    clip_range: float = 0.2
    """ε of the clipped surrogate (its initial value under a linear schedule)."""
    clip_range_schedule: Literal["constant", "linear"] = "constant"
    """``linear`` decays the clip range to 0 at the run's end."""
    clip_range_vf: float | None = None
    """Clip the value prediction to ``V_old ± clip_range_vf`` (in reward units); None: no value clipping."""
    normalize_advantage: bool = True
    """Standardize advantages per minibatch (a minibatch of one keeps its advantage, as in SB3)."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float | None = 0.5
    """Clip the gradient's global norm to this; None: no clipping."""
    target_kl: float | None = None
    """Stop the epochs of a fit once a minibatch's approximate KL exceeds ``1.5 * target_kl``; None: never."""
    adam_eps: float = 1e-5
    """Adam's ε (SB3 uses 1e-5 for PPO, not PyTorch's 1e-8)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        for name in ("n_steps", "batch_size", "n_epochs"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, owner, name, value, "an int >= 1")
        require(0 <= self.gae_lambda <= 1, owner, "gae_lambda", self.gae_lambda, "in [0, 1]")
        require(self.clip_range > 0, owner, "clip_range", self.clip_range, "> 0")
        require(self.clip_range_vf is None or self.clip_range_vf > 0, owner, "clip_range_vf", self.clip_range_vf,
                "> 0 or None")
        require(self.ent_coef >= 0, owner, "ent_coef", self.ent_coef, ">= 0")
        require(self.vf_coef >= 0, owner, "vf_coef", self.vf_coef, ">= 0")
        require(self.target_kl is None or self.target_kl > 0, owner, "target_kl", self.target_kl, "> 0 or None")
        require(self.adam_eps > 0, owner, "adam_eps", self.adam_eps, "> 0")


class PPO(OnPolicyAgent):
    """PPO-clip with separate policy and value networks; fits every ``n_steps`` vector steps.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> agent = PPO(env.info, n_steps=16, batch_size=16, n_epochs=1)
        >>> Core(agent, env, progress=False).learn(steps=64).steps
        64
    """

    name = "ppo"
    Config: type[PPOConfig] = PPOConfig

    def __init__(self, info: EnvInfo, config: PPOConfig | None = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, overrides)
        self._build(info)
        self.fit_every_steps = self.config.n_steps * info.n_envs
        self._setup_optimizer(eps=self.config.adam_eps)

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Run the epochs of clipped-surrogate updates on one rollout; return the mean losses and diagnostics."""
        c = self.config
        learning_rate, clip_range = self._schedules(batch)
        data = self._learning_rows(gae_rollout(self.model, self._to_torch(batch), c.gamma, c.gae_lambda), batch)
        # A minibatch that holds the whole rollout needs no shuffling (the losses are means) and its advantages
        # can be normalized once for all epochs: the same numbers as per-minibatch work, fewer kernels.
        whole = c.batch_size >= len(data)
        if whole and c.normalize_advantage and len(data) > 1:
            data = dataclasses.replace(data, advantage=normalize_advantage(data.advantage))

        def epoch() -> Iterable[Rollout]:
            if whole:
                return [data]
            return (data.index(idx) for idx in minibatches(len(data), c.batch_size, self.generator))

        normalize = c.normalize_advantage and not whole
        means, steps = self._epochs(epoch, lambda mb: self._minibatch_terms(mb, clip_range, normalize))
        return self._metrics(means, steps, data.old_value, data.returns, learning_rate, clip_range)

    def _learning_rows(self, data: Rollout, batch: TransitionBatch) -> Rollout:
        """The transitions the epochs learn from: all of them here (multi-agent PPO drops idle agents' rows)."""
        return data

    def _schedules(self, batch: TransitionBatch) -> tuple[float, float]:
        """Count the batch's steps; the learning rate (set on the optimizer) and clip range of this fit."""
        c = self.config
        self.steps_seen += batch.n_transitions
        progress = self.progress_remaining()
        learning_rate = scheduled(c.learning_rate, c.learning_rate_schedule, progress)
        # At the run's end a linear schedule reaches 0; a zero clip range means "do not move the policy", which
        # the smallest positive float32 ε expresses (the loss requires ε > 0).
        clip_range = max(scheduled(c.clip_range, c.clip_range_schedule, progress), _MIN_CLIP)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate
        return learning_rate, clip_range

    def _epochs(self, epoch: Callable[[], Iterable[Any]],
                terms_of: Callable[[Any], dict[str, torch.Tensor]]) -> tuple[torch.Tensor, int]:
        """``n_epochs`` passes over the minibatches ``epoch()`` gives: loss terms, target-KL stop, one step each.

        Returns the metrics of :data:`_METRICS` averaged over the minibatches evaluated (a tensor, read once by the
        caller: no host sync per minibatch), the one whose KL stopped the epochs included as in SB3, so the logged
        ``approx_kl`` shows what stopped them; and the number of updates (gradient steps).
        """
        c = self.config
        sums = torch.zeros(len(_METRICS), device=self.device)
        steps = 0
        for _ in range(c.n_epochs):
            for mb in epoch():
                terms = terms_of(mb)
                with torch.no_grad():
                    sums += torch.stack([terms[k] for k in _METRICS])
                if c.target_kl is not None and terms["approx_kl"].item() > 1.5 * c.target_kl:
                    return sums / (steps + 1), steps  # the policy moved too far from the one that collected the data
                self._optimize(terms)
                steps += 1
        return sums / max(steps, 1), steps

    def _metrics(self, means: torch.Tensor, steps: int, old_value: torch.Tensor, returns: torch.Tensor,
                 learning_rate: float, clip_range: float) -> dict[str, float]:
        """The fit's metrics: mean loss terms and diagnostics, the critic's explained variance, the schedules."""
        self.fits += 1
        metrics = dict(zip(_METRICS, means.tolist()))
        metrics.update(explained_variance=float(explained_variance(old_value, returns)),
                       learning_rate=learning_rate, clip_range=clip_range, gradient_steps=float(steps),
                       n_updates=float(self.n_updates))
        return metrics

    def _minibatch_terms(self, mb: Rollout, clip_range: float, normalize: bool) -> dict[str, torch.Tensor]:
        """The named loss terms of one minibatch (policy, value, entropy) and the diagnostics."""
        c = self.config
        dist = self.model.policy(mb.obs)
        log_prob = self.model.log_prob(dist, mb.action)
        # a single advantage has no spread to standardize: it is kept as it is (SB3), not centred to 0
        advantage = normalize_advantage(mb.advantage) if normalize and len(mb) > 1 else mb.advantage
        terms = ppo_clip_loss(log_prob, mb.old_log_prob, advantage, clip_range)
        value = self.model.value(mb.obs)
        terms.update(value_loss(value, mb.returns, mb.old_value, c.clip_range_vf))
        if c.ent_coef > 0:
            terms.update(entropy_loss(dist.entropy()))
        else:  # a diagnostic only: keep it out of the graph
            with torch.no_grad():
                terms.update(entropy_loss(dist.entropy()))
        return terms
