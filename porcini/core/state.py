"""LoopState: everything the loop carries between steps and calls, in one place, and its checkpoint form."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from porcini.core.records import EpisodeRecord
from porcini.core.rollout import RolloutStorage
from porcini.core.schedule import LoopSchedule


class LoopState:
    """What the loop has done so far: counters, the current observations and the episodes in progress.

    :func:`porcini.core.stepper.env_step` counts every vector step in it; Core adds the fits and epochs.
    Evaluation, dataset collection and the inspector keep one of their own.

    Args:
        n_envs: number of envs of the vector env.
        info_keys: numeric ``info`` keys the rollout storage copies into ``batch.extras``.
        env_name: the env's name, for the error when it does not report one of ``info_keys``.

    Attributes:
        obs: the observation batch the agent acts on next (None before the first reset).
        env_steps: env transitions summed over envs.
        offline_steps: gradient steps taken without env steps (``Core.learn_offline``).
        vector_steps: ``env.step`` calls; an episode's length is the difference of two of them.
        episodes: episodes that ended.
        fits: ``agent.fit`` calls.
        epochs: epochs closed.
        steps_since_epoch: env steps (gradient steps in ``learn_offline``) since the last epoch closed.
        steps_since_fit: env steps stored since the last fit.
        episodes_since_fit: episodes ended while storing since the last fit.
        train_time_s: training wall time of the finished ``learn`` calls, evaluations excluded.
        eval_time_s: wall time spent evaluating.
        recent_returns: returns of the last 100 episodes.
        epoch_episodes: episodes that ended in the current epoch.
        storage: the transitions gathered since the last fit (None when the loop has not stored any).
    """

    __slots__ = ("obs", "env_steps", "offline_steps", "vector_steps", "episodes", "fits", "epochs", "steps_since_epoch",
                 "steps_since_fit", "episodes_since_fit", "train_time_s", "eval_time_s", "recent_returns",
                 "epoch_episodes", "ep_return", "ep_start", "storage", "storage_cadence", "info_keys", "n_envs",
                 "env_name")

    def __init__(self, n_envs: int, info_keys: tuple[str, ...] = (), env_name: str = "the env") -> None:
        self.obs: Any = None
        self.env_steps = self.vector_steps = self.episodes = self.fits = self.epochs = self.offline_steps = 0
        self.steps_since_epoch = self.steps_since_fit = self.episodes_since_fit = 0
        self.train_time_s = self.eval_time_s = 0.0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.epoch_episodes = EpisodeRecord()
        self.ep_return = np.zeros(n_envs)
        self.ep_start = np.zeros(n_envs, dtype=np.int64)  # vector_steps at each episode's start
        self.storage: RolloutStorage | None = None
        self.storage_cadence: tuple[int | None, int | None] = (None, None)
        self.info_keys = info_keys
        self.n_envs = n_envs
        self.env_name = env_name

    def storage_for(self, schedule: LoopSchedule) -> RolloutStorage | None:
        """The rollout storage for ``schedule``'s fit cadence (None when it never fits).

        Transitions gathered by an earlier call with the same cadence carry over, so ``learn(N); learn(N)`` fits
        the same batches as ``learn(2 * N)``.
        """
        if not schedule.fits:
            return None
        cadence = (schedule.fit_every_steps, schedule.fit_every_episodes)
        if self.storage is None or self.storage_cadence != cadence:
            self.storage = RolloutStorage(schedule.rows_per_fit(self.n_envs), self.info_keys, self.env_name)
            self.storage_cadence = cadence
            self.steps_since_fit = self.episodes_since_fit = 0
        return self.storage

    def cut_episodes(self, agent: Any) -> None:
        """End the episodes in progress for ``agent`` too, before the envs start new ones (no-op before any reset).

        The newest gathered transition of every env is marked ``truncated`` (its ``next_obs`` is where the episode
        stopped, so bootstrapping stays right); when the last fit took them all, the agent's ``episodes_cut`` marks
        the cut in what it kept (replayed steps, eligibility traces, a recurrent rollout's start).
        """
        if self.obs is None:
            return
        if self.storage is not None and len(self.storage):
            self.storage.truncate_last()
        else:
            getattr(agent, "episodes_cut", lambda: None)()

    def start_episodes(self, obs: Any) -> None:
        """Every env starts a new episode from ``obs`` (after ``env.reset``)."""
        self.obs = obs
        self.ep_return[:] = 0.0
        self.ep_start[:] = self.vector_steps

    def end_episodes(self, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Close the episodes of the envs where ``ended``; return their returns and lengths, in env order."""
        finished = np.flatnonzero(ended)
        returns = self.ep_return[finished].copy()
        lengths = self.vector_steps - self.ep_start[finished]
        self.ep_return[finished] = 0.0
        self.ep_start[finished] = self.vector_steps
        self.episodes += len(finished)
        self.recent_returns.extend(returns.tolist())
        self.epoch_episodes.returns.extend(returns.tolist())
        self.epoch_episodes.lengths.extend(lengths.tolist())
        return returns, lengths

    def state_dict(self, train_time_s: float) -> dict[str, Any]:
        """The checkpoint form (Core's keys), with the live training time ``train_time_s``.

        Epoch-end hooks run before the epoch's episodes are cleared: a checkpoint written there (no step since the
        epoch ended) holds none of them.
        """
        epoch = self.epoch_episodes if self.steps_since_epoch else EpisodeRecord()
        return {
            "env_steps": self.env_steps,
            "offline_steps": self.offline_steps,
            "episodes": self.episodes,
            "fits": self.fits,
            "epochs": self.epochs,
            "train_time_s": train_time_s,
            "eval_time_s": self.eval_time_s,
            "steps_since_epoch": self.steps_since_epoch,
            "ep_return": self.ep_return.copy(),
            "ep_length": self.vector_steps - self.ep_start,
            "recent_returns": list(self.recent_returns),
            "epoch_episodes": {"returns": list(epoch.returns), "lengths": list(epoch.lengths)},
            "vector_steps": self.vector_steps,
            "obs": self.obs,
            "since_fit": [self.steps_since_fit, self.episodes_since_fit],
            "storage_cadence": list(self.storage_cadence),
            "storage": self.storage.state_dict() if self.storage is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any], obs: Any = None) -> None:
        """Restore :meth:`state_dict`; ``obs`` overrides the saved current observation batch."""
        self.env_steps = int(state["env_steps"])
        self.offline_steps = int(state.get("offline_steps", 0))  # absent in checkpoints of online-only versions
        self.episodes = int(state["episodes"])
        self.fits = int(state["fits"])
        self.epochs = int(state["epochs"])
        self.train_time_s = float(state["train_time_s"])
        self.eval_time_s = float(state["eval_time_s"])
        self.steps_since_epoch = int(state["steps_since_epoch"])
        self.ep_return[:] = np.asarray(state["ep_return"])
        self.vector_steps = int(state["vector_steps"])
        self.ep_start[:] = self.vector_steps - np.asarray(state["ep_length"])
        self.recent_returns = deque((float(r) for r in state["recent_returns"]), maxlen=100)
        epoch = state.get("epoch_episodes", {"returns": [], "lengths": []})  # absent in older checkpoints
        self.epoch_episodes = EpisodeRecord([float(r) for r in epoch["returns"]], [int(n) for n in epoch["lengths"]])
        self.obs = obs if obs is not None else state["obs"]
        self.steps_since_fit, self.episodes_since_fit = int(state["since_fit"][0]), int(state["since_fit"][1])
        every_steps, every_episodes = state["storage_cadence"]
        self.storage_cadence = (every_steps, every_episodes)
        self.storage = None
        if state["storage"] is not None:
            rows = -(-every_steps // self.n_envs) if every_steps is not None else None
            self.storage = RolloutStorage(rows, self.info_keys, self.env_name)
            self.storage.load_state_dict(state["storage"])


def _state_attribute(name: str, doc: str) -> property:
    """An attribute that reads and writes ``self.state.<name>``."""
    return property(lambda view: getattr(view.state, name), lambda view, value: setattr(view.state, name, value),
                    doc=doc)


class LoopStateView:
    """A :class:`LoopState` (``self.state``) seen from Core: counters as attributes, the live clock, the checkpoint.

    ``Core`` derives from it, so ``core.env_steps`` and the other counters read and write ``core.state``.
    """

    state: LoopState
    last_metrics: dict[str, float]  # the metrics of the last fit (Core sets it)
    # (clock at the start, eval_time_s then) while a learn call runs, else None; Core's learn calls set it
    _learn_clock: tuple[float, float] | None = None

    env_steps = _state_attribute("env_steps", "Env steps taken, summed over envs.")
    offline_steps = _state_attribute("offline_steps", "Gradient steps taken by ``learn_offline`` (no env step).")
    episodes = _state_attribute("episodes", "Training episodes that ended.")
    fits = _state_attribute("fits", "``agent.fit`` calls.")
    epochs = _state_attribute("epochs", "Epochs closed.")
    train_time_s = _state_attribute("train_time_s", "Training wall time of the finished ``learn`` calls.")
    eval_time_s = _state_attribute("eval_time_s", "Wall time spent in ``evaluate``.")
    recent_returns = _state_attribute("recent_returns", "Returns of the last 100 training episodes.")
    epoch_episodes = _state_attribute("epoch_episodes", "Training episodes that ended in the current epoch.")

    def elapsed_train_time_s(self) -> float:
        """Training wall time so far, excluding evaluations; live while ``learn`` runs (for epoch hooks)."""
        if self._learn_clock is None:
            return self.train_time_s
        start, eval_before = self._learn_clock
        return self.train_time_s + (time.perf_counter() - start) - (self.eval_time_s - eval_before)

    @property
    def obs(self) -> Any:
        """The current observation batch (None before the first reset)."""
        return self.state.obs

    def state_dict(self) -> dict[str, Any]:
        """Counters, current observation, in-progress episodes, the epoch's episodes, transitions since the last fit.

        Also the metrics of the last fit (``last_metrics``), which the next epoch's row reports when no fit comes
        between. The env and the agent are saved by their owners (:meth:`LoopState.state_dict` lists the keys).
        """
        last = {str(k): float(v) for k, v in self.last_metrics.items()}
        return {**self.state.state_dict(self.elapsed_train_time_s()), "last_metrics": last}

    def load_state_dict(self, state: dict[str, Any], obs: Any = None) -> None:
        """Restore :meth:`state_dict`; ``obs`` overrides the saved current observation batch."""
        self.state.load_state_dict(state, obs)
        self.last_metrics = dict(state.get("last_metrics", {}))  # absent in checkpoints of older versions
