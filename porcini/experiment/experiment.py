"""Experiment: one training run from a RunConfig: env, agent, Core, loggers, evaluation, checkpoints, resume.

Each epoch ends with a deterministic evaluation on a separate env (its own seeds, frozen normalization), a log
row, and an atomic checkpoint of the whole run state: agent, Core counters and pending transitions, each env's
current episode (replayable, see ``porcini.envs.episode_log``), wrapper statistics, global RNG states and the
logger position. ``Experiment.resume`` rebuilds the run from its directory and continues exactly where the last
checkpoint left it. A run that does not end on an epoch boundary (one shorter than an epoch included) closes a
last, partial epoch: evaluated, logged and checkpointed like the others, so every run directory is complete
whatever its length and ``resume --steps`` extends a finished run from where it stopped.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

import porcini
from porcini.algorithms.registry import get_algorithm
from porcini.core import Callback, Core
from porcini.core.records import EpisodeRecord
from porcini.errors import ConfigError, UserError
from porcini.experiment.checkpoint import (
    Checkpoint,
    keeping_optimizer_settings,
    load_agent_state,
    read_checkpoint,
    resolve_checkpoint,
    run_identity,
    save_checkpoint,
)
from porcini.experiment.config import RunConfig, dump_yaml, load_run_config, make_algo_config, to_dict
from porcini.experiment.envs import at_episode_boundary, build_envs, env_resume_state, restore_envs, wrapper_states
from porcini.experiment.evaluation import evaluation_extras
from porcini.experiment.expert import attach_expert, record_demonstrations, records_demonstrations
from porcini.experiment.interrupt import TrainingInterrupted, interrupt_at_once, stop_training
from porcini.experiment.learned_reward import with_learned_reward
from porcini.experiment.loggers import EpisodeInfoAggregator, make_loggers, summarize
from porcini.experiment.offline import RunData, training_step
from porcini.experiment.preflight import validate
from porcini.experiment.run_dir import RunDirectory, atomic_write_text
from porcini.experiment.run_lock import RunLock
from porcini.experiment.seeding import eval_seed, seed_everything
from porcini.experiment.sources import check_sources
from porcini.experiment.summary import RunSummary


class _EpochEnd(Callback):
    """Evaluate, log and checkpoint at the end of every epoch."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment

    def on_epoch_end(self, core: Core) -> None:
        self.experiment.end_epoch()


