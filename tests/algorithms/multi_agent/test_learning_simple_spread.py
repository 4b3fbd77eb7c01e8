"""Learning test (slow): on MPE simple_spread (N = 3, 25 steps, discrete actions), MAPPO and parameter-shared PPO
beat independent PPO and a random policy by a clear margin within 500k agent steps (167k steps of the game).

Each variant trains once (seed 0) with the config of record, evaluated greedily over 48 agent-episodes (16 games)
every 50k agent steps; the test prints the curves (docs/multi-agent.md reports them).
"""

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.multi_agent.mappo import MAPPO, MultiAgentPPO
from porcini.algorithms.random import RandomAgent
from porcini.experiment.config import load_config_of_record

pytest.importorskip("mpe2")
pytestmark = pytest.mark.slow

ENV = "mpe2.simple_spread_v3:parallel_env"
STEPS = 500_000
EVAL_EVERY = 50_000
MARGIN = 1.0  # per-agent return over 25 steps; a random policy scores about -25


def record():
    config = load_config_of_record("mappo", ENV)
    assert config is not None
    return config


def train(variant: str, seed: int = 0) -> list[float]:
    config = record()
    env = make_env(ENV, n_envs=config["env"]["n_envs"], seed=seed, env_kwargs=config["env"]["kwargs"])
    eval_env = env.spawn(4, 10_000 + seed)
    hyper = {k: v for k, v in config["algo"].items() if k not in ("share", "critic")}
    if variant == "mappo":
        agent = MAPPO(env.info, seed=seed, **hyper)
    else:
        agent = MultiAgentPPO(env.info, seed=seed, share="all" if variant == "shared" else "none", **hyper)
    core = Core(agent, env, eval_env=eval_env, eval_seed=7, progress=False)
    curve = []
    for _ in range(STEPS // EVAL_EVERY):
        core.learn(steps=EVAL_EVERY)
        curve.append(core.evaluate(48).mean_return())
    print(variant, [round(x, 2) for x in curve])
    return curve


def test_mappo_and_shared_ppo_beat_independent_ppo_and_random_on_simple_spread():
    config = record()
    env = make_env(ENV, n_envs=4, seed=10_000, env_kwargs=config["env"]["kwargs"])
    random_return = Core(RandomAgent(env.info), env.spawn(4, 10_000), progress=False).evaluate(
        48, env=env).mean_return()
    curves = {variant: train(variant) for variant in ("mappo", "shared", "independent")}
    final = {variant: float(np.mean(curve[-2:])) for variant, curve in curves.items()}  # the last 100k steps
    print("random", round(random_return, 2), "final", {k: round(v, 2) for k, v in final.items()})
    for variant in ("mappo", "shared"):
        assert final[variant] > final["independent"] + MARGIN, (variant, final)
        assert final[variant] > random_return + MARGIN, (variant, final, random_return)
