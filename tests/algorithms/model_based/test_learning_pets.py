"""PETS and MBPO learning tests (``-m slow``), with their configs of record.

* PETS on Pendulum-v1 (``porcini/configs/pets/Pendulum-v1.yaml``): an evaluation return (3 episodes) >= -250
  within 3,000 env steps, evaluated after every 200-step episode, in 4 of 5 seeds.
* MBPO on Pendulum-v1 (``porcini/configs/mbpo/Pendulum-v1.yaml``): the same within 5,000 env steps, evaluated
  every 500 steps.
* PETS on ``porcini/CartPoleSwingUp-v0`` (``porcini/configs/pets/porcini__CartPoleSwingUp-v0.yaml``): solved
  (a return >= 150, see the env's docstring) within 5,000 env steps, mbrl-lib's budget, evaluated (1 episode)
  every 1,000 steps, in 4 of 5 seeds.

Each prints the env steps at which a seed first reached its criterion (``pytest -m slow -s``).
"""

from __future__ import annotations

import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.registry import get_algorithm
from porcini.core.evaluation import run_episodes
from porcini.experiment.config.run import load_config_of_record

pytestmark = pytest.mark.slow


def steps_to_reach(algo: str, env_id: str, seed: int, threshold: float, budget: int, every: int,
                   episodes: int = 3) -> int | None:
    """The env steps after which the evaluation first reached ``threshold``, or None within ``budget``."""
    torch.set_num_threads(1)
    record = load_config_of_record(algo, env_id)
    env = make_env(env_id, seed=seed, **record.get("env", {}).get("kwargs", {}))
    agent = get_algorithm(algo)(env.info, **{**record["algo"], "seed": seed})
    core = Core(agent, env, progress=False)
    curve = []
    while core.env_steps < budget:
        core.learn(steps=every)
        score = run_episodes(agent, make_env(env_id, seed=10_000 + seed), episodes, seed=10_000 + seed).mean_return()
        curve.append((core.env_steps, round(score)))
        if score >= threshold:
            print(f"{algo} {env_id} seed {seed}: {curve}")
            return core.env_steps
    print(f"{algo} {env_id} seed {seed}: {curve} (not reached)")
    return None


@pytest.mark.parametrize("algo, budget, every", [("pets", 3000, 200), ("mbpo", 5000, 500)])
def test_pendulum_reaches_minus_250_within_the_budget(algo, budget, every):
    reached = [steps_to_reach(algo, "Pendulum-v1", seed, -250, budget, every) for seed in range(5)]
    assert sum(r is not None for r in reached) >= 4, reached


def test_pets_solves_the_cart_pole_swing_up_within_5000_steps():
    reached = [steps_to_reach("pets", "porcini/CartPoleSwingUp-v0", seed, 150, 5000, 1000, episodes=1)
               for seed in range(5)]
    assert sum(r is not None for r in reached) >= 4, reached
