"""Core: the one loop that drives every agent (tabular, deep, on-policy, off-policy) on a vector env.

The loop decides *when* (``LoopSchedule``); the agent decides *how* (``act``/``fit``). Core is the only caller of
``env.step``: it resolves the true successor of every transition (the final observation where an episode ended,
from same-step autoreset), never builds a transition that crosses an episode boundary, records episode statistics,
and hands the agent ``[T, B]`` batches at the fit cadence.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from porcini.core.agent import Agent
from porcini.core.batch import TransitionBatch
from porcini.core.callbacks import Callback, overrides
from porcini.core.errors import EnvCheckError
from porcini.core.evaluation import run_episodes
from porcini.core.progress import ProgressBar, progress_bar
from porcini.core.records import EpisodeRecord, LearnResult
from porcini.core.rollout import RolloutStorage
from porcini.core.schedule import LoopSchedule
from porcini.core.successor import true_successor


@dataclass
class _RunState:
    """Mutable state of one ``learn`` call shared by the hot loop and its optional per-step work."""

    schedule: LoopSchedule
    storage: RolloutStorage | None
    bar: ProgressBar | None
    step_hooks: list[Callback]
    record: EpisodeRecord = field(default_factory=EpisodeRecord)
    since_fit_steps: int = 0
    since_fit_episodes: int = 0

    @property
    def epoch_every(self) -> int:
        """Steps per epoch, 0 when epochs are off."""
        return self.schedule.steps_per_epoch or 0


def env_id_of(env: Any) -> str:
    """A readable name of a vector env for messages."""
    info = getattr(env, "info", None)
    if info is not None:
        return str(info.env_id)
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env).__name__


class Core:
    """Runs an agent in a vector env: ``learn`` for N steps or episodes, ``evaluate`` deterministically.

    Args:
        agent: anything following the ``Agent`` protocol.
        env: a vector env with same-step autoreset (``porcini.make_env`` returns one).
        eval_env: a separate env for ``evaluate`` (its own seeds, frozen normalization); defaults to ``env``.
        callbacks: hooks called at step, episode, fit and epoch end.
        progress: show a progress bar: True, False, or None for "when stderr is a terminal".
        info_keys: numeric ``info`` keys copied into ``batch.extras`` at every step (e.g. ``"cost"``).
        eval_seed: reset seed of the eval env at the start of every ``evaluate`` (same start states each epoch).

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.algorithms.random import RandomAgent
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> core = Core(RandomAgent(env.info), env, progress=False)
        >>> core.learn(n_steps=100).env_steps
        100
    """

    def __init__(
        self,
        agent: Agent,
        env: Any,
        *,
        eval_env: Any = None,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        info_keys: Sequence[str] = (),
        eval_seed: int | None = None,
    ) -> None:
        autoreset = env.metadata.get("autoreset_mode")
        if autoreset is not None and getattr(autoreset, "value", autoreset) != "SameStep":
            raise EnvCheckError(
                f"Core needs a vector env with same-step autoreset, {env_id_of(env)} uses {autoreset}; "
                "build it with porcini.make_env or pass autoreset_mode=AutoresetMode.SAME_STEP to Gymnasium"
            )
        self.agent = agent
        self.env = env
        self.eval_env = eval_env
        self.callbacks = list(callbacks)
        self.progress = progress
        self.info_keys = tuple(info_keys)
        self.eval_seed = eval_seed
        self.n_envs = int(env.num_envs)
        self.env_steps = 0
        self.episodes = 0
        self.fits = 0
        self.epochs = 0
        self.train_time_s = 0.0
        self.eval_time_s = 0.0
        self.stop_requested = False
        self._synced_steps = 0
        self._learn_clock: tuple[float, float] | None = None
        self._storage: RolloutStorage | None = None
        self._storage_cadence: tuple[int | None, int | None] = (None, None)
        self._since_fit = (0, 0)
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.epoch_episodes = EpisodeRecord()
        self.last_metrics: dict[str, float] = {}
        self._obs: Any = None
        self._ep_return = np.zeros(self.n_envs)
        self._vector_steps = 0  # vector steps since the first reset; episode lengths are differences of it
        self._ep_start = np.zeros(self.n_envs, dtype=np.int64)
        self._steps_since_epoch = 0

    def elapsed_train_time_s(self) -> float:
        """Training wall time so far, excluding evaluations; live while ``learn`` runs (for epoch hooks)."""
        if self._learn_clock is None:
            return self.train_time_s
        start, eval_before = self._learn_clock
        return self.train_time_s + (time.perf_counter() - start) - (self.eval_time_s - eval_before)

    @property
    def obs(self) -> Any:
        """The current observation batch (None before the first reset)."""
        return self._obs

    def reset(self, seed: int | Sequence[int | None] | None = None) -> None:
        """Reset the env (``seed`` as the env's ``reset`` takes it) and the per-episode accumulators.

        ``learn`` does this on first use with the env's ``reset_seed`` (the seed ``make_env`` reset it with), so
        training starts from the seeded start states rather than the ones after them.
        """
        self._obs, _ = self.env.reset(seed=seed)
        self._ep_return[:] = 0.0
        self._ep_start[:] = self._vector_steps
        self.agent.reset(np.ones(self.n_envs, dtype=bool))

    def learn(
        self,
        n_steps: int | None = None,
        n_episodes: int | None = None,
        *,
        fit_every_steps: int | None = None,
        fit_every_episodes: int | None = None,
        steps_per_epoch: int | None = None,
        progress: bool | None = None,
        horizon: int | None = None,
    ) -> LearnResult:
        """Interact and fit until ``n_steps`` env steps or ``n_episodes`` episodes are done.

        The fit cadence defaults to the agent's ``fit_every_steps``/``fit_every_episodes``. Episodes in progress
        carry over to the next call.

        At its start ``learn`` tells the agent the env step at which schedules that span the run end
        (``agent.set_horizon``, :mod:`porcini.algorithms.schedules`): ``horizon``, else the env steps done plus
        ``n_steps`` (SB3's ``learn(N, reset_num_timesteps=False)``); ``n_episodes`` alone leaves the agent's own.
        So ``learn(N); learn(N)`` equals ``learn(2 * N)`` for agents without such schedules, and for all agents
        when both calls pass ``horizon=2 * N``.

        Returns:
            The steps taken, the training episodes that ended, the last fit metrics and the wall time.
        """
        if fit_every_steps is None and fit_every_episodes is None:
            fit_every_steps = getattr(self.agent, "fit_every_steps", None)
            fit_every_episodes = None if fit_every_steps else getattr(self.agent, "fit_every_episodes", None)
        schedule = LoopSchedule(n_steps, n_episodes, fit_every_steps, fit_every_episodes, steps_per_epoch)
        set_horizon = getattr(self.agent, "set_horizon", None)  # optional in the Agent protocol
        total = horizon if horizon is not None or n_steps is None else self.env_steps + n_steps
        if total is not None and set_horizon is not None:
            set_horizon(total)
        if self._obs is None:
            self.reset(getattr(self.env, "reset_seed", None))
        show = progress if progress is not None else self.progress
        if show is None:
            show = sys.stderr.isatty()
        start, eval_before = time.perf_counter(), self.eval_time_s
        self._learn_clock = (start, eval_before)
        self._synced_steps = 0
        for cb in self.callbacks:
            cb.on_learn_start(self)
        try:
            record = self._run(schedule, bool(show))
        finally:
            wall = time.perf_counter() - start
            self.train_time_s += wall - (self.eval_time_s - eval_before)
            self._learn_clock = None
            for cb in self.callbacks:
                cb.on_learn_end(self)
        return LearnResult(record[0], record[1], dict(self.last_metrics), wall)

    def _run(self, schedule: LoopSchedule, show_progress: bool) -> tuple[int, EpisodeRecord]:
        # The hot loop. A cheap env steps in microseconds, so everything optional (storing, hooks,
        # progress, epochs) sits behind one flag and counters live in locals until a hook may read them.
        agent, env, n = self.agent, self.env, self.n_envs
        step_hooks = [cb for cb in self.callbacks if overrides(cb, "on_step")]
        run = _RunState(
            schedule=schedule,
            storage=self._storage_for(schedule),
            bar=progress_bar(schedule, show_progress),
            step_hooks=step_hooks,
            since_fit_steps=self._since_fit[0],
            since_fit_episodes=self._since_fit[1],
        )
        slow_path = run.storage is not None or bool(step_hooks) or run.bar is not None or bool(run.epoch_every)
        step_limit = schedule.n_steps if schedule.n_steps is not None else -1
        episode_limit = schedule.n_episodes if schedule.n_episodes is not None else -1
        ep_return = self._ep_return
        obs = self._obs
        steps = episodes = 0
        self.stop_requested = False
        while (steps < step_limit or episodes < episode_limit) and not self.stop_requested:
            action = agent.act(obs, explore=True)
            reset_obs, reward, terminated, truncated, info = env.step(action)
            steps += n
            self._vector_steps += 1
            if n == 1:  # a scalar add is a quarter of the cost of NumPy's in-place add on one-element arrays
                ep_return[0] += reward[0]
            else:
                ep_return += reward
            # same-step autoreset puts "_final_obs" in info exactly when some episode ended: a dict lookup is far
            # cheaper than reducing the flags on every step
            if "_final_obs" in info:
                self._sync(reset_obs, steps)
                next_obs, finished = self._end_episodes(reset_obs, terminated | truncated, info, run.record)
                episodes += finished
                run.since_fit_episodes += finished
            else:
                next_obs = reset_obs
            if slow_path:
                self._after_step(run, steps, episodes, obs, action, reward, next_obs, terminated, truncated, info,
                                 reset_obs)
            obs = reset_obs
        self._sync(obs, steps)
        self._since_fit = (run.since_fit_steps, run.since_fit_episodes)
        if run.bar is not None:
            run.bar.close(steps if step_limit >= 0 else episodes)
        return steps, run.record

    def _storage_for(self, schedule: LoopSchedule) -> RolloutStorage | None:
        """The rollout storage for this cadence.

        Transitions gathered by an earlier call with the same cadence carry over, so ``learn(N); learn(N)`` fits
        the same batches as ``learn(2 * N)``.
        """
        if not schedule.fits:
            return None
        rows = schedule.rows_per_fit(self.n_envs)
        cadence = (schedule.fit_every_steps, schedule.fit_every_episodes)
        if self._storage is None or self._storage_cadence != cadence:
            self._storage = RolloutStorage(rows, self.info_keys)
            self._storage_cadence = cadence
            self._since_fit = (0, 0)
        return self._storage

    def _end_episodes(
        self, reset_obs: Any, ended: np.ndarray, info: dict[str, Any], record: EpisodeRecord
    ) -> tuple[Any, int]:
        """Record the episodes that just ended; return the true successors and how many ended."""
        next_obs = true_successor(reset_obs, ended, info)
        finished = np.flatnonzero(ended)
        rets = self._ep_return[finished].copy()
        lens = self._vector_steps - self._ep_start[finished]
        self._ep_return[finished] = 0.0
        self._ep_start[finished] = self._vector_steps
        record.returns.extend(rets.tolist())
        record.lengths.extend(lens.tolist())
        self._record_episodes(rets, lens)
        self.agent.reset(ended)
        return next_obs, len(finished)

    def _after_step(self, run: _RunState, steps: int, episodes: int, obs: Any, action: Any, reward: Any,
                    next_obs: Any, terminated: Any, truncated: Any, info: dict[str, Any], current_obs: Any) -> None:
        """The optional per-step work: store the transition, call step hooks, fit, advance the bar, close epochs.

        ``next_obs`` is the transition's true successor; ``current_obs`` is what the agent acts on next (the reset
        observation where an episode ended), which is what hooks, fits and checkpoints must see as ``self.obs``.
        """
        if run.storage is not None:
            run.storage.append(obs, action, reward, next_obs, terminated, truncated, info)
        if run.step_hooks:
            self._sync(current_obs, steps)
            for cb in run.step_hooks:
                cb.on_step(self, action, reward, terminated, truncated, info)
        if run.storage is not None:
            run.since_fit_steps += self.n_envs
            if run.schedule.fit_due(run.since_fit_steps, run.since_fit_episodes):
                self._sync(current_obs, steps)
                self._fit(run.storage.take())
                run.since_fit_steps = run.since_fit_episodes = 0
        if run.bar is not None:
            run.bar.advance(steps if run.schedule.n_steps is not None else episodes, self.recent_returns)
        if run.epoch_every and steps - self._synced_steps + self._steps_since_epoch >= run.epoch_every:
            self._sync(current_obs, steps)
            self._since_fit = (run.since_fit_steps, run.since_fit_episodes)  # a checkpoint here must see them
            self._steps_since_epoch = 0
            self.epochs += 1
            for cb in self.callbacks:
                cb.on_epoch_end(self)
            self.epoch_episodes = EpisodeRecord()

    def _sync(self, obs: Any, steps: int) -> None:
        """Write the hot loop's local step count and observation back to the attributes hooks read."""
        delta = steps - self._synced_steps
        self.env_steps += delta
        self._steps_since_epoch += delta
        self._synced_steps = steps
        self._obs = obs

    def _record_episodes(self, returns: np.ndarray, lengths: np.ndarray) -> None:
        self.episodes += len(returns)
        self.recent_returns.extend(returns.tolist())
        self.epoch_episodes.returns.extend(returns.tolist())
        self.epoch_episodes.lengths.extend(lengths.tolist())
        for cb in self.callbacks:
            cb.on_episode_end(self, returns, lengths)

    def _fit(self, batch: TransitionBatch) -> None:
        metrics = self.agent.fit(batch)
        self.fits += 1
        if metrics:
            self.last_metrics = metrics
        for cb in self.callbacks:
            cb.on_fit(self, metrics)

    def fit_batch(self, batch: TransitionBatch) -> dict[str, float]:
        """Fit the agent on a batch from elsewhere (an offline dataset, another Core) through the same hooks."""
        self._fit(batch)
        return dict(self.last_metrics)

    def evaluate(self, n_episodes: int = 10, deterministic: bool = True, env: Any = None) -> EpisodeRecord:
        """Run ``n_episodes`` episodes without learning (:func:`~porcini.core.evaluation.run_episodes`).

        Uses ``env``, else the eval env, which is reset with ``eval_seed`` at the start of each call. Episodes
        are split into per-env quotas fixed up front, so short episodes do not crowd out long ones.
        """
        env = env if env is not None else (self.eval_env if self.eval_env is not None else self.env)
        if env is self.env:
            raise ValueError(
                "evaluate needs a separate env (pass eval_env to Core, or env= here): evaluating on the training "
                "env would cut its episodes in progress"
            )
        start = time.perf_counter()
        try:
            return run_episodes(self.agent, env, n_episodes, deterministic=deterministic, seed=self.eval_seed)
        finally:
            self.eval_time_s += time.perf_counter() - start

    def state_dict(self) -> dict[str, Any]:
        """Counters, current observation, in-progress episodes, the epoch's episodes, transitions since the last fit.

        The env and the agent are saved by their owners. Epoch-end hooks run before the epoch's episodes are
        cleared: a checkpoint written there (no step since the epoch ended) holds none of them.
        """
        epoch = self.epoch_episodes if self._steps_since_epoch else EpisodeRecord()
        return {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "fits": self.fits,
            "epochs": self.epochs,
            "train_time_s": self.elapsed_train_time_s(),
            "eval_time_s": self.eval_time_s,
            "steps_since_epoch": self._steps_since_epoch,
            "ep_return": self._ep_return.copy(),
            "ep_length": self._vector_steps - self._ep_start,
            "recent_returns": list(self.recent_returns),
            "epoch_episodes": {"returns": list(epoch.returns), "lengths": list(epoch.lengths)},
            "vector_steps": self._vector_steps,
            "obs": self._obs,
            "since_fit": list(self._since_fit),
            "storage_cadence": list(self._storage_cadence),
            "storage": self._storage.state_dict() if self._storage is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any], obs: Any = None) -> None:
        """Restore :meth:`state_dict`; ``obs`` overrides the saved current observation batch."""
        self.env_steps = int(state["env_steps"])
        self.episodes = int(state["episodes"])
        self.fits = int(state["fits"])
        self.epochs = int(state["epochs"])
        self.train_time_s = float(state["train_time_s"])
        self.eval_time_s = float(state["eval_time_s"])
        self._steps_since_epoch = int(state["steps_since_epoch"])
        self._ep_return[:] = np.asarray(state["ep_return"])
        self._vector_steps = int(state["vector_steps"])
        self._ep_start[:] = self._vector_steps - np.asarray(state["ep_length"])
        self.recent_returns = deque((float(r) for r in state["recent_returns"]), maxlen=100)
        epoch = state.get("epoch_episodes", {"returns": [], "lengths": []})  # absent in older checkpoints
        self.epoch_episodes = EpisodeRecord([float(r) for r in epoch["returns"]], [int(n) for n in epoch["lengths"]])
        self._obs = obs if obs is not None else state["obs"]
        self._since_fit = (int(state["since_fit"][0]), int(state["since_fit"][1]))
        cadence = state["storage_cadence"]
        self._storage_cadence = (cadence[0], cadence[1])
        self._storage = None
        if state["storage"] is not None:
            rows = -(-cadence[0] // self.n_envs) if cadence[0] is not None else None
            self._storage = RolloutStorage(rows, self.info_keys)
            self._storage.load_state_dict(state["storage"])
