"""``porcini tune --backend ray``: the trials of a tune run through Ray Tune, on a local Ray or a cluster.

Each Ray Tune trial trains porcini runs exactly as a local trial does, into the same tune directory
(``trials/<n>/``: the tune directory must be on storage every node writes to when the cluster has several). Ray
Tune decides what runs where and when:

- ``grid`` and ``random``: the trial list is porcini's own (the same points as the local backend, by index);
- ``optuna``: Ray Tune's ``OptunaSearch`` (TPE, seeded) with ``MedianStoppingRule`` (``--pruner median``) or
  ``ASHAScheduler`` (``hyperband``) stopping trials on each epoch's evaluation;
- ``pbt``: Ray Tune's ``PopulationBasedTraining`` scheduler. Every evaluation reports a Ray checkpoint holding a
  copy of the run's ``last.pt``; a member that exploits another is restored from it as a new run directory
  branched from the donor's (:func:`~porcini.experiment.branch.branch_run`), so lineages are chains of run
  directories here too.

Ray Tune keeps its own state in ``TUNE_DIR/ray/``; a tune started again with the same directory is restored from it
(``Tuner.restore``): finished trials are not run again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from porcini.core import Callback
from porcini.experiment.config import RunConfig
from porcini.experiment.run_dir import atomic_write_text
from porcini.experiment.safe_files import read_json_object
from porcini.experiment.tune.space import SearchSpace, grid_points, random_points
from porcini.experiment.tune.trials import TrialRecord, training_done, trial_dir, write_record

EXPERIMENT = "porcini"


def run_on_ray(tune_dir: Path, settings: Any, space: SearchSpace, resolve: Callable[[dict[str, Any]], RunConfig],
               jobs: int | None, address: str | None, say: Callable[[str], None]) -> list[TrialRecord]:
    """Run the tune's trials with Ray Tune; return one record per trial (also written to ``trials/<n>/``)."""
    from porcini.ray_runtime import ensure_ray

    ensure_ray(address, what="porcini tune --backend ray")
    from ray import tune

    points = _points(settings, space)
    trainable = tune.with_resources(_trainable(tune_dir.resolve(), settings, points, resolve), {"cpu": 1})
    storage = (tune_dir / "ray").resolve()
    if tune.Tuner.can_restore(str(storage / EXPERIMENT)):
        say(f"restoring the Ray Tune experiment in {storage / EXPERIMENT}")
        tuner = tune.Tuner.restore(str(storage / EXPERIMENT), trainable, resume_unfinished=True, resume_errored=True)
    else:
        search_alg, scheduler, param_space, samples = _search(settings, space, points, resolve({}).steps)
        tuner = tune.Tuner(trainable, param_space=param_space, tune_config=tune.TuneConfig(
            num_samples=samples, search_alg=search_alg, scheduler=scheduler, max_concurrent_trials=jobs,
            reuse_actors=True, trial_dirname_creator=lambda trial: str(trial.trial_id)),
            run_config=tune.RunConfig(storage_path=str(storage), name=EXPERIMENT, verbose=0))
    grid = tuner.fit()
    records = [_record(tune_dir, grid[i], points, space.keys) for i in range(len(grid))]
    for record in records:
        write_record(tune_dir, record)
        say(f"trial {record.number}: {record.status}"
            f"{'' if record.objective is None else f' objective {record.objective:.4g}'} {record.params}"
            f"{'' if record.error is None else f' ({record.error})'}")
    return sorted(records, key=lambda r: r.number)


def _points(settings: Any, space: SearchSpace) -> list[dict[str, Any]] | None:
    """The fixed trial list of grid and random search; None when Ray Tune's searcher or scheduler draws them."""
    if settings.method == "grid":
        return grid_points(space, settings.trials)
    if settings.method == "random":
        return random_points(space, settings.trials, settings.seed)
    return None


