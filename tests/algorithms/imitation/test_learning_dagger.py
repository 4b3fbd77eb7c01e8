"""DAgger against BC at the same number of expert labels (``-m slow``), where BC's errors compound.

The task is a grid world with a narrow path: a 5-row field between pits, the start on the left of the middle row,
the goal on the right, and moves that slip sideways with probability 0.2. The expert is value iteration on the
env's own model. Its demonstrations keep to the middle rows, so a clone that slips (or errs) reaches cells it has
never seen, where its one-hot input was never trained and its action is arbitrary; DAgger has the expert label the
cells the clone itself reaches. BC gets ``n`` labels as expert demonstrations; DAgger gets ``n`` labels over rounds
of one episode's length (round 0 is the expert acting alone, then the clone acts). Both curves are printed
(``pytest -m slow -s``); the criterion holds on at least 4 of 5 seeds at each of the two largest budgets.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.imitation import DAgger, agent_expert
from porcini.algorithms.model_based.value_iteration import ValueIteration
from porcini.algorithms.offline.bc import BC
from porcini.core.evaluation import run_episodes
from porcini.data import collect_dataset

pytestmark = pytest.mark.slow

NARROW_PATH = ("XXXXXXXXXXXXXX",
               "X............X",
               "X............X",
               "S............G",
               "X............X",
               "X............X",
               "XXXXXXXXXXXXXX")
ENV_KWARGS = {"layout": NARROW_PATH, "slip": 0.2, "step_reward": -0.01}
EPISODE = 13  # the shortest way to the goal: the round length and the unit of the label budgets
BUDGETS = [EPISODE * k for k in (2, 4, 8, 16)]
SEEDS, NEEDED = range(5), 4
SETTINGS = {"net_arch": (64,)}
UPDATES = 500  # BC's gradient steps, and DAgger's per round


def grid(seed: int):
    return make_env("porcini/GridWorld-v0", seed=seed, env_kwargs=ENV_KWARGS)


def evaluate(agent, seed: int) -> float:
    return run_episodes(agent, grid(500 + seed), 200, seed=500 + seed).mean_return()


def test_dagger_beats_bc_at_the_same_number_of_expert_labels():
    torch.set_num_threads(1)
    info = grid(0).info
    expert_agent = ValueIteration(info, gamma=0.99)
    expert = agent_expert(expert_agent)
    print(f"expert {evaluate(expert_agent, 0):.2f}")
    wins = np.zeros(len(BUDGETS), dtype=int)
    for seed in SEEDS:
        curve = []
        for k, labels in enumerate(BUDGETS):
            bc = BC(info, seed=seed, **SETTINGS)
            bc.add_dataset(collect_dataset(grid(seed), expert, steps=labels, seed=seed))
            bc.update(UPDATES)
            dagger = DAgger(info, expert=expert, seed=seed, round_steps=EPISODE, updates_per_round=UPDATES,
                            beta_decay=0.0, **SETTINGS)
            Core(dagger, grid(seed), progress=False).learn(steps=labels)
            assert dagger.labels == labels
            bc_return, dagger_return = evaluate(bc, seed), evaluate(dagger, seed)
            wins[k] += dagger_return > bc_return
            curve.append(f"{labels}: bc {bc_return:.2f} dagger {dagger_return:.2f}")
        print(f"seed {seed} | " + " | ".join(curve), flush=True)
    print("DAgger ahead on", dict(zip(BUDGETS, wins.tolist())), "seeds of", len(SEEDS))
    assert all(wins[-2:] >= NEEDED), dict(zip(BUDGETS, wins.tolist()))
