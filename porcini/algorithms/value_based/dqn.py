"""Deep Q-Network (Mnih et al. 2015, "Human-level control through deep reinforcement learning", Nature 518).

Every ``train_freq`` env steps the loop hands over the new transitions; ``fit`` adds them to the replay buffer
and, once more than ``learning_starts`` env steps were collected, takes ``gradient_steps`` Adam steps on

    L = mean_i w_i · huber(Q(s_i, a_i) - y_i),    y_i = R_i + γ_i (1 - terminated_i) max_a Q_target(s'_i, a)

over minibatches of ``batch_size`` replayed transitions (``w = 1`` without prioritized replay). Options:
- ``double_q`` (van Hasselt et al. 2016): the online network picks ``a*`` in ``s'``, the target one evaluates it.
- ``dueling`` (Wang et al. 2016): ``Q = V + A - mean_a A`` (:class:`~porcini.networks.DuelingQHead`).
- ``prioritized_replay`` (Schaul et al. 2016): proportional sum-tree sampling, ``w`` the importance weights with β
  annealed from ``prioritized_replay_beta0`` to 1 over the run; priorities are the new ``|y - Q|``.
- ``n_steps`` (Sutton & Barto 2018, ch. 7; Rainbow, Hessel et al. 2018): runs of ``n`` stored steps of one env
  collapse into ``R = Σ_{k<m} γ^k r_k``, ``γ_i = γ^m``, bootstrapping from the true successor of the run's last
  step; ``m <= n`` stops at the first episode end. Truncation bootstraps, termination does not.
- ``replay="her"`` (Andrychowicz et al. 2017): hindsight goals on a goal env (:mod:`porcini.algorithms.hindsight`);
  one-step, uniform replay only.
- Action masks: a Dict observation with an ``"action_mask"`` entry (:mod:`porcini.networks.masking`) restricts the
  greedy and the ε-random actions to legal ones, and the target's max (Double DQN: argmax) to the next state's.

Vector observations go through an MLP, images (``uint8`` Box) through the Nature CNN (kept ``uint8`` in the
buffer, scaled by 1/255 in the network), Discrete observations are one-hot encoded (as SB3 does).

Clocks and counters, matching Stable-Baselines3 (2.x) so benchmark configs do the same work:
- ``train_freq`` counts env steps summed over envs (SB3 counts vector steps; equal for one env).
- ``gradient_steps`` per fit; ``-1`` means as many as env steps in the fit's batch.
- The target network is updated once per ``target_update_interval`` env steps (SB3: every
  ``target_update_interval // n_envs`` vector steps). SB3 updates it while collecting; the online network does not
  change while collecting, so ``k`` updates between two fits equal one update at the start of the next fit (with
  ``tau_eff = 1 - (1 - tau)^k`` for soft updates), which is what ``fit`` does.
- ε decays linearly from ``exploration_initial_eps`` to ``exploration_final_eps`` over ``exploration_fraction ·
  horizon`` behaviour steps (observations answered by ``act(explore=True)``); before ``learning_starts`` such
  steps act uniformly at random. The horizon is the run's length in env steps, which ``Core.learn`` tells the
  agent (``set_horizon``; SB3's ``total_timesteps``).

Offline data: :meth:`DQN.add_dataset` makes a dataset replay content and :meth:`DQN.update` takes gradient steps
without env steps (the offline phase, ``Core.learn_offline``). There is no env step to count there, so ``update``
counts gradient steps: the target network is updated after every gradient step that brings ``n_updates`` to a
multiple of ``target_update_interval`` (a call is cut at those steps), and ε does not move (nothing acts).
Online, each minibatch then draws ``dataset_ratio`` of its transitions from the dataset
(:func:`porcini.data.mixed.mixed_sample`), the target is updated by env steps as above, and there is no random
warm-up (``learning_starts`` does not apply: the data is there from the start). A dataset takes one-step uniform
replay: n-step runs would cross the seams between a dataset's stored columns and the online buffer, and priorities
are not kept for dataset rows.

Deviations from Mnih et al. 2015, all as in Stable-Baselines3: Adam instead of RMSProp, the Huber loss instead of
clipping the TD error, gradient-norm clipping, target updates counted in env steps. For speed (never less work),
the uniform-replay path samples the indices of all the fit's minibatches at once, converts them to torch once,
and runs the target network on all of them up front (it is constant within a fit); with prioritized replay
each gradient step samples after the previous one's priority update, as in the paper. n-step runs never start in
the newest ``n - 1`` rows of the buffer (their window is not complete yet).
"""

