"""Adversarial imitation: a discriminator trained against the learner's rollouts, whose output becomes its reward.

:class:`AdversarialImitation` sits in front of an on-policy learner (``class GAIL(AdversarialImitation, PPO)``).
Every fit of the learner, on the rollout's transitions (and, with ``discriminator_replay``, as many drawn from the
learner's earlier rollouts) and as many drawn from the demonstrations::

    ``discriminator_epochs`` passes of Adam steps on  BCE(expert → 1, learner → 0)
                                                      (+ λ gradient penalty, optional label smoothing)
    the rollout's rewards replaced by the method's reward (``learner_reward``), then the learner's update

A method says what the discriminator reads (:meth:`AdversarialImitation.inputs`), how its logit is computed
(:meth:`~AdversarialImitation.logits`) and which reward the learner gets; GAIL (``gail.py``) reads pairs (s, a),
AIRL (``airl.py``) transitions (s, a, s') and the policy's log-probability. The env's reward is only logged
(``env_reward_mean``, beside ``learned_reward_mean``).

Trained on the latest rollout alone, the discriminator forgets the states the learner has stopped visiting: its
reward there drifts. That does not matter to the learner, which no longer goes there, but it does to a new agent
trained from scratch on the learned reward (AIRL's export), which starts where the learner started.
``discriminator_replay`` keeps the learner's earlier transitions in a replay (a FIFO
:class:`~porcini.data.replay.ReplayBuffer`, in the checkpoint), as DAC (Kostrikov et al. 2019) does, so the reward
stays defined on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.imitation.reward_model import check_reward_spaces, encode_actions, encode_observations
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.data.dataset import Dataset
from porcini.data.replay import ReplayBuffer
from porcini.data.validation import check_agent_dataset
from porcini.envs.info import EnvInfo
from porcini.functional.adversarial_imitation import discriminator_loss, gradient_penalty
from porcini.seeding import agent_rng


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The discriminator's hyperparameters, shared by the adversarial imitation configs (GAIL's, AIRL's)."""

    discriminator_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of the discriminator's networks (tanh)."""
    discriminator_learning_rate: float = 3e-4
    """Adam step size of the discriminator."""
    discriminator_epochs: int = 1
    """Passes over the rollout's transitions per fit."""
    discriminator_batch_size: int = 256
    """Learner transitions per discriminator step (with as many expert ones)."""
    gradient_penalty: float = 0.0
    """Weight λ of the gradient penalty (WGAN-GP's, at points between expert and learner inputs; AIRL's norm is
    over ``(s, a, s')``, not ``log π``); 0: none."""
    label_smoothing: float = 0.0
    """ε: expert inputs labelled ``1 - ε``, the learner's ``ε`` (0: plain labels)."""
    discriminator_replay: int = 0
    """Learner transitions kept from earlier rollouts (first in, first out); each fit the discriminator also
    trains on as many of them, drawn uniformly, as the rollout has. 0: the latest rollout only."""

    def __post_init__(self) -> None:
        super_post_init = getattr(super(), "__post_init__", None)
        if super_post_init is not None:  # the learner's config checks its own fields
            super_post_init()
        name = type(self).__name__
        for field in ("discriminator_epochs", "discriminator_batch_size"):
            require(getattr(self, field) >= 1, name, field, getattr(self, field), ">= 1")
        require(self.discriminator_replay >= 0, name, "discriminator_replay", self.discriminator_replay, ">= 0")
        require(self.discriminator_learning_rate > 0, name, "discriminator_learning_rate",
                self.discriminator_learning_rate, "> 0")
        require(self.gradient_penalty >= 0, name, "gradient_penalty", self.gradient_penalty, ">= 0")
        require(0.0 <= self.label_smoothing < 0.5, name, "label_smoothing", self.label_smoothing, "in [0, 0.5)")


