"""``porcini bench``: run a suite of (algorithm, env) pairs over seeds and write a report.

Every pair runs with its config of record as normal run directories under ``OUT/runs``; the report
(:mod:`porcini.experiment.bench.report`) compares each pair with the RL Baselines3 Zoo's published score and
aggregates across tasks with rliable's statistics.

Example:
    >>> from porcini.experiment.bench import SUITES, suite_pairs
    >>> ("ppo", "CartPole-v1") in suite_pairs(SUITES["classic"])
    True
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from porcini.errors import ConfigError
from porcini.experiment.bench.results import PairResult, collect_results
from porcini.experiment.bench.runner import (
    finished_run_dirs,
    plan_runs,
    read_failures,
    run_planned,
    unfinished_run_dirs,
)
from porcini.experiment.bench.suites import SUITES, ZOO_SCORES, Suite, get_suite, suite_pairs

__all__ = ["SUITES", "ZOO_SCORES", "BenchOutcome", "PairResult", "Suite", "get_suite", "run_bench", "suite_pairs"]


@dataclass(frozen=True)
class BenchOutcome:
    """What ``porcini bench`` did: the pairs with their results, the report page, and how many runs it trained."""

    pairs: list[PairResult]
    """Every pair of the suite, in report order."""
    report: Path
    """The markdown report (figures and ``results.json`` in the folder of the same name beside it)."""
    trained: int
    """Runs trained by this call (the others were finished before, or failed)."""


def run_bench(suite_name: str, *, seeds: int = 5, out: str | os.PathLike[str] | None = None,
              algos: Sequence[str] | None = None, envs: Sequence[str] | None = None, jobs: int | None = None,
              resume: bool = False, steps_scale: float = 1.0, eval_episodes: int | None = None,
              report: str | os.PathLike[str] | None = None, report_only: bool = False,
              notes: str | os.PathLike[str] | dict[str, str] | None = None) -> BenchOutcome:
    """Run every pair of a suite for seeds ``0 .. seeds - 1`` and write its report.

    Runs go seed by seed (seed 0 of every pair, then seed 1, ...), so a suite stopped early covers every pair.

    Args:
        suite_name: ``classic``, ``mujoco`` or ``classical`` (:data:`SUITES`).
        seeds: seeds per pair.
        out: folder of the suite's run directories (``OUT/runs``) and, by default, of the report;
            default ``bench/<suite>``.
        algos: only these algorithms of the suite.
        envs: only these envs of the suite.
        jobs: runs at once, each in its own process; default one per core.
        resume: continue a suite already in ``out``: runs finished with the same settings are kept, and a run a
            stop interrupted continues from its last checkpoint.
        steps_scale: multiply every run's budget (``steps`` and ``steps_per_epoch``) by this; < 1 is a smoke test.
        eval_episodes: episodes of each evaluation instead of the configs' (smoke tests).
        report: the markdown page to write; default ``OUT/report.md``.
        report_only: train nothing; report what is finished (the rest shows as not run yet).
        notes: ``"algo/env"`` -> a note printed with that pair in the report (what was tried when it is below
            the RL Zoo), and ``page`` -> text under the title; or the YAML file that holds them
            (:func:`~porcini.experiment.bench.report.read_notes`), which the report's command then names.

    Raises:
        ConfigError: unknown suite or algorithm, a bad scale, or ``out`` already holds runs without ``resume``.
        TrainingInterrupted: SIGINT/SIGTERM; finished runs stay, ``resume`` continues.
    """
    from porcini.experiment.bench.report import read_notes, write_report

    suite = get_suite(suite_name)
    out_dir = Path(out) if out is not None else Path("bench") / suite.name
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    planned = plan_runs(suite, seeds=range(seeds), out=out_dir, algos=algos, envs=envs, steps_scale=steps_scale,
                        eval_episodes=eval_episodes)
    finished = finished_run_dirs(out_dir)
    runs_dir = out_dir / "runs"
    if not (resume or report_only) and runs_dir.is_dir() and any(runs_dir.iterdir()):
        raise ConfigError(f"{out_dir} already holds runs of a suite: add --resume to continue it (finished runs are "
                          "kept), or choose another --out")
    # seed-major: a suite stopped early has every pair's first seeds rather than all seeds of a few pairs
    todo = [] if report_only else sorted((r for r in planned if r.key not in finished), key=lambda r: r.seed)
    failures = (run_planned(todo, out_dir, jobs=jobs or os.cpu_count() or 1, resumable=unfinished_run_dirs(out_dir))
                if todo else read_failures(out_dir))
    pairs = collect_results(planned, finished_run_dirs(out_dir), failures)
    report_path = Path(report) if report is not None else out_dir / "report.md"
    command = _command(suite.name, seeds, out_dir, algos, envs, steps_scale, eval_episodes, report)
    if notes is not None and not isinstance(notes, dict):
        command += f" --notes {notes}"
        notes = read_notes(Path(notes))
    write_report(suite, pairs, report_path, command=command, notes=notes)
    return BenchOutcome(pairs, report_path, len(todo))


def _command(suite: str, seeds: int, out: Path, algos: Sequence[str] | None, envs: Sequence[str] | None,
             steps_scale: float, eval_episodes: int | None, report: str | os.PathLike[str] | None) -> str:
    """The ``porcini bench`` line that regenerates a report (printed in it)."""
    words = ["porcini bench", suite, f"--seeds {seeds}", f"--out {out}", "--resume"]
    words += [f"--algos {','.join(algos)}"] if algos else []
    words += [f"--envs {','.join(envs)}"] if envs else []
    words += [f"--steps-scale {steps_scale:g}"] if steps_scale != 1.0 else []
    words += [f"--eval-episodes {eval_episodes}"] if eval_episodes is not None else []
    words += [f"--report {report}"] if report is not None else []
    return " ".join(words)
