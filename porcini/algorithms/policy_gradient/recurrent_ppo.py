"""Recurrent PPO: PPO-clip whose policy and critic each read the observations through an LSTM.

For partially observed tasks, where the last observation does not determine the best action (CartPole without
its velocities, a cue shown once at the start of an episode). The model (:class:`RecurrentActorCritic`) is two
:class:`~porcini.networks.recurrent.LSTMCore` s, one for the policy and one for the critic (SB3-contrib's
default, ``enable_critic_lstm``), each followed by PPO's MLP and head.

Acting steps both LSTMs and carries their states from step to step (the critic's too, so that the update knows
it at the rollout's start); ``reset(ended)`` zeroes them for envs whose episode ended, so a state never crosses
an episode boundary. Every ``n_steps`` vector steps the update:

1. Replays the rollout ``[T, B]`` through both LSTMs without gradients, from their states at the rollout's first
   step, zeroing the state where an episode starts: the old log-probabilities (equal to those acting used) and
   values ``V(s_t)``. A successor's value ``V(s'_t)`` is one more LSTM step from the state after step ``t``, so a
   time limit bootstraps from the true final observation *with its history*; GAE as in PPO. Sequences are cut
   at episode starts and run as one packed LSTM call (:class:`~porcini.networks.recurrent.LSTMCore`).
2. ``n_epochs`` passes in minibatches of whole env sequences (``batch_size // T`` envs each, in random order),
   each re-run through the LSTMs from its start states, with PPO's loss (see :mod:`.ppo`).

The loss, schedules and hyperparameter names are PPO's. Deviation from SB3-contrib's ``RecurrentPPO``: its
minibatches are time chunks padded to equal length; here they are whole sequences, so ``batch_size`` must be a
multiple of ``n_steps`` and nothing is padded. ``ortho_init`` also initializes the LSTMs orthogonally with zero
biases, as CleanRL's LSTM PPO does; SB3-contrib keeps PyTorch's default LSTM initialization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from porcini.algorithms.policy_gradient.common import policy_explanation
from porcini.algorithms.policy_gradient.ppo import PPO, PPOConfig
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.core.obs_tree import map_obs, obs_batch_size
from porcini.envs.info import EnvInfo
from porcini.functional import entropy_loss, gae, normalize_advantage, ppo_clip_loss, value_loss
from porcini.networks.actor_critic import ActorCritic
from porcini.networks.denormals import flush_denormals
from porcini.networks.encoders import make_encoder
from porcini.networks.masking import mask_setup, split_action_mask
from porcini.networks.recurrent import Layout, LSTMCore, LSTMState, layouts_to, sequence_layout

RecurrentState = tuple[LSTMState, LSTMState]
"""The states ``(policy LSTM's, critic LSTM's)``, each ``(h, c)`` of ``[n_layers, B, hidden]``."""


@dataclass(frozen=True)
class RecurrentPPOConfig(PPOConfig):
    """PPO's hyperparameters plus the LSTMs'; names and defaults follow SB3-contrib's ``RecurrentPPO`` but one."""

    n_steps: int = 128
    """Env steps per env between fits: the length of the sequences the LSTMs are trained on."""
    batch_size: int = 128
    """Transitions per minibatch: ``batch_size // n_steps`` whole env sequences (a multiple of ``n_steps``)."""
    lstm_hidden_size: int = 64
    """Size of each LSTM's state and output (porcini's default; SB3-contrib's is 256)."""
    n_lstm_layers: int = 1
    """Stacked LSTM layers."""

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        for name in ("lstm_hidden_size", "n_lstm_layers"):
            value = getattr(self, name)
            require(isinstance(value, int) and value >= 1, owner, name, value, "an int >= 1")
        require(self.batch_size % self.n_steps == 0, owner, "batch_size", self.batch_size,
                f"a multiple of n_steps = {self.n_steps} (minibatches are whole env sequences)")


