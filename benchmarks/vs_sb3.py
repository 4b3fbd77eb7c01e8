"""porcini against Stable-Baselines3: same task, same hyperparameters, same machine and thread count.

Each task module in ``benchmarks/tasks/`` defines ``run_porcini(seed, threads)`` and ``run_sb3(seed, threads)``,
each returning the record of ``common.result``. The two libraries run one after the other in fresh subprocesses
(so neither inherits the other's warm caches or thread pools), and the ratios are printed.

porcini flushes subnormal floats to zero while its agents fit (``porcini.networks.denormals``); SB3 does not.
``--peer-flush-denormals`` turns the same CPU mode on for the whole SB3 process, to show how much of a speed-up
comes from that one setting and how much from the rest of the design.

usage: python benchmarks/vs_sb3.py TASK [TASK ...] [--seeds 0 1 2] [--threads 1] [--peer-flush-denormals]
       TASK: ppo_cartpole, dqn_cartpole, sac_pendulum (whatever modules benchmarks/tasks/ holds)
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(task: str, lib: str, seed: int, threads: int, flush_denormals: bool = False) -> dict:
    """Run one library on one task and seed in a subprocess; return its JSON record."""
    code = (
        f"import sys, json, torch; sys.path.insert(0, {str(HERE)!r}); torch.set_num_threads({threads}); "
        f"torch.set_flush_denormal({flush_denormals}); "
        f"from tasks import {task} as t; print(json.dumps(t.run_{lib}({seed}, {threads})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--peer-flush-denormals", action="store_true",
                        help="run SB3 with subnormals flushed to zero too (the CPU mode porcini sets while fitting)")
    args = parser.parse_args()
    peer_name = "SB3 (subnormals flushed)" if args.peer_flush_denormals else "SB3"
    for task in args.tasks:
        importlib.import_module(f"tasks.{task}")  # fail early on a typo
        rows = []
        for seed in args.seeds:
            ours = run_one(task, "porcini", seed, args.threads)
            peer = run_one(task, "sb3", seed, args.threads, args.peer_flush_denormals)
            rows.append((ours, peer))
            print(json.dumps({"porcini": ours, "sb3": peer}), file=sys.stderr)
            print(
                f"{task} seed {seed}: porcini {ours['train_wall_s']:.1f} s, {ours['env_steps_per_s']:.0f} steps/s, "
                f"eval {ours['final_eval_mean']:.1f} | {peer_name} {peer['train_wall_s']:.1f} s, "
                f"{peer['env_steps_per_s']:.0f} steps/s, eval {peer['final_eval_mean']:.1f} | "
                f"speed-up x{peer['train_wall_s'] / ours['train_wall_s']:.2f}"
            )
        speedups = [p["train_wall_s"] / o["train_wall_s"] for o, p in rows]
        print(
            f"{task}: median speed-up x{statistics.median(speedups):.2f} over {len(rows)} seed(s); final eval "
            f"porcini {[o['final_eval_mean'] for o, _ in rows]} vs "
            f"{peer_name} {[p['final_eval_mean'] for _, p in rows]}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
