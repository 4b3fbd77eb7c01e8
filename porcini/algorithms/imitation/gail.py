"""GAIL: generative adversarial imitation learning (Ho & Ermon 2016, arXiv:1606.03476), on PPO or TRPO.

The learner never sees the env's reward. A discriminator ``D(s, a) = σ(ℓ(s, a))`` learns to tell the expert's
state-action pairs from the learner's, and the learner is rewarded for looking like the expert::

    every fit of the learner, on the rollout's pairs (s, a) and as many drawn from the demonstrations:
        ``discriminator_epochs`` passes of Adam steps on  BCE(expert → 1, learner → 0)
                                                          (+ λ gradient penalty, optional label smoothing)
        r(s, a) = -log(1 - D(s, a)) = softplus(ℓ(s, a))    replaces the env's reward in the rollout
        the learner's update (GAE with the rollout's terminated / truncated flags, as with any reward)

The losses are :func:`porcini.functional.discriminator_loss`, :func:`porcini.functional.gradient_penalty` and
:func:`porcini.functional.gail_reward`. The discriminator reads the flattened observation and the action (one-hot
for Discrete actions, scaled to ``[-1, 1]`` for bounded Box ones). The demonstrations come from
:meth:`GAIL.add_dataset` (any dataset with actions: a Minari or porcini one, ``porcini collect RUN``); the env's
reward is only logged (``env_reward_mean``, and the loop's episode returns), beside ``learned_reward_mean``.
Everything else — acting, the rollout, the update, its config fields — is the learner's:
:class:`~porcini.algorithms.policy_gradient.ppo.PPO` for :class:`GAIL` (``gail``),
:class:`~porcini.algorithms.policy_gradient.trpo.TRPO` for :class:`GAILTRPO` (``gail_trpo``, the paper's
learner). From the command line: ``porcini train gail ENV --dataset DEMOS`` (record ``DEMOS`` with ``porcini
collect RUN_DIR``); the configs of record are the learner's for the env, on Pendulum with a slower discriminator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.kit import seeded
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.algorithms.policy_gradient.trpo import TRPO, TRPOConfig
from porcini.algorithms.space_hints import multi_action_hint
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.data.dataset import Dataset
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.functional.adversarial_imitation import discriminator_loss, gail_reward, gradient_penalty
from porcini.networks.mlp import MLP
from porcini.networks.optim import adam
from porcini.seeding import agent_rng


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The discriminator's hyperparameters, shared by :class:`GAILConfig` and :class:`GAILTRPOConfig`."""

    discriminator_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of the discriminator (tanh)."""
    discriminator_learning_rate: float = 3e-4
    """Adam step size of the discriminator."""
    discriminator_epochs: int = 1
    """Passes over the rollout's pairs per fit."""
    discriminator_batch_size: int = 256
    """Learner pairs per discriminator step (with as many expert pairs)."""
    gradient_penalty: float = 0.0
    """Weight λ of the gradient penalty (WGAN-GP's, at points between expert and learner pairs); 0: none."""
    label_smoothing: float = 0.0
    """ε: expert pairs labelled ``1 - ε``, the learner's ``ε`` (0: plain labels)."""

    def __post_init__(self) -> None:
        super_post_init = getattr(super(), "__post_init__", None)
        if super_post_init is not None:  # the learner's config checks its own fields
            super_post_init()
        name = type(self).__name__
        for field in ("discriminator_epochs", "discriminator_batch_size"):
            require(getattr(self, field) >= 1, name, field, getattr(self, field), ">= 1")
        require(self.discriminator_learning_rate > 0, name, "discriminator_learning_rate",
                self.discriminator_learning_rate, "> 0")
        require(self.gradient_penalty >= 0, name, "gradient_penalty", self.gradient_penalty, ">= 0")
        require(0.0 <= self.label_smoothing < 0.5, name, "label_smoothing", self.label_smoothing, "in [0, 0.5)")


@dataclass(frozen=True)
class GAILConfig(DiscriminatorConfig, PPOConfig):
    """Hyperparameters of GAIL: PPO's (see :class:`PPOConfig`) plus the discriminator's."""


@dataclass(frozen=True)
class GAILTRPOConfig(DiscriminatorConfig, TRPOConfig):
    """Hyperparameters of GAIL on TRPO: TRPO's (see :class:`TRPOConfig`) plus the discriminator's."""


