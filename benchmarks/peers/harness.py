"""What every library's script of ``benchmarks/vs_peers.py`` shares: its command line, its clock and its record.

A script is run as ``python peers/LIB_bench.py TASK --seed S [--steps N] [--eval-episodes E] [--threads T]``
in a fresh process of the library's interpreter and prints one JSON line: the record of :func:`record`. It
trains with :func:`timed` around the training call alone (building the env and agent and the evaluation are not
timed) and scores the final deterministic policy with ``benchmarks/common.evaluate`` on env seeds
``EVAL_SEED, EVAL_SEED + 1, ...``, the same loop and seeds for every library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/common.py

import common  # noqa: E402
from settings import EVAL_SEED, TASKS, rollout_steps, run_steps  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """A peer script's command line; sets the torch threads (``--threads``) before anything trains."""
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="env steps (rounded up to whole rollouts)")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    args.steps = run_steps(args.task, args.steps)
    args.settings = TASKS[args.task]["settings"]
    args.env_id = TASKS[args.task]["env_id"]
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    return args


def timed(train: Callable[[], Any]) -> tuple[float, float]:
    """Wall and process CPU seconds of ``train()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    train()
    return time.perf_counter() - wall, time.process_time() - cpu


def record(lib: str, version: str, args: argparse.Namespace, env_steps: int, wall: float, cpu: float,
           act: Callable[[Any], Any], **extra: Any) -> dict[str, Any]:
    """The JSON record of one run, its final policy scored over ``args.eval_episodes`` episodes."""
    import torch

    with torch.inference_mode():
        mean, std = common.evaluate(act, args.env_id, args.eval_episodes, EVAL_SEED)
    return {"lib": lib, "version": version, "task": args.task, "seed": args.seed, "threads": args.threads,
            "env_steps": int(env_steps), "train_wall_s": round(wall, 3),
            "train_cpu_s": round(cpu, 3), "eval_return_mean": round(mean, 2), "eval_return_std": round(std, 2),
            "eval_episodes": args.eval_episodes, "torch": torch.__version__, **extra}


def emit(result: dict[str, Any]) -> None:
    """Print the record as the last stdout line."""
    print(json.dumps(result), flush=True)


def linear(start: float, progress: float) -> float:
    """A linear schedule's value: ``start`` at progress 0, 0 at progress 1 (SB3's ``lin_`` schedules)."""
    return start * max(0.0, 1.0 - progress)


def rollout(args: argparse.Namespace) -> int:
    """Env steps between two fits of ``args.task`` (``settings.rollout_steps``)."""
    return rollout_steps(args.task)
