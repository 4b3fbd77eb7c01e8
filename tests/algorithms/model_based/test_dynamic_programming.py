"""Dynamic programming: how value iteration and policy iteration break ties between equally good actions."""

import numpy as np

from porcini.algorithms.model_based.dynamic_programming import policy_iteration, value_iteration


def tie_after_improvement():
    """State 0: action 0 ends with 0, action 1 moves to state 1, action 2 ends with 1. State 1: action 1 ends
    with 1. Under the all-zeros policy action 2 is best in state 0; once state 1 is worth 1, actions 1 and 2 tie."""
    P = np.zeros((3, 3, 3))
    P[0, 0, 2] = P[0, 2, 2] = P[0, 1, 1] = 1.0
    P[1, :, 2] = 1.0
    P[2, :, 2] = 1.0
    R = np.zeros((3, 3))
    R[0, 2] = R[1, 1] = 1.0
    return P, R, np.array([False, False, True])


def test_policy_iteration_keeps_its_action_on_a_tie_where_value_iteration_takes_the_first_maximizer():
    P, R, terminal = tie_after_improvement()
    pi = policy_iteration(P, R, 1.0, terminal)
    vi = value_iteration(P, R, 1.0, terminal)
    np.testing.assert_allclose(pi.values, vi.values)
    np.testing.assert_allclose(pi.q_values[0], [0.0, 1.0, 1.0])  # a real tie between actions 1 and 2
    assert vi.policy[0] == 1  # value iteration: the first maximizer
    assert pi.policy[0] == 2  # policy iteration: the action chosen before the tie arose, kept
    assert pi.policy[1] == vi.policy[1] == 1
    for result in (pi, vi):  # both are greedy in their action values
        chosen = result.q_values[np.arange(3), result.policy]
        np.testing.assert_allclose(chosen, result.q_values.max(axis=1))
