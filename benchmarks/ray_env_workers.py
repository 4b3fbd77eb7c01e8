"""Env steps/s of 4 sub-envs whose step sleeps 10 ms: in process, in Ray actors (1 and 2 workers), in subprocesses.

The env (``SleepyEnv`` below): a Box observation, Discrete(2) actions, episodes of 200 steps, and a step that
sleeps ``--step-ms`` milliseconds, standing for a simulator that spends its time outside the Python interpreter.
Each vector env is reset with a seed and stepped ``--vector-steps`` times with random actions; env steps/s counts
every sub-env's step. Compared: porcini's ``SerialVectorEnv`` (in process, one env after another),
``RayVectorEnv`` with 1 and 2 actors (a chunk of envs per actor, stepped as a batch), and porcini's ``async``
vectorization (a subprocess per env). Ratios are against the in-process env. Building the env (starting actors or
processes) is not timed; Ray is started once, before the first timing.

usage: python benchmarks/ray_env_workers.py [--n-envs 4] [--vector-steps 300] [--step-ms 10]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from porcini import make_env
from porcini.envs.ray_vector import RayVectorEnv
from porcini.envs.vector import SerialVectorEnv


class SleepyEnv(gym.Env):
    """A random walk whose step sleeps ``step_seconds``; truncated after ``episode_length`` steps."""

    def __init__(self, step_seconds: float = 0.01, episode_length: int = 200) -> None:
        self.step_seconds = step_seconds
        self.episode_length = episode_length
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._state = np.zeros(4, dtype=np.float32)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._state = self.np_random.normal(size=4).astype(np.float32)
        self._t = 0
        return self._state.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        time.sleep(self.step_seconds)
        self._state += np.float32(0.1 * (2 * int(action) - 1))
        self._t += 1
        return self._state.copy(), float(-abs(self._state[0])), False, self._t >= self.episode_length, {}


def steps_per_second(env: Any, n_envs: int, vector_steps: int) -> float:
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(vector_steps, n_envs))
    start = time.perf_counter()
    for t in range(vector_steps):
        env.step(actions[t])
    elapsed = time.perf_counter() - start
    env.close()
    return vector_steps * n_envs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-envs", type=int, default=4)
    parser.add_argument("--vector-steps", type=int, default=300)
    parser.add_argument("--step-ms", type=float, default=10.0)
    args = parser.parse_args()
    import ray

    ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    factory = functools.partial(SleepyEnv, step_seconds=args.step_ms / 1000)
    fns = [factory] * args.n_envs
    builders: list[tuple[str, Callable[[], Any]]] = [
        ("in process (SerialVectorEnv)", lambda: SerialVectorEnv(fns)),
        ("Ray, 1 worker", lambda: RayVectorEnv(fns, workers=1)),
        ("Ray, 2 workers", lambda: RayVectorEnv(fns, workers=2)),
        ("async (a subprocess per env)", lambda: make_env(factory, n_envs=args.n_envs, vectorization="async")),
    ]
    print(f"{args.n_envs} envs, step {args.step_ms:g} ms, {args.vector_steps} vector steps, "
          f"{ray.cluster_resources().get('CPU', 0):g} CPUs in Ray")
    print(f"{'vectorization':<32}{'env steps/s':>12}{'vs in process':>15}")
    baseline = None
    for name, build in builders:
        rate = steps_per_second(build(), args.n_envs, args.vector_steps)
        baseline = baseline or rate
        print(f"{name:<32}{rate:>12.0f}{rate / baseline:>14.2f}x")
    ray.shutdown()


if __name__ == "__main__":
    main()
