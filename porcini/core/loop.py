"""Core: the one loop that drives every agent (tabular, deep, on-policy, off-policy) on a vector env.

The loop decides *when* (``LoopSchedule``), the agent *how* (``act``/``fit``); every counter lives in one
``LoopState``. Steps go through :func:`~porcini.core.stepper.env_step`, which gives true successors, so no
transition crosses an episode boundary; the agent gets ``[T, B]`` batches at the fit cadence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from porcini.core.agent import Agent
from porcini.core.batch import TransitionBatch
from porcini.core.callbacks import Callback, overrides
from porcini.core.evaluation import run_episodes
from porcini.core.offline import agent_update, run_offline
from porcini.core.progress import ProgressBar, progress_bar
from porcini.core.records import EpisodeRecord, LearnResult
from porcini.core.schedule import LoopSchedule
from porcini.core.state import LoopState, LoopStateView
from porcini.core.stepper import env_id_of, env_reset, env_step, require_usable_envs

__all__ = ["Core", "EpisodeRecord", "LearnResult", "env_id_of"]


class Core(LoopStateView):
    """Runs an agent in a vector env: ``learn`` for N steps or episodes, ``evaluate`` deterministically.

    Args:
        agent: anything following the ``Agent`` protocol.
        env: a vector env with same-step autoreset (``porcini.make_env`` returns one).
        eval_env: a separate env for ``evaluate`` (its own seeds, the training normalization: share_normalization).
        callbacks: hooks called at step, episode, fit and epoch end.
        progress: show a progress bar: True, False, or None for "when stderr is a terminal".
        info_keys: numeric ``info`` keys copied into ``batch.extras`` at every step (e.g. ``"cost"``) and summed
            per episode by ``evaluate`` (``EpisodeRecord.info_sums``); an env that reports none of a key at a
            step raises :class:`~porcini.errors.EnvCheckError`. Empty: the agent's ``info_keys`` attribute, if any.
        eval_seed: reset seed of the eval env at the start of every ``evaluate`` (same start states each epoch).

    ``core.state`` holds every counter (``core.env_steps`` and the others are views of it: :class:`LoopStateView`);
    ``core.stop_requested = True`` (even before ``learn``) ends it at a step.

    Example:
        >>> from porcini import Core, make_env
        >>> from porcini.algorithms.random import RandomAgent
        >>> env = make_env("CartPole-v1", n_envs=2, seed=0)
        >>> core = Core(RandomAgent(env.info), env, progress=False)
        >>> core.learn(steps=100).steps
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
        require_usable_envs(agent, env, eval_env)
        self.agent, self.env, self.eval_env, self.eval_seed = agent, env, eval_env, eval_seed
        self.callbacks, self.progress = list(callbacks), progress
        # the agent's own info_keys (a cost, a multi-agent env's "active" flags) unless the caller names others
        self.info_keys = tuple(info_keys) if info_keys else tuple(getattr(agent, "info_keys", ()))
        self.n_envs = int(env.num_envs)
        self.state = LoopState(self.n_envs, self.info_keys, env_id_of(env))
        self.stop_requested = self._stop_answered = False  # _stop_answered: a learn already honoured the request
        self.last_metrics: dict[str, float] = {}

    def reset(self, seed: int | Sequence[int | None] | None = None) -> None:
        """Reset the env (``seed`` as its ``reset`` takes it): episodes in progress end, truncated, for the agent too.

        ``learn`` does this first with the env's ``reset_seed``, so training starts from the seeded start states.
        """
        self.state.cut_episodes(self.agent)
        env_reset(self.env, self.state, seed)
        self.agent.reset(np.ones(self.n_envs, dtype=bool))

    def learn(
        self,
        steps: int | None = None,
        episodes: int | None = None,
        *,
        fit_every_steps: int | None = None,
        fit_every_episodes: int | None = None,
        steps_per_epoch: int | None = None,
        progress: bool | None = None,
        horizon: int | None = None,
    ) -> LearnResult:
        """Interact and fit until ``steps`` env steps (summed over envs) or ``episodes`` episodes are done.

        The fit cadence defaults to the agent's ``fit_every_steps``/``fit_every_episodes``. Episodes in progress
        carry over to the next call.

        At its start ``learn`` tells the agent the env step at which schedules that span the run end
        (``agent.set_horizon``, :mod:`porcini.algorithms.schedules`): ``horizon``, else the env steps done plus
        ``steps`` (SB3's ``learn(N, reset_num_timesteps=False)``); ``episodes`` alone leaves the agent's own.
        So ``learn(N); learn(N)`` equals ``learn(2 * N)`` for agents without such schedules, and for all agents
        when both calls pass ``horizon=2 * N``.

        Returns:
            The steps taken, the training episodes that ended, the last fit metrics and the wall time.
        """
        schedule = LoopSchedule.for_agent(self.agent, steps, episodes, fit_every_steps, fit_every_episodes,
                                          steps_per_epoch)
        set_horizon = getattr(self.agent, "set_horizon", None)  # optional in the Agent protocol
        total = horizon if horizon is not None or steps is None else self.env_steps + steps
        if total is not None and set_horizon is not None:
            set_horizon(total)
        if self.obs is None:
            self.reset(getattr(self.env, "reset_seed", None))
        return self._timed(lambda bar: self._run(schedule, bar), schedule, progress)

    def learn_offline(self, gradient_steps: int, *, steps_per_epoch: int | None = None, updates_per_fit: int = 10,
                      progress: bool | None = None) -> LearnResult:
        """Take ``gradient_steps`` gradient steps on the agent's data without stepping the env (offline learning).

        The agent needs ``update(n)``: ``n`` gradient steps on its replay content, e.g. a dataset given with
        ``add_dataset`` (:class:`~porcini.algorithms.actor_critic.common.OffPolicyAgent`). Epochs count gradient
        steps here: every ``steps_per_epoch`` of them closes an epoch (callbacks: evaluate, log, checkpoint) as env
        steps do in :meth:`learn`, and the same stop request, progress bar and fit hooks apply. Each ``update``
        call takes at most ``updates_per_fit`` steps, cut on a grid that starts at the epoch's start, so a run
        stopped and resumed at a checkpoint makes the same calls as one that ran straight through.

        Returns:
            The gradient steps taken (as ``steps``), no episodes, the last fit metrics and the wall time.

        Raises:
            TypeError: the agent has no ``update`` method.
        """
        update = agent_update(self.agent)
        schedule = LoopSchedule(steps=gradient_steps, fit_every_steps=updates_per_fit, steps_per_epoch=steps_per_epoch)
        return self._timed(lambda bar: run_offline(self, schedule, update, bar), schedule, progress)

    def _timed(self, run: Callable[[ProgressBar | None], tuple[int, EpisodeRecord]], schedule: LoopSchedule,
               progress: bool | None) -> LearnResult:
        """Run ``run`` between the learn hooks, adding its wall time (evaluations excluded) to the training time."""
        start, eval_before = self._learn_clock = (time.perf_counter(), self.eval_time_s)
        if self._stop_answered:  # a request made before this call (a signal while setting up) is honoured, not lost
            self.stop_requested = self._stop_answered = False
        for cb in self.callbacks:
            cb.on_learn_start(self)
        try:
            taken, record = run(progress_bar(schedule, self.progress if progress is None else progress))
        finally:
            # the request stays visible (why learn returned, e.g. for the stop's checkpoint) until the next learn
            self._stop_answered = self.stop_requested
            wall = time.perf_counter() - start
            self.train_time_s += wall - (self.eval_time_s - eval_before)
            self._learn_clock = None
            for cb in self.callbacks:
                cb.on_learn_end(self)
        return LearnResult(taken, record, dict(self.last_metrics), wall)

    def _run(self, schedule: LoopSchedule, bar: ProgressBar | None) -> tuple[int, EpisodeRecord]:
        agent, env, state, callbacks = self.agent, self.env, self.state, self.callbacks
        storage = state.storage_for(schedule)
        step_hooks = [cb for cb in callbacks if overrides(cb, "on_step")]
        steps_at_start, episodes_at_start = state.env_steps, state.episodes
        record = EpisodeRecord()
        epochs = schedule.steps_per_epoch is not None
        optional = storage is not None or bool(step_hooks) or bar is not None or epochs
        while schedule.keep_going(state.env_steps - steps_at_start, state.episodes - episodes_at_start):
            if self.stop_requested:
                break
            obs = state.obs
            action = agent.act(obs, explore=True)
            next_obs, reward, terminated, truncated, info, ended = env_step(env, state, action)
            if ended is not None:
                self._end_episodes(ended, record, storage is not None)
            if not optional:  # one test per step when nothing optional runs (a cheap env steps in microseconds)
                continue
            if storage is not None:
                storage.append(obs, action, reward, next_obs, terminated, truncated, info)
                state.steps_since_fit += self.n_envs
            for cb in step_hooks:
                cb.on_step(self, action, reward, terminated, truncated, info)
            if storage is not None and schedule.fit_due(state.steps_since_fit, state.episodes_since_fit):
                self._fit(storage.take())
                state.steps_since_fit = state.episodes_since_fit = 0
            if bar is not None:
                bar.advance(state.env_steps - steps_at_start, state.episodes - episodes_at_start,
                            state.recent_returns)
            if epochs and schedule.epoch_due(state.steps_since_epoch):
                self._end_epoch()
        if bar is not None:
            bar.close(state.env_steps - steps_at_start, state.episodes - episodes_at_start)
        return state.env_steps - steps_at_start, record

    def _end_episodes(self, ended: np.ndarray, record: EpisodeRecord, storing: bool) -> None:
        """Close the episodes that just ended: record them, call the hooks, reset the agent's episode state."""
        returns, lengths = self.state.end_episodes(ended)
        record.returns.extend(returns.tolist())
        record.lengths.extend(lengths.tolist())
        if storing:
            self.state.episodes_since_fit += len(returns)
        for cb in self.callbacks:
            cb.on_episode_end(self, returns, lengths)
        self.agent.reset(ended)

    def close_epoch(self) -> None:
        """Close the current epoch now (``on_epoch_end`` hooks), e.g. where offline learning hands over to online."""
        self._end_epoch()

    def _end_epoch(self) -> None:
        self.state.steps_since_epoch, self.state.epochs = 0, self.state.epochs + 1
        for cb in self.callbacks:
            cb.on_epoch_end(self)
        self.state.epoch_episodes = EpisodeRecord()

    def _fit(self, batch: TransitionBatch) -> None:
        self._fitted(self.agent.fit(batch))

    def _fitted(self, metrics: dict[str, float]) -> None:
        """Count a fit and hand its metrics to the hooks."""
        self.state.fits += 1
        if metrics:
            self.last_metrics = metrics
        for cb in self.callbacks:
            cb.on_fit(self, metrics)

    def fit_batch(self, batch: TransitionBatch) -> dict[str, float]:
        """Fit the agent on a batch from elsewhere (an offline dataset, another Core) through the same hooks."""
        self._fit(batch)
        return dict(self.last_metrics)

    def evaluate(self, episodes: int = 10, explore: bool = False, env: Any = None) -> EpisodeRecord:
        """Run ``episodes`` episodes without learning (:func:`~porcini.core.evaluation.run_episodes`).

        Uses ``env``, else the eval env, which is reset with ``eval_seed`` at the start of each call. Episodes
        are split into per-env quotas fixed up front, so short episodes do not crowd out long ones. The record
        holds each episode's sum of every ``info_keys`` entry (``record.info_sums``, e.g. the episode cost).
        """
        env = env if env is not None else (self.eval_env if self.eval_env is not None else self.env)
        if env is self.env:
            raise ValueError("evaluate needs a separate env (pass eval_env to Core, or env= here): evaluating on "
                             "the training env would cut its episodes in progress")
        start = time.perf_counter()
        try:
            return run_episodes(self.agent, env, episodes, explore=explore, seed=self.eval_seed,
                                info_keys=self.info_keys)
        finally:
            self.eval_time_s += time.perf_counter() - start