class AdversarialImitation:
    """The discriminator, its training and the relabelling of rollouts, in front of an on-policy learner.

    ``class GAIL(AdversarialImitation, PPO)``: construction checks the spaces, builds the learner then the
    discriminator; ``fit`` fits the learner on :meth:`relabel`'s batch; the state adds the draws' generator.
    """

    info: EnvInfo
    device: torch.device
    config: Any
    modules: dict[str, Any]
    optimizers: dict[str, Any]
    learns_from_demonstrations = True

    @staticmethod
    def check_spaces(info: EnvInfo) -> None:
        """Raise UnsupportedSpaceError unless the spaces are a Discrete or bounded Box action and Box observations."""
        space = info.action_space
        if not isinstance(space, (gym.spaces.Discrete, gym.spaces.Box)):
            raise UnsupportedSpaceError(f"GAIL needs a Discrete or Box action space; {info.env_id} has {space}"
                                        + multi_action_hint(space))
        if isinstance(space, gym.spaces.Box) and not (np.all(np.isfinite(space.low))
                                                      and np.all(np.isfinite(space.high))):
            raise UnsupportedSpaceError(f"GAIL scales Box actions to [-1, 1] and needs finite bounds; {info.env_id} "
                                        f"has {space}: wrap the env with ClipAction")
        if not isinstance(info.observation_space, gym.spaces.Box):
            raise UnsupportedSpaceError(f"GAIL's discriminator reads Box observations; {info.env_id} has "
                                        f"{info.observation_space}: flatten or one-hot them with a wrapper "
                                        "(FlattenObservation, OneHotObservation)")

    def __init__(self, info: EnvInfo, config: Any = None, **overrides: Any) -> None:
        self.check_spaces(info)
        super().__init__(info, config, **overrides)  # type: ignore[call-arg]  # the learner's
        self._build_discriminator()

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Train the discriminator on the rollout, replace its rewards with GAIL's, then the learner's update."""
        relabelled, metrics = self.relabel(batch)
        return {**super().fit(relabelled), **metrics}  # type: ignore[misc]

    def state_dict(self) -> dict[str, Any]:
        """The learner's state (with the discriminator and its optimizer) and the generator of the pairs' draws."""
        return {**super().state_dict(), "rng": self.rng.bit_generator.state}  # type: ignore[misc]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the demonstrations are given again with ``add_dataset``)."""
        super().load_state_dict(state)  # type: ignore[misc]
        self.rng.bit_generator.state = state["rng"]

    def _build_discriminator(self) -> None:
        c, info, space = self.config, self.info, self.info.action_space
        self.obs_dim = int(np.prod(info.obs_shape))
        self.action_width = int(space.n) if isinstance(space, gym.spaces.Discrete) else info.action_dim
        with seeded(c.seed):
            self.discriminator = MLP(self.obs_dim + self.action_width, 1, c.discriminator_arch, "tanh").to(self.device)
        self.modules["discriminator"] = self.discriminator
        self.optimizers["discriminator"] = adam(self.discriminator.parameters(), c.discriminator_learning_rate,
                                                self.device)
        self.rng = agent_rng(c.seed)
        self.expert: Dataset | None = None

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 1.0) -> None:
        """The expert's demonstrations (``dataset_ratio`` is accepted for the common API and not used).

        Raises:
            ValueError: the dataset is empty, or its observations or actions have other shapes than the env's.
        """
        if len(dataset) == 0:
            raise ValueError("GAIL.add_dataset: the demonstration dataset is empty")
        obs_shape = tuple(np.shape(dataset.batch.obs)[2:])
        action_shape = tuple(np.shape(dataset.batch.action)[2:])
        if obs_shape != tuple(self.info.obs_shape) or action_shape != tuple(self.info.action_shape):
            raise ValueError(f"GAIL.add_dataset: the demonstrations have observations {obs_shape} and actions "
                             f"{action_shape}, the env {tuple(self.info.obs_shape)} and "
                             f"{tuple(self.info.action_shape)}: record them in this env")
        self.expert = dataset

    def pairs(self, obs: Any, action: Any) -> Tensor:
        """Discriminator inputs ``[N, obs_dim + action_width]`` from observations ``[N, ...]`` and env actions."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(len(obs), -1), device=self.device)
        space = self.info.action_space
        if isinstance(space, gym.spaces.Discrete):
            index = torch.as_tensor(np.asarray(action).reshape(-1) - int(space.start), device=self.device).long()
            a = torch.nn.functional.one_hot(index, self.action_width).float()
        else:
            assert isinstance(space, gym.spaces.Box)
            low, high = space.low.reshape(-1), space.high.reshape(-1)
            scaled = 2.0 * (np.asarray(action, dtype=np.float64).reshape(len(obs), -1) - low) / (high - low) - 1.0
            a = torch.as_tensor(np.clip(scaled, -1.0, 1.0), dtype=torch.float32, device=self.device)
        return torch.cat([x, a], dim=-1)

    def logits(self, inputs: Tensor) -> Tensor:
        """``ℓ(s, a)`` ``[N]`` of discriminator inputs ``[N, d]``."""
        return self.discriminator(inputs).squeeze(-1)

    def relabel(self, batch: TransitionBatch) -> tuple[TransitionBatch, dict[str, float]]:
        """Train the discriminator on the rollout; the rollout with GAIL's rewards, and the discriminator's metrics."""
        if self.expert is None:
            raise ValueError(f"{type(self).__name__}.fit: no demonstrations; call add_dataset(dataset) first "
                             "(--dataset SOURCE)")
        flat = batch.flatten()
        learner = self.pairs(flat.obs[:, 0], flat.action[:, 0])
        metrics = self._train_discriminator(learner)
        with torch.no_grad():
            reward = gail_reward(self.logits(learner)).cpu().numpy().astype(np.float32)
        learned = reward.reshape(batch.reward.shape)
        relabelled = TransitionBatch(batch.obs, batch.action, learned, batch.next_obs, batch.terminated,
                                     batch.truncated, batch.extras)
        return relabelled, {**metrics, "learned_reward_mean": float(learned.mean()),
                            "env_reward_mean": float(np.mean(batch.reward))}

    def _train_discriminator(self, learner: Tensor) -> dict[str, float]:
        """``discriminator_epochs`` shuffled passes over the learner's pairs, each step with fresh expert pairs."""
        c, n = self.config, len(learner)
        assert self.expert is not None
        terms: dict[str, Tensor] = {}
        for _ in range(c.discriminator_epochs):
            order = self.rng.permutation(n)
            for start in range(0, n, c.discriminator_batch_size):
                rows = order[start:start + c.discriminator_batch_size]
                drawn = self.expert.sample(len(rows), self.rng)
                expert = self.pairs(drawn.obs[:, 0], drawn.action[:, 0])
                policy = learner[torch.as_tensor(rows, device=self.device)]
                terms = discriminator_loss(self.logits(expert), self.logits(policy), c.label_smoothing)
                loss = terms["loss_discriminator"]
                if c.gradient_penalty > 0:
                    mix = torch.as_tensor(self.rng.random((len(rows), 1)), dtype=torch.float32, device=self.device)
                    terms["gradient_penalty"] = gradient_penalty(self.logits, expert, policy, mix)
                    loss = loss + c.gradient_penalty * terms["gradient_penalty"]
                self.optimizers["discriminator"].zero_grad()
                loss.backward()
                self.optimizers["discriminator"].step()
        return {name: float(value.detach()) for name, value in terms.items()}


class GAIL(AdversarialImitation, PPO):
    """PPO on the reward of a discriminator trained to tell the expert's pairs from the learner's.

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.data import collect_dataset
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> demos = collect_dataset(make_env("CartPole-v1", seed=1), lambda obs: (obs[:, 2] > 0).astype(int),
        ...                         steps=200, seed=1)
        >>> agent = GAIL(env.info, n_steps=32, batch_size=32, n_epochs=1, discriminator_batch_size=32)
        >>> agent.add_dataset(demos)
        >>> Core(agent, env, progress=False).learn(steps=128).steps
        128
    """

    name = "gail"
    Config: type[GAILConfig] = GAILConfig
    config: GAILConfig
    action_spaces = ("Discrete", "Box")


class GAILTRPO(AdversarialImitation, TRPO):
    """TRPO on GAIL's discriminator reward (the original paper's learner); otherwise as :class:`GAIL`."""

    name = "gail_trpo"
    Config: type[GAILTRPOConfig] = GAILTRPOConfig
    config: GAILTRPOConfig
    action_spaces = ("Discrete", "Box")
