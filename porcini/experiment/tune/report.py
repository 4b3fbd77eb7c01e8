"""What a tune reports: ``results.csv``, ``best.yaml``, ``objective.png`` and the re-evaluation on fresh seeds.

The objective that chose the best configuration comes from the selection seeds, so it is biased upwards
(the winner's curse). The top-k configurations are therefore trained again from scratch on seeds the selection
never saw (``--report-seeds``, from 1000), and the report gives the interquartile mean of their final evaluation
returns with a stratified-bootstrap 95% interval (:mod:`porcini.experiment.statistics`): ``report.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from porcini.experiment.config import RunConfig, dump_yaml
from porcini.experiment.run_dir import atomic_write_text
from porcini.experiment.safe_files import read_json_object
from porcini.experiment.tune.trials import TrialRecord, relative, train_many

REPORT_SEED_START = 1000


def fresh_seeds(count: int, taken: range) -> list[int]:
    """``count`` report seeds from :data:`REPORT_SEED_START`, or from the end of ``taken`` when they would overlap.

    ``taken`` are the run seeds the selection trained with (``0 .. seeds - 1``; PBT's members ``seed + n``), whose
    evaluation episodes chose the best trials: a report on them would not be fresh.
    """
    start = REPORT_SEED_START
    if taken.start < start + count and taken.stop > start:
        start = taken.stop
    return list(range(start, start + count))


def ranked(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The complete trials, best objective first (ties: the earlier trial)."""
    complete = [r for r in records if r.status == "complete" and r.objective is not None]
    return sorted(complete, key=lambda r: (-float(r.objective or 0.0), r.number))


def write_results(tune_dir: Path, records: Sequence[TrialRecord], keys: Sequence[str]) -> Path:
    """``results.csv``: one row per trial (number, status, objective, each hyperparameter, run dirs, error)."""
    path = tune_dir / "results.csv"
    rows = [["number", "status", "objective", *keys, "run_dirs", "error"]]
    for r in sorted(records, key=lambda r: r.number):
        objective = "" if r.objective is None else repr(float(r.objective))
        rows.append([str(r.number), r.status, objective, *(_cell(r.params.get(k)) for k in keys),
                     ";".join(relative(d, tune_dir) for d in r.run_dirs), r.error or ""])
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    atomic_write_text(path, text.getvalue())
    return path


def write_lineage(tune_dir: Path, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> Path:
    """``lineage.csv`` (``--method pbt``): member, round, env steps, score, the member copied, params, run dir."""
    path = tune_dir / "lineage.csv"
    table = [["member", "round", "env_steps", "score", "copied_from", *keys, "run_dir"]]
    for row in rows:
        table.append([str(row["member"]), str(row["round"]), str(row["env_steps"]),
                      "" if row["score"] is None else repr(float(row["score"])),
                      "" if row["parent"] is None else str(row["parent"]),
                      *(_cell(row["params"].get(k)) for k in keys), row["run_dir"] or ""])
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(table)
    atomic_write_text(path, text.getvalue())
    return path


def _cell(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def write_best(tune_dir: Path, config: RunConfig) -> Path:
    """``best.yaml``: the best trial's full run config (seed 0, runs under ``runs/``), for ``train --config``."""
    path = tune_dir / "best.yaml"
    text = "# the best trial of this tune; porcini train ALGO ENV --config best.yaml\n"
    atomic_write_text(path, text + dump_yaml(dataclasses.replace(config, seed=0, out="runs")))
    return path


def reevaluate(tune_dir: Path, top: Sequence[TrialRecord], config_of: Callable[[TrialRecord], RunConfig],
               seeds: Sequence[int], jobs: int) -> dict[str, Any]:
    """Train each of ``top`` afresh on ``seeds``; IQM of their final eval returns with a 95% bootstrap interval.

    Each configuration's runs go to ``TUNE_DIR/report/<trial>/``; a configuration whose runs all finished
    before (``scores.json``) is not trained again.
    """
    from porcini.experiment.statistics import bootstrap_ci

    entries = []
    for record in top:
        done = _report_runs(tune_dir, record, config_of, seeds, jobs)
        entry = {"trial": record.number, "params": record.params, "selection_objective": record.objective,
                 **{k: v for k, v in done.items() if k != "seeds"}}
        if done["scores"]:
            estimate = bootstrap_ci(done["scores"], "iqm", rng=0)
            entry.update(iqm=estimate.point, ci_low=estimate.low, ci_high=estimate.high)
        entries.append(entry)
    report = {"seeds": list(seeds), "statistic": "iqm of final eval_return_mean, 95% stratified bootstrap CI",
              "configs": entries}
    atomic_write_text(tune_dir / "report.json", json.dumps(report, indent=1) + "\n")
    return report


def _report_runs(tune_dir: Path, record: TrialRecord, config_of: Callable[[TrialRecord], RunConfig],
                 seeds: Sequence[int], jobs: int) -> dict[str, Any]:
    """The fresh-seed scores of one trial's config: read from ``scores.json``, or trained now and saved."""
    folder = tune_dir / "report" / str(record.number)
    scores_file = folder / "scores.json"
    fix = "restore it, or delete it (the report then trains these seeds again)"
    done = read_json_object(scores_file, (), "a report of porcini tune", fix) if scores_file.is_file() else {}
    if done.get("seeds") == list(seeds):
        return dict(done)
    shutil.rmtree(folder, ignore_errors=True)  # runs of another --report-seeds, or of a killed attempt
    base = dataclasses.replace(config_of(record), out=str(folder))
    configs = [dataclasses.replace(base, seed=int(s)) for s in seeds]
    results = train_many(configs, jobs, [f"[report {record.number} s{s}] " for s in seeds])
    summaries = [r for r in results if not isinstance(r, BaseException)]
    done = {"seeds": list(seeds), "scores": [float(r["eval_return_mean"]) for r in summaries],
            "run_dirs": [relative(str(r["run_dir"]), tune_dir) for r in summaries],
            "errors": [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]}
    if not done["errors"]:
        atomic_write_text(scores_file, json.dumps(done, indent=1) + "\n")
    return done


def reevaluate_policies(tune_dir: Path, top: Sequence[TrialRecord], seeds: Sequence[int],
                        episodes: int) -> dict[str, Any]:
    """Evaluate each of ``top``'s final policy (``--method pbt``) on the evaluation episodes of ``seeds``.

    A PBT member is a schedule of hyperparameters and one trained policy, not a configuration to train again:
    its last run's final checkpoint is evaluated on episodes the selection never saw.
    """
    from porcini.experiment.evaluation import evaluate_run
    from porcini.experiment.statistics import bootstrap_ci

    entries = []
    for record in top:
        scores = [float(evaluate_run(record.run_dirs[-1], episodes, checkpoint="last", seed=s)["eval_return_mean"])
                  for s in seeds]
        estimate = bootstrap_ci(scores, "iqm", rng=0)
        entries.append({"trial": record.number, "params": record.params, "selection_objective": record.objective,
                        "scores": scores, "run_dirs": [relative(record.run_dirs[-1], tune_dir)],
                        "iqm": estimate.point, "ci_low": estimate.low, "ci_high": estimate.high})
    report = {"seeds": list(seeds), "statistic": "iqm over evaluation seeds of the final policy's mean return, "
              "95% stratified bootstrap CI", "configs": entries}
    atomic_write_text(tune_dir / "report.json", json.dumps(report, indent=1) + "\n")
    return report


def report_lines(report: dict[str, Any]) -> list[str]:
    """The re-evaluation as printable lines."""
    lines = [f"re-evaluation on fresh seeds {report['seeds']}:"]
    for e in report["configs"]:
        score = (f"IQM {e['iqm']:.4g} [{e['ci_low']:.4g}, {e['ci_high']:.4g}]" if "iqm" in e
                 else "no finished run")
        selection = e["selection_objective"]
        lines.append(f"  trial {e['trial']} {e['params']}: {score} (selection objective {selection:.4g})")
        lines += [f"    failed: {err}" for err in e.get("errors", [])]
    return lines
