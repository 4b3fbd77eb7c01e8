"""Running a suite: one normal run directory per (algorithm, env, seed), finished runs never run twice.

A bench output folder holds ``runs/`` (the run directories) and the report. A run counts as done when a
finished run directory in ``runs/`` has exactly the planned configuration (everything in ``config.yaml`` but the
output folder and the logging sinks, as ``porcini plot`` groups runs; read through :class:`RunConfig`, so a
section that porcini gained since the run was made counts at its default), so ``--resume`` skips it whoever
trained it, and a changed config of record or budget is run again. A run that fails is recorded in
``failures.json`` and the suite goes on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from porcini.errors import ConfigError
from porcini.experiment.bench.suites import Suite, suite_pairs
from porcini.experiment.config import RunConfig
from porcini.experiment.config.dataclass_io import to_dict
from porcini.experiment.loggers.base import flatten_params
from porcini.experiment.reporting import _NOT_SETTINGS, read_run_status
from porcini.experiment.safe_files import read_json_object


@dataclass(frozen=True)
class PlannedRun:
    """One run of a suite: a pair, a seed and the config it runs with."""

    algo: str
    """Algorithm CLI name."""
    env: str
    """Gymnasium id."""
    seed: int
    """The run's seed."""
    config: RunConfig
    """The fully resolved config (config of record, seed, output folder, budget)."""

    @property
    def key(self) -> str:
        """What a finished run directory must match: the settings and the seed."""
        return settings_key(to_dict(self.config))


def settings_key(config: dict[str, Any]) -> str:
    """A canonical text of a config without its output folder and logging sinks (what a run learns from)."""
    kept = {k: v for k, v in config.items() if k not in _NOT_SETTINGS}
    return json.dumps({"seed": int(config.get("seed", 0)), **flatten_params(kept)}, sort_keys=True, default=str)


def scaled(config: RunConfig, steps_scale: float) -> RunConfig:
    """``config`` with its budget (``steps`` and ``steps_per_epoch``) multiplied by ``steps_scale``, at least 1 step.

    A scaled run evaluates as often as the full one, but at most 5 times: evaluation episodes do not shrink with
    the budget, and a smoke run is about the code paths, not the curve.
    """
    if steps_scale == 1.0:
        return config
    steps = max(1, round(config.steps * steps_scale))
    per_epoch = max(1, min(steps, max(round(config.steps_per_epoch * steps_scale), -(-steps // 5))))
    return dataclasses.replace(config, steps=steps, steps_per_epoch=per_epoch)


def plan_runs(suite: Suite, *, seeds: Sequence[int], out: Path, algos: Sequence[str] | None = None,
              envs: Sequence[str] | None = None, steps_scale: float = 1.0,
              eval_episodes: int | None = None) -> list[PlannedRun]:
    """Every run of the suite, pair-major (all seeds of a pair together), each with its resolved config.

    Raises:
        ConfigError: an unknown algorithm in ``algos`` or env in ``envs``, a bad ``steps_scale``, or a config of
            record that does not resolve (a bug in porcini's configs).
    """
    from porcini.experiment.launch import resolve

    if not 0 < steps_scale <= 1:
        raise ConfigError(f"--steps-scale must be in (0, 1], got {steps_scale}; 1 runs the configs of record as is")
    planned = []
    for algo, env_id in suite_pairs(suite, algos, envs):
        base = scaled(resolve(algo, env_id, None, []), steps_scale)
        if eval_episodes is not None:
            base = dataclasses.replace(base, eval_episodes=eval_episodes)
        for seed in seeds:
            config = dataclasses.replace(base, seed=int(seed), out=str(out / "runs"))
            planned.append(PlannedRun(algo, env_id, int(seed), config))
    return planned


def finished_run_dirs(out: Path) -> dict[str, Path]:
    """The finished run directories under ``out/runs`` by settings key; of two with one key, the later one."""
    return _run_dirs(out, finished=True)


def unfinished_run_dirs(out: Path) -> dict[str, Path]:
    """The stopped run directories under ``out/runs`` that have a last checkpoint to resume, by settings key."""
    return {key: path for key, path in _run_dirs(out, finished=False).items()
            if (path / "checkpoints" / "last.pt").is_file()}


def _run_dirs(out: Path, *, finished: bool) -> dict[str, Path]:
    """The run directories under ``out/runs`` that are (or are not) finished, by settings key; the later of two."""
    found: dict[str, Path] = {}
    runs = out / "runs"
    for path in sorted(runs.iterdir()) if runs.is_dir() else []:
        if not (path / "config.yaml").is_file():
            continue
        try:
            status = read_run_status(path)
        except (ConfigError, OSError, ValueError):  # a broken folder is not a finished run
            continue
        if status.finished == finished:
            from porcini.experiment.config import load_run_config

            try:  # through RunConfig, so a section added to porcini since the run counts at its default
                found[settings_key(to_dict(load_run_config(path / "config.yaml")))] = path
            except ConfigError:  # a config this porcini cannot read is not a run of the suite
                continue
    return found


def read_failures(out: Path) -> dict[str, str]:
    """``failures.json``: settings key -> the error of the last attempt."""
    path = out / "failures.json"
    fix = "restore it, or delete it (--resume then retries only the runs that have no finished run directory)"
    return read_json_object(path, (), "a list of failures of porcini bench", fix) if path.is_file() else {}


def run_planned(runs: Sequence[PlannedRun], out: Path, *, jobs: int,
                resumable: dict[str, Path] | None = None) -> dict[str, str]:
    """Train ``runs`` (``jobs`` processes at once) and return the failures: settings key -> error text.

    A run whose settings key is in ``resumable`` (:func:`unfinished_run_dirs`, a run a stop interrupted) continues
    that run directory from its last checkpoint instead of starting over. Failures of earlier calls stay in
    ``failures.json`` unless the run now succeeded.

    Raises:
        TrainingInterrupted: SIGINT/SIGTERM stopped the suite; finished runs stay finished.
    """
    from porcini.experiment.launch import ResumeRun, run_job
    from porcini.experiment.run_dir import atomic_write_text
    from porcini.experiment.seed_processes import train_in_processes

    failures = read_failures(out)
    if not runs:
        return failures
    labels = [f"[{run.algo} {run.env} s{run.seed}] " for run in runs]
    jobs_of = [ResumeRun(str((resumable or {})[run.key]), seed=run.seed) if run.key in (resumable or {})
               else run.config for run in runs]
    if jobs == 1:
        results: list[Any] = []
        for job, label in zip(jobs_of, labels):
            try:
                results.append(run_job(job, progress=False, label=label))
            except Exception as error:  # noqa: BLE001 - a failed run is reported, the suite goes on
                results.append(error)
    else:
        results = train_in_processes(jobs_of, max_parallel=jobs, errors="return", labels=labels)
    for run, result in zip(runs, results):
        if isinstance(result, BaseException):
            failures[run.key] = f"{run.algo} on {run.env} seed {run.seed}: {type(result).__name__}: {result}"
        else:
            failures.pop(run.key, None)
    atomic_write_text(out / "failures.json", json.dumps(failures, indent=1, sort_keys=True) + "\n")
    return failures


def default_jobs() -> int:
    """One run per core."""
    return os.cpu_count() or 1
