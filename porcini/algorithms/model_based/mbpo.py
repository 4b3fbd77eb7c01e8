"""MBPO: model-based policy optimization (Janner et al. 2019, arXiv:1906.08253), SAC trained mostly on model data.

SAC (:mod:`porcini.algorithms.actor_critic.sac`) with a learned model beside it::

    every model_train_freq env steps (from learning_starts on):
        fit the ensemble on all real transitions (held-out early stopping, elites)
        branch rollouts: rollout_batch_size start states drawn from the real buffer, rollout_length steps of the
                         current policy (sampled actions) in the model (a random elite per row, sampled) → model buffer
    every env step: SAC's gradient_steps updates, each minibatch real_ratio real transitions, the rest model ones

The model buffer keeps the last ``rollout_retain`` rounds of rollouts; while it is empty the minibatches are all
real. On a task that terminates the model learns terminations (``learn_termination``) or is given the rule
(``termination_fn``), and rollouts end there; with neither, a fit on data that holds a termination stops with an
error. The
model learns the reward and sees the normalized actions the replay buffer stores. Everything else (acting, the
SAC update, checkpoints) is SAC's; a checkpoint also holds the model and the model buffer.

With a dataset (``add_dataset``) the real transitions are the dataset's and the online ones, drawn at
``dataset_ratio`` as SAC draws them (all from the dataset while no online transition exists): the model is fit on
both, rollouts branch from both, and minibatches still hold ``real_ratio`` real transitions. ``learning_starts``
does not apply. Offline (``Core.learn_offline``, which calls ``update`` with no env step) a round is due every
``model_train_freq`` gradient steps, the first before the first update; the model is refit only when online
transitions arrived since its last fit (the dataset does not change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from porcini.algorithms.actor_critic.sac import SAC, SACConfig
from porcini.algorithms.kit import seeded
from porcini.algorithms.model_based.dynamics import ModelFields, fit_dynamics, make_dynamics, refuse_terminations
from porcini.algorithms.model_based.receding_horizon import check_planning_spaces
from porcini.algorithms.model_based.trajectory_sampling import TransitionFunction
from porcini.core.batch import TransitionBatch
from porcini.core.config import build_config, require
from porcini.data.dataset import Dataset
from porcini.data.mixed import mixed_sample
from porcini.data.replay import ReplayBuffer
from porcini.envs.info import EnvInfo
from porcini.networks.denormals import flush_denormals
from porcini.seeding import extra_networks_seed


@dataclass(frozen=True)
class MBPOConfig(ModelFields, SACConfig):
    """Hyperparameters of MBPO: SAC's (:class:`SACConfig`), the model's (:class:`ModelFields`) and these."""

    model_train_freq: int = 250
    """Env steps between two model fits, each followed by a round of rollouts."""
    rollout_batch_size: int = 10_000
    """Branch rollouts started per round (MBPO: 100,000 on a GPU)."""
    rollout_length: int = 1
    """Model steps of each branch rollout (MBPO: 1 to 15 depending on the task)."""
    rollout_retain: int = 4
    """Rounds of rollouts the model buffer keeps (4 × 250 steps: MBPO's one epoch of 1,000 env steps)."""
    real_ratio: float = 0.05
    """Share of real transitions in each SAC minibatch once model data exists."""
    gradient_steps: int = 20
    """SAC updates per ``train_freq`` vector steps (MBPO's G = 20)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_model_fields()
        owner = type(self).__name__
        for name in ("rollout_batch_size", "rollout_length", "rollout_retain"):
            require(getattr(self, name) >= 1, owner, name, getattr(self, name), ">= 1")
        require(0 <= self.real_ratio <= 1, owner, "real_ratio", self.real_ratio, "in [0, 1]")
        require(self.replay == "uniform", owner, "replay", self.replay, "'uniform' (model rollouts have no goals)")


class MBPO(SAC):
    """SAC on short rollouts of a learned ensemble mixed with real data (``mbpo``); see the module docstring.

    Example:
        >>> from porcini import Core, make_env
        >>> env = make_env("Pendulum-v1", seed=0)
        >>> agent = MBPO(env.info, net_arch=(16,), model_hidden=(16,), model_epochs=2, batch_size=16,
        ...              learning_starts=40, model_train_freq=40, rollout_batch_size=50, gradient_steps=2)
        >>> _ = Core(agent, env, progress=False).learn(steps=80)
        >>> agent.model_fits, len(agent.model_buffer)
        (2, 100)

    Args:
        info: the env's description.
        config: an :class:`MBPOConfig`; keyword ``overrides`` replace its fields.
        termination_fn: the task's termination rule ``(obs, action, next_obs) -> [N] bool`` (torch, batched,
            actions normalized to ``[-1, 1]``); with it the agent accepts tasks that terminate, and a rollout ends
            where the rule says.
    """

    name = "mbpo"
    Config = MBPOConfig
    config: MBPOConfig

    def __init__(self, info: EnvInfo, config: MBPOConfig | None = None, *,
                 termination_fn: TransitionFunction | None = None, **overrides: Any) -> None:
        c = build_config(MBPOConfig, config, overrides)
        super().__init__(info, c)
        check_planning_spaces(info, "MBPO")  # SAC takes Dict and image observations; the model takes flat ones
        self.termination_fn = termination_fn
        with seeded(extra_networks_seed(c.seed)):
            self.model = make_dynamics(c, info.obs_dim, info.action_dim).to(self.device)
        self.model_buffer = ReplayBuffer(c.rollout_batch_size * c.rollout_length * c.rollout_retain, n_envs=1)
        self.model_fits, self._model_fit_at = 0, 0
        self._offline_updates, self._offline_round_at = 0, 0  # gradient steps of update() called offline
        self._fitting = False  # inside fit: update() is the online one

    def fit(self, batch: TransitionBatch) -> dict[str, float]:
        """SAC's fit; the model round it may start is the online one (:meth:`before_updates`)."""
        self._fitting = True
        try:
            return super().fit(batch)
        finally:
            self._fitting = False

    def before_updates(self) -> dict[str, float]:
        """Fit the model and roll it out when due (see the module docstring)."""
        c = self.config
        due = (self.steps_seen >= c.learning_starts or self.dataset is not None) and (
            self.model_fits == 0 or self.steps_seen - self._model_fit_at >= c.model_train_freq)
        return self.model_round(refit=True) if due else {}

    @flush_denormals
    def update(self, n_updates: int) -> dict[str, float]:
        """SAC's gradient steps; called offline (with a dataset), a model round first when one is due."""
        metrics: dict[str, float] = {}
        if not self._fitting and self.dataset is not None and n_updates > 0:
            due = (self.model_fits == 0 or not len(self.model_buffer)
                   or self._offline_updates - self._offline_round_at >= self.config.model_train_freq)
            if due:
                metrics = self.model_round(refit=self.model_fits == 0 or self.steps_seen != self._model_fit_at)
                self._offline_round_at = self._offline_updates
            self._offline_updates += n_updates
        return {**metrics, **super().update(n_updates)}

    def model_round(self, refit: bool) -> dict[str, float]:
        """Fit the model on every real transition (when ``refit``), then one round of rollouts; the fit's metrics."""
        metrics: dict[str, float] = {}
        if refit:
            real = self.real_transitions()
            if self.termination_fn is None and not self.config.learn_termination:
                refuse_terminations(real, "MBPO", self.info.env_id)
            metrics = fit_dynamics(self.model, real, self.config, self.rng)
            self.model_fits, self._model_fit_at = self.model_fits + 1, self.steps_seen
        self.rollout()
        return metrics

    def real_transitions(self) -> TransitionBatch:
        """Every real transition ``[n, 1, ...]``: the online ones, then the dataset's."""
        real = cast(ReplayBuffer, self.buffer)  # uniform replay: MBPOConfig refuses hindsight replay
        parts = [real.gather(np.arange(len(real)))] if len(real) else []
        if self.dataset is not None:
            parts.append(self.dataset.batch.flatten())
        fields = ("obs", "action", "reward", "next_obs", "terminated", "truncated")  # extras differ between them
        return TransitionBatch.concatenate([TransitionBatch(*(getattr(p, f) for f in fields)) for p in parts])

    def real_source(self) -> ReplayBuffer | _RealTransitions:
        """What real transitions are drawn from: the replay buffer, or it and the dataset at ``dataset_ratio``."""
        real = cast(ReplayBuffer, self.buffer)
        return real if self.dataset is None else _RealTransitions(real, self.dataset, self.dataset_ratio)

    def rollout(self) -> None:
        """One round of branch rollouts from real states into the model buffer."""
        c = self.config
        starts = self.real_source().sample(c.rollout_batch_size, self.rng).obs
        starts = np.asarray(starts, dtype=np.float32).reshape(c.rollout_batch_size, -1)
        obs = torch.as_tensor(starts, device=self.device)
        for t in range(c.rollout_length):
            with torch.inference_mode():
                action = self.policy_action(obs, explore=True)
            next_obs, reward, terminated = self.model.step(obs, action, sample=True, generator=self.generator)
            if self.termination_fn is not None:
                terminated = torch.as_tensor(self.termination_fn(obs, action, next_obs), device=self.device).bool()
            o, a, r, o2, ended = (x.cpu().numpy()[:, None] for x in (obs, action, reward, next_obs, terminated))
            self.model_buffer.add(TransitionBatch(o, a, r, o2, ended, (t == c.rollout_length - 1) & ~ended))
            obs = next_obs[~terminated]  # a terminated rollout ends here
            if len(obs) == 0:
                break

    def draw(self, n_updates: int) -> TransitionBatch:
        """Minibatches of ``real_ratio`` real and the rest model transitions (all real before any rollout)."""
        # mixed_sample's "dataset" is the part with a fixed share: here the real transitions
        c = self.config
        return mixed_sample(self.model_buffer, self.real_source(), n_updates, c.batch_size, c.real_ratio, self.rng)

    def state_dict(self) -> dict[str, Any]:
        """SAC's state, the model, the model buffer and the model's counters."""
        return {**super().state_dict(), "model": {k: v.clone() for k, v in self.model.state_dict().items()},
                "model_buffer": self.model_buffer.state_dict(),
                "model_counters": {"model_fits": self.model_fits, "model_fit_at": self._model_fit_at,
                                   "offline_updates": self._offline_updates,
                                   "offline_round_at": self._offline_round_at}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (same config and env)."""
        super().load_state_dict(state)
        self.model.load_state_dict(state["model"])
        self.model_buffer = ReplayBuffer(self.model_buffer.capacity, n_envs=1)
        self.model_buffer.load_state_dict(state["model_buffer"], source="MBPO state")
        self.model_fits = int(state["model_counters"]["model_fits"])
        self._model_fit_at = int(state["model_counters"]["model_fit_at"])
        self._offline_updates = int(state["model_counters"].get("offline_updates", 0))  # older checkpoints lack them
        self._offline_round_at = int(state["model_counters"].get("offline_round_at", 0))


class _RealTransitions:
    """MBPO's real transitions with a dataset: online replay and the dataset, drawn as SAC draws them."""

    def __init__(self, replay: ReplayBuffer, dataset: Dataset, dataset_ratio: float) -> None:
        self.replay, self.dataset, self.dataset_ratio = replay, dataset, dataset_ratio

    def __len__(self) -> int:
        return len(self.replay) + len(self.dataset)

    def sample(self, n: int, rng: np.random.Generator) -> TransitionBatch:
        """``n`` transitions, ``dataset_ratio`` of them from the dataset (all while the replay is empty), shuffled."""
        # shuffled: mixed_sample puts the dataset's part first, and MBPO cuts minibatches out of consecutive rows
        return mixed_sample(self.replay, self.dataset, 1, n, self.dataset_ratio, rng).index(rng.permutation(n))
