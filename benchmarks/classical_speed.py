"""Env steps/s of classical agents through Core, against a plain NumPy loop doing the same updates on the same env.

Two cases, one env each (a vector of one in porcini):
  * Q-learning on ``porcini/GridWorld-v0`` (a Q-table; ε-greedy, ties broken at random);
  * SARSA(λ) on ``MountainCar-v0`` with tile coding (8 tilings of 8x8 tiles, replacing traces, the setting of
    ``porcini/configs/sarsa_lambda/MountainCar-v0.yaml``).

The plain loops below are written to be read: ``gym.make`` of the same registered env (same time limit), one
``env.step`` per iteration, the update of the textbook (Sutton & Barto 2018, §6.5 and §12.7) on a NumPy table, a
reset when the episode ended. Their tile coder is written out too and checked against porcini's ``TileCoding``
before timing, so both sides compute the same features. Core runs with its defaults: run-time checks on, true
successors, episode statistics, the fit cadence of the agent (one fit per env step).

Runs alternate (plain, porcini) per case, ``--repeats`` times; the median steps/s of each and the median of the
per-pair ratios porcini / plain are printed, because the machines are noisy: ratios hold, absolute times don't.
Episodes ended and the mean return of each side are printed as a check that both did the same kind of work.

usage: python benchmarks/classical_speed.py [--steps 20000] [--repeats 5] [--cases q_learning,sarsa_lambda]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from porcini import Core, make_env
from porcini.algorithms import QLearning, SarsaLambda
from porcini.approximators import TileCoding
from porcini.envs.builtin import register_builtin_envs

GRID, CAR = "porcini/GridWorld-v0", "MountainCar-v0"
Q_SETTINGS = {"learning_rate": 0.1, "epsilon": 0.1, "gamma": 0.99}
SARSA_SETTINGS = {"learning_rate": 0.5, "epsilon": 0.0, "gamma": 1.0, "trace_decay": 0.9, "n_tilings": 8,
                  "tiles_per_dim": 8}

Run = tuple[float, list[float]]  # steps/s, returns of the episodes that ended


def greedy_with_random_ties(values: np.ndarray, rng: np.random.Generator) -> int:
    """An action of largest value, chosen uniformly among ties."""
    best = np.flatnonzero(values == values.max())
    return int(best[0]) if len(best) == 1 else int(best[rng.integers(len(best))])


def plain_q_learning(n_steps: int, seed: int) -> Run:
    """Tabular Q-learning, one env: ``Q[s, a] += α (r + γ (1 - terminated) max Q[s'] - Q[s, a])``."""
    alpha, epsilon, gamma = Q_SETTINGS["learning_rate"], Q_SETTINGS["epsilon"], Q_SETTINGS["gamma"]
    env = gym.make(GRID)
    n_actions = int(env.action_space.n)
    q = np.zeros((int(env.observation_space.n), n_actions))
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    returns, episode_return = [], 0.0
    start = time.perf_counter()
    for _ in range(n_steps):
        action = int(rng.integers(n_actions)) if rng.random() < epsilon else greedy_with_random_ties(q[obs], rng)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        target = reward if terminated else reward + gamma * q[next_obs].max()
        q[obs, action] += alpha * (target - q[obs, action])
        episode_return += reward
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            obs, _ = env.reset()
        else:
            obs = next_obs
    return n_steps / (time.perf_counter() - start), returns


class PlainTiles:
    """Tile coding written out: tiling ``i`` shifted by ``i * (1, 3, 5, ...) / n_tilings`` tiles (the book's)."""

    def __init__(self, low: np.ndarray, high: np.ndarray, n_tilings: int, tiles_per_dim: int) -> None:
        dims = len(low)
        self.low, self.width, self.tiles = low, high - low, tiles_per_dim
        self.offsets = (np.arange(n_tilings)[:, None] * (2 * np.arange(dims) + 1)[None, :] / n_tilings) % 1.0
        grid = tiles_per_dim + 1  # one more tile per dimension for the shift
        self.strides = grid ** np.arange(dims)[::-1]
        self.base = np.arange(n_tilings) * grid**dims
        self.n_features = n_tilings * grid**dims

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """The ``n_tilings`` active tiles of one observation."""
        scaled = np.clip((obs - self.low) / self.width, 0.0, 1.0) * self.tiles
        coords = np.floor(scaled + self.offsets).astype(np.int64)  # [n_tilings, dims]
        return self.base + coords @ self.strides


def plain_sarsa_lambda(n_steps: int, seed: int) -> Run:
    """Linear SARSA(λ) with replacing traces on tiles, one env (Sutton & Barto 2018, p. 305)."""
    s = SARSA_SETTINGS
    env = gym.make(CAR)
    low, high = env.observation_space.low.astype(np.float64), env.observation_space.high.astype(np.float64)
    tiles = PlainTiles(low, high, s["n_tilings"], s["tiles_per_dim"])
    n_actions = int(env.action_space.n)
    w = np.zeros((tiles.n_features, n_actions))
    z = np.zeros_like(w)
    alpha, gamma, decay = s["learning_rate"] / s["n_tilings"], s["gamma"], s["gamma"] * s["trace_decay"]
    rng = np.random.default_rng(seed)

    def policy(x: np.ndarray) -> int:
        if rng.random() < s["epsilon"]:
            return int(rng.integers(n_actions))
        return greedy_with_random_ties(w[x].sum(axis=0), rng)

    obs, _ = env.reset(seed=seed)
    x = tiles(obs)
    action = policy(x)
    returns, episode_return = [], 0.0
    start = time.perf_counter()
    for _ in range(n_steps):
        next_obs, reward, terminated, truncated, _ = env.step(action)
        x_next = tiles(next_obs)
        next_action = policy(x_next)  # a truncated transition bootstraps from it too
        q_next = 0.0 if terminated else w[x_next, next_action].sum()
        delta = reward + gamma * q_next - w[x, action].sum()
        z *= decay
        z[x, action] = 1.0
        w += alpha * delta * z
        episode_return += reward
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            z[:] = 0.0
            obs, _ = env.reset()
            x = tiles(obs)
            action = policy(x)
        else:
            x, action = x_next, next_action
    return n_steps / (time.perf_counter() - start), returns


def check_tiles() -> None:
    """The plain tile coder gives porcini's tiles on random MountainCar observations (same work on both sides)."""
    space = gym.make(CAR).observation_space
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    plain = PlainTiles(low, high, SARSA_SETTINGS["n_tilings"], SARSA_SETTINGS["tiles_per_dim"])
    ours = TileCoding(low, high, SARSA_SETTINGS["n_tilings"], SARSA_SETTINGS["tiles_per_dim"])
    obs = np.random.default_rng(0).uniform(low, high, size=(1000, 2))
    if not np.array_equal(ours.indices(obs), np.stack([plain(o) for o in obs])):
        raise AssertionError("the plain tile coder and porcini's TileCoding disagree")


def porcini_q_learning(n_steps: int, seed: int) -> Run:
    """Q-learning through Core, one env."""
    env = make_env(GRID, 1, seed=seed)
    core = Core(QLearning(env.info, seed=seed, **Q_SETTINGS), env, progress=False)
    start = time.perf_counter()
    result = core.learn(steps=n_steps)
    return n_steps / (time.perf_counter() - start), result.episodes.returns


def porcini_sarsa_lambda(n_steps: int, seed: int) -> Run:
    """Tile-coded SARSA(λ) through Core, one env."""
    env = make_env(CAR, 1, seed=seed)
    agent = SarsaLambda(env.info, features="tile", trace_type="replacing", seed=seed, **SARSA_SETTINGS)
    core = Core(agent, env, progress=False)
    start = time.perf_counter()
    result = core.learn(steps=n_steps)
    return n_steps / (time.perf_counter() - start), result.episodes.returns


CASES: dict[str, tuple[str, Callable[[int, int], Run], Callable[[int, int], Run], float]] = {
    "q_learning": (f"Q-learning {GRID}", plain_q_learning, porcini_q_learning, 30_000),
    "sarsa_lambda": (f"SARSA(λ) tiles {CAR}", plain_sarsa_lambda, porcini_sarsa_lambda, 10_000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default="q_learning,sarsa_lambda")
    args = parser.parse_args()
    register_builtin_envs()
    check_tiles()
    for case in args.cases.split(","):
        title, plain, ours, goal = CASES[case]
        plain_runs, our_runs = [], []
        for repeat in range(args.repeats):
            plain_runs.append(plain(args.steps, repeat))
            our_runs.append(ours(args.steps, repeat))
        plain_speed = statistics.median(r[0] for r in plain_runs)
        our_speed = statistics.median(r[0] for r in our_runs)
        ratio = statistics.median(o[0] / p[0] for o, p in zip(our_runs, plain_runs))
        episodes = [sum(len(r[1]) for r in runs) for runs in (plain_runs, our_runs)]
        mean_return = [statistics.fmean(x for r in runs for x in r[1]) for runs in (plain_runs, our_runs)]
        print(f"{title}, 1 env, {args.steps} steps x {args.repeats}: plain NumPy {plain_speed:,.0f} steps/s | "
              f"porcini Core {our_speed:,.0f} steps/s (goal >= {goal:,.0f}) | ratio {ratio:.2f} | episodes "
              f"{episodes[0]} vs {episodes[1]}, mean return {mean_return[0]:.1f} vs {mean_return[1]:.1f}")


if __name__ == "__main__":
    main()
