"""One trial of a tune: its record on disk (``trials/<n>/trial.json``) and its runs, one per selection seed.

A trial's record is written ``running`` before its first run starts and rewritten ``complete``, ``pruned`` or
``failed`` when it ends, so a tune that was killed knows which trials to run again (those still ``running``,
whose folder is emptied first). The objective is the mean over the trial's seeds of the final
``eval_return_mean`` of each run's summary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from porcini.core import Callback
from porcini.errors import ConfigError, RunDirectoryError
from porcini.experiment.config import RunConfig
from porcini.experiment.launch import ResumeRun, StartRun
from porcini.experiment.safe_files import read_json_object

FINISHED = ("complete", "pruned", "failed")


@dataclass
class TrialRecord:
    """What a trial is and how it ended (``trial.json``)."""

    number: int
    """Position of the trial in the tune, from 0."""
    params: dict[str, Any]
    """The value of every search-space key."""
    status: str = "running"
    """``running``, ``complete``, ``pruned`` or ``failed``."""
    objective: float | None = None
    """Mean final ``eval_return_mean`` over the seeds (``pruned``: the last reported evaluation)."""
    run_dirs: list[str] = field(default_factory=list)
    """The trial's run directories."""
    error: str | None = None
    """Why the trial failed."""
    optuna_number: int | None = None
    """The Optuna trial behind it (``--method optuna``)."""
    segments: list[dict[str, Any]] = field(default_factory=list)
    """``--method pbt``: one entry per round (params, run dir, score, the member it copied from, if any)."""

    @property
    def finished(self) -> bool:
        """Whether the trial ended (complete, pruned or failed); a ``running`` one is run again on resume."""
        return self.status in FINISHED


def trial_dir(tune_dir: Path, number: int) -> Path:
    """``TUNE_DIR/trials/<number>/``."""
    return tune_dir / "trials" / str(number)


#: The key of ``trial.json`` that says its run directories are relative to the tune directory (a record written
#: before it was added holds them relative to the folder the tune was started from).
_PATHS_KEY = "run_dirs_relative_to"


def read_record(tune_dir: Path, number: int) -> TrialRecord | None:
    """The record of trial ``number``, or None when it never started (no ``trial.json``).

    Its run directories are read as paths from the current folder: ``tune_dir / <the stored path>``.

    Raises:
        RunDirectoryError: the record is damaged (a trial run again would delete its runs): one line naming it.
    """
    path = trial_dir(tune_dir, number) / "trial.json"
    if not path.is_file():
        return None
    fix = f"restore it, or delete the folder {trial_dir(tune_dir, number)} to run trial {number} again"
    data = read_json_object(path, ("number", "params"), "a trial record of porcini tune", fix)
    try:
        if data.pop(_PATHS_KEY, None) == "tune_dir":
            _map_run_dirs(data, lambda d: d if Path(d).is_absolute() else str(tune_dir / d))
        return TrialRecord(**data)
    except (TypeError, AttributeError) as err:
        raise RunDirectoryError(f"{path} is not a trial record of porcini tune ({type(err).__name__}: {err}): "
                                f"{fix}") from None


def write_record(tune_dir: Path, record: TrialRecord) -> None:
    """Write ``trial.json`` atomically, with run directories relative to the tune directory.

    So a tune resumed from another folder, or moved, finds its runs; a run directory outside it is stored absolute.
    """
    from porcini.experiment.run_dir import atomic_write_text

    def stored(run_dir: str) -> str:
        full, root = Path(run_dir).resolve(), tune_dir.resolve()
        return os.path.relpath(full, root) if full.is_relative_to(root) else str(full)

    folder = trial_dir(tune_dir, record.number)
    folder.mkdir(parents=True, exist_ok=True)
    data = _map_run_dirs(dataclasses.asdict(record), stored)
    atomic_write_text(folder / "trial.json", json.dumps({**data, _PATHS_KEY: "tune_dir"}, indent=1) + "\n")


