"""Parts shared by the off-policy actor-critic agents (DDPG, TD3, SAC): config fields, acting, replay, checkpoints.

Glossary:
    normalized action: an action in ``[-1, 1]^d``, what the actor outputs (tanh) and the critics take. The env
        receives ``low + (a + 1) (high - low) / 2`` (:func:`porcini.networks.scale_action`); the replay buffer
        stores the normalized action, as Stable-Baselines3 does, so a critic never sees the env's units.
    gradient step (an "update", counted by ``n_updates``): one optimizer step on one replay minibatch of
        ``batch_size`` transitions (:meth:`OffPolicyAgent.gradient_step`).
    update ratio: ``gradient_steps`` gradient steps per ``train_freq`` vector steps (``train_freq * n_envs``
        transitions), counted on the transitions ``fit`` receives, so the ratio does not depend on how often the
        loop calls ``fit``. ``gradient_steps = -1``: one gradient step per transition received.

The loop calls ``fit`` with the transitions gathered since the last call (by default every ``train_freq`` vector
steps); :meth:`OffPolicyAgent.fit` stores them and runs the due updates, each of which the agent writes in its own
module (``gradient_step``). Until ``learning_starts`` transitions have been received the agent acts uniformly at random
and does not update (SB3: actions sampled from the action space, first update after ``learning_starts + 1``
steps).

Offline data: :meth:`OffPolicyAgent.add_dataset` makes a dataset replay content. :meth:`OffPolicyAgent.update` then
runs gradient steps without env steps (the offline phase; ``Core.learn_offline``), and online each minibatch draws
``dataset_ratio`` of its transitions from the dataset (:func:`porcini.data.mixed.mixed_sample`). With a dataset
there is no random warm-up: ``learning_starts`` does not apply, the data is there from the start.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from porcini.algorithms.hindsight import check_replay_fields, make_replay_buffer
from porcini.algorithms.kit import Checkpointed, DeepConfig, Replaying, ReplaySample, agent_generator, obs_to_tensor
from porcini.algorithms.space_hints import DECLARE_BOUNDS, UNBOUNDED_BOX_AGENTS, multi_action_hint
from porcini.core.agent import BaseAgent, steps_seen_in, supports_action_space
from porcini.core.batch import TransitionBatch
from porcini.core.config import require
from porcini.core.obs_tree import map_obs, obs_batch_size
from porcini.data.dataset import Dataset
from porcini.data.mixed import mixed_sample, replay_dataset, stored_obs
from porcini.data.validation import check_agent_dataset
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.networks import NetArch, parse_net_arch
from porcini.networks.critics import Critics, critic_input, first_member
from porcini.networks.denormals import flush_denormals
from porcini.networks.encoders import check_observation_space, make_encoder
from porcini.networks.heads import as_action_dtype, normalization_bounds
from porcini.seeding import agent_rng

ModuleT = TypeVar("ModuleT", bound=nn.Module)

__all__ = ["Critics", "OffPolicyAgent", "OffPolicyConfig", "ReplaySample", "as_sample", "critic_input", "first_member",
           "make_critic"]


@dataclass(frozen=True)
class OffPolicyConfig(DeepConfig):
    """Hyperparameters shared by DDPG, TD3 and SAC (SB3 names and, unless an algorithm says otherwise, defaults)."""

    learning_rate: float = 1e-3
    """Adam step size of the actor, the critics (and SAC's temperature)."""
    buffer_size: int = 1_000_000
    """Replay buffer capacity in transitions."""
    learning_starts: int = 100
    """Transitions collected with uniformly random actions before the first update."""
    batch_size: int = 256
    """Transitions per update."""
    tau: float = 0.005
    """Polyak coefficient of the target networks: ``θ' ← (1 - τ) θ' + τ θ``."""
    train_freq: int = 1
    """Vector env steps between fits (the default fit cadence is ``train_freq * n_envs`` transitions)."""
    gradient_steps: int = 1
    """Updates per ``train_freq`` vector steps; -1 for one update per transition received."""
    net_arch: tuple[int, ...] | dict[str, tuple[int, ...]] = (256, 256)
    """Hidden widths: one tuple for actor and critics, or ``{"pi": [...], "qf": [...]}`` (SB3 style)."""
    activation: str = "relu"
    """Hidden activation of actor and critics."""
    n_critics: int = 2
    """Critics evaluated as one batched ensemble; targets take their minimum (clipped double Q)."""
    replay: str = "uniform"
    """``"uniform"``, or ``"her"``: hindsight experience replay on a goal env (:mod:`porcini.algorithms.hindsight`)."""
    her_strategy: str = "future"
    """With ``replay="her"``: where hindsight goals come from, ``"future"``, ``"final"`` or ``"episode"``."""
    her_n_sampled_goal: int = 4
    """With ``replay="her"``: relabelled goals per real one (a sample is relabelled with probability k / (k + 1))."""

    def __post_init__(self) -> None:
        super().__post_init__()
        name = type(self).__name__
        require(self.buffer_size >= 1, name, "buffer_size", self.buffer_size, ">= 1")
        require(self.learning_starts >= 0, name, "learning_starts", self.learning_starts, ">= 0")
        require(self.batch_size >= 1, name, "batch_size", self.batch_size, ">= 1")
        require(0.0 <= self.tau <= 1.0, name, "tau", self.tau, "in [0, 1]")
        require(self.train_freq >= 1, name, "train_freq", self.train_freq, ">= 1")
        require(self.gradient_steps >= 1 or self.gradient_steps == -1, name, "gradient_steps",
                self.gradient_steps, ">= 1, or -1 for one update per transition")
        require(self.n_critics >= 1, name, "n_critics", self.n_critics, ">= 1")
        check_replay_fields(self)
        try:
            parse_net_arch(self.net_arch, f"{name}.net_arch")
        except ValueError as exc:
            require(False, name, "net_arch", self.net_arch, f"valid widths ({exc})")


def as_sample(batch: TransitionBatch, device: torch.device, discount: float,
              space: gym.Space | None = None) -> ReplaySample:
    """A flat NumPy batch ``[N, 1, ...]`` (a replay sample) as a :class:`ReplaySample` on ``device``, in one conversion.

    Only ``terminated`` is kept (as float): a truncated transition is bootstrapped like any other. Without
    ``space`` observations are flattened to ``[N, obs_dim]``; with it they are converted as the networks take
    them (:func:`~porcini.algorithms.kit.obs_to_tensor`: ``[N, *obs_shape]``, dicts for Dict observations).
    """
    b = batch.to_torch(device)

    def obs(x: Any) -> Any:
        if space is None:
            return x[:, 0].flatten(1)
        return obs_to_tensor(map_obs(lambda o: o[:, 0], x), device, space)

    return ReplaySample(obs(b.obs), b.action[:, 0], b.reward[:, 0], discount, b.terminated[:, 0].to(torch.float32),
                        obs(b.next_obs))


def make_critic(info: EnvInfo, arch: NetArch, activation: str, n_critics: int) -> Critics:
    """``n_critics`` Q-networks ``Q(s, a)`` over ``[encoded obs, normalized action]`` as one batched ensemble."""
    encoder = make_encoder(info.observation_space)
    return Critics(n_critics, encoder.features_dim + info.action_dim, 1, arch.vf, activation, encoder=encoder)


class OffPolicyAgent(Replaying, Checkpointed, BaseAgent):
    """Acting, replay, the update schedule and checkpoints of the off-policy actor-critic agents.

    Subclasses build their networks in ``__init__`` after calling :meth:`_setup`, register every module, optimizer
    and free learned tensor in ``self.modules`` / ``self.optimizers`` / ``self.tensors`` (so they are
    checkpointed), and implement :meth:`policy_action` and :meth:`gradient_step`.
    """

    config: OffPolicyConfig
    critic: Critics
    action_spaces = ("Box",)

    def _setup(self, info: EnvInfo) -> NetArch:
        """Check the env, seed the generators, create the buffer; return the parsed ``net_arch``."""
        c = self.config
        owner = type(self).__name__
        self._setup_actions(info)
        check_observation_space(info.observation_space, f"{owner} on {info.env_id}")
        self.info = info
        self.device = torch.device(c.device)
        self.rng = agent_rng(c.seed)
        self.generator = agent_generator(c.seed, self.device)
        self.buffer = make_replay_buffer(c, info)
        self.fit_every_steps = c.train_freq * info.n_envs
        self.steps_seen = 0  # transitions received by fit
        self.n_updates = 0
        self._pending = 0  # eligible transitions not yet paid for with updates
        self.dataset: Dataset | None = None  # offline transitions as the buffer stores them (add_dataset)
        self.dataset_ratio = 0.5
        self._init_registry()
        return parse_net_arch(c.net_arch, f"{type(c).__name__}.net_arch")

    def _setup_actions(self, info: EnvInfo) -> None:
        """Check the action space (a Box with finite bounds) and keep its bounds and dtype for acting."""
        owner, space = type(self).__name__, cast(gym.spaces.Box, info.action_space)  # once the check passed
        if not supports_action_space(self, space):
            raise UnsupportedSpaceError(f"{owner} needs a Box action space; {info.env_id} has {space}"
                                        + (" (use DiscreteSAC or DQN for discrete actions)"
                                           if isinstance(space, gym.spaces.Discrete) else multi_action_hint(space)))
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise UnsupportedSpaceError(f"{owner} needs finite action bounds to scale its tanh policy; {info.env_id} "
                                        f"has {space}; {DECLARE_BOUNDS}, {UNBOUNDED_BOX_AGENTS}")
        self.low, self.high = space.low.reshape(-1).astype(np.float64), space.high.reshape(-1).astype(np.float64)
        self._action_dtype = np.dtype(space.dtype)
        self._norm_low, self._norm_span = normalization_bounds(self.low, self.high)  # low == high: 0, not NaN

    @staticmethod
    def target_of(module: ModuleT) -> ModuleT:
        """A frozen copy of ``module`` for target values (no gradients are ever taken through it)."""
        target = copy.deepcopy(module)
        target.requires_grad_(False)
        return target

    def policy_action(self, obs: Tensor, explore: bool) -> Tensor:
        """Normalized actions ``[B, action_dim]`` in ``[-1, 1]`` (called under ``inference_mode``)."""
        raise NotImplementedError

    def gradient_step(self, s: ReplaySample) -> dict[str, Tensor]:
        """One gradient step on the minibatch ``s``; return named 0-d metric tensors (no host sync)."""
        raise NotImplementedError

    def explain(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """What the actor and critics give at ``obs`` (:meth:`explain_tensors`, see ``core.agent.Explainable``)."""
        with torch.inference_mode():
            x = obs_to_tensor(obs, self.device, self.info.observation_space)
            return {key: value.cpu().numpy() for key, value in self.explain_tensors(x).items()}

    def explain_tensors(self, obs: Tensor) -> dict[str, Tensor]:
        """``value``: the critics' minimum ``Q(s, μ(s))`` at the deterministic action (subclasses add the policy).

        Args:
            obs: observations ``[B, *obs_shape]`` as :func:`~porcini.algorithms.kit.obs_to_tensor` gives them.
        """
        action = self.policy_action(obs, explore=False)
        return {"value": self.critic(self.critic.q_input(obs, action)).squeeze(-1).amin(dim=0)}

    def act(self, obs: np.ndarray, *, explore: bool) -> np.ndarray:
        """Actions within the env's bounds: uniform before ``learning_starts``, then the policy's (one forward)."""
        if explore and self.steps_seen < self.config.learning_starts and self.dataset is None:
            space = cast(gym.spaces.Box, self.info.action_space)
            if np.issubdtype(self._action_dtype, np.integer):  # every integer equally likely, bounds included
                low, high = space.low.astype(np.int64), space.high.astype(np.int64)
                drawn = self.rng.integers(low, high, (obs_batch_size(obs), *space.shape), endpoint=True)
                return drawn.astype(self._action_dtype)
            normalized = self.rng.uniform(-1.0, 1.0, size=(obs_batch_size(obs), self.info.action_dim))
        else:
            with torch.inference_mode():
                x = obs_to_tensor(obs, self.device, self.info.observation_space)
                normalized = self.policy_action(x, explore).cpu().numpy()
        action = self.low + (normalized + 1.0) * 0.5 * (self.high - self.low)
        # tanh saturates to exactly ±1 in float32; the clip keeps rounding of the affine map inside the bounds
        action = as_action_dtype(np.clip(action, self.low, self.high), self._action_dtype)
        return action.reshape((obs_batch_size(obs), *self.info.action_shape))

    @flush_denormals  # subnormal Adam state would make every update several times slower on x86
    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """Store the ``[T, B]`` batch, then run the updates it makes due; metrics of the last update."""
        # one dtype per field whatever the source (float64 rewards from Gymnasium, float32 from elsewhere)
        stored = TransitionBatch(map_obs(stored_obs, batch.obs), self._normalize(batch.action),
                                 np.asarray(batch.reward, dtype=np.float32), map_obs(stored_obs, batch.next_obs),
                                 np.asarray(batch.terminated, dtype=bool), np.asarray(batch.truncated, dtype=bool),
                                 batch.extras)
        self.buffer.add(stored)
        before = self.steps_seen
        self.steps_seen += batch.n_transitions
        warm_up = self.config.learning_starts if self.dataset is None else 0
        metrics = self.before_updates()
        return {**metrics, **self.update(self._due_updates(self.steps_seen - max(before, warm_up)))}

    def before_updates(self) -> dict[str, float]:
        """What a subclass does between storing new transitions and the updates they make due; its metrics.

        Nothing here; MBPO fits its model and rolls it out.
        """
        return {}

    def draw(self, n_updates: int) -> TransitionBatch:
        """The replay content of ``n_updates`` minibatches ``[n_updates * batch_size, 1, ...]``, one draw."""
        bs = self.config.batch_size
        if self.dataset is not None:
            return mixed_sample(self.buffer, self.dataset, n_updates, bs, self.dataset_ratio, self.rng)
        return self.buffer.sample(n_updates * bs, self.rng)

    @flush_denormals
    def update(self, n_updates: int) -> dict[str, float]:
        """Run ``n_updates`` gradient steps on replay content (buffer and dataset), no env step; last metrics.

        ``fit`` calls it with the updates new transitions make due; ``Core.learn_offline`` calls it directly.

        Raises:
            ValueError: there is nothing to learn from (no dataset and an empty buffer).
        """
        if n_updates <= 0:
            return {}
        if self.dataset is None and len(self.buffer) == 0:
            raise ValueError(f"{type(self).__name__}.update: no transitions; call add_dataset(dataset) first")
        bs = self.config.batch_size
        # one draw and one conversion for all the gradient steps of this call
        sample = as_sample(self.draw(n_updates), self.device, self.config.gamma, self.info.observation_space)
        metrics: dict[str, Tensor] = {}
        for k in range(n_updates):
            metrics = self.gradient_step(sample.select(slice(k * bs, (k + 1) * bs)))
            self.n_updates += 1
        values = torch.stack([v.detach().float().reshape(()) for v in metrics.values()]).tolist()  # one sync
        return dict(zip(metrics, values))

    def add_dataset(self, dataset: Dataset, dataset_ratio: float = 0.5) -> None:
        """Learn from ``dataset`` as replay content (offline learning, offline -> online).

        All of a minibatch comes from it while no online transition exists, then ``dataset_ratio`` of each one
        (0.5: RLPD's symmetric sampling). The dataset's env actions are normalized and its observations stored as
        the buffer stores them, once.

        Raises:
            DatasetError: the dataset is empty, holds NaN observations or non-finite rewards, observations or
                actions of another shape than the env's or actions outside its bounds (NaN included), in one line.
            ValueError: ``dataset_ratio`` is outside ``[0, 1]``, or the replay is hindsight replay (its goals are
                relabelled from stored episodes, which a dataset does not join).
        """
        check_agent_dataset(dataset, self.info, type(self).__name__)
        dataset = replay_dataset(dataset, dataset_ratio, self._normalize)
        if self.config.replay != "uniform":
            raise ValueError(f"add_dataset needs replay='uniform'; {type(self).__name__} uses {self.config.replay!r}")
        self.dataset = dataset
        self.dataset_ratio = float(dataset_ratio)

    def _normalize(self, action: Any) -> np.ndarray:
        """Env actions ``[T, B, *action_shape]`` to normalized ``[T, B, action_dim]`` float32."""
        a = np.asarray(action, dtype=np.float64).reshape(action.shape[0], action.shape[1], self.info.action_dim)
        return (2.0 * (a - self._norm_low) / self._norm_span - 1.0).astype(np.float32)

    def _due_updates(self, eligible: int) -> int:
        """Updates owed for ``eligible`` new transitions past ``learning_starts`` (see the update ratio)."""
        if eligible <= 0:
            return 0
        if self.config.gradient_steps == -1:
            return eligible
        self._pending += eligible
        per = self.config.train_freq * self.info.n_envs
        rounds, self._pending = divmod(self._pending, per)
        return rounds * self.config.gradient_steps

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizers, generators, counters and the replay buffer: resuming continues exactly."""
        return {
            **self.registered_state(),
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "counters": {"steps_seen": self.steps_seen, "n_updates": self.n_updates, "pending": self._pending},
            "buffer": self.buffer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (same architecture and env)."""
        self.load_registered_state(state)
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        counters = state["counters"]
        self.steps_seen, self.n_updates = steps_seen_in(counters), int(counters["n_updates"])
        self._pending = int(counters["pending"])
        self.buffer = make_replay_buffer(self.config, self.info)
        self.buffer.load_state_dict(state["buffer"], source=f"{type(self).__name__} state")