class AdversarialImitation:
    """The discriminator, its training and the relabelling of rollouts, in front of an on-policy learner.

    Construction checks the spaces, builds the learner then the discriminator (:meth:`build_discriminator`, the
    method's); ``fit`` fits the learner on :meth:`relabel`'s batch; the state adds the draws' generator.
    """

    info: EnvInfo
    device: torch.device
    config: Any
    modules: dict[str, Any]
    optimizers: dict[str, Any]
    learns_from_demonstrations = True

    def __init__(self, info: EnvInfo, config: Any = None, **overrides: Any) -> None:
        check_reward_spaces(info, f"{type(self).__name__}'s discriminator")
        super().__init__(info, config, **overrides)  # type: ignore[call-arg]  # the learner's
        space = self.info.action_space
        self.obs_dim = int(np.prod(self.info.obs_shape))
        self.action_width = int(space.n) if isinstance(space, gym.spaces.Discrete) else self.info.action_dim
        self.build_discriminator()
        self.rng = agent_rng(self.config.seed)
        self.expert: Dataset | None = None
        replay = self.config.discriminator_replay
        self.learner_replay = ReplayBuffer(replay, n_envs=1) if replay else None

    def build_discriminator(self) -> None:
        """Build the discriminator's networks into ``self.modules`` and its optimizer into ``self.optimizers``."""
        raise NotImplementedError

    def inputs(self, batch: TransitionBatch) -> Tensor:
        """The discriminator's inputs ``[N, d]`` of a flat batch ``[N, 1, ...]`` (the learner's or the expert's)."""
        raise NotImplementedError

    def logits(self, inputs: Tensor) -> Tensor:
        """The discriminator's logits ``ℓ`` ``[N]`` of inputs ``[N, d]`` (``D = σ(ℓ)``: the chance of the expert)."""
        raise NotImplementedError

    def learner_reward(self, inputs: Tensor) -> Tensor:
        """The reward ``[N]`` the learner gets for transitions with these inputs (no gradient)."""
        raise NotImplementedError

    def penalized_columns(self) -> slice:
        """The input columns the gradient penalty's norm is taken over (by default, all)."""
        return slice(None)

    def training_rows(self, inputs: Tensor) -> Tensor:
        """The rows the discriminator trains on for these transitions' inputs (by default, the same rows)."""
        return inputs

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Train the discriminator on the rollout, replace its rewards with the method's, then the learner's update."""
        relabelled, metrics = self.relabel(batch)
        return {**super().fit(relabelled), **metrics}  # type: ignore[misc]

    def state_dict(self) -> dict[str, Any]:
        """The learner's state (with the discriminator and its optimizer), the draws' generator, the learner replay."""
        state = {**super().state_dict(), "rng": self.rng.bit_generator.state}  # type: ignore[misc]
        if self.learner_replay is not None:
            state["learner_replay"] = self.learner_replay.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the demonstrations are given again with ``add_dataset``)."""
        super().load_state_dict(state)  # type: ignore[misc]
        self.rng.bit_generator.state = state["rng"]
        if self.learner_replay is not None:
            self.learner_replay = ReplayBuffer(self.config.discriminator_replay, n_envs=1)
            if "learner_replay" in state:
                self.learner_replay.load_state_dict(state["learner_replay"], "the checkpoint's learner replay")

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 1.0) -> None:
        """The expert's demonstrations (``dataset_ratio`` is accepted for the common API and not used).

        Raises:
            ValueError: the dataset is empty, or its observations or actions have other shapes than the env's;
                (DatasetError) NaN observations, non-finite rewards or actions outside the env's space, as BC.
        """
        name = type(self).__name__
        if len(dataset) == 0:
            raise ValueError(f"{name}.add_dataset: the demonstration dataset is empty")
        obs_shape = tuple(np.shape(dataset.batch.obs)[2:])
        action_shape = tuple(np.shape(dataset.batch.action)[2:])
        if obs_shape != tuple(self.info.obs_shape) or action_shape != tuple(self.info.action_shape):
            raise ValueError(f"{name}.add_dataset: the demonstrations have observations {obs_shape} and actions "
                             f"{action_shape}, the env {tuple(self.info.obs_shape)} and "
                             f"{tuple(self.info.action_shape)}: record them in this env")
        check_agent_dataset(dataset, self.info, name)  # a NaN would make the discriminator's weights NaN
        self.expert = dataset

    def observations(self, obs: Any) -> Tensor:
        """Observations ``[N, ...]`` as :func:`encode_observations` gives them, on the agent's device."""
        return encode_observations(obs, self.info.observation_space).to(self.device)

    def actions(self, action: Any) -> Tensor:
        """Env actions ``[N, ...]`` as the discriminator reads them: one-hot (Discrete) or scaled to ``[-1, 1]``."""
        return encode_actions(action, self.info.action_space).to(self.device)

    def relabel(self, batch: TransitionBatch) -> tuple[TransitionBatch, dict[str, float]]:
        """Train the discriminator on the rollout; the rollout with the method's rewards, and the metrics."""
        if self.expert is None:
            raise ValueError(f"{type(self).__name__}.fit: no demonstrations; call add_dataset(dataset) first "
                             "(--dataset SOURCE)")
        learner = self.inputs(batch.flatten())
        metrics = self._train_discriminator(self._with_replayed(batch, learner))
        with torch.no_grad():
            reward = self.learner_reward(learner).cpu().numpy().astype(np.float32)
        learned = reward.reshape(batch.reward.shape)
        relabelled = TransitionBatch(batch.obs, batch.action, learned, batch.next_obs, batch.terminated,
                                     batch.truncated, batch.extras)
        return relabelled, {**metrics, "learned_reward_mean": float(learned.mean()),
                            "env_reward_mean": float(np.mean(batch.reward))}

    def _with_replayed(self, batch: TransitionBatch, learner: Tensor) -> Tensor:
        """The rollout's inputs, then (with a learner replay) as many drawn from the replay, the rollout added first.

        Inputs are computed now, so AIRL's ``log π`` is the current policy's on old transitions too.
        """
        if self.learner_replay is None:
            return learner
        flat = batch.flatten()  # one column: the replay takes rollouts of any env count
        self.learner_replay.add(TransitionBatch(flat.obs, flat.action, flat.reward, flat.next_obs, flat.terminated,
                                                flat.truncated))
        return torch.cat([learner, self.inputs(self.learner_replay.sample(len(learner), self.rng))])

    def _train_discriminator(self, learner: Tensor) -> dict[str, float]:
        """``discriminator_epochs`` shuffled passes over the learner's inputs, each step with fresh expert ones.

        Every step's learner rows, expert pairs and penalty mixes are drawn up front and moved to the device once.
        Each step's rows on both sides are its transitions' :meth:`training_rows` (with AIRL's absorbing rows).
        """
        c, n, size = self.config, len(learner), self.config.discriminator_batch_size
        assert self.expert is not None
        orders = [self.rng.permutation(n) for _ in range(c.discriminator_epochs)]
        steps = [(epoch * n + start, min(size, n - start)) for epoch in range(len(orders))
                 for start in range(0, n, size)]
        rows = torch.as_tensor(np.concatenate(orders), device=self.device)
        experts = self.inputs(self.expert.sample(len(rows), self.rng))
        if c.gradient_penalty > 0:
            mixes = torch.as_tensor(self.rng.random((len(rows), 1)), dtype=torch.float32, device=self.device)
        terms: dict[str, Tensor] = {}
        for first, count in steps:
            expert = self.training_rows(experts[first:first + count])
            policy = self.training_rows(learner[rows[first:first + count]])
            terms = discriminator_loss(self.logits(expert), self.logits(policy), c.label_smoothing)
            loss = terms["loss_discriminator"]
            if c.gradient_penalty > 0:  # between the transitions' rows, which come first on both sides
                mix = mixes[first:first + count]
                terms["gradient_penalty"] = gradient_penalty(self.logits, expert[:count], policy[:count], mix,
                                                              self.penalized_columns())
                loss = loss + c.gradient_penalty * terms["gradient_penalty"]
            self.optimizers["discriminator"].zero_grad()
            loss.backward()
            self.optimizers["discriminator"].step()
        return {name: float(value.detach()) for name, value in terms.items()}
