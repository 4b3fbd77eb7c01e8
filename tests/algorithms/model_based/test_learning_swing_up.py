"""MPC on the cart-pole swing-up with its known model (``-m slow``): CEM swings the pole up and balances it.

MPC with its defaults (horizon 30, 400 sequences, 5 iterations; CEM with 40 elites) and the env's own dynamics
(``CartPoleSwingUpModel``), 1 evaluation episode per seed, criterion 150 (the task's "solved", see
``CartPoleSwingUp``) in 4 of 5 seeds; a uniformly random policy is printed beside it.
"""

from __future__ import annotations

import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.mpc import MPC
from porcini.algorithms.random import RandomAgent
from porcini.core.evaluation import run_episodes

pytestmark = pytest.mark.slow

ENV_ID = "porcini/CartPoleSwingUp-v0"


def mpc_return(seed: int) -> float:
    torch.set_num_threads(1)
    agent = MPC(make_env(ENV_ID).info, planner="cem", seed=seed)
    return run_episodes(agent, make_env(ENV_ID, seed=100 + seed), 1, seed=100 + seed).mean_return()


def test_mpc_with_cem_on_the_known_swing_up_model_reaches_150():
    returns = [mpc_return(seed) for seed in range(5)]
    env = make_env(ENV_ID, seed=0)
    random_return = run_episodes(RandomAgent(env.info, seed=0), env, 20, explore=True, seed=0).mean_return()
    print(f"mpc cem on the swing-up, seeds 0-4: {[round(r) for r in returns]}; random policy: {random_return:.0f}")
    assert sum(r >= 150 for r in returns) >= 4, returns
    assert random_return < 50
