"""AIRL from 10 expert episodes and a new PPO on its exported reward (``-m slow``), 4 of 5 seeds.

AIRL runs its config of record (``porcini/configs/airl/CartPole-v1.yaml``: PPO's, 100,000 steps, the learner
rewarded with ``softplus(ℓ)``, the discriminator replaying every learner transition of the run) on the
demonstrations of PPO's run (``conftest.py``); criterion 450. Then a new PPO (its config of record) trains from
scratch on the exported reward (``AIRL.reward_model()``, through ``LearnedReward``) and is evaluated on the env's
reward; criterion 400. Each run prints its evaluations after every tenth of its steps.
"""

from __future__ import annotations

import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation.airl import AIRL
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.envs.wrappers import LearnedReward
from porcini.experiment.config import resolve_run_config

from .test_learning_gail import _Evaluations

pytestmark = pytest.mark.slow


def airl_run(demos, seed: int) -> tuple[list[float], AIRL]:
    torch.set_num_threads(1)
    record = resolve_run_config("airl", "CartPole-v1", overrides={"seed": seed})
    env = make_env("CartPole-v1", n_envs=record.env.n_envs, seed=seed)
    agent = AIRL(env.info, seed=seed, **dict(record.algo))
    agent.add_dataset(demos)
    evaluations = _Evaluations("CartPole-v1", seed)
    Core(agent, env, callbacks=[evaluations], progress=False).learn(steps=record.steps,
                                                                    steps_per_epoch=record.steps // 10)
    return evaluations.returns, agent


def ppo_on(reward_model, seed: int) -> list[float]:
    record = resolve_run_config("ppo", "CartPole-v1", overrides={"seed": seed})
    env = LearnedReward(make_env("CartPole-v1", n_envs=record.env.n_envs, seed=seed), reward_model)
    agent = PPO(env.info, seed=seed, **dict(record.algo))
    evaluations = _Evaluations("CartPole-v1", seed)  # on the env's own reward
    Core(agent, env, callbacks=[evaluations], progress=False).learn(steps=record.steps,
                                                                    steps_per_epoch=record.steps // 10)
    return evaluations.returns


@pytest.fixture(scope="module")
def airl_runs(cartpole_expert):
    """Five AIRL runs (seeds 0-4): their evaluations and their exported rewards."""
    _, demos = cartpole_expert
    runs = {}
    for seed in range(5):
        returns, agent = airl_run(demos, seed)
        print(f"airl CartPole-v1 seed {seed}: {[round(r) for r in returns]} terminal reward "
              f"{agent.terminal_reward():.1f}", flush=True)
        runs[seed] = (returns, agent.reward_model())
    return runs


def test_airl_from_10_expert_episodes_reaches_450_on_cartpole(airl_runs):
    finals = [returns[-1] for returns, _ in airl_runs.values()]
    assert sum(r >= 450 for r in finals) >= 4, finals


def test_a_new_ppo_on_airls_exported_reward_reaches_400_on_cartpole(airl_runs):
    finals = []
    for seed, (_, reward_model) in airl_runs.items():
        returns = ppo_on(reward_model, seed)
        print(f"ppo on airl's reward, seed {seed}: {[round(r) for r in returns]}", flush=True)
        finals.append(returns[-1])
        if len(finals) - sum(r >= 400 for r in finals) > 1:
            break
    assert sum(r >= 400 for r in finals) >= 4, finals
