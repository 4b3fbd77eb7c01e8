"""What a suite's runs amount to: per pair the final returns across seeds, their IQM and interval, and the status.

A pair's score is each finished run's final deterministic evaluation (``eval_return_mean`` of its
``summary.json``); across seeds the point estimate is the IQM with a 95% stratified-bootstrap interval
(:mod:`porcini.experiment.statistics`). Across tasks, returns are normalized so that 0 is the random policy
and 1 the RL Zoo's published score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from porcini.experiment.bench.runner import PlannedRun
from porcini.experiment.bench.suites import ZOO_SCORES
from porcini.experiment.safe_files import read_json_object
from porcini.experiment.statistics import bootstrap_ci


@dataclass
class PairResult:
    """One (algorithm, env) pair of a suite after its runs."""

    algo: str
    """Algorithm CLI name."""
    env: str
    """Gymnasium id."""
    seeds_planned: int
    """Seeds the suite asked for."""
    steps: int
    """Env steps per run."""
    scores: list[float] = field(default_factory=list)
    """Final evaluation return of each finished run, in seed order."""
    run_dirs: list[str] = field(default_factory=list)
    """The finished runs' directories, in seed order."""
    wall_time_s: list[float] = field(default_factory=list)
    """Training wall time of each finished run."""
    failures: list[str] = field(default_factory=list)
    """The error of each run that failed and has not finished since."""
    iqm: float | None = None
    """IQM of ``scores`` (None without a finished run)."""
    ci_low: float | None = None
    """Lower end of the 95% bootstrap interval of the IQM."""
    ci_high: float | None = None
    """Upper end of that interval."""
    zoo_score: float | None = None
    """The RL Zoo's published score for the pair, if it has one."""
    zoo_std: float | None = None
    """The standard deviation across the episodes of the Zoo's evaluation."""

    @property
    def status(self) -> str:
        """``ok``, ``below_zoo``, ``failed`` or ``pending``.

        Below the Zoo: the IQM's interval lies below the Zoo's score; with a single seed, which has no interval,
        the run's score lies below the Zoo's score minus the std across the Zoo's evaluation episodes.
        """
        if not self.scores:
            return "failed" if self.failures else "pending"
        if self.zoo_score is None or self.ci_high is None:
            return "ok"
        if len(self.scores) == 1:
            return "below_zoo" if self.scores[0] < self.zoo_score - (self.zoo_std or 0.0) else "ok"
        return "below_zoo" if self.ci_high < self.zoo_score else "ok"

    @property
    def steps_per_second(self) -> float | None:
        """Mean training throughput of the finished runs (env steps over training wall time)."""
        rates = [self.steps / t for t in self.wall_time_s if t > 0]
        return float(np.mean(rates)) if rates else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``results.json``): the fields plus ``status``, ``seeds`` and ``steps_per_second``."""
        return {**asdict(self), "run_dirs": [Path(d).name for d in self.run_dirs], "seeds": len(self.scores),
                "status": self.status, "steps_per_second": self.steps_per_second}


def collect_results(planned: Sequence[PlannedRun], finished: dict[str, Path],
                    failures: dict[str, str]) -> list[PairResult]:
    """Group the planned runs by pair and read each finished run's summary."""
    pairs: dict[tuple[str, str], PairResult] = {}
    for run in planned:
        zoo = ZOO_SCORES.get((run.algo, run.env))
        pair = pairs.setdefault((run.algo, run.env), PairResult(
            run.algo, run.env, 0, run.config.steps, zoo_score=zoo[0] if zoo else None, zoo_std=zoo[1] if zoo else None))
        pair.seeds_planned += 1
        if run.key in finished:
            summary = read_json_object(finished[run.key] / "summary.json", ("eval_return_mean",),
                                       "a summary of porcini", "restore it, or porcini resume RUN_DIR writes it again")
            pair.scores.append(float(summary["eval_return_mean"]))
            pair.wall_time_s.append(float(summary.get("wall_time_s", 0.0)))
            pair.run_dirs.append(str(finished[run.key]))
        elif run.key in failures:
            pair.failures.append(failures[run.key])
    for pair in pairs.values():
        if pair.scores:
            estimate = bootstrap_ci(pair.scores, "iqm", n_bootstrap=2000, rng=0)
            pair.iqm, pair.ci_low, pair.ci_high = estimate.point, estimate.low, estimate.high
    return list(pairs.values())


def random_policy_return(env_id: str, *, episodes: int = 100, seed: int = 2026) -> float:
    """Mean return of uniformly random actions over ``episodes`` episodes of ``env_id`` (0 of the normalized score)."""
    from porcini.algorithms.random import RandomAgent
    from porcini.core.evaluation import run_episodes
    from porcini.envs import make_env

    env = make_env(env_id, n_envs=4, seed=seed)
    try:
        record = run_episodes(RandomAgent(env.info, seed=seed), env, episodes, explore=True, seed=seed)
    finally:
        env.close()
    return float(np.mean(record.returns))


def normalized_scores(pairs: Sequence[PairResult],
                      random_returns: dict[str, float]) -> dict[str, dict[str, list[float]]]:
    """The runs' scores by algorithm and env, 0 the random policy and 1 the RL Zoo (pairs with a Zoo score and runs)."""
    table: dict[str, dict[str, list[float]]] = {}
    for pair in pairs:
        if pair.zoo_score is None or not pair.scores or pair.env not in random_returns:
            continue
        low = random_returns[pair.env]
        span = pair.zoo_score - low
        if span <= 0:  # the Zoo's agent is no better than random here: nothing to normalize by
            continue
        table.setdefault(pair.algo, {})[pair.env] = [(s - low) / span for s in pair.scores]
    return table


def score_matrix(by_env: dict[str, list[float]], envs: Sequence[str]) -> np.ndarray:
    """``[n_runs, n_tasks]`` for ``envs``, keeping the first ``n`` runs of each, ``n`` the fewest any env has.

    The stratified bootstrap needs the same number of runs per task; the report says how many were used.
    """
    n = min(len(by_env[e]) for e in envs)
    return np.array([by_env[e][:n] for e in envs], dtype=np.float64).T
