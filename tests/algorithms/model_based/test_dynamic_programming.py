"""Dynamic programming: how value iteration and policy iteration break ties between equally good actions."""

import numpy as np

from porcini.algorithms.model_based.dynamic_programming import policy_iteration, value_iteration


def tie_after_improvement():
    """State 0: action 0 ends with 0, action 1 moves to state 1 or ends (0.5 each, reward 0), action 2 ends with 1.
    State 1: action 1 ends with 2. Under the all-zeros policy action 2 is best in state 0; once state 1 is worth 2,
    actions 1 and 2 tie at 1."""
    P = np.zeros((3, 3, 3))
    P[0, 0, 2] = P[0, 2, 2] = 1.0
    P[0, 1, 1] = P[0, 1, 2] = 0.5
    P[1, :, 2] = 1.0
    P[2, :, 2] = 1.0
    R = np.zeros((3, 3))
    R[0, 2], R[1, 1] = 1.0, 2.0
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


def test_undiscounted_value_iteration_never_plans_a_free_loop_that_ties_with_the_way_out():
    # action 0 bumps into a wall (stays, reward 0), action 1 reaches the goal (reward 1): with gamma = 1 both are
    # worth 1, and the first maximizer, the bump, was planned: the values promised 1, the policy collected 0
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = 1.0
    P[1, 0, 2] = P[1, 1, 0] = 1.0  # state 1: action 0 reaches the goal, action 1 goes back (both free)
    P[2, :, 2] = 1.0
    R = np.zeros((3, 2))
    R[1, 0] = 1.0
    terminal = np.array([False, False, True])
    result = value_iteration(P, R, 1.0, terminal)
    np.testing.assert_allclose(result.values, [1.0, 1.0, 0.0])
    assert result.policy[:2].tolist() == [1, 0]
    state, collected = 0, 0.0
    for _ in range(10):  # the plan reaches the goal and collects what its values promise
        action = result.policy[state]
        collected += R[state, action]
        state = int(np.argmax(P[state, action]))
        if terminal[state]:
            break
    assert terminal[state] and collected == result.values[0]
    assert value_iteration(P, R, 0.9, terminal).policy[:2].tolist() == [1, 0]  # discounting: unchanged


def test_undiscounted_value_iteration_reaches_the_goal_of_a_deterministic_frozen_lake():
    import gymnasium as gym

    from porcini.envs.tabular_model import tabular_model

    env = gym.make("FrozenLake-v1", is_slippery=False)
    model = tabular_model(env)
    policy = value_iteration(model.P, model.R, 1.0, model.terminal).policy
    obs, _ = env.reset(seed=0)
    total, done, steps = 0.0, False, 0
    while not done and steps < 100:
        obs, reward, terminated, truncated, _ = env.step(int(policy[obs]))
        total, done, steps = total + reward, terminated or truncated, steps + 1
    assert total == 1.0
