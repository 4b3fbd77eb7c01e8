"""Learning test (slow): Lagrangian PPO keeps a constrained task's episode cost at its limit where PPO does not.

Per task, with its config of record and seeds 0-2, each agent evaluated with 20 greedy episodes: PPO's mean episode
cost is above the limit, Lagrangian PPO's at or under 1.1 x the limit, and Lagrangian PPO keeps at least 70% of
PPO's return measured from a floor: ``lagrangian - floor >= 0.7 * (ppo - floor)``. The floor is 0 for CartPoleBand
and PointHazard, whose returns are positive (the check is then "at least 70% of PPO's return"). PendulumSpeed's
rewards are all negative, so 70% of PPO's return would be a better return than PPO's; its floor is the mean return
of a uniformly random policy on the same evaluation envs and start states, so Lagrangian PPO must keep 70% of PPO's
gain over random play.
"""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.random import RandomAgent
from porcini.algorithms.safe.ppo_lagrangian import PPOLagrangian
from porcini.core.evaluation import run_episodes
from porcini.experiment.config.run import load_config_of_record

SEEDS = (0, 1, 2)
EVAL_EPISODES = 20
RANDOM_FLOOR = {"porcini/PendulumSpeed-v0"}  # negative returns: the return criterion is measured from random play


def eval_env_of(env_id, seed, env_kwargs):
    """The evaluation envs of a seed's run."""
    return make_env(env_id, n_envs=4, seed=seed + 1000, env_kwargs=env_kwargs)


def train_and_evaluate(env_id, env_kwargs, agent_cls, algo_config, steps, n_envs, seed):
    """Train on the constrained task from the config of record; the mean return and episode cost of greedy play."""
    env = make_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    eval_env = eval_env_of(env_id, seed, env_kwargs)
    agent = agent_cls(env.info, seed=seed, **algo_config)
    core = Core(agent, env, eval_env=eval_env, info_keys=("cost",), progress=False, eval_seed=seed + 1000)
    core.learn(steps=steps)
    record = core.evaluate(EVAL_EPISODES)
    return record.mean_return(), record.mean_info_sum("cost")


def random_return(env_id, env_kwargs, seed):
    """The mean return of a uniformly random policy over the evaluation episodes of a seed's run."""
    eval_env = eval_env_of(env_id, seed, env_kwargs)
    return run_episodes(RandomAgent(eval_env.info, seed=seed), eval_env, EVAL_EPISODES, seed=seed + 1000).mean_return()


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["porcini/CartPoleBand-v0", "porcini/PointHazard-v0", "porcini/PendulumSpeed-v0"])
def test_lagrangian_ppo_meets_the_cost_limit_that_ppo_violates_and_keeps_most_of_its_return(env_id):
    record = load_config_of_record("ppo_lagrangian", env_id)
    assert record is not None
    lagrangian_config, steps, n_envs = record["algo"], int(record["steps"]), int(record["env"]["n_envs"])
    env_kwargs = dict(record["env"].get("kwargs") or {})  # the task's thresholds, when the record sets them
    ppo_fields = set(PPO.Config.__dataclass_fields__)
    ppo_config = {k: v for k, v in lagrangian_config.items() if k in ppo_fields}  # the same PPO, unconstrained
    limit = float(lagrangian_config["cost_limit"])
    ppo = np.array([train_and_evaluate(env_id, env_kwargs, PPO, ppo_config, steps, n_envs, seed) for seed in SEEDS])
    lagrangian = np.array([train_and_evaluate(env_id, env_kwargs, PPOLagrangian, lagrangian_config, steps, n_envs,
                                              seed) for seed in SEEDS])
    print(f"\n{env_id} {env_kwargs}: limit {limit}, {steps} steps, seeds {SEEDS}, {EVAL_EPISODES} greedy episodes each")
    print(f"PPO             return {ppo[:, 0].round(3).tolist()} cost {ppo[:, 1].round(2).tolist()}")
    print(f"Lagrangian PPO  return {lagrangian[:, 0].round(3).tolist()} cost {lagrangian[:, 1].round(2).tolist()}")
    ppo_return, ppo_cost = ppo.mean(axis=0)
    lagrangian_return, lagrangian_cost = lagrangian.mean(axis=0)
    floors = [random_return(env_id, env_kwargs, seed) for seed in SEEDS] if env_id in RANDOM_FLOOR else [0.0]
    floor = float(np.mean(floors))
    print(f"return floor {floor:.3f}: Lagrangian PPO needs >= {floor + 0.7 * (ppo_return - floor):.3f}")
    assert ppo_cost > limit, "the constraint must bind: unconstrained PPO should violate it"
    assert lagrangian_cost <= 1.1 * limit
    assert lagrangian_return - floor >= 0.7 * (ppo_return - floor)