def _search(settings: Any, space: SearchSpace, points: list[dict[str, Any]] | None,
            steps: int) -> tuple[Any, Any, dict[str, Any], int]:
    """Ray Tune's searcher, scheduler, parameter space and number of samples for the tune's method."""
    from ray import tune

    if points is not None:
        return None, None, {"trial": tune.grid_search(list(range(len(points))))}, 1
    domains = {d.key: _domain(d) for d in space.distributions}
    if settings.method == "pbt":
        from ray.tune.schedulers import PopulationBasedTraining

        # a list makes Ray's explore move to a neighbouring choice; a choice domain would scale numeric choices.
        # Integers are porcini's to perturb (_explore_integers): Ray rounds 2 * 1.2 back to 2, so they would not move
        mutations = {d.key: list(d.args) if d.kind == "choice" else domains[d.key] for d in space.distributions
                     if d.kind != "int"}
        resample = settings.pbt.resample
        pbt = _pbt_scheduler(PopulationBasedTraining, steps)(
            time_attr="env_steps", metric="objective", mode="max", perturbation_interval=settings.pbt.interval,
            hyperparam_mutations=mutations, quantile_fraction=settings.pbt.quantile,
            resample_probability=resample, perturbation_factors=(1.2, 0.8),
            custom_explore_fn=lambda config: _within_bounds(_explore_integers(config, space, resample), space),
            synch=True)
        return None, pbt, domains, int(settings.trials)
    from optuna.samplers import TPESampler
    from ray.tune.search.optuna import OptunaSearch

    search = OptunaSearch(metric="objective", mode="max", sampler=TPESampler(seed=settings.seed))
    return search, _scheduler(settings.pruner, steps), domains, int(settings.trials)


def _pbt_scheduler(base: type, steps: int) -> type:
    """Ray Tune's PBT scheduler, told not to perturb at the end of the runs (it would only swap finished members)."""
    from ray.tune.schedulers import TrialScheduler

    class PorciniPBT(base):
        def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
            if result.get("final") or int(result.get("env_steps", 0)) >= steps:
                return str(TrialScheduler.CONTINUE)
            return str(super().on_trial_result(tune_controller, trial, result))

    return PorciniPBT


def _scheduler(pruner: str, steps: int) -> Any:
    """``median`` -> MedianStoppingRule, ``hyperband`` -> ASHAScheduler, ``none`` -> no early stopping."""
    from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule

    if pruner == "median":
        return MedianStoppingRule(time_attr="env_steps", metric="objective", mode="max", grace_period=0,
                                  min_samples_required=1)
    if pruner == "hyperband":
        return ASHAScheduler(time_attr="env_steps", metric="objective", mode="max", max_t=steps)
    return None


def _domain(dist: Any) -> Any:
    from ray import tune

    if dist.kind == "uniform":
        return tune.uniform(*dist.args)
    if dist.kind == "loguniform":
        return tune.loguniform(*dist.args)
    if dist.kind == "int":
        return tune.randint(dist.args[0], dist.args[1] + 1)  # Ray's upper bound is exclusive
    return tune.choice(list(dist.args))


def _explore_integers(config: dict[str, Any], space: SearchSpace, resample: float) -> dict[str, Any]:
    """Explore the integer keys of the config Ray copied as the local backend does (``pbt.explore``).

    Each is redrawn with probability ``resample``, else scaled by 0.8 or 1.2, rounded and moved by at least one
    in that direction, within the space's bounds.
    """
    import random

    from porcini.experiment.tune.pbt import explore

    integers = SearchSpace(tuple(d for d in space.distributions if d.kind == "int" and d.key in config))
    rng = np.random.default_rng(random.getrandbits(64))  # Ray's PBT draws from Python's generator: so does this
    config.update(explore(config, integers, rng, resample))
    return config