def _map_run_dirs(data: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """``data`` (a record's fields) with ``change`` applied to its run directories and its segments', in place."""
    data["run_dirs"] = [change(d) for d in data.get("run_dirs", [])]
    for segment in data.get("segments", []):
        if segment.get("run_dir"):
            segment["run_dir"] = change(segment["run_dir"])
    return data


def check_trial_count(tune_dir: Path, count: int) -> None:
    """Refuse a resumed tune of ``count`` trials when the tune directory holds trials numbered ``count`` or more.

    They would be left out of ``results.csv``, ``best.yaml`` and the report without a word.

    Raises:
        ConfigError: names the trials and the ``--trials`` that keeps them.
    """
    folder = tune_dir / "trials"
    beyond = sorted(int(p.parent.name) for p in folder.glob("*/trial.json") if p.parent.name.isdigit()
                    and int(p.parent.name) >= count)
    if beyond:
        raise ConfigError(f"{tune_dir} holds trials {beyond}, which --trials {count} would leave out of its results: "
                          f"pass --trials {beyond[-1] + 1} or more")


def start_record(tune_dir: Path, number: int, params: dict[str, Any], optuna_number: int | None = None) -> TrialRecord:
    """Empty the trial's folder (runs of a killed attempt) and record it as ``running``."""
    shutil.rmtree(trial_dir(tune_dir, number), ignore_errors=True)
    record = TrialRecord(number, params, optuna_number=optuna_number)
    write_record(tune_dir, record)
    return record


class PruneCallback(Callback):
    """Hands each epoch's evaluation to ``report(env_steps, value)``; stops the run when it returns True.

    Hooked after the experiment's own epoch end, so ``last_eval`` is the evaluation just made. The run's last
    epoch is reported but never pruned: its evaluation is the final one, and the run has completed.
    """

    def __init__(self, experiment: Any, report: Callable[[int, float], bool]) -> None:
        self.experiment, self.report = experiment, report
        self.pruned = False
        self.last_value: float | None = None

    def on_epoch_end(self, core: Any) -> None:
        """Report the evaluation just made; ask the loop to stop if the trial is to be pruned."""
        if self.experiment.last_eval is None:
            return
        self.last_value = float(self.experiment.last_eval[0])
        if self.report(int(core.env_steps), self.last_value) and not training_done(core, self.experiment.config):
            self.pruned = True
            core.stop_requested = True


def training_done(core: Any, config: RunConfig) -> bool:
    """Whether the run took all its offline and env steps: the epoch that just ended is its last."""
    return bool(core.env_steps >= config.steps and core.offline_steps >= config.data.offline_steps)


def train_pruned(config: RunConfig, report: Callable[[int, float], bool], label: str) -> tuple[dict[str, Any], Any]:
    """Train one run in this process with a :class:`PruneCallback`; return its summary and the callback."""
    from porcini.experiment.experiment import Experiment
    from porcini.experiment.loggers.console import line_prefix

    with line_prefix(label):
        experiment = Experiment.start(config, progress=False)
        callback = PruneCallback(experiment, report)
        experiment.core.callbacks.append(callback)
        return experiment.train().to_dict(), callback


def train_many(configs: Sequence[RunConfig | StartRun | ResumeRun], jobs: int, labels: Sequence[str]) -> list[Any]:
    """Train ``configs`` (or continue runs): in this process one after the other (``jobs`` 1), or ``jobs`` at once.

    Returns each run's summary, or the exception it failed with, in order.

    Raises:
        TrainingInterrupted: SIGINT/SIGTERM stopped the runs.
    """
    from porcini.experiment.interrupt import TrainingInterrupted
    from porcini.experiment.launch import run_job

    if jobs > 1 and len(configs) > 1:
        from porcini.experiment.seed_processes import train_in_processes

        return train_in_processes(configs, max_parallel=min(jobs, len(configs)), errors="return", labels=labels)
    results: list[Any] = []
    for config, label in zip(configs, labels):
        try:
            results.append(run_job(config, progress=False, label=label))
        except TrainingInterrupted:
            raise
        except Exception as error:  # noqa: BLE001 - a failed run fails its trial, not the tune
            results.append(error)
    return results


def run_trial(tune_dir: Path, record: TrialRecord, configs: Sequence[RunConfig], jobs: int,
              report: Callable[[int, float], bool] | None = None) -> TrialRecord:
    """Train the trial's runs (one config per seed) and write its finished record.

    With ``report`` (pruning), the first seed trains alone in this process and reports each epoch's
    evaluation; a pruned trial trains no other seed. The other seeds then train as :func:`train_many` does.

    Raises:
        TrainingInterrupted: SIGINT/SIGTERM: the record stays ``running``, so a resumed tune runs it again.
    """
    from porcini.experiment.interrupt import TrainingInterrupted

    out = str(trial_dir(tune_dir, record.number))
    configs = [dataclasses.replace(c, out=out) for c in configs]
    labels = [f"[trial {record.number} s{c.seed}] " for c in configs]
    results: list[Any] = []
    if report is not None:
        try:
            summary, callback = train_pruned(configs[0], report, labels[0])
        except TrainingInterrupted:
            raise
        except Exception as error:  # noqa: BLE001 - recorded in the trial
            return _finish(tune_dir, record, [error])
        if callback.pruned:
            record.status, record.objective = "pruned", callback.last_value
            record.run_dirs = [str(summary.get("run_dir"))]
            write_record(tune_dir, record)
            return record
        results, configs, labels = [summary], configs[1:], labels[1:]
    return _finish(tune_dir, record, results + train_many(configs, jobs, labels))


def _finish(tune_dir: Path, record: TrialRecord, results: list[Any]) -> TrialRecord:
    errors = [r for r in results if isinstance(r, BaseException)]
    summaries = [r for r in results if not isinstance(r, BaseException)]
    record.run_dirs = [str(s.get("run_dir")) for s in summaries]
    values = [float(s["eval_return_mean"]) for s in summaries]
    if errors:
        record.status, record.error = "failed", " ".join(f"{type(errors[0]).__name__}: {errors[0]}".split())
    elif not all(math.isfinite(v) for v in values):
        record.status, record.error = "failed", f"non-finite final eval_return_mean {values}"
    else:
        record.status, record.objective = "complete", sum(values) / len(values)
    write_record(tune_dir, record)
    return record


def relative(path: str, root: Path) -> str:
    """``path`` relative to ``root`` when it is inside it (results.csv stays valid when the tune moves)."""
    try:
        return os.path.relpath(path, root) if Path(path).resolve().is_relative_to(root.resolve()) else path
    except ValueError:
        return path
