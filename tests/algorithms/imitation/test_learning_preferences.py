"""PPO on a reward learned from at most 500 synthetic preference pairs (``-m slow``), 4 of 5 seeds.

The config of record (``porcini/configs/preferences/CartPole-v1.yaml``: PPO's, 100,000 steps; 500 pairs of
16-step segments in 10 rounds, the oracle answering at random 10% of the time); criterion 450. Each run prints its
evaluations after every tenth of its steps and the learned reward's correlation with the true one (segment
returns over the pool) after each query round.
"""

from __future__ import annotations

import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation.preferences import PreferencePPO
from porcini.core.callbacks import Callback
from porcini.experiment.config import resolve_run_config

from .test_learning_gail import _Evaluations

pytestmark = pytest.mark.slow


class _Correlations(Callback):
    def __init__(self) -> None:
        self.values: list[float] = []

    def on_fit(self, core: Core, metrics: dict[str, float]) -> None:
        if "loss_preference" in metrics and "reward_correlation" in metrics:
            self.values.append(metrics["reward_correlation"])


def test_ppo_on_a_reward_from_500_preference_pairs_reaches_450_on_cartpole():
    passed, lines = 0, []
    for seed in range(5):
        torch.set_num_threads(1)
        record = resolve_run_config("preferences", "CartPole-v1", overrides={"seed": seed})
        assert record.algo["preference_pairs"] <= 500
        env = make_env("CartPole-v1", n_envs=record.env.n_envs, seed=seed)
        agent = PreferencePPO(env.info, seed=seed, **dict(record.algo))
        evaluations, correlations = _Evaluations("CartPole-v1", seed), _Correlations()
        Core(agent, env, callbacks=[evaluations, correlations], progress=False).learn(
            steps=record.steps, steps_per_epoch=record.steps // 10)
        passed += evaluations.returns[-1] >= 450
        lines.append(f"preferences seed {seed}: {[round(r) for r in evaluations.returns]}, pairs "
                     f"{agent.pairs_asked}, correlation by round {[round(c, 2) for c in correlations.values]}")
        print(lines[-1], flush=True)
        if passed >= 4 or seed + 1 - passed > 1:
            break
    assert passed >= 4, lines
