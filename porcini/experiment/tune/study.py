"""The trial loop of ``porcini tune`` (local backend) and the tune directory it fills.

::

    tunes/<algo>-<env>-<YYYYmmdd-HHMMSS>/
      space.yaml       the search space
      tune.yaml        the tune's settings (a resumed tune must be started with the same ones)
      trials/<n>/      trial.json (params, status, objective, error) and one run directory per selection seed
      results.csv      one row per trial
      best.yaml        the best trial's full run config (porcini train ALGO ENV --config best.yaml)
      objective.png    objective per trial (with matplotlib)
      importance.png   each hyperparameter's importance (fANOVA, with optuna and matplotlib)
      lineage.csv      --method pbt: every member's score and hyperparameters per round, and whom it copied
      lineage.png      --method pbt: the same as curves
      report/<n>/      the re-evaluation runs of the top trials on fresh seeds
      report.json      their IQM and 95% bootstrap interval
      study.db         the Optuna study (--method optuna)

Grid and random trial lists are fixed by the space and ``seed``, so a tune started again with ``out`` pointing at
its directory skips its finished trials and runs the others, including one that was running when it was killed.
Population-based training (:mod:`porcini.experiment.tune.pbt`) resumes in the round it was in.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig, resolve_run_config
from porcini.experiment.config.dataclass_io import load_yaml, override_items, yaml_text
from porcini.experiment.interrupt import TrainingInterrupted
from porcini.experiment.run_lock import RunLock
from porcini.experiment.tune import plots
from porcini.experiment.tune import report as reporting
from porcini.experiment.tune.pbt import PBTSettings, check_pbt_space, lineage_rows, run_pbt
from porcini.experiment.tune.space import (
    SearchSpace,
    grid_points,
    load_space,
    parse_space,
    random_points,
    validate_space,
)
from porcini.experiment.tune.trials import TrialRecord, read_record, run_trial, start_record, write_record

METHODS = ("grid", "random", "optuna", "pbt")
DEFAULT_TRIALS = 10
DEFAULT_POPULATION = 4
# settings a resumed tune may change: they add trials or change the report, never what a finished trial means
_MAY_CHANGE = ("trials", "top_k", "report_seeds")


@dataclass(frozen=True)
class TuneSettings:
    """What a tune searches and how; saved as ``tune.yaml`` (``jobs`` excepted: it changes only the speed)."""

    algo: str
    env: str
    method: str
    trials: int | None
    seeds: int
    steps: int | None
    seed: int
    pruner: str
    top_k: int
    report_seeds: int
    overrides: tuple[str, ...]
    pbt: PBTSettings | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``tune.yaml``."""
        data = {**dataclasses.asdict(self), "overrides": list(self.overrides)}
        if self.pbt is None:
            del data["pbt"]
        return data


@dataclass
class TuneResult:
    """What a tune found: every trial, the best one, and the re-evaluation on fresh seeds."""

    tune_dir: Path
    records: list[TrialRecord]
    best: TrialRecord | None
    report: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """The tune summary (the ``--json`` line)."""
        count = {s: sum(r.status == s for r in self.records) for s in ("complete", "pruned", "failed")}
        best = self.best
        return {"tune_dir": str(self.tune_dir), "trials": len(self.records), **count,
                "best_trial": None if best is None else best.number,
                "best_value": None if best is None else best.objective,
                "best_params": None if best is None else best.params,
                "best_config": None if best is None else str(self.tune_dir / "best.yaml"),
                "report": self.report}


