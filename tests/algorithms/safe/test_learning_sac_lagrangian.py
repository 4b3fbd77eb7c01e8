"""Learning test (slow): Lagrangian SAC keeps PendulumSpeed's episode cost at its limit where SAC does not.

With the config of record (its task threshold, 6 rad/s, and limit, 1 fast step per episode) and seeds 0-3, each agent
evaluated with 20 greedy episodes: SAC's mean episode cost is above 1.1 x the limit, Lagrangian SAC's at or under
it, and Lagrangian SAC keeps at least 70% of SAC's gain over a uniformly random policy on the same evaluation envs
(PendulumSpeed's returns are all negative): ``lagrangian - random >= 0.7 * (sac - random)``. λ holds the cost of
the exploring policy at the limit, so one seed's greedy cost lands on either side of it: the criterion is on the
mean over four seeds (docs/safe-rl.md lists six).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.sac import SAC
from porcini.algorithms.registry import get_algorithm
from porcini.algorithms.safe.sac_lagrangian import SACLagrangian
from porcini.experiment.config.run import load_config_of_record

pytestmark = pytest.mark.slow

ENV_ID = "porcini/PendulumSpeed-v0"
SEEDS = (0, 1, 2, 3)
EVAL_EPISODES = 20


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small networks: one intra-op thread avoids oversubscribing the cores (several times faster here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_and_evaluate(agent_cls: Any, algo_config: dict[str, Any], steps: int, env_kwargs: dict[str, Any],
                       seed: int) -> tuple[float, float, float]:
    """Train on the constrained task; the mean return and episode cost of greedy play, and λ (NaN for SAC)."""
    env = make_env(ENV_ID, seed=seed, env_kwargs=env_kwargs)
    eval_env = make_env(ENV_ID, n_envs=4, seed=seed + 1000, env_kwargs=env_kwargs)
    agent = agent_cls(env.info, seed=seed, **algo_config)
    core = Core(agent, env, eval_env=eval_env, info_keys=("cost",), progress=False, eval_seed=seed + 1000)
    core.learn(steps=steps)
    record = core.evaluate(EVAL_EPISODES)
    multiplier = agent.multiplier.value if isinstance(agent, SACLagrangian) else float("nan")
    return record.mean_return(), record.mean_info_sum("cost"), multiplier


def random_return(env_kwargs: dict[str, Any]) -> float:
    """The mean return of uniformly random actions: the floor the returns are compared above."""
    env = make_env(ENV_ID, seed=0, env_kwargs=env_kwargs)
    eval_env = make_env(ENV_ID, n_envs=4, seed=1000, env_kwargs=env_kwargs)
    core = Core(get_algorithm("random")(env.info), env, eval_env=eval_env, progress=False)
    return core.evaluate(EVAL_EPISODES, explore=True).mean_return()


def test_lagrangian_sac_meets_the_cost_limit_that_sac_violates():
    record = load_config_of_record("sac_lagrangian", ENV_ID)
    assert record is not None
    lagrangian_config, steps = record["algo"], int(record["steps"])
    env_kwargs = dict(record.get("env", {}).get("kwargs", {}) or {})
    sac_fields = set(SAC.Config.__dataclass_fields__)
    sac_config = {k: v for k, v in lagrangian_config.items() if k in sac_fields}  # the same SAC, unconstrained
    limit = float(lagrangian_config["cost_limit"])
    start = time.perf_counter()
    sac = np.array([train_and_evaluate(SAC, sac_config, steps, env_kwargs, seed) for seed in SEEDS])
    lagrangian = np.array([train_and_evaluate(SACLagrangian, lagrangian_config, steps, env_kwargs, seed)
                           for seed in SEEDS])
    floor = random_return(env_kwargs)
    print(f"\nlimit {limit}, {steps} steps, seeds {SEEDS}, {EVAL_EPISODES} greedy episodes each, "
          f"{time.perf_counter() - start:.0f} s; random policy return {floor:.1f}")
    print(f"SAC             return {sac[:, 0].round(1).tolist()} cost {sac[:, 1].round(2).tolist()}")
    print(f"Lagrangian SAC  return {lagrangian[:, 0].round(1).tolist()} cost {lagrangian[:, 1].round(2).tolist()} "
          f"lambda {lagrangian[:, 2].round(3).tolist()}")
    sac_return, sac_cost = sac[:, :2].mean(axis=0)
    lagrangian_return, lagrangian_cost = lagrangian[:, :2].mean(axis=0)
    print(f"mean return: SAC {sac_return:.1f}, Lagrangian SAC {lagrangian_return:.1f}, needs >= "
          f"{floor + 0.7 * (sac_return - floor):.1f} (random {floor:.1f})")
    assert sac_cost > 1.1 * limit, "the constraint must bind: unconstrained SAC should violate it"
    assert lagrangian_cost <= 1.1 * limit
    assert lagrangian_return - floor >= 0.7 * (sac_return - floor), "the constraint must leave most of the return"
