"""Dyna-Q and prioritized sweeping: the table model, planning updates against closed forms, Q-learning when
there is no planning, backward sweeps, checkpoints, seeding and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms.model_based.dyna import DynaQ, TableModel
from porcini.algorithms.model_based.prioritized_sweeping import PrioritizedSweeping
from porcini.algorithms.tabular.q_learning import QLearning
from porcini.core.batch import TransitionBatch
from porcini.errors import UnsupportedSpaceError

MAZE = "porcini/DynaMaze-v0"
PATH = [(18, 0), (9, 0), (0, 1), (1, 1), (2, 2)]  # (state, action) on the maze, never into the goal


def one_row(state: int, action: int, reward: float, next_state: int, terminated: bool) -> TransitionBatch:
    return TransitionBatch(np.array([[state]]), np.array([[action]]), np.array([[reward]], dtype=np.float32),
                           np.array([[next_state]]), np.array([[terminated]]), np.array([[False]]))


def test_the_model_keeps_the_last_outcome_and_samples_only_pairs_tried():
    model = TableModel(5, 2)
    model.record(np.array([1, 3]), np.array([0, 1]), np.array([0.5, 1.0]), np.array([2, 4]), np.array([False, True]))
    model.record(np.array([1]), np.array([0]), np.array([-1.0]), np.array([3]), np.array([False]))
    assert model.reward[1, 0] == -1.0 and model.next_state[1, 0] == 3
    rng = np.random.default_rng(0)
    assert {model.sample(rng) for _ in range(200)} == {(1, 0), (3, 1)}
    assert [a.tolist() for a in model.predecessors(3)] == [[1], [0]]
    assert [a.tolist() for a in model.predecessors(4)] == [[], []]  # a terminal transition bootstraps from nothing


@pytest.mark.parametrize("n", [0, 1, 7])
def test_planning_repeats_the_update_on_the_only_pair_known(n):
    agent = DynaQ(make_env(MAZE).info, planning_steps=n, learning_rate=0.1)
    agent.fit(one_row(7, 1, 1.0, 8, True))  # into the goal: target 1, no bootstrap
    assert agent.q.weights[7, 1] == pytest.approx(1 - 0.9 ** (n + 1), rel=1e-12)
    assert agent.updates == n + 1


def test_a_planning_update_bootstraps_from_the_models_successor_unless_it_terminated():
    agent = DynaQ(make_env(MAZE).info, planning_steps=0, learning_rate=0.5, gamma=0.9)
    agent.q.weights[4] = [0.0, 2.0, 1.0, 0.0]
    agent.fit(one_row(3, 1, 0.25, 4, False))
    assert agent.q.weights[3, 1] == pytest.approx(0.5 * (0.25 + 0.9 * 2.0))
    assert agent.model_target(3, 1) == pytest.approx(0.25 + 0.9 * 2.0)
    agent.fit(one_row(5, 0, 0.25, 4, True))
    assert agent.model_target(5, 0) == pytest.approx(0.25)


def test_without_planning_dyna_q_is_q_learning_update_for_update():
    def table(cls):
        env = make_env(MAZE, seed=0)
        agent = cls(env.info, learning_rate=0.5, epsilon=0.2, seed=3, **({"planning_steps": 0} if cls is DynaQ else {}))
        Core(agent, env, progress=False).learn(steps=800)
        return agent.q.weights

    np.testing.assert_array_equal(table(DynaQ), table(QLearning))


def test_prioritized_sweeping_carries_the_goal_back_along_a_path_in_one_sweep():
    agent = PrioritizedSweeping(make_env(MAZE).info, planning_steps=20, learning_rate=1.0, gamma=0.9)
    chain = [*PATH, (3, 1)]
    for (s, a), (s_next, _) in zip(chain, chain[1:]):
        agent.fit(one_row(s, a, 0.0, s_next, False))
    assert not agent.q.weights.any()  # nothing to propagate yet
    agent.fit(one_row(3, 1, 1.0, 99 % 54, True))  # a (made-up) terminal reward at the path's end
    values = [agent.q.weights[s, a] for s, a in chain]
    np.testing.assert_allclose(values, [0.9 ** k for k in range(len(chain) - 1, -1, -1)], rtol=1e-12)
    assert not agent.queue


@pytest.mark.parametrize("cls", [DynaQ, PrioritizedSweeping])
def test_save_load_gives_identical_continuation(cls):
    env = make_env(MAZE, seed=0)
    agent = cls(env.info, planning_steps=5, initial_value=1.0, seed=0)  # optimistic: every update changes Q
    Core(agent, env, progress=False).learn(steps=300)
    restored = cls(env.info, planning_steps=5, initial_value=1.0, seed=9)
    restored.load_state_dict(agent.state_dict())
    for a in (agent, restored):
        Core(a, make_env(MAZE, seed=4), progress=False).learn(steps=300)
    np.testing.assert_array_equal(agent.q.weights, restored.q.weights)
    assert agent.updates == restored.updates and len(np.unique(agent.q.weights)) > 10


@pytest.mark.parametrize("cls", [DynaQ, PrioritizedSweeping])
def test_the_same_seed_gives_the_same_table_and_another_seed_another(cls):
    def table(seed):
        env = make_env(MAZE, seed=seed)
        agent = cls(env.info, planning_steps=5, initial_value=1.0, seed=seed)
        Core(agent, env, progress=False).learn(steps=500)
        return agent.q.weights

    np.testing.assert_array_equal(table(0), table(0))
    assert not np.array_equal(table(0), table(1))


def test_box_observations_and_bad_settings_are_named():
    with pytest.raises(UnsupportedSpaceError, match="learns a table model and needs Discrete observations"):
        DynaQ(make_env("CartPole-v1").info)
    with pytest.raises(ValueError, match="planning_steps"):
        DynaQ(make_env(MAZE).info, planning_steps=-1)
    with pytest.raises(ValueError, match="priority_threshold"):
        PrioritizedSweeping(make_env(MAZE).info, priority_threshold=-1.0)
    with pytest.raises(ValueError, match="do not fit this agent"):
        DynaQ(make_env("FrozenLake-v1").info).load_state_dict(DynaQ(make_env(MAZE).info).state_dict())