def tune(algo: str, env_id: str, space: str | Path | Mapping[str, Any] | SearchSpace, *, method: str = "random",
         trials: int | None = None, seeds: int = 1, steps: int | None = None, jobs: int | None = None,
         out: str | Path | None = None, overrides: Sequence[str] = (), seed: int = 0, pruner: Any = "median",
         top_k: int = 1, report_seeds: int = 3, pbt_interval: int | None = None, pbt_quantile: float = 0.25,
         pbt_resample: float = 0.25, backend: str = "local", ray_address: str | None = None,
         start: Sequence[Mapping[str, Any]] | None = None) -> TuneResult:
    """Search hyperparameters of ``algo`` on ``env_id``, locally or on Ray; ``porcini tune`` calls this.

    Args:
        algo: algorithm CLI name.
        env_id: Gymnasium id.
        space: a search-space YAML file, its parsed mapping, or a :class:`SearchSpace`.
        method: ``grid`` (every combination of the choices), ``random``, ``optuna`` (TPE, with pruning) or
            ``pbt`` (population-based training, :mod:`porcini.experiment.tune.pbt`).
        trials: trials (random, optuna: default 10; pbt: the population, default 4; grid: the first ones, or all).
        seeds: selection seeds per trial, 0 .. seeds - 1, whose final evaluations' mean is the objective (pbt: 1).
        steps: env steps of every run (default: the config's).
        jobs: local: runs at once (a trial's seeds, the report's; default 1); ray: trials at once (default: CPUs).
        out: the tune directory (default ``tunes/<algo>-<env>-<stamp>``); an existing one is resumed.
        overrides: ``key=value`` settings of every trial, as ``porcini train --set``.
        seed: seed of the random search, of Optuna's sampler and of PBT's draws (member ``n``: run seed + ``n``).
        pruner: optuna only: ``median``, ``hyperband``, ``none``, or an Optuna pruner object.
        top_k: how many of the best trials are re-evaluated on fresh seeds.
        report_seeds: fresh seeds per re-evaluated trial, from 1000, never a selection seed (0: none); pbt
            evaluates final policies.
        pbt_interval: pbt: env steps per round (default ``steps`` / 10).
        pbt_quantile: pbt: the fraction of the population replaced after each round.
        pbt_resample: pbt: the probability that explore redraws a value instead of perturbing it.
        backend: ``local`` or ``ray`` (Ray Tune, :mod:`porcini.experiment.tune.ray_backend`; ``porcini[ray]``).
        ray_address: with ``backend="ray"``: the cluster to join (default ``RAY_ADDRESS``, else a local Ray).
        start: pbt, local backend: the population's first hyperparameters, one mapping per member.

    Raises:
        ConfigError: a bad space, method, setting or override (named), or a tune directory of another tune.
        MissingExtraError: optuna or ray missing for the method or backend.
        TrainingInterrupted: SIGINT/SIGTERM; start the tune again with ``out`` = its directory to continue.
    """
    settings = _settings(algo, env_id, method, trials, seeds, steps, seed, pruner, top_k, report_seeds, overrides)
    parsed = space if isinstance(space, SearchSpace) else (
        parse_space(space) if isinstance(space, Mapping) else load_space(space))
    config_of, total = _trial_configs(algo, env_id, overrides, steps)
    validate_space(parsed, config_of, {})
    if method == "pbt":
        settings = _pbt_settings(settings, parsed, total, pbt_interval, pbt_quantile, pbt_resample)
    points = _check_before_running(settings, parsed, backend, pruner, start, config_of)
    tune_dir = _open_tune_dir(out, settings, parsed, backend)
    lock = RunLock.acquire(tune_dir)
    try:
        if backend == "ray":
            from porcini.experiment.tune.ray_backend import run_on_ray

            records = run_on_ray(tune_dir, settings, parsed, config_of, jobs, ray_address, _say)
        else:
            records = _run_locally(tune_dir, settings, parsed, config_of, jobs or 1, pruner, total, points)
        # the re-evaluation runs on this machine, whatever the backend
        return _finish(tune_dir, settings, parsed, records, lambda r: config_of(r.params), jobs or 1)
    except TrainingInterrupted as stop:
        raise TuneInterrupted(stop.signum, tune_dir, aborted=stop.aborted) from stop
    finally:
        lock.release()


