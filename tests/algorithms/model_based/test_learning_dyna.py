"""Dyna-Q on Sutton & Barto's Dyna maze (Figure 8.2) and prioritized sweeping against it (``-m slow``).

Figure 8.2: steps per episode, averaged over 30 repetitions, for n = 0, 5 and 50 planning steps (α 0.1, ε 0.1,
γ 0.95, Q from 0). The shortest path is 14 moves; with ε = 0.1 a near-optimal policy averages about 17. The book:
n = 50 is near-optimal by its third episode, n = 0 needs about 25. Prioritized sweeping (Example 8.4): fewer value
updates than Dyna-Q, with the same 5 planning steps per real one, until the greedy path is the shortest; there both
start from optimistic values (1.0), which makes each explore the maze systematically, and use α 0.5.
"""

from __future__ import annotations

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.model_based.dyna import DynaQ
from porcini.algorithms.model_based.prioritized_sweeping import PrioritizedSweeping
from porcini.core.callbacks import Callback

pytestmark = pytest.mark.slow

MAZE = "porcini/DynaMaze-v0"


class _Lengths(Callback):
    def __init__(self) -> None:
        self.lengths: list[int] = []

    def on_episode_end(self, core: Core, returns: np.ndarray, lengths: np.ndarray) -> None:
        self.lengths.extend(np.asarray(lengths).tolist())


def mean_lengths(planning_steps: int, episodes: int = 50, repetitions: int = 30) -> np.ndarray:
    runs = []
    for rep in range(repetitions):
        env = make_env(MAZE, seed=rep)
        agent = DynaQ(env.info, planning_steps=planning_steps, learning_rate=0.1, epsilon=0.1, gamma=0.95, seed=rep)
        lengths = _Lengths()
        Core(agent, env, callbacks=[lengths], progress=False).learn(episodes=episodes)
        runs.append(lengths.lengths[:episodes])
    return np.mean(runs, axis=0)


def test_dyna_q_on_the_dyna_maze_has_the_shape_of_figure_8_2():
    curves = {n: mean_lengths(n) for n in (0, 5, 50)}
    for n, curve in curves.items():
        print(f"n = {n}: episodes 2-6 {np.round(curve[1:6]).tolist()}, 10/20/25/30/50 "
              f"{np.round(curve[[9, 19, 24, 29, 49]]).tolist()}")
    assert curves[50][2] <= 20  # near-optimal by episode 3
    assert curves[50][1] < curves[5][1] < curves[0][1]  # episode 2: more planning, shorter
    assert curves[0][9] > 60 and np.mean(curves[0][24:30]) <= 30  # n = 0 gets there around episode 25
    assert np.mean(curves[0][40:]) <= 20


class _FirstOptimal(Callback):
    """Stop at the end of the first episode after which the greedy path from the start is the shortest (14)."""

    def __init__(self) -> None:
        self.updates: int | None = None

    def on_episode_end(self, core: Core, returns: np.ndarray, lengths: np.ndarray) -> None:
        env = make_env(MAZE, seed=0)
        obs, _ = env.reset(seed=0)
        steps_to_goal = None
        for t in range(1, 15):
            obs, _, terminated, _, _ = env.step(core.agent.act(obs, explore=False))
            if terminated[0]:
                steps_to_goal = t
                break
        if steps_to_goal == 14:
            self.updates, core.stop_requested = core.agent.updates, True


def test_prioritized_sweeping_needs_fewer_updates_than_dyna_q_to_the_shortest_path():
    results = []
    for seed in range(5):
        updates = []
        for cls in (DynaQ, PrioritizedSweeping):
            env = make_env(MAZE, seed=seed)
            agent = cls(env.info, planning_steps=5, learning_rate=0.5, epsilon=0.1, initial_value=1.0, seed=seed)
            first = _FirstOptimal()
            Core(agent, env, callbacks=[first], progress=False).learn(episodes=400)
            updates.append(first.updates)
        print(f"seed {seed}: updates to the shortest path, Dyna-Q {updates[0]}, prioritized sweeping {updates[1]}")
        results.append(updates)
    assert all(d is not None and p is not None and p < d for d, p in results), results