from __future__ import annotations

import copy
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from porcini.algorithms.hindsight import make_replay_buffer
from porcini.algorithms.kit import Checkpointed, Replaying, ReplaySample, obs_to_tensor, seeded
from porcini.algorithms.schedules import LinearSchedule, check_horizon, require_horizon
from porcini.algorithms.space_hints import multi_action_hint
from porcini.algorithms.value_based.common import (
    apply_mask,
    legal_in,
    one_step_sample,
    random_actions,
    replay_to_torch,
    sample_replay,
)
from porcini.algorithms.value_based.dqn_config import DQNConfig
from porcini.core.agent import BaseAgent, q_value_explanation, steps_seen_in, supports_action_space
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config
from porcini.core.obs_tree import map_obs, obs_batch_size
from porcini.data import Dataset, HerReplayBuffer, PrioritizedReplayBuffer, ReplayBuffer
from porcini.data.mixed import mixed_sample, replay_dataset
from porcini.data.validation import check_agent_dataset
from porcini.envs.info import EnvInfo
from porcini.errors import ConfigError, UnsupportedSpaceError
from porcini.functional import double_q_target, polyak_update, q_learning_target, td_loss
from porcini.networks.denormals import flush_denormals
from porcini.networks.encoders import check_observation_space
from porcini.networks.optim import FlatAdam
from porcini.networks.q_network import QNetwork
from porcini.seeding import agent_rng

TARGET_CHUNK_ROWS = 512
"""Rows per forward of the target network over a fit's minibatches: large enough to amortize per-call overhead,
small enough for the activations to stay in cache (benchmarks/README.md, "Target network in chunks")."""