class Experiment:
    """A training run: build it with :meth:`start` (new run directory) or :meth:`resume` (an existing one).

    Args:
        config: the fully resolved run configuration.
        run_dir: the run's directory.
        progress: progress bar on stderr (None: when stderr is a terminal).
    """

    def __init__(self, config: RunConfig, run_dir: RunDirectory, *, progress: bool | None = None,
                 resume_step: int | None = None, mlflow_run_id: str | None = None,
                 checkpoint: Checkpoint | None = None, epochs_done: int = 0) -> None:
        self.config = config
        self.run_dir = run_dir
        _single_thread_default()
        seed_everything(config.seed)
        agent_cls = get_algorithm(config.algo_name)
        self.algo_config = make_algo_config(config, agent_cls.Config)
        self.env, self.eval_env = build_envs(config)
        self.env, reward = with_learned_reward(self.env, config)  # unchanged without data.reward
        self.agent = agent_cls(self.env.info, self.algo_config)
        expert = attach_expert(self.agent, config, self.env.info)  # None without data.expert
        self.sources = {key: value for key, value in {"reward": reward, "expert": expert}.items() if value is not None}
        self.data = RunData(config.data, self.agent, self.env.info) if config.data.dataset is not None else None
        self.episode_info = EpisodeInfoAggregator(self.env.num_envs)  # env/<key>/... columns
        # an agent that learns from info values (a safe-RL agent's cost) names them; the loop puts them in its batches
        self.cost_key: str | None = getattr(self.agent, "cost_key", None)
        self.core = Core(self.agent, self.env, eval_env=self.eval_env, callbacks=[self.episode_info, _EpochEnd(self)],
                         progress=progress, eval_seed=eval_seed(config.seed),
                         info_keys=tuple(getattr(self.agent, "info_keys", ())))
        self.best_eval_return = -np.inf
        self.last_eval: tuple[float, float] | None = None
        self._last_record: tuple[int, EpisodeRecord] | None = None  # env steps and episodes of the last evaluation
        self._saved_at: int | None = None  # training step of the last checkpoint this process wrote
        self._last_agent_eval: tuple[int, dict[str, float]] = (-1, {})  # step and metrics of _agent_evaluation
        self.run_lock: RunLock | None = None  # held by start/resume, released by close
        # loaded before the loggers truncate metrics.csv and tb/: a checkpoint that does not fit changes no file
        if checkpoint is not None:
            checkpoint.check_identity(self.identity())
            self.load_state_dict(checkpoint.state, checkpoint.path)
        self.logger = make_loggers(config.log, run_dir.path, run_name=run_dir.path.name, resume_step=resume_step,
                                   mlflow_run_id=mlflow_run_id, epochs_done=epochs_done)

    @classmethod
    def start(cls, config: RunConfig, *, progress: bool | None = None) -> Experiment:
        """Create the run directory, save ``config.yaml`` and build the run.

        The config is checked first (:func:`~porcini.experiment.preflight.validate`); a config that fails the
        check, or a run that fails (or gets SIGINT/SIGTERM) while it is being built, leaves no run directory behind.
        """
        validate(config)
        run_dir = RunDirectory.create(config.out, config.algo_name, config.env.id, config.seed)
        lock, experiment = RunLock.acquire(run_dir.path), None
        try:
            with interrupt_at_once():  # SIGTERM as SIGINT: no run directory is left without a checkpoint
                if records_demonstrations(get_algorithm(config.algo_name), config):
                    config = record_demonstrations(config, run_dir.path)
                atomic_write_text(run_dir.path / "config.yaml", dump_yaml(config))
                experiment = cls(config, run_dir, progress=progress)
                experiment.logger.log_params(to_dict(config))
        except BaseException as error:  # e.g. the user's env failing its first reset: a run not begun leaves no trace
            if experiment is not None:
                experiment.close(error)
            lock.release()
            shutil.rmtree(run_dir.path, ignore_errors=True)
            raise
        experiment.run_lock = lock
        return experiment

    @classmethod
    def resume(cls, path: str | Path, *, steps: int | None = None, progress: bool | None = None,
               checkpoint: str | Path = "last") -> Experiment:
        """Rebuild the run in ``path`` from its ``config.yaml`` and a checkpoint; ``steps`` extends it.

        ``checkpoint`` is ``"last"`` (``checkpoints/last.pt``), ``"best"`` or the path of a checkpoint file of
        this run (e.g. when ``last.pt`` is corrupt); another run's is refused.

        The run's lock is taken first (another process writing the run is refused), then temporary files of
        interrupted writes are removed; the checkpoint is checked against the run (algorithm, env, number of
        envs, spaces, wrappers) and loaded before any other file of the run is touched.

        ``steps`` is the run's new total, recorded in ``config.yaml``; schedules that span the run (a linear
        learning rate, ε's decay) then end there, as Stable-Baselines3 recomputes progress against the new total.

        Raises:
            CheckpointError: no readable checkpoint, or one that belongs to another run.
            UserError: ``config.yaml`` is missing (a ConfigError when it is invalid).
            ConfigError: ``config.yaml`` is invalid, or ``steps`` is not past the steps already done.
            RunDirectoryError: another process writes the run (``RunLockedError``), or it cannot be written.
        """
        run_dir = RunDirectory(path)
        config_path = run_dir.path / "config.yaml"
        if not config_path.is_file():
            raise UserError(f"{run_dir.path} has no config.yaml: is it a porcini run directory?")
        lock = RunLock.acquire(run_dir.path)
        try:
            run_dir.remove_stale_temp_files()
            config = load_run_config(config_path, get_algorithm(load_run_config(config_path).algo_name).Config)
            if steps is not None:
                config = dataclasses.replace(config, steps=steps)
            saved = read_checkpoint(resolve_checkpoint(run_dir.path, checkpoint), run_identity(config))
            saved.check_run(run_dir.path)  # another run's checkpoint continues only as a branch (experiment.branch)
            state = saved.state
            done = int(state["core"]["env_steps"])
            if steps is not None and steps <= done:
                raise ConfigError(f"--steps {steps} does not extend {run_dir.path.name}: it has done {done} env "
                                  f"steps; pass a new total above {done}")
            experiment = cls(config, run_dir, progress=progress,
                             resume_step=done + int(state["core"].get("offline_steps", 0)),
                             mlflow_run_id=state.get("mlflow_run_id"), checkpoint=saved,
                             epochs_done=int(state["core"]["epochs"]))
            experiment.run_lock = lock
            if steps is not None:  # only once the checkpoint loaded: a failed resume leaves the run as it was
                atomic_write_text(config_path, dump_yaml(config))
            experiment.logger.log_params(to_dict(config))  # MLflow tags values changed since the run began
        except BaseException:
            lock.release()
            raise
        return experiment

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be loaded into this run."""
        return run_identity(self.config, self.env.info)

    def train(self, until: int | None = None) -> RunSummary:
        """Train up to ``config.steps`` env steps, evaluate a last time, write ``summary.json``.

        ``until`` stops the run earlier, at that env step, as if it ended there (last evaluation, checkpoint,
        summary), while schedules that span the run still end at ``config.steps``: a later ``resume`` goes on as if
        the run had never stopped (``porcini tune --method pbt`` trains its members in such rounds).

        While it runs, SIGINT or SIGTERM (:mod:`porcini.experiment.interrupt`) stops the loop at the next step,
        checkpoints, closes the loggers (the MLflow run is marked KILLED) and raises
        :class:`~porcini.experiment.interrupt.TrainingInterrupted` instead of evaluating and writing a summary.
        """
        with stop_training(self.core, self.run_dir.path) as stop:
            try:
                if self.data is not None and stop.signum is None:
                    self.data.learn_offline(self.core)
                remaining = min(self.config.steps, until or self.config.steps) - self.core.env_steps
                if remaining > 0 and stop.signum is None and not self.core.stop_requested:
                    self.core.learn(steps=remaining, steps_per_epoch=self.config.steps_per_epoch,
                                    horizon=self.config.steps)
                if stop.signum is not None:
                    if self._saved_at != training_step(self.core):
                        self.save()
                    raise TrainingInterrupted(stop.signum, [self.run_dir.path])
                if self._saved_at != training_step(self.core):  # a last partial epoch, or a run shorter than one epoch
                    self.end_epoch()
                summary = self.final_summary()
                self.run_dir.write_summary(summary.to_dict())
                self.logger.log_artifact(self.run_dir.path / "summary.json")
            except BaseException as error:
                self.close(error)
                raise
            self.close()
            return summary

    def end_epoch(self) -> None:
        """Evaluate, log a row and write the checkpoint(s) (called by Core at each epoch end)."""
        core = self.core
        metrics: dict[str, float] = {"wall_time_s": round(core.elapsed_train_time_s(), 3)}
        record = core.evaluate(self.config.eval_episodes)
        self._last_record = (training_step(core), record)
        mean, std = float(np.mean(record.returns)), float(np.std(record.returns))
        self.last_eval = (mean, std)
        metrics.update(eval_return_mean=mean, eval_return_std=std, eval_episode_length=float(np.mean(record.lengths)))
        metrics.update(evaluation_extras(record, self.cost_key, self.env.info.agents))
        metrics.update(self._agent_evaluation())
        metrics.update(summarize("train/episode_return", core.epoch_episodes.returns))
        metrics.update(summarize("train/episode_length", core.epoch_episodes.lengths))
        core.epoch_episodes = EpisodeRecord()  # reported in this row (a last, partial epoch's too, before its save)
        metrics.update({_metric_key(k): float(v) for k, v in core.last_metrics.items()})
        metrics.update(self.episode_info.metrics())
        metrics["time/steps_per_second"] = core.env_steps / max(core.elapsed_train_time_s(), 1e-9)
        if self.data is not None:
            metrics.update(self.data.metrics(core))
        self.logger.log(metrics, step=training_step(core))
        improved = False
        if self.last_eval is not None and self.last_eval[0] > self.best_eval_return:
            self.best_eval_return = self.last_eval[0]
            improved = True
        self.save(best=improved)

    def _agent_evaluation(self) -> dict[str, float]:
        """The agent's own evaluation metrics, ``agent.evaluation_metrics(seed)`` when it defines them.

        E.g. self-play's games against fixed players; seeded like the run's evaluation, timed as evaluation, and
        kept for the summary.
        """
        evaluate = getattr(self.agent, "evaluation_metrics", None)
        if evaluate is None:
            return {}
        start = time.perf_counter()
        metrics = {key: float(value) for key, value in evaluate(eval_seed(self.config.seed)).items()}
        self.core.eval_time_s += time.perf_counter() - start
        self._last_agent_eval = (training_step(self.core), metrics)
        return metrics

    def save(self, best: bool = False) -> None:
        """Write ``checkpoints/best.pt`` (when ``best``), then ``last.pt``, atomically."""
        state, identity = self.state_dict(), {**self.identity(), "run": self.run_dir.path.name}
        # best.pt first: if the second write fails, last.pt is the epoch before, whose resume writes best.pt again
        if best:
            save_checkpoint(self.run_dir.checkpoints / "best.pt", state, identity)
        save_checkpoint(self.run_dir.checkpoints / "last.pt", state, identity)
        self._saved_at = training_step(self.core)

    def state_dict(self) -> dict[str, Any]:
        """The whole run state (see the module docstring)."""
        import torch

        mlflow = next((lg for lg in getattr(self.logger, "loggers", []) if hasattr(lg, "run_id")), None)
        return {
            "agent": self.agent.state_dict(),
            "core": self.core.state_dict(),
            "env": env_resume_state(self.env),
            "wrappers": wrapper_states(self.env),
            "rng": {"numpy": np.random.get_state(legacy=False), "python": _python_rng_state(),
                    "torch": torch.get_rng_state()},
            "best_eval_return": float(self.best_eval_return),
            "logged": self._last_record is not None and self._last_record[0] == training_step(self.core),  # a row
            "episode_info": self.episode_info.state_dict(),
            "mlflow_run_id": getattr(mlflow, "run_id", None),
            **({"data": self.data.state_dict()} if self.data is not None else {}),
            **({"sources": self.sources} if self.sources else {}),
        }

    def load_state_dict(self, state: dict[str, Any], path: Path = Path("checkpoint")) -> None:
        """Restore :meth:`state_dict` (read from the checkpoint ``path``) into a freshly built run."""
        import torch

        if self.data is not None:  # before anything is restored: other data refuses the whole checkpoint
            self.data.check(state.get("data"))
        check_sources(self.config, self.sources, state.get("sources"))  # and so does another reward or expert
        # the optimizers' learning rates and the like come from this run's config, their moments from the checkpoint;
        # the agent goes first: the envs' replay may draw on it (a self-play learner's pool picks the opponents)
        keeping_optimizer_settings(self.agent, lambda: load_agent_state(self.agent, state["agent"], path))
        # a checkpoint of the offline phase: the env was never stepped, and its first reset is still to come
        restarted = restore_envs(self.env, state, self.config.seed) if state["core"]["obs"] is not None else None
        if restarted is None:
            self.core.load_state_dict(state["core"])
        else:  # the envs could not be replayed and began new episodes
            self.core.load_state_dict(at_episode_boundary(state["core"]), obs=restarted)
            self.agent.reset(np.ones(self.core.n_envs, dtype=bool))
            if self.core.state.steps_since_fit == 0:  # saved right after a fit: the cut is in the agent's replay buffer
                getattr(self.agent, "episodes_cut", lambda: None)()
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(_tuple_state(state["rng"]["python"]))
        torch.set_rng_state(state["rng"]["torch"])
        self.best_eval_return = float(state["best_eval_return"])
        if state.get("logged"):  # written at an epoch end, whose row is logged: train() must not close it again
            self._saved_at = training_step(self.core)
        if "episode_info" in state:  # checkpoints written before env/ columns existed have none
            self.episode_info.load_state_dict(state["episode_info"])

    def final_summary(self) -> RunSummary:
        """Evaluate the final policy and build the summary (DESIGN.md contract)."""
        if self._last_record is not None and self._last_record[0] == training_step(self.core):
            record = self._last_record[1]  # evaluation is deterministic and reseeded: running it again gives the same
        else:
            record = self.core.evaluate(self.config.eval_episodes)
        agent_metrics = self._last_agent_eval[1] if self._last_agent_eval[0] == training_step(self.core) else None
        if agent_metrics is None:
            agent_metrics = self._agent_evaluation()
        return RunSummary(
            algo=self.config.algo_name,
            env=self.config.env.id,
            seed=self.config.seed,
            env_steps=self.core.env_steps,
            wall_time_s=round(self.core.train_time_s, 3),
            eval_time_s=round(self.core.eval_time_s, 3),
            eval_return_mean=float(np.mean(record.returns)),
            eval_return_std=float(np.std(record.returns)),
            eval_episodes=len(record.returns),
            porcini_version=porcini.__version__,
            extra={"train_episodes": self.core.episodes, "run_dir": str(self.run_dir.path),
                   **({"offline_steps": self.core.offline_steps} if self.data is not None else {}),
                   **evaluation_extras(record, self.cost_key, self.env.info.agents), **agent_metrics,
                   "best_eval_return": None if np.isinf(self.best_eval_return) else self.best_eval_return},
        )

    def close(self, error: BaseException | None = None) -> None:
        """Close loggers and envs, then release the run's lock.

        Args:
            error: the exception that ended the run, if any (MLflow marks it KILLED or FAILED, not FINISHED).
        """
        try:
            if error is None:
                self.logger.close()
            else:
                self.logger.__exit__(type(error), error, error.__traceback__)
            self.env.close()
            self.eval_env.close()
        finally:
            if self.run_lock is not None:
                self.run_lock.release()


def _single_thread_default() -> None:
    """Use one torch thread unless OMP_NUM_THREADS says otherwise.

    RL networks are small, and on few cores extra intra-op threads cost several times more than they save.
    """
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


def _metric_key(name: str) -> str:
    """Namespace agent metrics: ``loss_value`` -> ``loss/value``; others under ``train/``."""
    if name.startswith("loss_"):
        return "loss/" + name[len("loss_"):]
    return name if "/" in name else "train/" + name


def _python_rng_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _tuple_state(state: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = state
    return (int(version), tuple(int(x) for x in internal), gauss)