def _run_locally(tune_dir: Path, settings: TuneSettings, space: SearchSpace, config_of: Any, jobs: int, pruner: Any,
                 total: int, points: list[dict[str, Any]] | None) -> list[TrialRecord]:
    """The trials of the local backend: PBT's population in rounds, or grid/random/Optuna trials in turn."""
    if settings.pbt is not None:
        return run_pbt(tune_dir, settings.trials or DEFAULT_POPULATION, total, settings.pbt, space, settings.seed,
                       config_of, jobs, _say, points)
    return _run_trials(tune_dir, settings, space, config_of, jobs, pruner)


def _trial_configs(algo: str, env_id: str, overrides: Sequence[str],
                   steps: int | None) -> tuple[Callable[[Mapping[str, Any]], RunConfig], int]:
    """``config_of(params)``, a trial's run config (``--set``, ``--steps``, then ``params``), and the runs' steps.

    Raises:
        ConfigError: a bad ``--set`` (named as such, before the space is checked with it).
    """
    from porcini.algorithms.registry import get_algorithm

    config_cls = get_algorithm(algo).Config
    base = {".".join(keys): value for keys, value in override_items(list(overrides))}
    base.update({} if steps is None else {"steps": steps})

    def config_of(params: Mapping[str, Any]) -> RunConfig:
        return resolve_run_config(algo, env_id, overrides={**base, **params}, algo_config_cls=config_cls)

    return config_of, config_of({}).steps


class TuneInterrupted(TrainingInterrupted):
    """A signal stopped the tune; the message says how to continue it (the interrupted trial runs again)."""

    def __init__(self, signum: int, tune_dir: Path, *, aborted: bool = False) -> None:
        self.tune_dir = tune_dir
        super().__init__(signum, aborted=aborted)

    def message(self) -> str:
        """One line: what stopped the tune and how to continue it."""
        return (f"tune stopped by {signal.Signals(self.signum).name}; continue it with the same porcini tune "
                f"command and --out {getattr(self, 'tune_dir', '')} (the interrupted trial runs again)")


def _settings(algo: str, env_id: str, method: str, trials: int | None, seeds: int, steps: int | None, seed: int,
              pruner: Any, top_k: int, report_seeds: int, overrides: Sequence[str]) -> TuneSettings:
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} is unknown; choose one of {', '.join(METHODS)}")
    for name, value, low in (("trials", trials, 1), ("seeds", seeds, 1), ("steps", steps, 1), ("top_k", top_k, 1),
                             ("report_seeds", report_seeds, 0), ("seed", seed, 0)):
        if value is not None and value < low:
            raise ConfigError(f"--{name.replace('_', '-')} {value} is invalid: must be >= {low}")
    if trials is None and method != "grid":
        trials = DEFAULT_POPULATION if method == "pbt" else DEFAULT_TRIALS
    return TuneSettings(algo, env_id, method, trials, seeds, steps, seed, pruner if isinstance(pruner, str)
                        else type(pruner).__name__, top_k, report_seeds, tuple(overrides))


