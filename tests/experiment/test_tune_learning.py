"""Evidence that a search finds something (``-m slow``): random search over PPO's learning rate and clip range on
CartPole-v1, 8 trials of 20,000 env steps (PPO's config of record otherwise, one selection seed each). The best
trial must beat the worst by a clear margin (100 of return), and the best config is re-evaluated on 3 fresh seeds
(printed with ``pytest -m slow -s``; the selection seed is never a reporting seed).
"""

from __future__ import annotations

import csv

import pytest

from porcini.experiment.tune import tune

pytestmark = pytest.mark.slow


def test_random_search_over_ppo_separates_good_and_bad_learning_rates(tmp_path):
    space = {"learning_rate": {"loguniform": [1e-6, 1e-2]}, "clip_range": {"uniform": [0.05, 0.4]}}
    result = tune("ppo", "CartPole-v1", space, method="random", trials=8, steps=20_000, out=tmp_path / "t",
                  overrides=("log.sinks=[csv]",), top_k=1, report_seeds=3, seed=0)
    with open(tmp_path / "t" / "results.csv") as f:
        table = [row for row in csv.DictReader(f) if row["status"] == "complete"]
    assert len(table) == 8
    objectives = sorted(float(row["objective"]) for row in table)
    for row in sorted(table, key=lambda r: float(r["objective"])):
        print(f"lr {float(row['learning_rate']):.2e}  clip {float(row['clip_range']):.3f}  "
              f"return {float(row['objective']):.1f}")
    seeds, report = result.to_dict()["report"]["seeds"], result.to_dict()["report"]["configs"][0]
    print(f"best on fresh seeds {seeds}: IQM {report['iqm']:.1f} "
          f"[{report['ci_low']:.1f}, {report['ci_high']:.1f}], scores {report['scores']}")
    assert objectives[-1] - objectives[0] >= 100, objectives