class DQN(Replaying, Checkpointed, BaseAgent):
    """DQN with Double, Dueling, prioritized-replay and n-step options; fits every ``train_freq`` env steps.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", seed=0)
        >>> agent = DQN(env.info, learning_starts=32, train_freq=16, batch_size=8)
        >>> Core(agent, env, progress=False).learn(steps=64).steps
        64
    """

    name = "dqn"
    Config: type[DQNConfig] = DQNConfig
    action_spaces = ("Discrete",)
    exploration_fields = ("behaviour_steps",)  # ε's clock: an exploring evaluation leaves it as it was

    def __init__(self, info: EnvInfo, config: DQNConfig | None = None, **overrides: Any) -> None:
        self.config = c = build_config(self.Config, config, overrides)
        space = cast(gym.spaces.Discrete, info.action_space)  # once the check below passed
        if not supports_action_space(self, space) or int(space.start) != 0:
            raise UnsupportedSpaceError(
                f"{type(self).__name__} needs a Discrete(n) action space starting at 0; {info.env_id} has {space}"
                + (" (use SAC, TD3 or DDPG for continuous actions)" if isinstance(space, gym.spaces.Box)
                   else multi_action_hint(space)))
        check_observation_space(info.observation_space, f"{type(self).__name__} on {info.env_id}", applies_mask=True)
        self.info, self.n_actions = info, int(space.n)
        self.device = torch.device(c.device)
        with seeded(c.seed):
            self.q_net = self._build_network(info).to(self.device)
        self.target_net = copy.deepcopy(self.q_net).requires_grad_(False)
        self.params = list(self.q_net.parameters())
        self.optimizer = FlatAdam(self.params, lr=c.learning_rate)  # torch.optim.Adam's math, less overhead per step
        self._init_registry()
        self.modules.update(q_net=self.q_net, target_net=self.target_net)
        self.optimizers["adam"] = self.optimizer
        self.buffer: ReplayBuffer | PrioritizedReplayBuffer | HerReplayBuffer = (
            PrioritizedReplayBuffer(c.buffer_size, alpha=c.prioritized_replay_alpha, eps=c.prioritized_replay_eps)
            if c.prioritized_replay else make_replay_buffer(c, info))
        self.rng = agent_rng(c.seed)
        self.horizon: int | None = None  # the run's env steps, told by Core.learn (set_horizon)
        self.epsilon: LinearSchedule | None = None  # ε over behaviour steps, built once the horizon is known
        self.fit_every_steps = c.train_freq
        self.behaviour_steps = 0  # observations answered by act(explore=True): the clock of ε and the warm-up
        self.steps_seen = 0  # transitions added to the buffer: the clock of learning_starts, targets and β
        self.n_updates = 0
        self.dataset: Dataset | None = None  # offline transitions as the buffer stores them (add_dataset)
        self.dataset_ratio = 0.5

    def _build_network(self, info: EnvInfo) -> nn.Module:
        c = self.config
        return QNetwork(info.observation_space, info.n_actions, c.net_arch, c.activation, c.features_dim, c.dueling)

    def set_horizon(self, total_env_steps: int) -> None:
        """Set the run's length in env steps, the horizon of the ε decay and of β (``Core.learn`` calls this)."""
        self.horizon = check_horizon(total_env_steps)
        self.epsilon = self._epsilon_schedule()

    def _epsilon_schedule(self) -> LinearSchedule:
        """ε over ``exploration_fraction`` of the horizon; a constant ε (or no decay) needs no horizon."""
        c = self.config
        decays = c.exploration_fraction > 0 and c.exploration_initial_eps != c.exploration_final_eps
        if decays:
            require_horizon(self.horizon, type(self).__name__, f"exploration_fraction={c.exploration_fraction}")
        return LinearSchedule(c.exploration_initial_eps, c.exploration_final_eps,
                              max(1, round(c.exploration_fraction * (self.horizon or 0))))

    @property
    def exploration_rate(self) -> float:
        """The ε the next exploring ``act`` uses (1 during the warm-up of ``learning_starts`` steps, if no dataset).

        Raises:
            HorizonError: ε decays over the run and no horizon was set (checked from the first call on).
        """
        if self.epsilon is None:
            self.epsilon = self._epsilon_schedule()
        if self.behaviour_steps < self.config.learning_starts and self.dataset is None:
            return 1.0
        return self.epsilon(self.behaviour_steps)

    @property
    def beta(self) -> float:
        """The importance-weight exponent of prioritized replay now: β0 → 1 linearly over the run (its horizon)."""
        beta0 = self.config.prioritized_replay_beta0
        horizon = require_horizon(self.horizon, type(self).__name__, "prioritized_replay (β's annealing)")
        return beta0 + (1.0 - beta0) * min(1.0, self.steps_seen / horizon)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Online action values ``[B, A]`` of observations ``[B, ...]``."""
        with torch.inference_mode():
            return self._action_values(obs_to_tensor(obs, self.device, self.info.observation_space)).cpu().numpy()

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """``q_values`` ``[B, A]`` of the online network and ``value = Q(s, a*)``, ``a*`` the greedy (legal) action.

        No ``action_probs``: the greedy policy is not a distribution, and a softmax of Q-values is not the policy.
        """
        return q_value_explanation(self.q_values(obs), self.act(obs, explore=False))

    def _action_values(self, obs: torch.Tensor) -> torch.Tensor:
        """``Q(s, ·)`` ``[*batch, n_actions]`` of the online network (distributional agents average here)."""
        return self.q_net(obs)

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Greedy actions ``[B]``; when exploring, each env acts uniformly at random with probability ε.

        With an action mask in the observation, both the greedy and the random actions are legal ones.
        """
        n = obs_batch_size(obs)
        randomize: Any = None  # [B] bool where some envs act at random and some greedily
        if explore:
            draws: Any = self.rng.random() if n == 1 else self.rng.random(n)  # one env: a float (random(1)'s stream)
            eps = self.exploration_rate
            self.behaviour_steps += n
            # all envs act at random, no forward: at ε = 1 (the warm-up) every draw in [0, 1) is below ε, no
            # comparison needed; a vector of one needs no NumPy reduction
            if eps >= 1.0 or (draws < eps if n == 1 else (randomize := draws < eps).all()):
                return random_actions(obs, n, self.n_actions, self.masked, self.rng)
        with torch.inference_mode():
            x = obs_to_tensor(obs, self.device, self.info.observation_space)
            action = apply_mask(self._action_values(x), legal_in(x, self.masked)).argmax(dim=-1).cpu().numpy()
        if randomize is not None and randomize.any():
            action = np.where(randomize, random_actions(obs, n, self.n_actions, self.masked, self.rng), action)
        return action

    @property
    def masked(self) -> bool:
        """Whether observations carry an action mask (:mod:`porcini.networks.masking`)."""
        return bool(getattr(self.q_net, "masked", False))

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Store the batch; past ``learning_starts``, update the target if due and take the gradient steps."""
        c = self.config
        if batch.reward.dtype != np.float32:  # one reward dtype in the buffer, whatever the source of the batch
            batch = batch.with_reward(np.asarray(batch.reward, dtype=np.float32))
        self.buffer.add(batch)
        n_new = batch.n_transitions
        before, self.steps_seen = self.steps_seen, self.steps_seen + n_new
        n_grad = c.gradient_steps if c.gradient_steps >= 0 else n_new
        rows = len(self.buffer) // batch.n_envs
        warm_up = c.learning_starts if self.dataset is None else 0
        if self.steps_seen <= warm_up or n_grad == 0 or rows < c.n_steps:
            return {}
        k = self.steps_seen // c.target_update_interval - before // c.target_update_interval
        if k > 0:  # SB3's k updates while collecting, with the online net unchanged, as one (module docstring)
            polyak_update(self.target_net, self.q_net, 1.0 - (1.0 - c.tau) ** k)
        losses, q = self._train(n_grad)
        self.n_updates += n_grad
        return self._metrics(losses, q)

    @flush_denormals
    def update(self, n_updates: int) -> dict[str, float]:
        """Take ``n_updates`` gradient steps on replay content (dataset and buffer), no env step; their metrics.

        ``Core.learn_offline`` calls it. The target network is updated after every gradient step that brings
        ``n_updates`` to a multiple of ``target_update_interval`` (module docstring); ε does not move.

        Raises:
            ValueError: there is nothing to learn from (no dataset and an empty buffer).
        """
        if n_updates <= 0:
            return {}
        if self.dataset is None and len(self.buffer) == 0:
            raise ValueError(f"{type(self).__name__}.update: no transitions; call add_dataset(dataset) first")
        c, left, losses, qs = self.config, n_updates, [], []
        while left > 0:
            n = min(left, c.target_update_interval - self.n_updates % c.target_update_interval)
            loss, q = self._train(n)
            losses.append(loss)
            qs.append(q)
            self.n_updates += n
            left -= n
            if self.n_updates % c.target_update_interval == 0:
                polyak_update(self.target_net, self.q_net, c.tau)
        return self._metrics(torch.cat(losses), torch.cat(qs))

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 0.5) -> None:
        """Learn from ``dataset`` as replay content (offline learning, offline -> online).

        All of a minibatch comes from it while no online transition exists, then ``dataset_ratio`` of each one.

        Raises:
            ValueError: ``dataset_ratio`` is outside ``[0, 1]``, or (``DatasetError``) the dataset is bad.
            ConfigError: the replay is not one-step uniform replay (``n_steps``, ``prioritized_replay``, hindsight).
        """
        c, owner = self.config, type(self).__name__
        check_agent_dataset(dataset, self.info, owner)
        dataset = replay_dataset(dataset, dataset_ratio, lambda action: np.asarray(action, dtype=np.int64))
        for field, value, needed in (("n_steps", c.n_steps, 1), ("prioritized_replay", c.prioritized_replay, False),
                                     ("replay", c.replay, "uniform")):
            if value != needed:
                raise ConfigError(f"{owner} learns from a dataset with one-step uniform replay only, but {field} = "
                                  f"{value!r}; set {field}={needed!r}")
        self.dataset, self.dataset_ratio = dataset, float(dataset_ratio)

    def _train(self, n_grad: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_grad`` gradient steps; their losses and ``Q(s, a)`` ``[n_grad, batch_size]`` (no counters moved)."""
        return self._train_prioritized(n_grad) if self.config.prioritized_replay else self._train_uniform(n_grad)

    def _metrics(self, losses: torch.Tensor, q: torch.Tensor) -> dict[str, float]:
        """A fit's or an update's metrics from its gradient steps' losses and ``Q(s, a)``."""
        c = self.config
        metrics = {"loss_td": losses.mean().item(), "q_mean": q.mean().item()}
        if self.epsilon is not None:  # known once the agent explored or has a horizon; fitting alone needs neither
            metrics["exploration_rate"] = self.exploration_rate
        metrics["n_updates"] = float(self.n_updates)
        if c.prioritized_replay:
            metrics["beta"] = self.beta
        return metrics

    def _sample(self, n: int, lead: tuple[int, ...]) -> ReplaySample:
        c = self.config
        if self.dataset is not None:  # one-step uniform replay (add_dataset): n is n // batch_size minibatches
            drawn = mixed_sample(self.buffer, self.dataset, n // c.batch_size, c.batch_size, self.dataset_ratio,
                                 self.rng)
            return replay_to_torch(one_step_sample(drawn, c.gamma), lead, self.info.observation_space, self.device)
        beta = self.beta if c.prioritized_replay else 1.0  # uniform replay has no importance weights
        s = sample_replay(self.buffer, n, self.rng, c.gamma, c.n_steps, beta)
        return replay_to_torch(s, lead, self.info.observation_space, self.device)

    def _target(self, s: ReplaySample, next_q_target: torch.Tensor) -> torch.Tensor:
        """TD targets ``y`` (no gradient): max of the target network, or Double DQN's online argmax.

        With an action mask, the max (Double DQN: the argmax) runs over the next state's legal actions.
        """
        with torch.no_grad():
            legal = legal_in(s.next_obs, self.masked)
            if not self.config.double_q:
                return q_learning_target(s.reward, apply_mask(next_q_target, legal), s.terminated, s.discount)
            online = apply_mask(self.q_net(s.next_obs), legal)
            return double_q_target(s.reward, online, next_q_target, s.terminated, s.discount)

    def gradient_step(self, obs: torch.Tensor, action: torch.Tensor, y: torch.Tensor,
              weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One Adam step on ``mean(w · loss(Q(s, a) - y))``; returns the loss and ``Q(s, a)`` (detached, no sync)."""
        q = self.q_net(obs).gather(-1, action.unsqueeze(-1)).squeeze(-1)
        loss = td_loss(q, y, self.config.loss, weights)["loss_td"]
        self._optimize(loss)
        return loss.detach(), q.detach()

    def _optimize(self, loss: torch.Tensor) -> None:
        """Backward, clip the gradient's global norm (``max_grad_norm``), one Adam step."""
        self.optimizer.zero_grad()
        loss.backward()
        if self.config.max_grad_norm is not None:
            self.optimizer.clip_grad_norm(self.config.max_grad_norm)
        self.optimizer.step()

    def _priority(self, y: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """New priorities ``|y - Q(s, a)|`` ``[N]`` of replayed transitions (Schaul et al. 2016)."""
        return (y - q).abs()

    def _train_uniform(self, n_grad: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_grad`` steps on minibatches sampled at once; the target network (fixed in a fit) runs on all first."""
        bs = self.config.batch_size
        s = self._sample(n_grad * bs, (n_grad, bs))
        with torch.no_grad():  # [n_grad, batch_size, n_actions], in chunks whose activations stay in the CPU cache
            chunk = max(1, TARGET_CHUNK_ROWS // bs)
            next_q_target = torch.cat([self.target_net(map_obs(lambda o: o[i:i + chunk], s.next_obs))  # noqa: B023
                                       for i in range(0, n_grad, chunk)])
        y_all = None if self.config.double_q else self._target(s, next_q_target)
        losses, qs = [], []
        for g in range(n_grad):
            # Double DQN: the online network changes at every step, so it picks a* in s' right before the step
            y = self._target(s.select(g), next_q_target[g]) if y_all is None else y_all[g]
            loss, q = self.gradient_step(map_obs(lambda o: o[g], s.obs), s.action[g], y, None)  # noqa: B023
            losses.append(loss)
            qs.append(q)
        return torch.stack(losses), torch.stack(qs)

    def _train_prioritized(self, n_grad: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_grad`` steps, each sampled after the previous one's priorities were updated (Schaul et al. 2016)."""
        losses, qs = [], []
        for _ in range(n_grad):
            s = self._sample(self.config.batch_size, (self.config.batch_size,))
            with torch.no_grad():
                y = self._target(s, self.target_net(s.next_obs))
            loss, q = self.gradient_step(s.obs, s.action, y, s.weights)
            self.buffer.update_priorities(s.indices, self._priority(y, q).cpu().numpy())  # type: ignore[union-attr]
            losses.append(loss)
            qs.append(q)
        return torch.stack(losses), torch.stack(qs)

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizer, generator state, counters, the horizon and the replay buffer (for an exact resume)."""
        return {**self.registered_state(), "rng": copy.deepcopy(self.rng.bit_generator.state),
                "behaviour_steps": self.behaviour_steps, "steps_seen": self.steps_seen, "n_updates": self.n_updates,
                "horizon": self.horizon, "buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (same architecture and buffer settings)."""
        self.load_registered_state(state)
        self.rng.bit_generator.state = state["rng"]
        self.behaviour_steps = int(state["behaviour_steps"])
        self.steps_seen = steps_seen_in(state)
        self.n_updates = int(state["n_updates"])
        self.horizon, self.epsilon = None, None
        if state.get("horizon") is not None:  # absent from checkpoints written before agents kept it
            self.set_horizon(int(state["horizon"]))
        self.buffer.load_state_dict(state["buffer"])
