"""Population-based training (Jaderberg et al. 2017), ``porcini tune --method pbt``, with local runs.

A population of ``trials`` members, each drawn at random from the search space, trains in rounds of
``interval`` env steps. After every round but the last, the members are ranked by the evaluation that ended the
round; each member of the worst ``quantile`` (and every member whose round failed) *exploits* a member of the best
``quantile`` drawn at random, by continuing its last checkpoint in a new run directory
(:func:`~porcini.experiment.branch.branch_run`), and *explores* by perturbing the hyperparameters it copied
(:func:`explore`). The others continue their own run directory (exact resume). A member's history is thus a chain
of real run directories; ``trials/<n>/trial.json`` records it round by round (``segments``).

Every decision is written before the next round trains and is drawn from a generator seeded by ``seed`` and the
round, so a killed tune started again continues the round it was in: each member resumes its run from its last
checkpoint (in round 0 too, once the run wrote one), and members whose round had ended are not trained again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from porcini.errors import ConfigError
from porcini.experiment.config import RunConfig
from porcini.experiment.tune.space import Distribution, SearchSpace, random_points
from porcini.experiment.tune.trials import TrialRecord, read_record, relative, trial_dir, write_record

PERTURB_FACTORS = (0.8, 1.2)
"""Explore multiplies a numeric hyperparameter by one of these (the paper's and Ray Tune's values)."""


@dataclass(frozen=True)
class PBTSettings:
    """How population-based training schedules its rounds.

    Attributes:
        interval: env steps per round (each member's runs are checkpointed and ranked every ``interval`` steps).
        quantile: the fraction of the population replaced after a round (rounded up, at least one member, at most
            half of the scored ones, as Ray Tune's PBT), and the fraction of best members they copy from.
        resample: the probability that explore draws a hyperparameter afresh from the space instead of
            perturbing it.
    """

    interval: int
    quantile: float = 0.25
    resample: float = 0.25

    def check(self, steps: int, population: int) -> None:
        """Raise ConfigError naming the setting when the schedule cannot run."""
        if population < 2:
            raise ConfigError("--method pbt needs a population of at least 2: pass --trials 2 or more")
        if not 0 < self.interval < steps:
            raise ConfigError(f"--pbt-interval {self.interval} must be between 1 and --steps ({steps}) exclusive, "
                              "so that the population trains in at least two rounds")
        if not 0 < self.quantile <= 0.5:
            raise ConfigError(f"--pbt-quantile {self.quantile} must be in (0, 0.5]")
        if not 0 <= self.resample <= 1:
            raise ConfigError(f"--pbt-resample {self.resample} must be in [0, 1]")


def check_pbt_space(space: SearchSpace) -> None:
    """Refuse keys a checkpoint cannot carry across a change of value (the env, the run's length, its seed)."""
    fixed = [k for k in space.keys if k.startswith("env.") or k in ("steps", "seed", "steps_per_epoch")]
    if fixed:
        raise ConfigError(f"--method pbt changes hyperparameters of running members; {', '.join(fixed)} cannot "
                          "change mid-run: tune them with --method random, grid or optuna")


def explore(params: dict[str, Any], space: SearchSpace, rng: np.random.Generator, resample: float) -> dict[str, Any]:
    """New hyperparameters near ``params``: each key is resampled with probability ``resample``, else perturbed.

    A number is multiplied by 0.8 or 1.2 and kept inside the space's bounds (an integer is rounded and moves by at
    least one); a choice moves to a neighbouring choice.
    """
    return {d.key: d.sample(rng) if rng.random() < resample else _perturb(d, params[d.key], rng)
            for d in space.distributions}


def _perturb(dist: Distribution, value: Any, rng: np.random.Generator) -> Any:
    up = bool(rng.integers(2))
    if dist.kind == "choice":
        index = next((i for i, c in enumerate(dist.args) if c == value), 0)
        return dist.args[min(max(index + (1 if up else -1), 0), len(dist.args) - 1)]
    low, high = dist.args
    new = value * PERTURB_FACTORS[int(up)]
    if dist.kind == "int":
        step = round(new) - value
        new = value + (step if step != 0 else (1 if up else -1))
        return int(min(max(new, low), high))
    return float(min(max(new, low), high))


def exploit_pairs(scores: list[float | None], quantile: float, rng: np.random.Generator) -> dict[int, int]:
    """``{member: donor}``: the worst ``quantile`` (at least one) and every failed member, each to a top member.

    The quantile of the ``n`` scored members is ``ceil(n * quantile)`` of them, at most ``n // 2``, as Ray Tune's
    PBT counts it. Ties rank the earlier member higher; with no scored member nothing can be copied and the result
    is empty.
    """
    alive = sorted((i for i, s in enumerate(scores) if s is not None), key=lambda i: (-float(scores[i] or 0), i))
    if not alive:
        return {}
    count = max(1, min(math.ceil(len(alive) * quantile), len(alive) // 2))
    top = alive[:count]
    losers = [i for i, s in enumerate(scores) if s is None] + [i for i in alive[::-1][:count] if i not in top]
    return {i: int(top[int(rng.integers(len(top)))]) for i in dict.fromkeys(losers)}


def run_pbt(tune_dir: Path, population: int, steps: int, settings: PBTSettings, space: SearchSpace, seed: int,
            resolve: Callable[[dict[str, Any]], RunConfig], jobs: int,
            say: Callable[[str], None], start: list[dict[str, Any]] | None = None) -> list[TrialRecord]:
    """Train the population round by round (see the module docstring); return each member's record.

    Member ``n`` trains with run seed ``seed + n``, from hyperparameters ``start[n]`` (default: drawn from the
    space with ``seed``).

    Raises:
        TrainingInterrupted: SIGINT/SIGTERM; the runs checkpointed, and the tune continues where it stopped.
    """
    rounds = math.ceil(steps / settings.interval)
    points = start if start is not None else random_points(space, population, seed)
    records = [_member(tune_dir, number, params) for number, params in enumerate(points)]
    for round_index in range(rounds):
        end = min((round_index + 1) * settings.interval, steps)
        _train_round(tune_dir, records, round_index, end, resolve, jobs, seed)
        scores = [_score(r, round_index) for r in records]
        say(f"round {round_index} (to {end} env steps): " + ", ".join(
            f"member {r.number} {'failed' if s is None else f'{s:.4g}'}" for r, s in zip(records, scores)))
        if round_index + 1 < rounds:
            _exploit_and_explore(tune_dir, records, round_index, scores, space, settings, seed, resolve, steps)
    for record in records:
        _close_record(tune_dir, record, rounds - 1)
    return records


def _member(tune_dir: Path, number: int, params: dict[str, Any]) -> TrialRecord:
    """The member's record as saved, or a new one starting round 0 with ``params``."""
    record = read_record(tune_dir, number)
    if record is None or not record.segments:
        record = TrialRecord(number, params, segments=[{"round": 0, "params": params, "run_dir": None,
                                                        "parent": None, "score": None}])
        write_record(tune_dir, record)
    return record


def _train_round(tune_dir: Path, records: list[TrialRecord], round_index: int, end: int,
                 resolve: Callable[[dict[str, Any]], RunConfig], jobs: int, seed: int) -> None:
    """Train every member's segment of this round that has not ended, ``jobs`` at once; record the outcomes."""
    from porcini.experiment.launch import ResumeRun, StartRun
    from porcini.experiment.tune.trials import train_many

    todo: list[tuple[TrialRecord, Any]] = []
    for record in records:
        segment = _segment(record, round_index)
        if segment is None or "ended" in segment:
            continue
        folder = trial_dir(tune_dir, record.number)
        started = [d for d in folder.iterdir() if (d / "checkpoints" / "last.pt").is_file()] if folder.is_dir() else []
        if segment["run_dir"] is None and len(started) == 1:  # round 0 of a killed tune: its run continues
            todo.append((record, ResumeRun(str(started[0]), end, seed=seed + record.number)))
        elif segment["run_dir"] is None:  # round 0: a run killed before its first checkpoint starts again
            for child in folder.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
            config = dataclasses.replace(resolve(segment["params"]), out=str(folder), seed=seed + record.number)
            todo.append((record, StartRun(config, end)))
        elif (summary := _summary_at(Path(segment["run_dir"]), end)) is not None:
            # its round ended before the record was written; the summary's run_dir is relative to the folder that
            # run was started from, the segment's to this one
            _end_segment(tune_dir, record, segment, {**summary, "run_dir": segment["run_dir"]})
        else:
            todo.append((record, ResumeRun(segment["run_dir"], end, seed=seed + record.number)))
    labels = [f"[member {r.number} round {round_index}] " for r, _ in todo]
    results = train_many([job for _, job in todo], jobs, labels)
    for (record, _), result in zip(todo, results):
        _end_segment(tune_dir, record, _segment(record, round_index), result)


def _segment(record: TrialRecord, round_index: int) -> dict[str, Any] | None:
    return next((s for s in record.segments if s["round"] == round_index), None)


def _summary_at(run_dir: Path, end: int) -> dict[str, Any] | None:
    """The run's summary if it was written at exactly ``end`` env steps."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if int(summary.get("env_steps", -1)) == end else None


def _end_segment(tune_dir: Path, record: TrialRecord, segment: Any, result: Any) -> None:
    """Record a segment's score (its run's final evaluation) or its error."""
    if isinstance(result, BaseException):
        segment.update(ended=True, score=None, error=" ".join(f"{type(result).__name__}: {result}".split()))
    else:
        score = float(result["eval_return_mean"])
        segment.update(ended=True, run_dir=str(result["run_dir"]), score=score if math.isfinite(score) else None,
                       **({} if math.isfinite(score) else {"error": f"non-finite evaluation return {score}"}))
    write_record(tune_dir, record)


def _params_at(record: TrialRecord, round_index: int) -> dict[str, Any]:
    segment = _segment(record, round_index)
    assert segment is not None
    return dict(segment["params"])


def _score(record: TrialRecord, round_index: int) -> float | None:
    segment = _segment(record, round_index)
    return None if segment is None else segment.get("score")


def _exploit_and_explore(tune_dir: Path, records: list[TrialRecord], round_index: int, scores: list[float | None],
                         space: SearchSpace, settings: PBTSettings, seed: int,
                         resolve: Callable[[dict[str, Any]], RunConfig], steps: int) -> None:
    """Write every member's next segment: its own run continued, or a branch of a donor's with explored params."""
    from porcini.experiment.branch import branch_run

    # the same decisions when a killed tune redoes them; 7919 keeps this stream apart from random_points(seed)
    rng = np.random.default_rng([seed, 7919, round_index])
    pairs = exploit_pairs(scores, settings.quantile, rng)
    explored = {i: explore(_params_at(records[d], round_index), space, rng, settings.resample)
                for i, d in sorted(pairs.items())}
    for record, score in zip(records, scores):
        if _segment(record, round_index + 1) is not None:
            continue  # decided before a kill
        current = _segment(record, round_index)
        if current is None or (score is None and record.number not in pairs):
            continue  # failed, and no member to copy from: it stays failed
        donor = pairs.get(record.number)
        if donor is None:
            nxt = {"params": current["params"], "run_dir": current["run_dir"], "parent": None}
        else:
            params = explored[record.number]
            config = dataclasses.replace(resolve(params), out=str(trial_dir(tune_dir, record.number)),
                                         seed=seed + record.number, steps=steps)
            source = _segment(records[donor], round_index)
            assert source is not None
            nxt = {"params": params, "run_dir": str(branch_run(source["run_dir"], config)), "parent": donor}
        record.segments.append({"round": round_index + 1, **nxt, "score": None})
        write_record(tune_dir, record)


def _close_record(tune_dir: Path, record: TrialRecord, last_round: int) -> None:
    """Set the member's status, objective (its last round's score), final params and chain of run dirs."""
    last = _segment(record, last_round)
    record.params = record.segments[-1]["params"]
    record.run_dirs = list(dict.fromkeys(s["run_dir"] for s in record.segments if s.get("run_dir")))
    if last is not None and last.get("score") is not None:
        record.status, record.objective, record.error = "complete", float(last["score"]), None
    else:
        failed = [s for s in record.segments if s.get("error")]
        record.status, record.objective = "failed", None
        record.error = failed[-1]["error"] if failed else "the member failed and no member could replace it"
    write_record(tune_dir, record)


def lineage_rows(records: list[TrialRecord], interval: int, steps: int, tune_dir: Path) -> list[dict[str, Any]]:
    """One row per member and round: env steps at the round's end, score, params, the donor it copied, run dir."""
    return [{"member": r.number, "round": s["round"],
             "env_steps": s.get("env_steps", min((s["round"] + 1) * interval, steps)),
             "score": s.get("score"), "parent": s.get("parent"), "params": s["params"],
             "run_dir": relative(s["run_dir"], tune_dir) if s.get("run_dir") else None}
            for r in records for s in r.segments]
