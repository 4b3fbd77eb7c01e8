"""The Optuna adapter of ``porcini tune --method optuna`` (extra ``porcini[optuna]``).

The study lives in ``TUNE_DIR/study.db`` (Optuna's SQLite storage, loaded if it exists), maximizes the
objective, samples with a seeded TPE sampler and prunes on the evaluations a trial's first seed reports after each
epoch (step = env steps). A resumed study's sampler is seeded with ``seed`` and the number of trials so far: seeded
as at the start, it would draw the first trials' points again. An Optuna trial left ``RUNNING`` by a killed tune
is marked failed in the study and its parameters are enqueued, so the next trial asked for runs them again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from porcini.errors import ConfigError, missing_extra
from porcini.experiment.tune.space import SearchSpace

PRUNERS = ("median", "hyperband", "none")


def import_optuna() -> Any:
    """Import optuna, or raise MissingExtraError naming ``pip install "porcini[optuna]"``."""
    try:
        import optuna
    except ImportError as err:
        raise missing_extra("porcini tune --method optuna", "optuna", err) from err
    return optuna


def make_pruner(pruner: Any) -> Any:
    """An Optuna pruner from its name (``median``, ``hyperband``, ``none``), or ``pruner`` itself if it is one.

    ``median`` prunes a trial whose evaluation is below the median of the earlier trials' at the same step, once
    one trial finished (Optuna's default waits for five: tunes here are often short).
    """
    optuna = import_optuna()
    if not isinstance(pruner, str):
        return pruner
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner {pruner!r} is unknown; choose one of {', '.join(PRUNERS)}")


class OptunaSearch:
    """Asks Optuna for each trial's parameters, reports its evaluations and tells it how the trial ended.

    Args:
        tune_dir: the tune directory (the study is ``study.db`` there).
        space: the search space.
        seed: seed of the TPE sampler.
        pruner: a name of :data:`PRUNERS` or an Optuna pruner.
    """

    def __init__(self, tune_dir: Path, space: SearchSpace, seed: int, pruner: Any) -> None:
        optuna = import_optuna()
        self.optuna, self.space = optuna, space
        self.pruning = not (isinstance(pruner, str) and pruner == "none")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = optuna.create_study(
            study_name="porcini-tune", storage=f"sqlite:///{(tune_dir / 'study.db').resolve()}",
            load_if_exists=True, direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=make_pruner(pruner))
        done = len(self.study.get_trials(deepcopy=False))
        if done:  # a resumed study: a sampler seeded as at the start would draw the first trials' points again
            fresh = int(np.random.SeedSequence([seed, done]).generate_state(1)[0])
            self.study.sampler = optuna.samplers.TPESampler(seed=fresh)
        self.trial: Any = None

    def ask(self, stale: int | None) -> tuple[int, dict[str, Any]]:
        """A new Optuna trial and its parameters; ``stale``, a trial a killed tune left running, is run again."""
        states = self.optuna.trial.TrialState
        old = next((t for t in self.study.get_trials(deepcopy=False) if t.number == stale), None)
        if old is not None and old.state == states.RUNNING:
            self.study.tell(old.number, state=states.FAIL)
            self.study.enqueue_trial(old.params)
        self.trial = self.study.ask()
        return int(self.trial.number), {d.key: self._suggest(d) for d in self.space.distributions}

    def settle(self, number: int | None, status: str, objective: float | None) -> None:
        """Tell Optuna the end of a finished trial it still thinks running (a kill came between the two writes)."""
        states = self.optuna.trial.TrialState
        old = next((t for t in self.study.get_trials(deepcopy=False) if t.number == number), None)
        if old is not None and old.state == states.RUNNING:
            if status == "complete":
                self.study.tell(old.number, objective)
            else:
                self.study.tell(old.number, state=states.PRUNED if status == "pruned" else states.FAIL)

    def _suggest(self, dist: Any) -> Any:
        trial = self.trial
        if dist.kind == "uniform":
            return trial.suggest_float(dist.key, *dist.args)
        if dist.kind == "loguniform":
            return trial.suggest_float(dist.key, *dist.args, log=True)
        if dist.kind == "int":
            return trial.suggest_int(dist.key, *dist.args)
        choices = list(dist.args)
        if all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
            return trial.suggest_categorical(dist.key, choices)
        # Optuna's categoricals are scalars: a list or mapping choice (net_arch) goes through its JSON text
        return json.loads(trial.suggest_categorical(dist.key, [json.dumps(c) for c in choices]))

    def report(self, step: int, value: float) -> bool:
        """Report an evaluation of the current trial at ``step``; whether the trial should be pruned."""
        self.trial.report(value, step)
        return bool(self.trial.should_prune())

    def tell(self, status: str, objective: float | None) -> None:
        """Tell Optuna how the current trial ended (``complete``, ``pruned`` or ``failed``)."""
        states = self.optuna.trial.TrialState
        if status == "complete":
            self.study.tell(self.trial, objective)
        else:
            self.study.tell(self.trial, state=states.PRUNED if status == "pruned" else states.FAIL)
        self.trial = None
