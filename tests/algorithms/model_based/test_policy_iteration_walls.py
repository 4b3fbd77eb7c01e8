"""Policy iteration with gamma = 1 on a grid with walls: a wall no action leaves and that pays nothing is worth 0,
so it does not make every policy look improper."""

import numpy as np

from porcini import make_env
from porcini.algorithms import PolicyIteration
from porcini.algorithms.model_based.dynamic_programming import policy_evaluation


def reference_values(P, R, terminal, gamma, sweeps=5000):
    """Plain value iteration over the arrays, terminal states worth 0."""
    V = np.zeros(len(P))
    for _ in range(sweeps):
        V = np.where(terminal, 0.0, (R + gamma * P @ V).max(axis=1))
    return V


def test_policy_iteration_plans_russell_norvig_world_undiscounted():
    env = make_env("porcini/GridWorld-v0")  # Russell & Norvig's 4x3 world, a wall at state 5, gamma 1
    grid = env.envs[0].unwrapped
    P, R, terminal = grid.transition_model()
    agent = PolicyIteration(env.info)
    assert agent.gamma == 1.0
    expected = reference_values(P, R, terminal, 1.0)
    np.testing.assert_allclose(agent.result.values, expected, atol=1e-9)
    start = grid.cell_index(2, 0)
    assert abs(agent.result.values[start] - 0.04 - 0.705) < 1e-3  # AIMA Fig. 17.3, U = V - 0.04


def test_policy_evaluation_of_a_proper_policy_beside_a_wall():
    # state 0 moves to the terminal state 2 with reward 1; state 1 is a wall: no action leaves it, it pays nothing
    P = np.zeros((3, 2, 3))
    P[0, :, 2] = P[1, :, 1] = P[2, :, 2] = 1.0
    R = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    values = policy_evaluation(P, R, 1.0, [0, 0, 0], terminal=[False, False, True])
    np.testing.assert_allclose(values, [1.0, 0.0, 0.0])
