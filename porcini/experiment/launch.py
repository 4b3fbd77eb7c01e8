"""Launching runs: resolve the config of a ``porcini train`` call and run one or several seeds."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from porcini.algorithms.registry import get_algorithm
from porcini.experiment.config import RunConfig, resolve_run_config


def resolve(algo: str, env_id: str, config_file: str | None, overrides: Sequence[str]) -> RunConfig:
    """The fully resolved run config: defaults < config of record < ``config_file`` < ``overrides``.

    Schedules that span the run (a linear learning rate, ε's decay) end at the run's ``steps``: ``Core.learn``
    hands that horizon to the agent, so no hyperparameter repeats it.

    Raises:
        UnknownNameError: unknown algorithm.
        ConfigError: an unknown key, a wrong type or an out-of-range value (the message names it).
    """
    agent_cls = get_algorithm(algo)
    return resolve_run_config(algo, env_id, config_file=config_file, overrides=list(overrides),
                              algo_config_cls=agent_cls.Config)


def train_one(config: RunConfig, progress: bool | None = None, label: str = "") -> dict[str, Any]:
    """Train one run to the end and return its summary as a dict; ``label`` starts each of its console lines."""
    from porcini.experiment.experiment import Experiment
    from porcini.experiment.loggers.console import line_prefix

    with line_prefix(label):
        return Experiment.start(config, progress=progress).train().to_dict()


@dataclasses.dataclass(frozen=True)
class StartRun:
    """A job for :func:`run_job`: a new run of ``config``, stopped at env step ``until`` (None: its end)."""

    config: RunConfig
    until: int | None = None

    @property
    def seed(self) -> int:
        """The run's seed (console labels, process names)."""
        return self.config.seed


@dataclasses.dataclass(frozen=True)
class ResumeRun:
    """A job for :func:`run_job`: continue the run in ``run_dir`` up to env step ``until`` (None: its end)."""

    run_dir: str
    until: int | None = None
    seed: int = 0
    """The run's seed, for console labels and process names only."""


def run_job(job: RunConfig | StartRun | ResumeRun, progress: bool | None = None, label: str = "") -> dict[str, Any]:
    """Train a new run (a config, a :class:`StartRun`) or continue one (:class:`ResumeRun`); return its summary.

    ``until`` stops a run early as :meth:`Experiment.train <porcini.experiment.experiment.Experiment.train>` says.
    """
    from porcini.experiment.experiment import Experiment
    from porcini.experiment.loggers.console import line_prefix

    if isinstance(job, RunConfig):
        return train_one(job, progress, label)
    with line_prefix(label):
        if isinstance(job, StartRun):
            return Experiment.start(job.config, progress=progress).train(job.until).to_dict()
        return Experiment.resume(job.run_dir, progress=progress).train(job.until).to_dict()


def train_seeds(config: RunConfig, seeds: Sequence[int], progress: bool | None = None, backend: str = "local",
                ray_address: str | None = None) -> list[dict[str, Any]]:
    """Train ``config`` once per seed; several seeds run in parallel processes, at most one per core.

    The console lines of parallel seeds start with their seed (``[s0] ``), since they share one terminal.
    SIGINT or SIGTERM stops every seed at its next step with a checkpoint
    (:mod:`porcini.experiment.seed_processes`) and raises :class:`~porcini.experiment.interrupt.TrainingInterrupted`.
    With ``backend="ray"`` every seed is a Ray task of one CPU (:func:`train_on_ray`), on a local Ray or the
    cluster at ``ray_address``.
    """
    from porcini.experiment.loggers import check_sinks

    check_sinks(config.log)  # before any run directory is created
    configs = [dataclasses.replace(config, seed=int(s)) for s in seeds]
    if backend == "ray":
        return train_on_ray(configs, ray_address)
    if len(configs) == 1:
        return [train_one(configs[0], progress)]
    from porcini.experiment.preflight import validate
    from porcini.experiment.seed_processes import train_in_processes

    validate(config)  # a config error fails here, before any worker process starts (each checks again)
    return train_in_processes(configs, max_parallel=min(len(configs), os.cpu_count() or 1))


def train_on_ray(configs: Sequence[RunConfig], address: str | None = None) -> list[dict[str, Any]]:
    """Train each config as a Ray task (one CPU each, as many at once as the cluster has CPUs); their summaries.

    The run directories are written where each task runs: on a cluster of several machines ``out`` must be a
    folder they share. Ctrl-C cancels the tasks (each run keeps its last epoch's checkpoint, to resume).

    Raises:
        Exception: the first run's error, once every run ended (the original exception, not Ray's wrapper).
    """
    from porcini.experiment.preflight import validate
    from porcini.ray_runtime import ensure_ray

    validate(configs[0])  # a config error fails here, before any task starts
    ray = ensure_ray(address, what="porcini train --backend ray")
    # a task's working directory is Ray's, not this one: the run directories go where the caller meant
    configs = [dataclasses.replace(c, out=str(Path(c.out).resolve())) for c in configs]
    task = ray.remote(num_cpus=1, max_retries=0)(_train_task)
    refs = [task.remote(c) for c in configs]
    try:
        ray.wait(refs, num_returns=len(refs))
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref)
        raise
    results: list[dict[str, Any]] = []
    for ref in refs:
        try:
            results.append(ray.get(ref))
        except ray.exceptions.RayTaskError as err:
            cause = err.cause if isinstance(getattr(err, "cause", None), BaseException) else err
            raise cause from None
    return results


def _train_task(config: RunConfig) -> dict[str, Any]:
    return train_one(config, progress=False, label=f"[s{config.seed}] ")
