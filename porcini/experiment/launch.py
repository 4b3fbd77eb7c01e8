"""Launching runs: resolve the config of a ``porcini train`` call and run one or several seeds."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from porcini.algorithms.registry import get_algorithm
from porcini.experiment.config import RunConfig, resolve_run_config


def resolve(algo: str, env_id: str, config_file: str | None, overrides: Sequence[str]) -> RunConfig:
    """The fully resolved run config: defaults < config of record < ``config_file`` < ``overrides``.

    Raises:
        KeyError: unknown algorithm.
        ConfigError: an unknown key, a wrong type or an out-of-range value (the message names it).
    """
    agent_cls = get_algorithm(algo)
    config = resolve_run_config(algo, env_id, config_file=config_file, overrides=list(overrides),
                                algo_config_cls=agent_cls.Config)
    # schedules over the run (linear learning rate, ε decay) need its length: unset, it is the run's `steps`
    if "total_steps" in config.algo and config.algo["total_steps"] is None:
        config = dataclasses.replace(config, algo={**config.algo, "total_steps": config.steps})
    return config


def train_one(config: RunConfig, progress: bool | None = None) -> dict[str, Any]:
    """Train one run to the end and return its summary as a dict."""
    from porcini.experiment.experiment import Experiment

    return Experiment.start(config, progress=progress).train().to_dict()


def train_seeds(config: RunConfig, seeds: Sequence[int], progress: bool | None = None) -> list[dict[str, Any]]:
    """Train ``config`` once per seed; several seeds run in parallel processes, at most one per core.

    SIGINT or SIGTERM stops every seed at its next step with a checkpoint
    (:mod:`porcini.experiment.seed_processes`) and raises :class:`~porcini.experiment.interrupt.TrainingInterrupted`.
    """
    from porcini.experiment.loggers import check_sinks

    check_sinks(config.log)  # before any run directory is created
    configs = [dataclasses.replace(config, seed=int(s)) for s in seeds]
    if len(configs) == 1:
        return [train_one(configs[0], progress)]
    from porcini.experiment.seed_processes import train_in_processes

    return train_in_processes(configs, max_parallel=min(len(configs), os.cpu_count() or 1))
