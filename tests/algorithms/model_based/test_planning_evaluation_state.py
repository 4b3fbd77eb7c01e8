"""Evaluating a planning agent: every evaluation episode plans from no warm start, and the training env's warm
starts, planner memories and random generators are put back after, so training goes on as if it never happened."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.mpc import MPC
from porcini.algorithms.model_based.pets import PETS
from porcini.core.evaluation import run_episodes


@pytest.mark.parametrize("planner", ["cem", "icem"])
def test_evaluation_episodes_start_cold_and_the_training_warm_starts_come_back(planner):
    train = make_env("Pendulum-v1", seed=0)
    agent = MPC(train.info, planner=planner, horizon=3, population=8, iterations=2, elites=2)
    obs, _ = train.reset(seed=0)
    for _ in range(3):
        obs = train.step(agent.act(obs, explore=True))[0]
    before = agent.planning_state()

    warm_started: list[bool] = []
    plan = agent.planner.plan

    def recording_plan(cost_of, initial=None):
        warm_started.append(initial is not None)
        return plan(cost_of, initial)

    agent.planner.plan = recording_plan
    record = run_episodes(agent, make_env("Pendulum-v1", seed=1), 2, seed=1)

    starts = np.concatenate([[0], np.cumsum(record.lengths)[:-1]])
    assert len(warm_started) == sum(record.lengths)
    assert [warm_started[i] for i in starts] == [False] * len(starts)
    assert all(warm_started[i] for i in range(len(warm_started)) if i not in set(starts.tolist()))
    after = agent.planning_state()
    assert torch.equal(after["warm"][0], before["warm"][0])
    assert after["memory"][0].keys() == before["memory"][0].keys()
    for key, value in before["memory"][0].items():
        assert torch.equal(after["memory"][0][key], value)


@pytest.mark.parametrize("make", [
    lambda info: MPC(info, planner="icem", horizon=3, population=8, iterations=2, elites=2),
    lambda info: PETS(info, model_hidden=(8,), horizon=3, population=8, iterations=1, elites=2, particles=5),
])
def test_a_greedy_evaluation_changes_nothing_of_what_training_does_next(make):
    info = make_env("Pendulum-v1", seed=0).info
    evaluated, untouched = make(info), make(info)
    obs, _ = make_env("Pendulum-v1", seed=0).reset(seed=0)
    for agent in (evaluated, untouched):
        agent.act(obs, explore=True)
    run_episodes(evaluated, make_env("Pendulum-v1", seed=1), 1, seed=1)
    for _ in range(3):
        np.testing.assert_array_equal(evaluated.act(obs, explore=True), untouched.act(obs, explore=True))
