"""Env steps/s of Core driving a random agent on CartPole-v1, against a bare Gymnasium loop doing the same work.

The bare loop: ``gym.make`` (1 env) or ``gym.make_vec(..., vectorization_mode="sync")`` (8 envs), actions from
``action_space.sample()``, episode returns accumulated, ended episodes reset. Core: ``make_env`` + ``RandomAgent``
(run-time checks on, and off), which also resolves true final observations and records episode statistics.
Runs alternate (bare, core, core without checks) several times and the median ratio is printed, because these
machines are noisy: ratios hold, absolute times don't.

A learning agent goes through the loop's other half (storing transitions, fit cadence): Core drives DQN with
``train_freq=4`` (a fit every 4 env steps, run-time checks on), against the same bare loop. With
``learning_starts`` past the end of the run its fits only store the transitions (no gradient step), so the ratio
shows the loop's cost rather than the network's; ``--dqn-learn`` makes it take its gradient steps too. Its ratio is
given twice: against the bare loop above, which stores nothing, and against a bare loop doing DQN's work before
``learning_starts`` by hand (uniform random actions drawn from a NumPy generator, every transition copied into
preallocated replay arrays: obs, action, reward, next obs, terminated), which is what "the loop's overhead" means
for an agent that stores transitions.

``--cpu-time`` times every loop with the process's CPU time instead of wall time: on a machine shared with other
jobs, time spent waiting for a core then does not count (one torch thread, no waiting on I/O: for these loops the
two agree on an idle machine).

usage: python benchmarks/loop_overhead.py [--steps 40000] [--repeats 5] [--dqn-learn] [--cpu-time]
"""

from __future__ import annotations

import argparse
import statistics
import time

import common  # benchmarks/, on the path when run as a script
import gymnasium as gym
import numpy as np

from porcini import Core, make_env
from porcini.algorithms.random import RandomAgent


def bare_single(n_steps: int) -> float:
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    env.action_space.seed(0)
    returns, ret = [], 0.0
    start = time.perf_counter()
    for _ in range(n_steps):
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        ret += reward
        if terminated or truncated:
            returns.append(ret)
            ret = 0.0
            env.reset()
    return n_steps / (time.perf_counter() - start)


def bare_vector(n_steps: int, n_envs: int) -> float:
    env = gym.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="sync")
    env.reset(seed=0)
    env.action_space.seed(0)
    return common.bare_vector_steps_per_s(env, n_steps, lambda _: env.action_space.sample())


def bare_storing(n_steps: int, n_envs: int) -> float:
    """A bare loop doing DQN's work before ``learning_starts``: random actions, transitions into replay arrays."""
    rng = np.random.default_rng(0)
    size = n_steps + n_envs
    obs_buf, next_buf = np.zeros((size, 4), np.float32), np.zeros((size, 4), np.float32)
    act_buf, rew_buf, term_buf = np.zeros(size, np.int64), np.zeros(size, np.float32), np.zeros(size, bool)
    if n_envs == 1:
        env = gym.make("CartPole-v1")
        obs, _ = env.reset(seed=0)
        start = time.perf_counter()
        for i in range(n_steps):
            action = int(rng.integers(2))
            next_obs, reward, terminated, truncated, _ = env.step(action)
            obs_buf[i], next_buf[i], act_buf[i], rew_buf[i], term_buf[i] = obs, next_obs, action, reward, terminated
            obs = env.reset()[0] if terminated or truncated else next_obs
        return n_steps / (time.perf_counter() - start)
    venv = gym.make_vec("CartPole-v1", num_envs=n_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    obs, _ = venv.reset(seed=0)
    start = time.perf_counter()
    for i in range(0, n_steps, n_envs):
        action = rng.integers(2, size=n_envs)
        next_obs, reward, terminated, truncated, info = venv.step(action)
        true_next = next_obs.copy()
        if "final_obs" in info:  # the ended envs' true successors
            ended = info["_final_obs"]
            true_next[ended] = np.stack(info["final_obs"][ended])
        rows = slice(i, i + n_envs)
        obs_buf[rows], next_buf[rows], act_buf[rows], rew_buf[rows], term_buf[rows] = (
            obs, true_next, action, reward, terminated)
        obs = next_obs
    return n_steps / (time.perf_counter() - start)


def porcini_loop(n_steps: int, n_envs: int, check: bool) -> float:
    env = make_env("CartPole-v1", n_envs=n_envs, seed=0, check=check)
    core = Core(RandomAgent(env.info), env, progress=False)
    start = time.perf_counter()
    core.learn(steps=n_steps)
    return n_steps / (time.perf_counter() - start)


def porcini_dqn(n_steps: int, n_envs: int, learn: bool) -> float:
    from porcini.algorithms import DQN

    env = make_env("CartPole-v1", n_envs=n_envs, seed=0)
    agent = DQN(env.info, train_freq=4, learning_starts=1000 if learn else n_steps, buffer_size=n_steps, seed=0)
    core = Core(agent, env, progress=False)
    start = time.perf_counter()
    core.learn(steps=n_steps)
    return n_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dqn-learn", action="store_true", help="DQN takes gradient steps after 1000 env steps")
    parser.add_argument("--cpu-time", action="store_true", help="time with process CPU time instead of wall time")
    args = parser.parse_args()
    if args.cpu_time:  # every loop here and in common.py reads time.perf_counter
        time.perf_counter = time.process_time
    goals = {1: 0.65, 8: 0.85}
    for n_envs in (1, 8):
        bare, core, unchecked, dqn, storing = [], [], [], [], []
        for _ in range(args.repeats):
            bare.append(bare_single(args.steps) if n_envs == 1 else bare_vector(args.steps, n_envs))
            storing.append(bare_storing(args.steps, n_envs))
            core.append(porcini_loop(args.steps, n_envs, check=True))
            unchecked.append(porcini_loop(args.steps, n_envs, check=False))
            dqn.append(porcini_dqn(args.steps, n_envs, args.dqn_learn))
        ratio = statistics.median(c / b for c, b in zip(core, bare))
        ratio_unchecked = statistics.median(c / b for c, b in zip(unchecked, bare))
        ratio_dqn = statistics.median(c / b for c, b in zip(dqn, bare))
        ratio_dqn_storing = statistics.median(c / b for c, b in zip(dqn, storing))
        print(
            f"CartPole-v1 x{n_envs}: bare gymnasium {statistics.median(bare):,.0f} steps/s | "
            f"porcini Core {statistics.median(core):,.0f} steps/s (ratio {ratio:.2f}, goal >= {goals[n_envs]}) | "
            f"checks off {statistics.median(unchecked):,.0f} steps/s (ratio {ratio_unchecked:.2f}) | "
            f"DQN train_freq=4 {statistics.median(dqn):,.0f} steps/s (ratio {ratio_dqn:.2f}; "
            f"{ratio_dqn_storing:.2f} of a bare storing loop at {statistics.median(storing):,.0f} steps/s)"
        )


if __name__ == "__main__":
    main()