def _pbt_settings(settings: TuneSettings, space: SearchSpace, steps: int, interval: int | None, quantile: float,
                  resample: float) -> TuneSettings:
    """``settings`` with its PBT schedule, checked (ConfigError naming the option)."""
    if settings.seeds != 1:
        raise ConfigError(f"--method pbt trains one run per member: pass --seeds 1, not {settings.seeds} "
                          "(the population is --trials; the report re-evaluates the best members on fresh seeds)")
    check_pbt_space(space)
    pbt = PBTSettings(interval if interval is not None else max(steps // 10, 1), quantile, resample)
    pbt.check(steps, settings.trials or DEFAULT_POPULATION)
    return dataclasses.replace(settings, pbt=pbt)


def _check_before_running(settings: TuneSettings, space: SearchSpace, backend: str, pruner: Any,
                          start: Sequence[Mapping[str, Any]] | None,
                          config_of: Any) -> list[dict[str, Any]] | None:
    """Everything that can fail before the tune directory is made; returns the PBT start points, if given.

    Raises:
        ConfigError: a start given for another method or backend, a start value the config refuses, a continuous
            key in a grid, an unknown pruner or backend.
        MissingExtraError: optuna or ray missing for the method or backend.
    """
    points = None
    if start is not None:
        if settings.method != "pbt" or backend != "local":
            raise ConfigError("start (the population's first hyperparameters) is for --method pbt, local backend")
        points = _start_points(start, settings, space)
        for point in points or []:
            config_of(point)  # a value the config refuses fails before anything runs
    if settings.method == "grid":
        grid_points(space)  # a continuous key fails here
    if settings.method == "optuna":
        from porcini.experiment.tune.optuna_search import import_optuna, make_pruner

        import_optuna()
        make_pruner(pruner)  # an unknown pruner name fails here
    if backend == "ray":
        from porcini.ray_runtime import import_ray

        import_ray("porcini tune --backend ray")
        if not isinstance(pruner, str):
            raise ConfigError("--backend ray takes a pruner name (median, hyperband, none), not an Optuna pruner")
    elif backend != "local":
        raise ConfigError(f"--backend {backend!r} is unknown; choose local or ray")
    return points


def _start_points(start: Sequence[Mapping[str, Any]] | None, settings: TuneSettings,
                  space: SearchSpace) -> list[dict[str, Any]] | None:
    """``start`` checked: one mapping per member, each with exactly the space's keys."""
    if start is None:
        return None
    points = [dict(p) for p in start]
    if len(points) != settings.trials:
        raise ConfigError(f"start gives {len(points)} members' hyperparameters for a population of {settings.trials}")
    for point in points:
        if set(point) != set(space.keys):
            raise ConfigError(f"start point {point} must give exactly the space's keys: {', '.join(space.keys)}")
    return points


def _open_tune_dir(out: str | Path | None, settings: TuneSettings, space: SearchSpace, backend: str) -> Path:
    """Create the tune directory, or check that an existing one holds this very tune (then it is resumed)."""
    from porcini.experiment.run_dir import _FOLDER_UNSAFE, atomic_write_text

    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("tunes") / f"{settings.algo}-{_FOLDER_UNSAFE.sub('_', settings.env)}-{stamp}"
    tune_dir = Path(out)
    saved = tune_dir / "tune.yaml"
    if saved.is_file():
        _check_backend(tune_dir, backend)
        before = load_yaml(saved) or {}
        before_space = load_yaml(tune_dir / "space.yaml") if (tune_dir / "space.yaml").is_file() else None
        # PBT's --trials is its population: members that join or leave mid-tune would change the recorded rounds
        may_change = [k for k in _MAY_CHANGE if not (k == "trials" and settings.method == "pbt")]
        changed = [k for k, v in settings.to_dict().items() if k not in may_change and before.get(k) != v]
        changed += ["the search space"] if before_space != space.to_dict() else []
        if changed:
            raise ConfigError(f"{tune_dir} holds a tune with other settings ({', '.join(changed)} differ); start "
                              "it again with the same ones to resume it, or pass another --out")
        atomic_write_text(saved, yaml_text(settings.to_dict()))  # more trials, another report: recorded
        return tune_dir
    tune_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(tune_dir / "space.yaml", yaml_text(space.to_dict()))
    atomic_write_text(saved, yaml_text(settings.to_dict()))
    return tune_dir


def _check_backend(tune_dir: Path, backend: str) -> None:
    """Refuse to continue a tune on another backend than its trials ran on: that one would start them all over."""
    on_ray = (tune_dir / "ray").is_dir()  # Ray Tune's experiment state
    started = "ray" if on_ray else "local" if any((tune_dir / "trials").glob("*/trial.json")) else None
    if started is not None and started != backend:
        raise ConfigError(f"{tune_dir} holds a tune whose trials ran with --backend {started}: continue it with "
                          f"--backend {started} (--backend {backend} would run its finished trials again)")


def _run_trials(tune_dir: Path, settings: TuneSettings, space: SearchSpace, resolve: Any, jobs: int,
                pruner: Any) -> list[TrialRecord]:
    """Run every trial that has not finished; return all trials' records, in order."""
    from porcini.experiment.tune.trials import check_trial_count

    search: Any = None
    if settings.method == "grid":
        points: list[dict[str, Any]] = grid_points(space, settings.trials)
    elif settings.method == "random":
        points = random_points(space, settings.trials or DEFAULT_TRIALS, settings.seed)
    else:
        from porcini.experiment.tune.optuna_search import OptunaSearch

        search = OptunaSearch(tune_dir, space, settings.seed, pruner)
    records: list[TrialRecord] = []
    count = len(points) if search is None else settings.trials or DEFAULT_TRIALS
    check_trial_count(tune_dir, count)
    for number in range(count):
        record = read_record(tune_dir, number)
        if record is not None and record.finished:
            if search is not None:
                search.settle(record.optuna_number, record.status, record.objective)
            records.append(record)
            continue
        if search is None:
            record = start_record(tune_dir, number, points[number])
        else:
            optuna_number, params = search.ask(None if record is None else record.optuna_number)
            record = start_record(tune_dir, number, params, optuna_number)
        try:
            config: RunConfig = resolve(record.params)
        except ConfigError as err:  # a combination the per-key check could not see (e.g. two sizes that clash)
            record.status, record.error = "failed", " ".join(str(err).split())
            write_record(tune_dir, record)
        else:
            configs = [dataclasses.replace(config, seed=s) for s in range(settings.seeds)]
            report = search.report if search is not None and search.pruning else None
            record = run_trial(tune_dir, record, configs, jobs, report)
        if search is not None:
            search.tell(record.status, record.objective)
        records.append(record)
        reporting.write_results(tune_dir, records, space.keys)
        _say(f"trial {number}: {record.status}"
             f"{'' if record.objective is None else f' objective {record.objective:.4g}'} {record.params}"
             f"{'' if record.error is None else f' ({record.error})'}")
    return records


def _finish(tune_dir: Path, settings: TuneSettings, space: SearchSpace, records: list[TrialRecord],
            config_of: Any, jobs: int) -> TuneResult:
    """Write results.csv, best.yaml and the plots, then re-evaluate the top trials on fresh seeds."""
    reporting.write_results(tune_dir, records, space.keys)
    plots.plot_objective(tune_dir, records)
    plots.plot_importance(tune_dir, plots.param_importances(records, space))
    if settings.pbt is not None:
        total = config_of(records[0]).steps
        rows = lineage_rows(records, settings.pbt.interval, total, tune_dir)
        reporting.write_lineage(tune_dir, rows, space.keys)
        plots.plot_lineage(tune_dir, rows, space.keys[0])
    top = reporting.ranked(records)[: settings.top_k]
    if not top:
        _say("no trial completed: no best.yaml and no re-evaluation (see results.csv for the errors)")
        return TuneResult(tune_dir, records, None, None)
    reporting.write_best(tune_dir, config_of(top[0]))
    report = None
    if settings.report_seeds > 0:
        taken = range(settings.seed, settings.seed + len(records)) if settings.pbt else range(settings.seeds)
        seeds = reporting.fresh_seeds(settings.report_seeds, taken)
        if settings.pbt is None:
            report = reporting.reevaluate(tune_dir, top, config_of, seeds, jobs)
        else:
            report = reporting.reevaluate_policies(tune_dir, top, seeds, config_of(top[0]).eval_episodes)
        for line in reporting.report_lines(report):
            _say(line)
    return TuneResult(tune_dir, records, top[0], report)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
