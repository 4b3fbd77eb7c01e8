"""Prioritized sweeping learns only through its queue, so a planning budget of 0 is refused instead of learning
nothing."""

import pytest

from porcini import Core, make_env
from porcini.algorithms.model_based.prioritized_sweeping import PrioritizedSweeping
from porcini.core import ConfigError


def test_a_zero_planning_budget_is_refused():
    env = make_env("porcini/DynaMaze-v0", seed=0)
    with pytest.raises(ConfigError, match="planning_steps"):
        PrioritizedSweeping(env.info, planning_steps=0)


def test_one_update_per_real_transition_learns():
    env = make_env("porcini/DynaMaze-v0", seed=0)
    agent = PrioritizedSweeping(env.info, planning_steps=1)
    Core(agent, env, progress=False).learn(episodes=2)
    assert agent.q.weights.max() > 0  # the goal's reward reached the table
