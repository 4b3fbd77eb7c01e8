"""Replay-buffer throughput: porcini's ReplayBuffer against Stable-Baselines3's, on CartPole-sized transitions.

Measures (best of --repeats, wall time):
  * add one step at a time (what a per-step loop does), for 1 and 8 envs;
  * add a 256-step rollout: porcini takes it as one [256, B] batch (how Core hands it to an off-policy agent),
    SB3 adds it step by step (how its collect_rollouts does);
  * sample batch 64 / 256 from a full 100k buffer, returned as torch tensors for both (porcini: sample +
    TransitionBatch.to_torch; SB3: sample, which converts); porcini's NumPy-only sample is printed too.

Ratios are SB3 time / porcini time (> 1: porcini faster). Run: python benchmarks/replay_buffer.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from porcini.core.batch import TransitionBatch
from porcini.data import ReplayBuffer

OBS_DIM, CAPACITY = 4, 100_000


def cartpole_batch(n_steps: int, n_envs: int, rng: np.random.Generator) -> TransitionBatch:
    obs = rng.normal(size=(n_steps, n_envs, OBS_DIM)).astype(np.float32)
    return TransitionBatch(
        obs=obs,
        action=rng.integers(0, 2, size=(n_steps, n_envs)),
        reward=np.ones((n_steps, n_envs), np.float32),
        next_obs=obs + 0.01,
        terminated=rng.random((n_steps, n_envs)) < 0.01,
        truncated=np.zeros((n_steps, n_envs), bool),
    )


def best_of(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` runs: the least disturbed by other processes on a shared machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def duel(ours, theirs, repeats: int) -> tuple[float, float | None]:
    """Best times of ``ours`` and ``theirs``, run alternately so both see the same machine load."""
    best_ours, best_theirs = float("inf"), float("inf")
    for _ in range(repeats):
        best_ours = min(best_ours, best_of(ours, 1))
        if theirs is not None:
            best_theirs = min(best_theirs, best_of(theirs, 1))
    return best_ours, (best_theirs if theirs is not None else None)


def make_sb3(n_envs: int):
    import gymnasium as gym
    from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer

    obs_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
    return SB3ReplayBuffer(CAPACITY, obs_space, gym.spaces.Discrete(2), device="cpu", n_envs=n_envs)


def sb3_add_steps(buf, batch: TransitionBatch) -> None:
    infos = [{} for _ in range(batch.n_envs)]
    dones = batch.terminated | batch.truncated
    for t in range(batch.n_rows):
        buf.add(batch.obs[t], batch.next_obs[t], batch.action[t], batch.reward[t], dones[t], infos)


def bench_add(n_envs: int, repeats: int, sb3_ok: bool) -> list[tuple[str, float, float | None]]:
    rng = np.random.default_rng(0)
    n_steps = 4096 // n_envs
    rollout = cartpole_batch(n_steps, n_envs, rng)
    steps = [rollout.index(slice(t, t + 1)) for t in range(n_steps)]  # [1, B] batches, built untimed
    chunks = [rollout.index(slice(t, t + 256)) for t in range(0, n_steps, 256)]
    ours_buf = ReplayBuffer(CAPACITY, n_envs=n_envs)
    sb3_buf = make_sb3(n_envs) if sb3_ok else None

    def porcini_steps():
        for step in steps:
            ours_buf.add(step)

    def porcini_rollouts():
        for chunk in chunks:
            ours_buf.add(chunk)

    sb3_steps = (lambda: sb3_add_steps(sb3_buf, rollout)) if sb3_ok else None
    n = n_steps * n_envs
    ours, theirs = duel(porcini_steps, sb3_steps, repeats)
    rows = [(f"add 1 step x {n_envs} envs per call", ours / n, theirs / n if theirs else None)]
    ours, theirs = duel(porcini_rollouts, sb3_steps, repeats)
    rows.append((f"add 256 steps x {n_envs} envs per call", ours / n, theirs / n if theirs else None))
    return rows


def bench_sample(batch_size: int, repeats: int, sb3_ok: bool) -> list[tuple[str, float, float | None]]:
    rng = np.random.default_rng(1)
    n_envs, n_calls = 1, 200
    full = cartpole_batch(CAPACITY, n_envs, rng)
    ours_buf = ReplayBuffer(CAPACITY, n_envs=n_envs)
    ours_buf.add(full)
    sample_rng = np.random.default_rng(2)

    def porcini_numpy():
        for _ in range(n_calls):
            ours_buf.sample(batch_size, sample_rng)

    def porcini_torch():
        for _ in range(n_calls):
            ours_buf.sample(batch_size, sample_rng).to_torch()

    sb3_sample = None
    if sb3_ok:
        sb3 = make_sb3(n_envs)
        sb3_add_steps(sb3, full)

        def sb3_sample():
            for _ in range(n_calls):
                sb3.sample(batch_size)

    numpy_only, _ = duel(porcini_numpy, None, repeats)
    ours, theirs = duel(porcini_torch, sb3_sample, repeats)
    return [
        (f"sample {batch_size} -> NumPy (per call)", numpy_only / n_calls, None),
        (f"sample {batch_size} -> torch (per call)", ours / n_calls, theirs / n_calls if theirs else None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        import stable_baselines3

        sb3_ok, sb3_version = True, stable_baselines3.__version__
    except ImportError:
        sb3_ok, sb3_version = False, "not installed (pip install porcini[bench])"
    print(
        f"porcini ReplayBuffer vs Stable-Baselines3 {sb3_version}; obs dim {OBS_DIM}, capacity {CAPACITY}, "
        f"torch threads 1, best of {args.repeats}"
    )
    rows = bench_add(1, args.repeats, sb3_ok) + bench_add(8, args.repeats, sb3_ok)
    rows += bench_sample(64, args.repeats, sb3_ok) + bench_sample(256, args.repeats, sb3_ok)
    print(f"{'operation':<52} {'porcini':>11} {'SB3':>11} {'SB3/porcini':>12}")
    for name, ours, theirs in rows:
        sb3_col = f"{theirs * 1e6:9.2f}us" if theirs else f"{'-':>11}"
        ratio = f"{theirs / ours:11.2f}x" if theirs else f"{'-':>12}"
        print(f"{name:<52} {ours * 1e6:9.2f}us {sb3_col} {ratio}")


if __name__ == "__main__":
    main()
