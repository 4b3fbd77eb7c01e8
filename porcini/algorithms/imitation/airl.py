"""AIRL: adversarial inverse reinforcement learning (Fu, Luo & Levine 2018, arXiv:1710.11248), on PPO.

GAIL's discriminator (``gail.py``) gives the learner a reward that only means something while it trains against
it. AIRL's discriminator is built so that a reward can be read out of it and reused::

    f(s, a, s') = g(s) + γ h(s') - h(s)           (h(s') = 0 when s' is terminal; a truncated s' keeps it)
    D(s, a, s') = exp f / (exp f + π(a | s))      so the logit is  ℓ = f(s, a, s') - log π(a | s)

``g`` is the *reward* (of the state alone by default, ``state_only_reward``: the disentangled reward the paper
shows transfers to new dynamics) and ``h`` a *potential* that absorbs the shaping. The learner is rewarded with
``log D - log(1 - D) = ℓ`` (:func:`porcini.functional.airl_reward`), the discriminator trained as GAIL's
(:class:`~porcini.algorithms.imitation.adversarial.AdversarialImitation`). ``π(a | s)`` is the learner's current
policy, on expert and learner transitions alike; ``γ`` is the learner's discount.

**Termination.** ``ℓ`` has no sign, so on a task whose episodes end early (CartPole) a learner whose rewards are
mostly negative learns to end them at once. As in DAC (Kostrikov et al. 2019,
arXiv:1809.02925), a terminated transition leads into an *absorbing state* whose reward ``g_abs`` is learned too:
each terminated transition, the learner's or the expert's, adds an absorbing row (logit ``g_abs``) to the
discriminator's training, and the learner's reward at a termination adds the absorbing state's discounted future,
``γ / (1 - γ) · g_abs``. When the expert never terminates, ending an episode is learned to be costly.
``learner_reward: softplus`` (GAIL's ``softplus(ℓ) ≥ 0``, a bonus for staying alive) is the other choice; the
config of record on CartPole uses it (docs/imitation.md has the measurements behind that choice).

After training, :meth:`AIRL.reward_model` is ``g`` (or ``f``) with that terminal reward, a
:class:`~porcini.algorithms.imitation.reward_model.RewardModel`. A new agent trained on it from scratch starts where
the learner started, so the reward must still rank those early states and terminations: ``discriminator_replay``
keeps the learner's earlier transitions in the discriminator's training (the config of record on CartPole keeps
the whole run).

``porcini train ppo ENV --reward RUN_DIR`` (``data.reward``) trains a new agent from scratch on it, the env's own
reward kept for evaluation (docs/imitation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from porcini.algorithms.imitation.adversarial import AdversarialImitation, DiscriminatorConfig
from porcini.algorithms.imitation.reward_model import RewardModel
from porcini.algorithms.kit import seeded
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.functional.adversarial_imitation import airl_logits, airl_reward, gail_reward
from porcini.networks.mlp import MLP
from porcini.networks.optim import adam


@dataclass(frozen=True)
class AIRLConfig(DiscriminatorConfig, PPOConfig):
    """Hyperparameters of AIRL: PPO's (see :class:`PPOConfig`), the discriminator's, and what ``g`` reads."""

    state_only_reward: bool = True
    """``g(s)`` (the disentangled reward, the paper's choice for transfer); False: ``g(s, a)``."""
    absorbing_rows: int = 1
    """Rows of the absorbing state added to the discriminator's data per terminated transition: DAC's 1, or about
    the steps the episode would have spent absorbed up to its time limit, its weight in a fixed-horizon episode
    (the config of record on CartPole: see it)."""
    learner_reward: str = "logit"
    """What the learner is rewarded with: ``"logit"``, the paper's ``log D - log(1 - D) = ℓ`` (with the absorbing
    state's value at terminations), or ``"softplus"``, GAIL's ``-log(1 - D) = softplus(ℓ) ≥ 0``, a bonus for
    every step alive (the configs of record on envs whose episodes end early, see them). The discriminator and
    the exported reward are the same either way."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.learner_reward in ("logit", "softplus"), type(self).__name__, "learner_reward",
                self.learner_reward, "'logit' or 'softplus'")
        require(self.absorbing_rows >= 1, type(self).__name__, "absorbing_rows", self.absorbing_rows, ">= 1")
        # the absorbing state's value γ / (1 - γ) · g_abs (the learner's reward at terminations, the export's)
        require(self.gamma < 1, type(self).__name__, "gamma", self.gamma, "< 1: AIRL values terminations by the "
                "absorbing state's γ / (1 - γ) · g_abs")


class AIRL(AdversarialImitation, PPO):
    """PPO on the logit of AIRL's discriminator ``g(s) + γ h(s') - h(s) - log π(a | s)``; ``g`` is exported.

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.data import collect_dataset
        >>> upright = lambda obs: (obs[:, 2] > 0).astype(int)
        >>> demos = collect_dataset(make_env("CartPole-v1", seed=1), upright, episodes=3, seed=1)
        >>> agent = AIRL(make_env("CartPole-v1").info, n_steps=32, batch_size=32, discriminator_batch_size=32)
        >>> agent.add_dataset(demos)
        >>> _ = Core(agent, make_env("CartPole-v1", n_envs=2, seed=0), progress=False).learn(steps=64)
        >>> b = demos.batch.index(slice(0, 3))
        >>> agent.reward_model()(b.obs[:, 0], b.action[:, 0], b.next_obs[:, 0], b.terminated[:, 0]).shape
        (3,)
    """

    name = "airl"
    Config: type[AIRLConfig] = AIRLConfig
    config: AIRLConfig
    action_spaces = ("Discrete", "Box")

    def build_discriminator(self) -> None:
        """The reward ``g``, the potential ``h`` and the absorbing state's reward ``g_abs``, one Adam over all."""
        c = self.config
        # g reads an absorbing flag after its inputs (DAC's encoding: zeros and the flag for the absorbing state)
        reward_width = 1 + (self.obs_dim if c.state_only_reward else self.obs_dim + self.action_width)
        with seeded(c.seed):
            self.reward_net = MLP(reward_width, 1, c.discriminator_arch, "tanh").to(self.device)
            self.potential = MLP(self.obs_dim, 1, c.discriminator_arch, "tanh").to(self.device)
        self.modules.update(reward=self.reward_net, potential=self.potential)
        parameters = [*self.reward_net.parameters(), *self.potential.parameters()]
        self.optimizers["discriminator"] = adam(parameters, c.discriminator_learning_rate, self.device)

    def inputs(self, batch: TransitionBatch) -> Tensor:
        """``[N, obs | action | next_obs | terminated | log π(a | s) | absorbing]``, ``log π`` under the policy now.

        ``absorbing`` is 0 on these rows; :meth:`training_rows` adds the rows of absorbing states (1).
        """
        obs, action = batch.obs[:, 0], batch.action[:, 0]
        with torch.no_grad():
            model_action = self._model_action(torch.as_tensor(np.asarray(action), device=self.device))
            log_pi = self.model.log_prob(self.model.policy(self._obs_tensor(obs)), model_action).float()
        terminated = torch.as_tensor(np.asarray(batch.terminated[:, 0], dtype=np.float32), device=self.device)
        return torch.cat([self.observations(obs), self.actions(action), self.observations(batch.next_obs[:, 0]),
                          terminated[:, None], log_pi.reshape(-1, 1), torch.zeros_like(log_pi)[:, None]], dim=-1)

    def training_rows(self, inputs: Tensor) -> Tensor:
        """The transitions' rows, then ``absorbing_rows`` absorbing-state rows per terminated transition."""
        ended = inputs[:, -3] > 0.5
        n_rows = self.config.absorbing_rows * int(ended.sum())
        absorbing = torch.zeros((n_rows, inputs.shape[1]), device=inputs.device)
        absorbing[:, -1] = 1.0
        return torch.cat([inputs, absorbing])

    def penalized_columns(self) -> slice:
        """The columns of ``(s, a, s')``, over which the gradient penalty takes its norm.

        ``ℓ``'s gradient along ``log π`` is always -1 (the norm would be at least 1 whatever ``g`` and ``h`` are),
        and the flags are not features.
        """
        return slice(0, 2 * self.obs_dim + self.action_width)

    def logits(self, inputs: Tensor) -> Tensor:
        """``ℓ = g + γ (1 - terminated) h(s') - h(s) - log π`` ``[N]``; ``g_abs`` on absorbing rows."""
        obs, action, next_obs, terminated, log_pi, absorbing = self._split(inputs)
        reward_in = [obs] if self.config.state_only_reward else [obs, action]
        reward = self.reward_net(torch.cat([*reward_in, absorbing[:, None]], dim=-1)).squeeze(-1)
        potentials = self.potential(torch.cat([obs, next_obs])).squeeze(-1)  # one forward for h(s) and h(s')
        logits = airl_logits(reward, potentials[:len(obs)], potentials[len(obs):], terminated, log_pi,
                             self.config.gamma)
        return torch.where(absorbing > 0.5, reward, logits)

    def learner_reward(self, inputs: Tensor) -> Tensor:
        """``ℓ`` plus ``γ / (1 - γ) · g_abs`` at terminations, or ``softplus(ℓ)`` (``learner_reward``)."""
        logits = self.logits(inputs)
        if self.config.learner_reward == "softplus":
            return gail_reward(logits)
        return airl_reward(logits) + inputs[:, -3] * self.terminal_reward()

    def terminal_reward(self) -> float:
        """The absorbing state's discounted future ``γ / (1 - γ) · g_abs``: the learned value of terminating."""
        flag = torch.zeros((1, self.obs_dim + (0 if self.config.state_only_reward else self.action_width) + 1),
                           device=self.device)
        flag[0, -1] = 1.0
        with torch.no_grad():
            absorbing = float(self.reward_net(flag).squeeze())
        gamma = self.config.gamma
        return gamma / (1.0 - gamma) * absorbing

    def reward_model(self, shaped: bool = False) -> RewardModel:
        """The learned reward (a copy, detached from training) with :meth:`terminal_reward`, to train a new agent on.

        ``g`` alone by default, the disentangled reward the paper transfers; ``shaped``: ``f = g(s) + γ h(s') -
        h(s)``, the reward this learner was trained against.
        """
        return RewardModel(LivingStates(self.reward_net), self.info, state_only=self.config.state_only_reward,
                           terminal_reward=self.terminal_reward(), potential=self.potential if shaped else None,
                           gamma=self.config.gamma)

    def _split(self, inputs: Tensor) -> tuple[Tensor, ...]:
        o, a = self.obs_dim, self.action_width
        return (inputs[:, :o], inputs[:, o:o + a], inputs[:, o + a:2 * o + a], inputs[:, -3], inputs[:, -2],
                inputs[:, -1])



class LivingStates(torch.nn.Module):
    """AIRL's ``g`` on states that are not absorbing: the inputs with the absorbing flag 0 appended."""

    def __init__(self, reward_net: torch.nn.Module) -> None:
        super().__init__()
        self.reward_net = reward_net

    def forward(self, x: Tensor) -> Tensor:
        """``g([x, 0])`` ``[B, 1]``."""
        return self.reward_net(torch.cat([x, torch.zeros_like(x[:, :1])], dim=-1))