class RecurrentActorCritic(nn.Module):
    """A policy LSTM and a critic LSTM over encoded observations, each followed by PPO's MLP and head.

    The observation encoder (:func:`porcini.networks.encoders.make_encoder`: a flatten for vectors and one-hot
    codes, a CNN for images, one per entry for Dict and Tuple observations) is shared by both LSTMs. The heads are
    an :class:`~porcini.networks.actor_critic.ActorCritic` whose "observations" are the LSTM outputs. An action mask in
    the observation (:mod:`porcini.networks.masking`) is not encoded: it masks the policy's logits, as in PPO.
    ``ortho_init`` also initializes the LSTM weights orthogonally with zero biases (as CleanRL's LSTM PPO; not
    SB3-contrib, which keeps PyTorch's default LSTM initialization).

    Args:
        info: the env.
        net_arch: hidden widths after the LSTMs, SB3 style.
        activation: hidden activation.
        ortho_init: orthogonal initialization, else PyTorch's default.
        log_std_init: initial ``log_std`` of a Gaussian policy.
        hidden_size: each LSTM's state size.
        n_layers: stacked LSTM layers.
    """

    def __init__(self, info: EnvInfo, net_arch: Any, activation: str, ortho_init: bool, log_std_init: float,
                 hidden_size: int, n_layers: int) -> None:
        super().__init__()
        init = "orthogonal" if ortho_init else "default"
        # an action mask in the observation is applied to the logits, not encoded (porcini.networks.masking)
        encoded, self.masked, self.mask_nvec = mask_setup(info.observation_space, info.action_space)
        self.encoder = make_encoder(encoded, init=init)
        self.obs_dim = int(self.encoder.features_dim)
        self.pi_lstm = LSTMCore(self.obs_dim, hidden_size, n_layers)
        self.vf_lstm = LSTMCore(self.obs_dim, hidden_size, n_layers)
        if ortho_init:
            for name, param in [*self.pi_lstm.named_parameters(), *self.vf_lstm.named_parameters()]:
                nn.init.zeros_(param) if "bias" in name else nn.init.orthogonal_(param, gain=1.0)
        features = gym.spaces.Box(-np.inf, np.inf, shape=(hidden_size,), dtype=np.float32)
        self.heads = ActorCritic(features, info.action_space, net_arch, activation,
                                 ortho_init, log_std_init)
        self.discrete, self.clips = self.heads.discrete, self.heads.clips

    @property
    def action_low(self) -> torch.Tensor:
        """Lower action bounds (Box actions)."""
        return self.heads.action_low

    @property
    def action_high(self) -> torch.Tensor:
        """Upper action bounds (Box actions)."""
        return self.heads.action_high

    def log_prob(self, dist: Any, action: torch.Tensor) -> torch.Tensor:
        """Log-probability of actions as the env received them (see ``ActorCritic.log_prob``)."""
        return self.heads.log_prob(dist, action)

    def encode(self, obs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The LSTMs' input features of observation tensors, and their bool action mask (None without one)."""
        if not self.masked:
            return self.encoder(obs), None
        features, legal = split_action_mask(obs, self.mask_nvec)
        return self.encoder(features), legal

    def policy(self, pi_out: torch.Tensor, legal: torch.Tensor | None) -> Any:
        """The action distribution at the policy LSTM's outputs, illegal actions at probability 0 (``legal``)."""
        if legal is None:
            return self.heads.policy(pi_out)
        return self.heads.pi_head(self.heads.pi_trunk(pi_out), legal)


class RecurrentPPO(PPO):
    """PPO-clip with an LSTM policy and an LSTM critic; fits every ``n_steps`` vector steps.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> agent = RecurrentPPO(env.info, n_steps=16, batch_size=16, n_epochs=1, lstm_hidden_size=8)
        >>> Core(agent, env, progress=False).learn(steps=64).steps
        64
    """

    name = "recurrent_ppo"
    Config = RecurrentPPOConfig
    config: RecurrentPPOConfig
    model: RecurrentActorCritic

    def __init__(self, info: EnvInfo, config: RecurrentPPOConfig | None = None, **overrides: Any) -> None:
        super().__init__(info, config, **overrides)
        self._state: RecurrentState | None = self._zero_state(info.n_envs)  # while acting
        self._start = self._zero_state(info.n_envs)  # at the next rollout's first step
        self._first_is_start = torch.ones(info.n_envs, dtype=torch.bool, device=self.device)

    def _make_model(self, info: EnvInfo, with_value: bool) -> RecurrentActorCritic:
        c = self.config
        return RecurrentActorCritic(info, c.net_arch, c.activation, c.ortho_init, c.log_std_init,
                                    c.lstm_hidden_size, c.n_lstm_layers)

    def _zero_state(self, n_envs: int) -> RecurrentState:
        return (self.model.pi_lstm.initial_state(n_envs, self.device),
                self.model.vf_lstm.initial_state(n_envs, self.device))

    def _features(self, obs: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The encoder's features of NumPy observations ``[*batch, ...]`` (the LSTMs' input), and their mask."""
        return self.model.encode(self._obs_tensor(obs))

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """One step of both LSTMs per env from the carried states: a sample, or the mode when not exploring."""
        n = obs_batch_size(obs)
        if self._state is None:
            self._state = self._zero_state(n)
        elif self._state[0][0].shape[1] != n:
            raise ValueError(
                f"RecurrentPPO.act: {n} observations, but the recurrent state is for "
                f"{self._state[0][0].shape[1]} envs; evaluate other envs through Core.evaluate (or "
                "porcini.core.evaluation.run_episodes), which gives them their own state"
            )
        (x, legal), no_start = self._features(obs), torch.zeros(n, dtype=torch.bool, device=self.device)
        with torch.no_grad():  # not inference mode: the state becomes the start state of a differentiated replay
            out, pi_state = self.model.pi_lstm(x, self._state[0], no_start)
            _, vf_state = self.model.vf_lstm(x, self._state[1], no_start)
            self._state = (pi_state, vf_state)
            return self._sample_action(self.model.policy(out, legal), explore)

    def reset(self, ended: np.ndarray) -> None:
        """Zero both LSTMs' states of the envs whose episode just ended."""
        if self._state is not None:
            keep = torch.as_tensor(~np.asarray(ended, dtype=bool), device=self.device).to(torch.float32)[:, None]
            (h, c), (vh, vc) = self._state
            self._state = ((h * keep, c * keep), (vh * keep, vc * keep))

    def episodes_cut(self) -> None:
        """The episodes in progress were cut after the last fit: the next rollout's first step begins an episode."""
        self._first_is_start[:] = True

    def recurrent_state(self) -> RecurrentState | None:
        """The acting LSTMs' states (see :data:`RecurrentState`)."""
        return self._state

    def set_recurrent_state(self, state: RecurrentState | None) -> None:
        """Restore :meth:`recurrent_state` (None: a zero state sized by the next ``act``)."""
        self._state = state

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """``V(s)`` and the policy at ``obs`` from the acting state (a zero one if none), which is left as it was.

        The numbers are those the next ``act(obs, ...)`` acts on: one step of both LSTMs from the carried states,
        whose results are not kept.
        """
        n = obs_batch_size(obs)
        state = self._state if self._state is not None else self._zero_state(n)
        if state[0][0].shape[1] != n:
            raise ValueError(f"RecurrentPPO.explain: {n} observations, but the recurrent state is for "
                             f"{state[0][0].shape[1]} envs; set_recurrent_state(None) first to explain other envs")
        (x, legal), no_start = self._features(obs), torch.zeros(n, dtype=torch.bool, device=self.device)
        with torch.no_grad():
            pi_out, _ = self.model.pi_lstm(x, state[0], no_start)
            vf_out, _ = self.model.vf_lstm(x, state[1], no_start)
            return policy_explanation(self.model.policy(pi_out, legal), self.model.heads.value(vf_out))

    def value(self, obs: np.ndarray) -> np.ndarray:
        """The critic's values ``[B]`` of observations ``[B, ...]`` seen as the first step of an episode."""
        n = obs_batch_size(obs)
        with torch.no_grad():
            out, _ = self.model.vf_lstm(self._features(obs)[0], self._zero_state(n)[1],
                                        torch.ones(n, dtype=torch.bool, device=self.device))
            return self.model.heads.value(out).cpu().numpy()

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Replay the rollout for old log-probs, values and GAE, then PPO epochs over whole env sequences."""
        c = self.config
        learning_rate, clip_range = self._schedules(batch)
        b = self._to_torch(batch)
        n_rows, n_envs = b.reward.shape
        if n_envs != len(self._first_is_start):
            raise ValueError(f"RecurrentPPO.fit: a batch of {n_envs} envs, the agent acts in "
                             f"{len(self._first_is_start)}; its recurrent states are per env")
        x, ended = b.obs, b.episode_end  # as the encoder takes them: encoded per minibatch, for its gradient
        starts = torch.cat([self._first_is_start[None], ended[:-1]])  # [T, B]: obs t begins an episode
        data = self._replay(b, x, starts)
        epochs = iter(self._minibatches(starts, max(1, c.batch_size // n_rows)))

        def terms(minibatch: tuple[Tensor, Layout]) -> dict[str, Tensor]:
            idx = minibatch[0]
            return self._sequence_terms(map_obs(lambda o: o[:, idx], x), b.action[:, idx], starts[:, idx], minibatch,
                                        data, clip_range)

        means, steps = self._epochs(lambda: next(epochs), terms)
        # The next rollout starts from acting's states now (already zeroed where an episode ended).
        assert self._state is not None
        self._start = _copy(self._state)
        self._first_is_start = ended[-1].clone()
        return self._metrics(means, steps, data["old_value"], data["returns"], learning_rate, clip_range)

    def _minibatches(self, starts: torch.Tensor, envs_per_minibatch: int) -> list[list[tuple[Tensor, Layout]]]:
        """Every epoch's minibatches: env sequences ``idx`` in a random order and their LSTM layouts.

        All epochs are drawn up front so that the episode starts are read back once and the layouts of every
        minibatch reach the device in one copy (:func:`~porcini.networks.recurrent.layouts_to`).
        """
        n_envs, n_epochs = starts.shape[1], self.config.n_epochs
        orders = torch.stack([torch.randperm(n_envs, generator=self.generator, device=self.device)
                              for _ in range(n_epochs)])
        host_starts, host_orders = starts.cpu().numpy().astype(bool), orders.cpu().numpy()
        firsts = range(0, n_envs, envs_per_minibatch)
        layouts = iter(layouts_to([sequence_layout(host_starts[:, host_orders[e, f:f + envs_per_minibatch]])
                                   for e in range(n_epochs) for f in firsts], self.device))
        return [[(orders[e, f:f + envs_per_minibatch], next(layouts)) for f in firsts] for e in range(n_epochs)]

    def _replay(self, b: TransitionBatch, x: torch.Tensor, starts: torch.Tensor) -> dict[str, Any]:
        """No-grad replay of the rollout: old log-probs and values ``[T, B]`` and the GAE targets."""
        c, m = self.config, self.model
        with torch.no_grad():
            x, legal = m.encode(x)
            pi_out, _ = m.pi_lstm(x, self._start[0], starts)
            old_log_prob = m.log_prob(m.policy(pi_out, legal), b.action)
            vf_out, succ_out = m.vf_lstm.forward_with_successors(x, self._start[1], starts,
                                                                 m.encode(b.next_obs)[0])
            value, next_value = m.heads.value(vf_out), m.heads.value(succ_out)
            advantage, returns = gae(b.reward, value, next_value, b.terminated, b.episode_end, c.gamma,
                                     c.gae_lambda)
        return {"old_log_prob": old_log_prob, "old_value": value, "advantage": advantage, "returns": returns}

    def _sequence_terms(self, x: torch.Tensor, action: torch.Tensor, starts: torch.Tensor,
                        minibatch: tuple[Tensor, Layout], data: dict[str, Any], clip_range: float,
                        ) -> dict[str, torch.Tensor]:
        """PPO's loss terms on the env sequences ``idx``, re-run through both LSTMs from their start states."""
        c, m = self.config, self.model
        idx, layout = minibatch
        x, legal = m.encode(x)
        (h, cell), (vh, vc) = self._start
        pi_out, _ = m.pi_lstm(x, (h[:, idx], cell[:, idx]), starts, layout)
        dist = m.policy(pi_out, legal)
        advantage = data["advantage"][:, idx].reshape(-1)
        if c.normalize_advantage and len(advantage) > 1:  # one advantage is kept as it is (see PPO)
            advantage = normalize_advantage(advantage)
        terms = ppo_clip_loss(m.log_prob(dist, action).reshape(-1), data["old_log_prob"][:, idx].reshape(-1),
                              advantage, clip_range)
        vf_out, _ = m.vf_lstm(x, (vh[:, idx], vc[:, idx]), starts, layout)
        terms.update(value_loss(m.heads.value(vf_out).reshape(-1), data["returns"][:, idx].reshape(-1),
                                data["old_value"][:, idx].reshape(-1), c.clip_range_vf))
        if c.ent_coef > 0:
            terms.update(entropy_loss(dist.entropy()))
        else:
            with torch.no_grad():
                terms.update(entropy_loss(dist.entropy()))
        return terms

    def state_dict(self) -> dict[str, Any]:
        """PPO's state plus the acting states, the rollout's start states and where its first episodes begin."""
        state = super().state_dict()
        state.update(recurrent=None if self._state is None else _copy(self._state), start=_copy(self._start),
                     first_is_start=self._first_is_start.clone())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        super().load_state_dict(state)
        self._state = None if state["recurrent"] is None else _copy(state["recurrent"])
        self._start = _copy(state["start"])
        self._first_is_start = state["first_is_start"].to(self.device)


def _copy(state: RecurrentState) -> RecurrentState:
    """A copy of both LSTMs' states (acting replaces them; a copy keeps a snapshot apart)."""
    (h, c), (vh, vc) = state
    return (h.clone(), c.clone()), (vh.clone(), vc.clone())
