"""Trials per hour of one random search run by ``porcini tune``'s local backend and by its Ray backend.

The same ``tune(..., method="random", report_seeds=0)`` (one selection seed per trial, no re-evaluation, CSV logs
only, 5 evaluation episodes) runs twice per workload, each into a fresh temporary tune directory:

- ``local``: trials one after another in this process (``jobs`` 1);
- ``ray``: Ray Tune on a local Ray started by this script with ``ray.init(num_cpus=2, ...)``, one CPU per trial,
  so 2 trials at once (``reuse_actors=False`` in porcini's Ray backend: each trial starts a fresh worker process).

Only the ``tune()`` call is timed. Every local timing runs before Ray is started (so Ray's idle processes do not
load the machine under the local backend); Ray is started once, its start-up time printed on its own line and not
counted. Torch threads: porcini's ``Experiment`` calls ``torch.set_num_threads(1)`` unless ``OMP_NUM_THREADS`` is
set (``_single_thread_default`` in ``porcini/experiment/experiment.py``), and Ray sets ``OMP_NUM_THREADS`` in its
workers to their CPU count; to leave nothing to those defaults this script sets ``OMP_NUM_THREADS`` to
``--torch-threads`` (default 1) before importing torch or starting Ray, and prints the thread count seen in this
process and in a Ray worker.

Workloads (``--workload``; default both):

- ``ppo``: PPO on CartPole-v1, 8 trials of 10,000 env steps, ``learning_rate`` loguniform in [1e-4, 3e-3];
- ``tiny``: tabular Q-learning on porcini/RiverSwim-v0, 8 trials of 2,000 env steps, ``learning_rate``
  loguniform in [1e-2, 0.5]: a trial trains in well under a second, so Ray's per-trial cost dominates.

Printed per backend: trials (and how many completed), wall time of ``tune()``, trials per hour, the ratio of trials
per hour to the local backend's, the median run time (``wall_time_s + eval_time_s`` of each run's
``summary.json``: porcini's own training and evaluation time, the same measure under both backends) and the median
trial time (local: the time between consecutive trials' ``trial.json`` being finished, so it includes building the
env and agent; Ray: Ray Tune's ``time_total_s`` of the trial, the trainable function from start to its final
report).

``--steps N`` sets every workload's env steps per trial instead (e.g. ``--workload ppo --steps 100000``: trials
long enough for Ray's per-trial cost to matter less).

usage: python benchmarks/tune_backends.py [--workload ppo|tiny|both] [--trials 8] [--steps N] [--torch-threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OVERRIDES = ("log.sinks=[csv]", "eval_episodes=5")


@dataclass(frozen=True)
class Workload:
    """One random search: algorithm, env, env steps per trial and search space."""

    name: str
    algo: str
    env_id: str
    steps: int
    space: dict[str, Any]


WORKLOADS = {
    "ppo": Workload("ppo", "ppo", "CartPole-v1", 10_000, {"learning_rate": {"loguniform": [1e-4, 3e-3]}}),
    "tiny": Workload("tiny", "q_learning", "porcini/RiverSwim-v0", 2_000,
                     {"learning_rate": {"loguniform": [1e-2, 0.5]}}),
}


@dataclass
class Timing:
    """What one backend's run of a workload took."""

    backend: str
    trials: int
    complete: int
    wall: float
    median_run: float
    median_trial: float

    @property
    def per_hour(self) -> float:
        """Trials finished per hour of wall time."""
        return self.trials * 3600.0 / self.wall


def run_seconds(tune_dir: Path) -> list[float]:
    """Training plus evaluation time (``wall_time_s + eval_time_s``) of every run under ``TUNE_DIR/trials/``."""
    summaries = [json.loads(p.read_text()) for p in sorted(tune_dir.glob("trials/*/*/summary.json"))]
    return [float(s["wall_time_s"]) + float(s["eval_time_s"]) for s in summaries]


def local_trial_seconds(tune_dir: Path, start: float, trials: int) -> list[float]:
    """Local backend: each trial's time, from the previous trial's (or the tune's) end to its ``trial.json``."""
    ends = [(tune_dir / "trials" / str(n) / "trial.json").stat().st_mtime for n in range(trials)]
    return [end - before for before, end in zip([start, *ends[:-1]], ends)]


