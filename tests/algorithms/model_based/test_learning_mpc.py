"""Model-predictive control with Pendulum's known model (``-m slow``): every planner swings the pendulum up.

MPC with its defaults (horizon 30, 400 sequences, 5 iterations; CEM with 40 elites) and the env's own dynamics
(``PendulumModel``), 5 evaluation episodes per seed, criterion -200 in 4 of 5 seeds; iCEM, MPPI and random
shooting are printed beside it on seed 0.
"""

from __future__ import annotations

import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.mpc import MPC
from porcini.core.evaluation import run_episodes

pytestmark = pytest.mark.slow


def mpc_return(planner: str, seed: int) -> float:
    torch.set_num_threads(1)
    agent = MPC(make_env("Pendulum-v1").info, planner=planner, seed=seed)
    return run_episodes(agent, make_env("Pendulum-v1", seed=100 + seed), 5, seed=100 + seed).mean_return()


def test_mpc_with_cem_on_the_known_pendulum_model_reaches_minus_200():
    returns = [mpc_return("cem", seed) for seed in range(5)]
    print(f"mpc cem, seeds 0-4: {[round(r) for r in returns]}; icem seed 0: {mpc_return('icem', 0):.0f}; "
          f"mppi seed 0: {mpc_return('mppi', 0):.0f}; random shooting seed 0: {mpc_return('random', 0):.0f}")
    assert sum(r >= -200 for r in returns) >= 4, returns
