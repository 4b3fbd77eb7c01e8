"""Env steps/s of natively vectorized CartPole-v1 with 256 envs: Gymnasium's, porcini's, and Core on porcini's.

Variants, all on one thread, actions drawn up front (bare loops) or by ``RandomAgent`` (Core):

* ``gymnasium bare``: ``gym.make_vec("CartPole-v1", 256, vectorization_mode="vector_entry_point")`` (next-step
  autoreset), stepped in a plain loop that adds up episode returns;
* ``porcini native bare`` (check off, and on): ``make_env("CartPole-v1", 256, vectorization="native")`` (same-step
  autoreset, final observations in ``info``), the same loop;
* ``Core + random`` (check on, and off): ``Core(RandomAgent(env.info), env).learn(steps=...)`` on the native env,
  which also restores true successors and records episode statistics.

Runs alternate (every variant once per repeat) and the medians of steps/s and of the ratio to Gymnasium's bare
loop are printed, because these machines are shared and noisy: ratios measured side by side hold, absolute times
don't. ``--profile`` runs Core + random (check on) under cProfile and prints each function's own time per vector
step (256 env steps) in µs. ``--per-id`` steps every native id and its sync vector env (Gymnasium's single envs one
after another) with the same random actions, checks on, ``--steps`` vector steps per run.

usage: python benchmarks/vector_envs.py [--steps 1000000] [--repeats 5] [--n-envs 256] [--profile | --per-id]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread, before NumPy starts its pool
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import common  # noqa: E402  (benchmarks/, on the path when run as a script)
import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from porcini import Core, make_env  # noqa: E402
from porcini.algorithms.random import RandomAgent  # noqa: E402

ENV_ID = "CartPole-v1"


def bare_loop(env: gym.vector.VectorEnv, n_envs: int, n_steps: int) -> float:
    """Steps/s of a plain loop: step with pre-drawn actions, add up rewards, collect returns of ended episodes."""
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, size=(64, n_envs))
    for i in range(50):  # warm-up
        env.step(actions[i % 64])
    return common.bare_vector_steps_per_s(env, n_steps, lambda i: actions[i % 64])


def gymnasium_bare(n_envs: int, n_steps: int) -> float:
    """Gymnasium's own CartPole vector env (``CartPoleVectorEnv``, next-step autoreset)."""
    env = gym.make_vec(ENV_ID, num_envs=n_envs, vectorization_mode="vector_entry_point")
    return bare_loop(env, n_envs, n_steps)


def native_bare(n_envs: int, n_steps: int, check: bool) -> float:
    """porcini's native env from ``make_env`` (same-step autoreset, run-time checks as given)."""
    env = make_env(ENV_ID, n_envs, seed=0, vectorization="native", check=check)
    return bare_loop(env, n_envs, n_steps)


def core_random(n_envs: int, n_steps: int, check: bool) -> float:
    """``Core`` driving ``RandomAgent`` on the native env."""
    env = make_env(ENV_ID, n_envs, seed=0, vectorization="native", check=check)
    core = Core(RandomAgent(env.info), env)
    core.learn(steps=50 * n_envs)  # warm-up
    start = time.perf_counter()
    core.learn(steps=n_steps)
    return n_steps / (time.perf_counter() - start)


def variants(n_envs: int) -> dict[str, Callable[[int], float]]:
    """The variants by name, each a function of the number of env steps."""
    return {
        "gymnasium bare (vector_entry_point)": lambda s: gymnasium_bare(n_envs, s),
        "porcini native bare, check off": lambda s: native_bare(n_envs, s, check=False),
        "porcini native bare, check on": lambda s: native_bare(n_envs, s, check=True),
        "Core + random, native, check on": lambda s: core_random(n_envs, s, check=True),
        "Core + random, native, check off": lambda s: core_random(n_envs, s, check=False),
    }


def compare(n_envs: int, n_steps: int, repeats: int) -> None:
    """Run every variant once per repeat, interleaved; print median steps/s and median ratio to Gymnasium's."""
    runs = variants(n_envs)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            rates[name].append(run(n_steps))
    base = rates["gymnasium bare (vector_entry_point)"]
    print(f"CartPole-v1, {n_envs} envs, {n_steps:,} env steps per run, {repeats} interleaved repeats, one thread")
    print(f"{'variant':<38} {'median steps/s':>15} {'median ratio to gymnasium':>27}")
    for name, values in rates.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"{name:<38} {statistics.median(values):>15,.0f} {ratio:>27.2f}")


def per_id(n_envs: int, vector_steps: int, repeats: int) -> None:
    """Every native id against ``vectorization="sync"`` (Gymnasium's single envs one after another), checks on."""
    print(f"{n_envs} envs, {vector_steps} vector steps of random actions per run, {repeats} interleaved repeats")
    print(f"{'id':<16} {'native steps/s':>15} {'sync steps/s':>13} {'median ratio':>13}")
    for env_id in ("CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0"):
        rates: dict[str, list[float]] = {"native": [], "sync": []}
        for _ in range(repeats):
            for vectorization in rates:
                env = make_env(env_id, n_envs, seed=0, vectorization=vectorization)
                env.action_space.seed(0)
                actions = [env.action_space.sample() for _ in range(vector_steps)]
                start = time.perf_counter()
                for action in actions:
                    env.step(action)
                rates[vectorization].append(vector_steps * n_envs / (time.perf_counter() - start))
        ratio = statistics.median(a / b for a, b in zip(rates["native"], rates["sync"]))
        print(f"{env_id:<16} {statistics.median(rates['native']):>15,.0f} {statistics.median(rates['sync']):>13,.0f} "
              f"{ratio:>12.1f}x")


def profile(n_envs: int, n_steps: int, rows: int = 30) -> None:
    """cProfile Core + random (check on): each function's own time per vector step, in µs."""
    import cProfile
    import pstats

    env = make_env(ENV_ID, n_envs, seed=0, vectorization="native", check=True)
    core = Core(RandomAgent(env.info), env)
    core.learn(steps=50 * n_envs)
    vector_steps = n_steps // n_envs
    profiler = cProfile.Profile()
    profiler.enable()
    core.learn(steps=vector_steps * n_envs)
    profiler.disable()
    stats = pstats.Stats(profiler)
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    total = sum(v[2] for _, v in entries)
    print(f"cProfile of Core + random (check on), {n_envs} envs, {vector_steps:,} vector steps; own time per vector "
          f"step (profiled total {1e6 * total / vector_steps:.1f} µs; cProfile adds its own overhead per call)")
    print(f"{'own µs':>8} {'cum µs':>8} {'calls':>6}  function (per vector step)")
    for (path, line, name), (_, calls, own, cumulative, _) in entries[:rows]:
        where = f"{os.path.relpath(path) if path != '~' else ''}:{line}({name})"
        print(f"{1e6 * own / vector_steps:>8.2f} {1e6 * cumulative / vector_steps:>8.2f} {calls / vector_steps:>6.2f}  "
              f"{where}")


def main() -> None:
    """Parse arguments and run the comparison (or the profile)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000, help="env steps per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-envs", type=int, default=256)
    parser.add_argument("--profile", action="store_true", help="profile Core + random instead of comparing")
    parser.add_argument("--per-id", action="store_true", help="every native id against sync (--steps vector steps)")
    args = parser.parse_args()
    if args.profile:
        profile(args.n_envs, args.steps)
    elif args.per_id:
        per_id(args.n_envs, args.steps, args.repeats)
    else:
        compare(args.n_envs, args.steps, args.repeats)


if __name__ == "__main__":
    main()
