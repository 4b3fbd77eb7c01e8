"""SAC on Pendulum-v1, 20k env steps: porcini and Stable-Baselines3 with the same hyperparameters.

RL Zoo: ``learning_rate=1e-3``, SB3 defaults otherwise: [256, 256] ReLU networks, batch 256, buffer 1M,
tau 0.005, gamma 0.99, ``ent_coef="auto"``, ``learning_starts=100``, one gradient step per env step (19,900
updates in all). Evaluation every 5k steps (``common.EvalClock``, excluded from the training time), final
deterministic evaluation over 20 episodes. Besides the shared record keys, ``train_cpu_s`` is the process CPU
time of training (evaluations excluded): on a shared machine it is steadier than wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import common
import numpy as np

TASK, ENV_ID, TOTAL, EVAL_EVERY = "sac_pendulum", "Pendulum-v1", 20_000, 5_000


class CpuEvalClock(common.EvalClock):
    """``EvalClock`` that also counts the process CPU time of its evaluations."""

    eval_cpu = 0.0

    def maybe_eval(self, timestep: int, act: Callable[[np.ndarray], Any]) -> None:
        start = time.process_time()
        super().maybe_eval(timestep, act)
        self.eval_cpu += time.process_time() - start


def _record(lib: str, seed: int, threads: int, timesteps: int, wall: float, cpu: float, clock: CpuEvalClock,
            act: Callable[[np.ndarray], Any]) -> dict[str, Any]:
    record = common.result(lib, TASK, seed, threads, timesteps, wall, clock, act, ENV_ID)
    record["train_cpu_s"] = round(cpu - clock.eval_cpu, 2)
    return record


def run_porcini(seed: int, threads: int) -> dict[str, Any]:
    from porcini import Core, make_env
    from porcini.algorithms.actor_critic.sac import SAC

    env = make_env(ENV_ID, seed=seed)
    agent = SAC(env.info, learning_rate=1e-3, seed=seed)
    core = Core(agent, env, progress=False)

    def act(obs: np.ndarray) -> np.ndarray:
        return agent.act(obs[None], explore=False)[0]

    clock = CpuEvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10)
    start, cpu = time.perf_counter(), time.process_time()
    while core.env_steps < TOTAL:
        core.learn(steps=EVAL_EVERY)
        clock.maybe_eval(core.env_steps, act)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _record("porcini", seed, threads, core.env_steps, wall, cpu, clock, act)


def run_sb3(seed: int, threads: int) -> dict[str, Any]:
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(ENV_ID, n_envs=1, seed=seed)
    model = SAC("MlpPolicy", env, learning_rate=1e-3, seed=seed, device="cpu", verbose=0)

    def act(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    clock = CpuEvalClock(ENV_ID, every=EVAL_EVERY, n_episodes=10)

    class PeriodicEval(BaseCallback):
        def _on_step(self) -> bool:
            clock.maybe_eval(self.num_timesteps, act)
            return True

    start, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=TOTAL, callback=PeriodicEval())
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _record("sb3", seed, threads, model.num_timesteps, wall, cpu, clock, act)
