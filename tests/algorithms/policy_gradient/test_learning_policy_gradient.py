"""Learning tests (slow): PPO, A2C and TRPO solve CartPole-v1 with their configs of record, REINFORCE (which has
none) with its defaults and one env, for 4 of 5 seeds;
RecurrentPPO solves CartPole without velocities, which a feed-forward PPO cannot.

Run with ``pytest -m slow tests/algorithms/policy_gradient -s`` to see the per-seed numbers.
"""

import dataclasses
import json

import numpy as np
import pytest

from porcini import Core
from porcini.algorithms.registry import get_algorithm
from porcini.core import Callback
from porcini.experiment.envs import build_envs
from porcini.experiment.launch import resolve
from porcini.experiment.seeding import eval_seed

SOLVED = 475.0
EVAL_EVERY = 10_000


class EvalEvery(Callback):
    """Deterministic evaluation (10 episodes, separate env) every ``EVAL_EVERY`` env steps."""

    def __init__(self):
        self.history = []

    def on_epoch_end(self, core):
        self.history.append((core.env_steps, float(np.mean(core.evaluate(10).returns))))


def train(algo, seed, budget, env_id="CartPole-v1", record_of=None):
    """Train with the config of record of ``algo`` on ``env_id`` (or on the env ``record_of``), with the envs the
    runner builds (the record's wrappers; an eval env with frozen statistics), evaluating every ``EVAL_EVERY``."""
    config = resolve(algo, record_of or env_id, None, [f"seed={seed}", f"steps={budget}", "eval_episodes=10"])
    config = dataclasses.replace(config, env=dataclasses.replace(config.env, id=env_id))
    env, eval_env = build_envs(config)
    agent = get_algorithm(algo)(env.info, **config.algo, seed=seed)
    evals = EvalEvery()
    core = Core(agent, env, eval_env=eval_env, callbacks=[evals], progress=False, eval_seed=eval_seed(seed))
    core.learn(steps=budget, steps_per_epoch=EVAL_EVERY)
    first = next((steps for steps, mean in evals.history if mean >= SOLVED), None)
    return {"algo": algo, "seed": seed, "first_solved_at": first, "final_eval": evals.history[-1][1],
            "train_time_s": round(core.train_time_s, 1), "evals": evals.history}


@pytest.mark.slow
@pytest.mark.parametrize("algo, budget", [("ppo", 100_000), ("a2c", 200_000), ("trpo", 100_000),
                                         ("reinforce", 100_000)])
def test_solves_cartpole_for_four_of_five_seeds(algo, budget):
    runs = [train(algo, seed, budget) for seed in range(5)]
    for run in runs:
        print(json.dumps(run))
    solved = [run["seed"] for run in runs if run["first_solved_at"] is not None]
    summary = [(run["seed"], run["first_solved_at"], run["final_eval"]) for run in runs]
    assert len(solved) >= 4, f"{algo}: (seed, first eval >= {SOLVED} at, final eval) = {summary}"


NO_VELOCITY = "porcini/CartPoleNoVel-v1"


@pytest.mark.slow
def test_recurrent_ppo_balances_cartpole_without_velocities_for_four_of_five_seeds():
    runs = [train("recurrent_ppo", seed, 100_000, NO_VELOCITY) for seed in range(5)]
    for run in runs:
        print(json.dumps(run))
    solved = [run["seed"] for run in runs if run["first_solved_at"] is not None]
    summary = [(run["seed"], run["first_solved_at"], run["final_eval"]) for run in runs]
    assert len(solved) >= 4, f"recurrent_ppo: (seed, first eval >= {SOLVED} at, final eval) = {summary}"


@pytest.mark.slow
def test_feed_forward_ppo_cannot_balance_cartpole_without_velocities():
    """The contrast that makes the test above mean something: CartPole's PPO config of record, no memory."""
    run = train("ppo", 0, 100_000, NO_VELOCITY, record_of="CartPole-v1")
    print(json.dumps(run))
    assert max(mean for _, mean in run["evals"]) < 150
