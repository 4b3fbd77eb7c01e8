"""Parts shared by the on-policy agents (REINFORCE, A2C, PPO, TRPO): config, acting, rollouts, checkpoints.

Glossary:
    rollout: the ``[T, B]`` batch the loop hands to ``fit`` (T time rows, B envs), flattened here to ``N = T * B``
        samples once the estimators (which need the time axis) have run.
    old_log_prob / old_value: the policy's log-probability of the taken action and the critic's value, under the
        parameters that collected the rollout. Parameters do not change during a rollout, so they are recomputed
        in one batched no-grad forward at fit time instead of being stored step by step: acting stays one small
        forward of the policy network.
    progress_remaining: ``1 - steps_seen / horizon``, from 1 at the start of a run to 0 at its end; linear
        schedules multiply the initial value by it (Stable-Baselines3's convention). The horizon is the run's
        length in env steps, told by ``Core.learn`` through ``set_horizon`` (:mod:`porcini.algorithms.schedules`).

Continuous actions are sampled from a diagonal Gaussian and clipped to the action space's bounds before they are
returned (the env accepts only in-bounds actions), so the batch holds the clipped actions. Their log-probability
is that of the *clipped* Gaussian (:func:`clipped_gaussian_log_prob`): the density inside the bounds and the tail
mass where a bound was hit (Fujita & Maeda 2018, "Clipped Action Policy Gradient"). This is exact for the actions
the env saw and needs no side channel for the unclipped samples; Stable-Baselines3 instead stores the unclipped
sample and scores it with the plain Gaussian.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.kit import Checkpointed, DeepConfig, agent_generator, obs_to_tensor, seeded
from porcini.algorithms.schedules import check_horizon, require_horizon
from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.agent import BaseAgent, steps_seen_in, supports_action_space
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.core.obs_tree import map_obs
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.functional import gae
from porcini.networks.actor_critic import ActorCritic, clipped_gaussian_log_prob
from porcini.networks.distributions import Bernoulli, Categorical, MultiCategorical, PolicyDistribution
from porcini.networks.encoders import check_observation_space
from porcini.networks.heads import as_action_dtype
from porcini.networks.optim import FlatParameters, adam, rmsprop

__all__ = ["ActorCritic", "OnPolicyAgent", "OnPolicyConfig", "Rollout", "clipped_gaussian_log_prob",
           "explained_variance", "flat", "gae_rollout", "minibatches", "policy_explanation", "scheduled"]

SCHEDULES = ("constant", "linear")
SCHEDULE_FIELDS = ("learning_rate_schedule", "clip_range_schedule")


def policy_explanation(dist: PolicyDistribution, value: torch.Tensor | None) -> dict[str, np.ndarray]:
    """``explain``'s answer for an on-policy agent: ``value`` (when given) and the policy's probabilities or Gaussian.

    ``action_probs`` (Discrete), ``component_probs`` (MultiDiscrete), ``bit_probs`` (MultiBinary), or
    ``action_mean`` and ``action_std`` (Box); see :data:`porcini.core.agent.EXPLAIN_KEYS`.

    Args:
        dist: the policy at the observations ``[B]``.
        value: the critic's values ``[B]``, or None for an agent without a critic.
    """
    out: dict[str, np.ndarray] = {}
    if value is not None:
        out["value"] = value.cpu().numpy()
    if isinstance(dist, Categorical):
        out["action_probs"] = dist.probs.cpu().numpy()
    elif isinstance(dist, MultiCategorical):
        out["component_probs"] = dist.probs.cpu().numpy()
    elif isinstance(dist, Bernoulli):
        out["bit_probs"] = dist.probs.cpu().numpy()
    else:
        out["action_mean"] = dist.mean.cpu().numpy()
        out["action_std"] = dist.std.expand(dist.mean.shape).cpu().numpy()
    return out


def minibatches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Indices of one pass over ``n`` samples in random order, ``batch_size`` at a time (the last may be short)."""
    order = torch.randperm(n, generator=generator, device=generator.device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def scheduled(value: float, kind: str, progress_remaining: float) -> float:
    """``value`` under a schedule: ``"constant"``, or ``"linear"`` (``value * progress_remaining``, the Zoo's lin_)."""
    return value * progress_remaining if kind == "linear" else value


def explained_variance(value: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """``1 - Var(returns - value) / Var(returns)``: 1 for a perfect critic, 0 for a constant one (NaN: flat returns)."""
    if returns.numel() < 2:  # no variance to explain (and no torch warning about it)
        return returns.new_tensor(float("nan"))
    return 1.0 - (returns - value).var() / returns.var()


@dataclass(frozen=True)
class OnPolicyConfig(DeepConfig):
    """The network fields shared by REINFORCE, A2C, PPO and TRPO (SB3 names and defaults); checks the schedules."""

    net_arch: tuple[int, ...] | dict[str, tuple[int, ...]] = (64, 64)
    """Hidden widths of the separate policy and value networks, or ``{pi: [...], vf: [...]}``."""
    activation: str = "tanh"
    """Hidden activation."""
    ortho_init: bool = True
    """Orthogonal initialization (gains sqrt(2), 0.01 for the policy output, 1 for the value output)."""
    log_std_init: float = 0.0
    """Initial log standard deviation of a Gaussian policy (continuous actions)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for field in SCHEDULE_FIELDS:
            kind = getattr(self, field, "constant")
            require(kind in SCHEDULES, type(self).__name__, field, kind, f"one of {SCHEDULES}")


class OnPolicyAgent(Checkpointed, BaseAgent):
    """Acting, seeding and checkpoints shared by the on-policy agents; subclasses add optimizers and ``fit``.

    Subclasses call :meth:`_build` in ``__init__``, register their optimizers in ``self.optimizers`` (the model is
    registered as ``modules["model"]``; :class:`~porcini.algorithms.kit.Checkpointed` saves both) and count the
    env steps they fit on in ``self.steps_seen`` (the clock of the schedules). ``self.n_updates`` counts the
    optimizer steps taken over the agent's life, one per minibatch as in the other deep agents (TRPO: its critic's).
    """

    config: Any
    flat: FlatParameters
    optimizer: torch.optim.Optimizer
    action_spaces: tuple[str, ...] = ("Discrete", "Box", "MultiDiscrete", "MultiBinary")

    def _build(self, info: EnvInfo, with_value: bool = True) -> None:
        c = self.config
        self.horizon: int | None = None  # the run's env steps, told by Core.learn (set_horizon)
        if not supports_action_space(self, info.action_space):
            kinds = " or ".join(", ".join(self.action_spaces).rsplit(", ", 1))
            raise UnsupportedSpaceError(f"{type(self).__name__} needs a {kinds} action space; {info.env_id} has "
                                        f"{info.action_space}{multi_action_hint(info.action_space)}")
        check_observation_space(info.observation_space, f"{type(self).__name__} on {info.env_id}",
                                applies_mask=True)
        self.info = info
        self.device = torch.device(c.device)
        with seeded(c.seed):
            self.model = self._make_model(info, with_value)
        self.model.to(self.device)
        self.generator = agent_generator(c.seed, self.device)
        self._init_registry()
        self.modules["model"] = self.model
        self.steps_seen = 0
        self.fits = 0
        self.n_updates = 0
        space = info.action_space
        self._action_dtype = None if self.model.discrete else np.dtype(space.dtype)
        # a Box of another shape than (d,): the Gaussian's flat [B, d] actions take the space's shape
        self._box_shape = tuple(space.shape) if isinstance(space, gym.spaces.Box) and len(space.shape) != 1 else None
        # Discrete(n, start=s): the policy's categories are 0..n-1, the env's actions s..s+n-1 (MultiDiscrete: each
        # component's); None when every action starts at 0
        start = np.asarray(space.start if isinstance(space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete)) else 0)
        self._action_start: np.ndarray | None = start if np.any(start != 0) else None
        # a bounded Box's exact bounds: a float64 range with no float32 inside (low == high == 0.3) cannot be held by
        # the float32 clamp, so the env's action is clipped again in its own dtype
        self._box_bounds = (space.low, space.high) if isinstance(space, gym.spaces.Box) and self.model.clips else None

    def _make_model(self, info: EnvInfo, with_value: bool) -> Any:
        """The networks (built under the config's seed): an :class:`ActorCritic` here."""
        c = self.config
        return ActorCritic(info.observation_space, info.action_space, c.net_arch, c.activation, c.ortho_init,
                           c.log_std_init, with_value)

    def make_optimizer(self, flat: FlatParameters, lr: float, kind: str = "adam", eps: float = 1e-8,
                       alpha: float = 0.99) -> torch.optim.Optimizer:
        """Adam (fused kernel where the device has one) or RMSprop over the flat parameter vector ``flat.data``."""
        if kind == "rmsprop":
            return rmsprop([flat.data], lr, alpha, eps)
        return adam([flat.data], lr, self.device, eps)

    def _setup_optimizer(self, kind: str = "adam", eps: float = 1e-8, alpha: float = 0.99) -> None:
        """One optimizer (registered under ``kind``) over the whole model as one flat buffer."""
        self.flat = FlatParameters(self.model.parameters())
        self.optimizer = self.make_optimizer(self.flat, self.config.learning_rate, kind, eps, alpha)
        self.optimizers = {kind: self.optimizer}

    def _optimize(self, terms: dict[str, torch.Tensor]) -> None:
        """One step on ``loss_policy + vf_coef · loss_value + ent_coef · loss_entropy``, the gradient norm clipped.

        The value term counts when present (REINFORCE without a baseline has none), the entropy term only when
        ``ent_coef > 0`` (otherwise it is a diagnostic); the gradient's global norm is clipped to
        ``max_grad_norm``.
        """
        c = self.config
        loss = terms["loss_policy"]
        if "loss_value" in terms:
            loss = loss + c.vf_coef * terms["loss_value"]
        if c.ent_coef > 0:
            loss = loss + c.ent_coef * terms["loss_entropy"]
        self.flat.zero_grad()
        loss.backward()
        self.flat.clip_grad_norm(c.max_grad_norm)
        self.optimizer.step()
        self.n_updates += 1

    def set_horizon(self, total_env_steps: int) -> None:
        """Set the run's length in env steps: linear schedules reach 0 there (``Core.learn`` calls this)."""
        self.horizon = check_horizon(total_env_steps)

    def progress_remaining(self) -> float:
        """``1 - steps_seen / horizon``, clipped to [0, 1]; 1 without a horizon when every schedule is constant.

        Raises:
            HorizonError: a linear schedule, and no horizon was set.
        """
        if self.horizon is None:
            linear = [f"{f}='linear'" for f in SCHEDULE_FIELDS if getattr(self.config, f, "constant") == "linear"]
            if not linear:
                return 1.0
            require_horizon(None, type(self).__name__, " and ".join(linear))
        horizon = require_horizon(self.horizon, type(self).__name__, "a linear schedule")
        return min(1.0, max(0.0, 1.0 - self.steps_seen / horizon))

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """One forward of the policy over the ``[B, ...]`` observations: a sample, or the mode when not exploring.

        Continuous actions are clipped to the action space's bounds.
        """
        with torch.inference_mode():
            return self._sample_action(self.model.policy(self._obs_tensor(obs)), explore)

    def _sample_action(self, dist: PolicyDistribution, explore: bool) -> np.ndarray:
        """A sample of ``dist`` (the mode when not exploring), clipped to the bounds, as the env's dtype."""
        action = dist.sample(self.generator) if explore else dist.mode()
        if self.model.clips:
            action = torch.clamp(action, self.model.action_low, self.model.action_high)
        out = action.cpu().numpy()
        if self._box_shape is not None:
            out = out.reshape(*out.shape[:-1], *self._box_shape)
        if self._action_start is not None:
            out = out + self._action_start
        if self._action_dtype is None:
            return out
        if self._box_bounds is not None:
            out = np.clip(as_action_dtype(out, self._action_dtype), *self._box_bounds)
        return as_action_dtype(out, self._action_dtype)

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """``V(s)`` (with a critic) and the policy at ``obs``: action probabilities, or the Gaussian's mean and std.

        See :class:`porcini.core.agent.Explainable`; one no-grad forward, no random draws.
        """
        with torch.inference_mode():
            x = self._obs_tensor(obs)
            value = self.model.value(x) if self.model.v_head is not None else None
            return policy_explanation(self.model.policy(x), value)

    def value(self, obs: np.ndarray) -> np.ndarray:
        """The critic's values ``[B]`` of observations ``[B, ...]`` (for inspection and tests)."""
        with torch.inference_mode():
            return self.model.value(self._obs_tensor(obs)).cpu().numpy()

    def _obs_tensor(self, obs: Any) -> Any:
        """Observations as the networks take them (:func:`~porcini.algorithms.kit.obs_to_tensor` of the space)."""
        return obs_to_tensor(obs, self.device, self.info.observation_space)

    def state_dict(self) -> dict[str, Any]:
        """Parameters, optimizer states, the sampling generator's state, the step counters and the horizon (a copy)."""
        return {
            **self.registered_state(),
            "generator": self.generator.get_state(),
            "steps_seen": self.steps_seen,
            "fits": self.fits,
            "n_updates": self.n_updates,
            "horizon": self.horizon,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the networks must have the same architecture)."""
        self.load_registered_state(state)
        self.generator.set_state(state["generator"])
        self.steps_seen = steps_seen_in(state)
        self.fits = int(state["fits"])
        self.n_updates = int(state.get("n_updates", 0))  # absent from checkpoints written before agents kept it
        horizon = state.get("horizon")  # absent from checkpoints written before agents kept it
        self.horizon = None if horizon is None else check_horizon(int(horizon))

    def _to_torch(self, batch: TransitionBatch) -> TransitionBatch:
        """The batch on the agent's device, observations as the trunks want them (one conversion per fit)."""
        b = batch.to_torch(self.device)
        obs, next_obs = self._obs_tensor(b.obs), self._obs_tensor(b.next_obs)
        return TransitionBatch(obs, self._model_action(b.action), b.reward, next_obs, b.terminated, b.truncated,
                               b.extras)

    def _model_action(self, action: torch.Tensor) -> torch.Tensor:
        """The env's actions as the policy's categories (``0..n-1`` per component): minus the space's ``start``."""
        if self._action_start is None:
            return action
        return action - torch.as_tensor(self._action_start, dtype=action.dtype, device=action.device)


def flat(x: Any) -> Any:
    """Merge the ``[T, B]`` axes of ``x`` (a tensor, or a dict or tuple of them) into one ``[T * B, ...]``."""
    return map_obs(lambda t: t.reshape(t.shape[0] * t.shape[1], *t.shape[2:]), x)


@dataclass(frozen=True)
class Rollout:
    """A fit batch as flat tensors ``[N = T * B, ...]`` with the targets computed: what the update epochs read.

    Attributes:
        obs: observations ``[N, *obs_shape]`` (a dict or tuple of them for Dict or Tuple observations).
        action: actions as the env received them ``[N, *action_shape]``.
        old_log_prob: log-probabilities of ``action`` under the collecting policy ``[N]``.
        old_value: values ``V(obs)`` under the collecting critic ``[N]``.
        advantage: GAE advantages ``[N]``.
        returns: value targets ``advantage + old_value`` (λ-returns) ``[N]``.
    """

    obs: Any
    action: torch.Tensor
    old_log_prob: torch.Tensor
    old_value: torch.Tensor
    advantage: torch.Tensor
    returns: torch.Tensor

    def __len__(self) -> int:
        return int(self.advantage.shape[0])

    def index(self, idx: torch.Tensor) -> Rollout:
        """The samples at ``idx`` (a minibatch)."""
        return Rollout(*(map_obs(lambda x: x[idx], getattr(self, f.name)) for f in fields(self)))


def gae_rollout(model: ActorCritic, b: TransitionBatch, gamma: float, gae_lambda: float) -> Rollout:
    """Old log-probs and values in one no-grad forward each, GAE targets, then flatten ``[T, B] -> [N]``.

    ``next_value = V(next_obs)`` for every row, ``next_obs`` being the true successor: the advantage bootstraps
    through truncations and the batch end and drops the bootstrap at terminations (``terminated``), while the
    trace stops at every episode end (``episode_end``). See :func:`porcini.functional.gae`.

    Args:
        model: the actor-critic (with a value network).
        b: the ``[T, B]`` batch as tensors on the model's device.
        gamma: discount.
        gae_lambda: GAE's λ.
    """
    n_rows = b.reward.shape[0]
    with torch.no_grad():
        values = model.value(map_obs(lambda obs, next_obs: torch.cat([obs, next_obs]), b.obs, b.next_obs))
        value, next_value = values[:n_rows], values[n_rows:]
        log_prob = model.log_prob(model.policy(b.obs), b.action)
        advantage, returns = gae(b.reward, value, next_value, b.terminated, b.episode_end, gamma, gae_lambda)
    return Rollout(flat(b.obs), flat(b.action), flat(log_prob), flat(value), flat(advantage), flat(returns))
