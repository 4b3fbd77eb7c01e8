"""Evidence that population-based training helps (``-m slow``): a population of 4 PPO members on CartPole-v1, all
started from poor learning rates (1e-5 to 3e-5, constant), 40,000 env steps in rounds of 4,000, against the same
4 configurations trained without exploit/explore, over 3 repetitions (tune seeds 0, 10, 20: the members' run
seeds and PBT's draws differ between repetitions). The best PBT member must beat the best plain run by a clear
margin (100 of return) in every repetition (printed with ``pytest -m slow -s``).
"""

from __future__ import annotations

import pytest

from porcini.experiment.launch import resolve, train_seeds
from porcini.experiment.tune import tune

pytestmark = pytest.mark.slow

STEPS, INTERVAL = 40_000, 4_000
START = [{"learning_rate": lr} for lr in (1e-5, 1.5e-5, 2e-5, 3e-5)]
OVERRIDES = ("log.sinks=[csv]", "eval_episodes=10", f"steps_per_epoch={INTERVAL}", "learning_rate_schedule=constant")


@pytest.mark.parametrize("seed", [0, 10, 20])
def test_pbt_from_poor_learning_rates_beats_the_same_population_without_it(tmp_path, seed):
    result = tune("ppo", "CartPole-v1", {"learning_rate": {"loguniform": [1e-5, 3e-3]}}, method="pbt", trials=4,
                  steps=STEPS, pbt_interval=INTERVAL, pbt_quantile=0.5, pbt_resample=0.5, start=START,
                  out=tmp_path / "pbt", overrides=OVERRIDES, report_seeds=0, seed=seed, jobs=2)
    with_pbt = [float(r.objective) for r in result.records if r.objective is not None]
    without = []
    for number, point in enumerate(START):  # member n's own run seed and start, never exploited or perturbed
        config = resolve("ppo", "CartPole-v1", None, [*OVERRIDES, f"steps={STEPS}", f"out={tmp_path / 'plain'}",
                                                      f"learning_rate={point['learning_rate']}"])
        without += [s["eval_return_mean"] for s in train_seeds(config, [seed + number])]
    final_rates = [f"{r.params['learning_rate']:.1e}" for r in result.records]
    print(f"seed {seed}: PBT {with_pbt} (final learning rates {final_rates}); without PBT {without}")
    assert len(with_pbt) == 4
    assert max(with_pbt) >= max(without) + 100, (with_pbt, without)
