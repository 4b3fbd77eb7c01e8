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

import torch
from torch import Tensor

from porcini.algorithms.imitation.adversarial import AdversarialImitation, DiscriminatorConfig
from porcini.algorithms.kit import seeded
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.algorithms.policy_gradient.trpo import TRPO, TRPOConfig
from porcini.core.batch import TransitionBatch
from porcini.functional.adversarial_imitation import gail_reward
from porcini.networks.mlp import MLP
from porcini.networks.optim import adam


@dataclass(frozen=True)
class GAILConfig(DiscriminatorConfig, PPOConfig):
    """Hyperparameters of GAIL: PPO's (see :class:`PPOConfig`) plus the discriminator's."""


@dataclass(frozen=True)
class GAILTRPOConfig(DiscriminatorConfig, TRPOConfig):
    """Hyperparameters of GAIL on TRPO: TRPO's (see :class:`TRPOConfig`) plus the discriminator's."""


class GAILDiscriminator(AdversarialImitation):
    """GAIL's discriminator ``ℓ(s, a)`` on state-action pairs and its reward ``softplus(ℓ)``, before the learner."""

    def build_discriminator(self) -> None:
        """One MLP from the flattened observation and the encoded action to a logit."""
        c = self.config
        with seeded(c.seed):
            self.discriminator = MLP(self.obs_dim + self.action_width, 1, c.discriminator_arch, "tanh").to(self.device)
        self.modules["discriminator"] = self.discriminator
        self.optimizers["discriminator"] = adam(self.discriminator.parameters(), c.discriminator_learning_rate,
                                                self.device)

    def inputs(self, batch: TransitionBatch) -> Tensor:
        """Pairs ``[N, obs_dim + action_width]``: the flattened observation and the encoded action."""
        return torch.cat([self.observations(batch.obs[:, 0]), self.actions(batch.action[:, 0])], dim=-1)

    def logits(self, inputs: Tensor) -> Tensor:
        """``ℓ(s, a)`` ``[N]``."""
        return self.discriminator(inputs).squeeze(-1)

    def learner_reward(self, inputs: Tensor) -> Tensor:
        """GAIL's ``-log(1 - D(s, a)) = softplus(ℓ)``."""
        return gail_reward(self.logits(inputs))


class GAIL(GAILDiscriminator, PPO):
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


class GAILTRPO(GAILDiscriminator, TRPO):
    """TRPO on GAIL's discriminator reward (the original paper's learner); otherwise as :class:`GAIL`."""

    name = "gail_trpo"
    Config: type[GAILTRPOConfig] = GAILTRPOConfig
    config: GAILTRPOConfig
    action_spaces = ("Discrete", "Box")