def ray_trial_seconds(tune_dir: Path) -> list[float]:
    """Ray backend: Ray Tune's ``time_total_s`` of each trial (last line of its ``result.json``)."""
    times = []
    for path in sorted((tune_dir / "ray").glob("*/*/result.json")):
        lines = path.read_text().strip().splitlines()
        if lines:
            times.append(float(json.loads(lines[-1])["time_total_s"]))
    return times


def time_tune(workload: Workload, backend: str, trials: int) -> Timing:
    """Run the workload's random search with ``backend`` in a temporary tune directory; time ``tune()`` only."""
    from porcini.experiment.tune import tune

    with tempfile.TemporaryDirectory(prefix=f"tune-{workload.name}-{backend}-") as folder:
        tune_dir = Path(folder) / "tune"
        start_wall = time.time()
        start = time.perf_counter()
        result = tune(workload.algo, workload.env_id, workload.space, method="random", trials=trials,
                      steps=workload.steps, out=tune_dir, overrides=OVERRIDES, report_seeds=0, backend=backend)
        wall = time.perf_counter() - start
        runs = run_seconds(tune_dir)
        per_trial = (local_trial_seconds(tune_dir, start_wall, trials) if backend == "local"
                     else ray_trial_seconds(tune_dir))
        complete = sum(r.status == "complete" for r in result.records)
        return Timing(backend, len(result.records), complete, wall, statistics.median(runs) if runs else float("nan"),
                      statistics.median(per_trial) if per_trial else float("nan"))


def print_table(workload: Workload, timings: list[Timing]) -> None:
    """The table of one workload: wall time, trials per hour and the ratio to the local backend."""
    print(f"\n{workload.algo} on {workload.env_id}, {workload.steps:,} env steps per trial, random search")
    print(f"{'backend':<22}{'trials':>8}{'wall s':>9}{'trials/h':>10}{'vs local':>10}{'median run s':>14}"
          f"{'median trial s':>16}")
    local = timings[0].per_hour
    for t in timings:
        trials = f"{t.complete}/{t.trials}"
        label = "local (in turn)" if t.backend == "local" else "ray (2 at once)"
        print(f"{label:<22}{trials:>8}{t.wall:>9.1f}{t.per_hour:>10.0f}{t.per_hour / local:>9.2f}x"
              f"{t.median_run:>14.2f}{t.median_trial:>16.2f}")


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, e.g. ``0.52 0.31 0.20``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ray_worker_threads() -> int:
    """``torch.get_num_threads()`` inside a Ray worker with one CPU, as a trial's worker sees it."""
    import ray

    @ray.remote(num_cpus=1)
    def threads() -> int:
        """Torch's intra-op thread count in this worker."""
        import torch

        return torch.get_num_threads()

    return int(ray.get(threads.remote()))


def main() -> None:
    """Time the chosen workloads under the local backend, then start Ray and time them under the Ray backend."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=("ppo", "tiny", "both"), default="both")
    parser.add_argument("--trials", type=int, default=8, help="trials per tune")
    parser.add_argument("--steps", type=int, default=None, help="env steps per trial (default: the workload's)")
    parser.add_argument("--torch-threads", type=int, default=1, help="OMP_NUM_THREADS for this process and Ray")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.torch_threads)  # before torch is imported and Ray's workers start
    import torch

    workloads = [WORKLOADS[args.workload]] if args.workload != "both" else list(WORKLOADS.values())
    if args.steps is not None:
        workloads = [dataclasses.replace(w, steps=args.steps) for w in workloads]
    print(f"{os.cpu_count()} CPUs, torch threads in this process: {torch.get_num_threads()}, trials per tune: "
          f"{args.trials}, overrides: {' '.join(OVERRIDES)}, load average {load_average()}")
    timings = {w.name: [time_tune(w, "local", args.trials)] for w in workloads}

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    print(f"ray.init: {time.perf_counter() - start:.1f} s (not counted)")
    for w in workloads:
        timings[w.name].append(time_tune(w, "ray", args.trials))
    print(f"torch threads in a Ray worker: {ray_worker_threads()}")  # after the timings: no warm worker for them
    ray.shutdown()
    print(f"load average at the end: {load_average()} (other jobs on the machine make wall times noisy)")
    for w in workloads:
        print_table(w, timings[w.name])


if __name__ == "__main__":
    main()