def _within_bounds(config: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """Ray's PBT perturbs numbers by its factors without looking at bounds: clip them to the space's."""
    for dist in space.distributions:
        if dist.kind != "choice" and dist.key in config:
            value = min(max(config[dist.key], dist.args[0]), dist.args[1])
            config[dist.key] = int(round(value)) if dist.kind == "int" else float(value)
    return config


def _trainable(tune_dir: Path, settings: Any, points: list[dict[str, Any]] | None,
               resolve: Callable[[dict[str, Any]], RunConfig]) -> Callable[[dict[str, Any]], None]:
    """The function Ray Tune calls once per trial (and again for a PBT member restored from a checkpoint)."""
    pbt = settings.method == "pbt"

    def train_trial(params: dict[str, Any]) -> None:
        from ray import tune

        from porcini.experiment.experiment import Experiment

        trial_id = tune.get_context().get_trial_id()
        number = params["trial"] if points is not None else claim_number(tune_dir, trial_id)
        values = points[params["trial"]] if points is not None else {k: v for k, v in params.items()}
        config = dataclasses.replace(resolve(values), out=str(trial_dir(tune_dir, number)))
        restored = tune.get_checkpoint()
        if restored is None:  # runs of an attempt a restored tune runs again
            shutil.rmtree(trial_dir(tune_dir, number), ignore_errors=True)
        scores, run_dirs = [], []
        for seed in range(settings.seeds):
            seeded = dataclasses.replace(config, seed=settings.seed + number if pbt else seed)
            experiment = None if restored is None else _restore(restored, seeded)
            if restored is not None and experiment is None:  # PBT restored a member that had finished
                with restored.as_directory() as folder:
                    source = json.loads((Path(folder) / "source.json").read_text())
                scores.append(float(source["objective"]))
                run_dirs.append(str(source["run_dir"]))
                continue
            if experiment is None:
                experiment = Experiment.start(seeded, progress=False)
            if seed == 0:
                experiment.core.callbacks.append(_Report(experiment, values, pbt))
            summary = experiment.train().to_dict()
            scores.append(float(summary["eval_return_mean"]))
            run_dirs.append(str(summary["run_dir"]))
        tune.report({"objective": sum(scores) / len(scores), "final": True, "run_dirs": ";".join(run_dirs),
                     "env_steps": config.steps, "params": json.dumps(values)})

    return train_trial


def claim_number(tune_dir: Path, trial_id: str) -> int:
    """The tune's number for Ray Tune trial ``trial_id``: the next free one the first time, the same one after.

    Trials start in several processes (or machines sharing the tune directory), so the table
    ``trials/ray_trials.json`` is read and written under a file lock.
    """
    import fcntl

    folder = tune_dir / "trials"
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "ray_trials.json"
    with open(folder / ".ray_trials.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fix = ("restore it (it maps Ray Tune's trial ids to the trials/<n> folders), or start the tune over with "
               "another --out")
        numbers: dict[str, int] = (read_json_object(table, (), "porcini's table of Ray trial numbers", fix)
                                   if table.is_file() else {})
        if trial_id not in numbers:
            numbers[trial_id] = len(numbers)
            atomic_write_text(table, json.dumps(numbers, indent=1) + "\n")
        return numbers[trial_id]


def _restore(checkpoint: Any, config: RunConfig) -> Any:
    """A PBT member restored by Ray Tune from ``checkpoint``, or None when that checkpoint ended its run.

    A member that continues its own run with the same hyperparameters (Ray Tune pauses and restores every member
    at each perturbation) resumes that run directory; one that copies another member, or changes its
    hyperparameters, becomes a new run directory branched from the checkpoint's run.
    """
    from porcini.experiment.branch import branch_run, changed_settings
    from porcini.experiment.checkpoint import read_checkpoint, resolve_checkpoint
    from porcini.experiment.config import load_run_config
    from porcini.experiment.experiment import Experiment

    with checkpoint.as_directory() as folder:
        source = json.loads((Path(folder) / "source.json").read_text())
        run_dir, steps = Path(source["run_dir"]), int(source["env_steps"])
        if steps >= config.steps:
            return None
        own = run_dir.parent == Path(config.out) and not changed_settings(load_run_config(run_dir / "config.yaml"),
                                                                           config)
        if own and int(read_checkpoint(resolve_checkpoint(run_dir, "last")).state["core"]["env_steps"]) == steps:
            return Experiment.resume(run_dir, progress=False)
        branch = branch_run(run_dir, config, checkpoint=Path(folder) / "last.pt")
    return Experiment.resume(branch, progress=False)


class _Report(Callback):
    """Reports each epoch's evaluation to Ray Tune (with a checkpoint for PBT), after the experiment's epoch end.

    Without PBT the run's last evaluation is left to the trial's final report (all its seeds' mean).
    """

    def __init__(self, experiment: Any, params: dict[str, Any], with_checkpoint: bool) -> None:
        self.experiment, self.params, self.with_checkpoint = experiment, params, with_checkpoint

    def on_epoch_end(self, core: Any) -> None:
        """Report ``objective`` (this evaluation), ``env_steps`` and the run directory."""
        from ray import tune

        if self.experiment.last_eval is None:
            return
        if not self.with_checkpoint and training_done(core, self.experiment.config):
            return  # the trial's final report carries it: a scheduler stopping here (ASHA at max_t) would prune it
        run_dir = self.experiment.run_dir.path
        metrics = {"objective": float(self.experiment.last_eval[0]), "env_steps": int(core.env_steps),
                   "run_dir": str(run_dir), "params": json.dumps(self.params)}
        if not self.with_checkpoint:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            shutil.copy2(run_dir / "checkpoints" / "last.pt", Path(folder) / "last.pt")
            (Path(folder) / "source.json").write_text(json.dumps(
                {"run_dir": str(run_dir), "env_steps": metrics["env_steps"], "objective": metrics["objective"]}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def _record(tune_dir: Path, result: Any, points: list[dict[str, Any]] | None, keys: list[str]) -> TrialRecord:
    """A trial's record from its Ray Tune result: params, status, objective, run directories, error, history."""
    metrics = result.metrics or {}
    config = dict(result.config or {})
    number = config["trial"] if points is not None else claim_number(tune_dir, Path(result.path).name)
    params = points[config["trial"]] if points is not None else config
    folder = trial_dir(tune_dir, number)
    segments = _segments(folder, keys) if folder.is_dir() else []
    run_dirs = list(dict.fromkeys(s["run_dir"] for s in segments))
    if metrics.get("run_dirs"):
        run_dirs = list(dict.fromkeys(run_dirs + str(metrics["run_dirs"]).split(";")))
    record = TrialRecord(number, params, run_dirs=run_dirs, segments=segments)
    if result.error is not None:
        record.status, record.error = "failed", " ".join(f"{type(result.error).__name__}: {result.error}".split())
    elif metrics.get("final") and not math.isfinite(float(metrics["objective"])):  # as the local backend
        record.status, record.error = "failed", f"non-finite final eval_return_mean {float(metrics['objective'])}"
    elif metrics.get("final"):
        record.status, record.objective = "complete", float(metrics["objective"])
    else:
        record.status = "pruned"
        record.objective = None if metrics.get("objective") is None else float(metrics["objective"])
    return record


def _segments(folder: Path, keys: list[str]) -> list[dict[str, Any]]:
    """A trial's evaluations read from its run directories: env steps, score, params, run dir, member copied.

    Ray Tune's own result history does not follow a member through exploits, so the run directories (each with
    its ``metrics.csv``, ``config.yaml`` and, for a branch, ``branched_from.json``) are the record.
    """
    from porcini.experiment.config import load_run_config, to_dict
    from porcini.experiment.loggers import read_metrics_csv

    segments: list[dict[str, Any]] = []
    def origin(run_dir: Path) -> dict[str, Any]:
        path = run_dir / "branched_from.json"
        return json.loads(path.read_text()) if path.is_file() else {"env_steps": -1, "run_dir": ""}

    runs = [d for d in folder.iterdir() if (d / "config.yaml").is_file()]
    for run_dir in sorted(runs, key=lambda d: (origin(d)["env_steps"], d.name)):  # a member's chain, in order
        branched = origin(run_dir)
        donor = Path(branched["run_dir"]).parent.name
        parent = int(donor) if donor.isdigit() and donor != folder.name else None
        flat = _flat(to_dict(load_run_config(run_dir / "config.yaml")))
        params = {k: flat.get(k, flat.get(f"algo.{k}")) for k in keys}
        rows = [r for r in read_metrics_csv(run_dir / "metrics.csv")[1] if r.get("eval_return_mean") not in (None, "")]
        for row in rows:
            if float(row["env_steps"]) > branched["env_steps"]:
                segments.append({"round": len(segments), "env_steps": int(float(row["env_steps"])),
                                 "score": float(row["eval_return_mean"]), "params": params,
                                 "run_dir": str(run_dir), "parent": parent})
                parent = None
    return segments


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix[:-1]: tree}
