"""Library-agnostic evaluation for benchmarks: the same loop scores porcini and the peer library.

Evaluation uses a plain ``gym.make`` env (no wrappers) and a deterministic ``act(obs) -> action`` callable, so
both libraries are judged identically; periodic evaluations are timed and excluded from training wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np


def evaluate(act: Callable[[np.ndarray], Any], env_id: str, n_episodes: int, seed: int,
             on_episode_start: Callable[[], None] | None = None) -> tuple[float, float]:
    """Mean and std of the return of ``n_episodes`` episodes, env reset with ``seed + episode``.

    ``on_episode_start`` is called before each episode (a recurrent policy resets its state there).
    """
    env = gym.make(env_id)
    returns = []
    for episode in range(n_episodes):
        if on_episode_start is not None:
            on_episode_start()
        obs, _ = env.reset(seed=seed + episode)
        ended, total = False, 0.0
        while not ended:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            ended = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns)), float(np.std(returns))


class EvalClock:
    """Periodic evaluations every ``every`` env steps; keeps their history and the time they took."""

    def __init__(self, env_id: str, every: int, n_episodes: int = 10, threshold: float | None = None,
                 seed: int = 10_000) -> None:
        self.env_id, self.every, self.n_episodes, self.threshold, self.seed = env_id, every, n_episodes, threshold, seed
        self.next_at = every
        self.eval_time = 0.0
        self.history: list[tuple[int, float]] = []
        self.first_hit: int | None = None

    def maybe_eval(self, timestep: int, act: Callable[[np.ndarray], Any],
                   on_episode_start: Callable[[], None] | None = None) -> None:
        """Evaluate if ``timestep`` passed the next evaluation point."""
        if timestep < self.next_at:
            return
        while self.next_at <= timestep:
            self.next_at += self.every
        start = time.perf_counter()
        mean, _ = evaluate(act, self.env_id, self.n_episodes, self.seed, on_episode_start)
        self.eval_time += time.perf_counter() - start
        self.history.append((int(timestep), round(mean, 2)))
        if self.first_hit is None and self.threshold is not None and mean >= self.threshold:
            self.first_hit = int(timestep)


def result(lib: str, task: str, seed: int, threads: int, timesteps: int, wall: float, clock: EvalClock,
           act: Callable[[np.ndarray], Any], env_id: str,
           on_episode_start: Callable[[], None] | None = None) -> dict[str, Any]:
    """The JSON record of one benchmark run (same keys as ../shared/peers/sb3_bench.py)."""
    train_wall = wall - clock.eval_time
    mean, std = evaluate(act, env_id, 20, 20_000, on_episode_start)
    return {
        "lib": lib, "task": task, "seed": seed, "threads": threads, "timesteps": int(timesteps),
        "wall_s_total": round(wall, 2), "eval_s": round(clock.eval_time, 2), "train_wall_s": round(train_wall, 2),
        "env_steps_per_s": round(timesteps / train_wall, 1), "final_eval_mean": round(mean, 2),
        "final_eval_std": round(std, 2), "first_ts_mean_ge_475": clock.first_hit, "eval_history": clock.history,
    }


def best_times_us(fns: list[Callable[[], object]], calls: int, repeats: int) -> list[float]:
    """Best per-call time in µs of each function; rounds alternate between them so load changes hit all alike."""
    for fn in fns:
        for _ in range(min(calls, 500)):
            fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / calls)
    return [t * 1e6 for t in best]


def bare_vector_steps_per_s(env: Any, n_steps: int, next_action: Callable[[int], Any]) -> float:
    """Env steps per second of the plainest vector loop: step with ``next_action(i)``, add up rewards, and collect
    the returns of ended episodes (``n_steps`` summed over the env's ``num_envs``; the env already reset)."""
    n_envs = int(env.num_envs)
    returns: list[float] = []
    ret = np.zeros(n_envs)
    start = time.perf_counter()
    for i in range(n_steps // n_envs):
        _, reward, terminated, truncated, _ = env.step(next_action(i))
        ret += reward
        ended = terminated | truncated
        if ended.any():
            returns.extend(ret[ended].tolist())
            ret[ended] = 0.0
    return n_steps / (time.perf_counter() - start)
