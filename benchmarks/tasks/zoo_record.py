"""A porcini config of record against Stable-Baselines3 given the RL Zoo's entry it cites: is a gap porcini's?

``docs/benchmarks.md`` lists the pairs where porcini ends below the RL Zoo's published score. The Zoo's score is one
agent trained once, on LunarLander-v2 for the LunarLander entries; this module trains porcini through its config of
record (``porcini train ALGO ENV``, the run ``porcini bench`` makes) and SB3 through the same Zoo entry on the same
env version, so that ``final_returns.py`` can compare the two over seeds. Tasks built on it:
``a2c_lunarlander``, ``dqn_lunarlander``, ``dqn_mountaincar``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import common


def run_porcini_record(task: str, algo: str, env_id: str, seed: int, threads: int) -> dict:
    """Train porcini's config of record for ``algo`` on ``env_id`` and return the benchmark record."""
    import dataclasses

    from porcini.experiment.experiment import Experiment
    from porcini.experiment.launch import resolve

    with tempfile.TemporaryDirectory() as out:
        config = dataclasses.replace(resolve(algo, env_id, None, []), seed=seed, out=out)
        experiment = Experiment.start(config, progress=False)
        start = time.perf_counter()
        summary = experiment.train()
        wall = time.perf_counter() - start
        agent = experiment.agent
        clock = common.EvalClock(env_id, every=10**12)

        def act(obs):
            return agent.act(obs[None], explore=False)[0]

        record = common.result("porcini", task, seed, threads, summary.env_steps, wall, clock, act, env_id)
    record["porcini_final_eval"] = summary.eval_return_mean
    return record


def run_sb3_zoo(task: str, make_model: Callable[[Any], Any], env_id: str, n_envs: int, total: int, seed: int,
                threads: int, env_kwargs: dict | None = None) -> dict:
    """Train ``make_model(vec_env)`` (SB3 with the Zoo's entry) for ``total`` steps and return the record."""
    from stable_baselines3.common.env_util import make_vec_env

    env = make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
    model = make_model(env)
    clock = common.EvalClock(env_id, every=10**12)
    start = time.perf_counter()
    model.learn(total_timesteps=total)
    wall = time.perf_counter() - start

    def act(obs):
        return model.predict(obs, deterministic=True)[0]

    return common.result("sb3", task, seed, threads, model.num_timesteps, wall, clock, act, env_id)
