"""Final returns of porcini and Stable-Baselines3 over many seeds: is the difference more than seed noise?

A benchmark's final deterministic evaluation is one snapshot of one run; for DQN on CartPole it scatters between
about 10 and 500 in both libraries, so three seeds (vs_sb3.py) cannot show "equal final return". This script runs
a task of ``benchmarks/tasks/`` for many seeds in both libraries (the same subprocesses as vs_sb3.py, ``--jobs`` at
a time, each with ``--threads`` torch threads) and prints, for each library, the mean final return with its
bootstrap 95% interval and the number of runs at or above ``--solved``; then the difference of the means with its
bootstrap interval and Fisher's exact test on the solved counts. Timings are not reported: runs share the machine.

usage: python benchmarks/final_returns.py TASK --seeds 100-159 [--jobs 2] [--solved 475] [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import fisher_exact
from vs_sb3 import run_one

from porcini.experiment.statistics import bootstrap_ci

LIBS = ("porcini", "sb3")


def seed_range(text: str) -> list[int]:
    """``"100-159"`` or ``"3"`` as a list of seeds."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def difference_ci(a: np.ndarray, b: np.ndarray, n_bootstrap: int = 20_000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of ``mean(a) - mean(b)``, resampling each group on its own."""
    rng = np.random.default_rng(seed)
    diffs = (a[rng.integers(0, len(a), (n_bootstrap, len(a)))].mean(1)
             - b[rng.integers(0, len(b), (n_bootstrap, len(b)))].mean(1))
    low, high = np.quantile(diffs, [0.025, 0.975])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("--seeds", type=seed_range, required=True, help="a range such as 100-159")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--solved", type=float, default=475.0, help="a final return counted as solved")
    parser.add_argument("--out", type=Path, help="append each run's JSON record to this file")
    args = parser.parse_args()

    jobs = [(lib, seed) for seed in args.seeds for lib in LIBS]  # interleaved: a stopped sweep stays balanced
    finals: dict[str, dict[int, float]] = {lib: {} for lib in LIBS}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = pool.map(lambda job: run_one(args.task, job[0], job[1], args.threads), jobs)
        for (lib, seed), record in zip(jobs, runs):
            finals[lib][seed] = record["final_eval_mean"]
            print(f"{lib} seed {seed}: final {record['final_eval_mean']:.1f}", file=sys.stderr, flush=True)
            if args.out is not None:
                with args.out.open("a") as f:
                    f.write(json.dumps(record) + "\n")

    values = {lib: np.array([finals[lib][s] for s in args.seeds]) for lib in LIBS}
    solved = {lib: int((values[lib] >= args.solved).sum()) for lib in LIBS}
    n = len(args.seeds)
    for lib in LIBS:
        print(f"{args.task} {lib}: mean final return {bootstrap_ci(values[lib], 'mean', n_bootstrap=20_000)} "
              f"over {n} seeds; {solved[lib]}/{n} >= {args.solved:g}")
    low, high = difference_ci(values["porcini"], values["sb3"])
    _, p = fisher_exact([[solved["porcini"], n - solved["porcini"]], [solved["sb3"], n - solved["sb3"]]])
    print(f"{args.task} porcini - sb3: mean difference {values['porcini'].mean() - values['sb3'].mean():+.1f} "
          f"[{low:+.1f}, {high:+.1f}]; Fisher's exact test on the solved counts: p = {p:.3f}")


if __name__ == "__main__":
    main()
