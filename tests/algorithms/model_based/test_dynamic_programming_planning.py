import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms.model_based.dynamic_programming import (
    TabularPolicyAgent,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)
from porcini.envs.info import EnvInfo


def two_state_mdp():
    # State 0: action 0 "stay" gives 1 and stays; action 1 "go" gives 0 and moves to state 1.
    # State 1: action 0 gives 2 and stays; action 1 gives 0 and returns to state 0.
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 1] = P[1, 1, 0] = 1.0
    R = np.array([[1.0, 0.0], [2.0, 0.0]])
    return P, R


def test_two_state_mdp_solved_by_hand():
    # By hand with gamma = 0.9: in state 1 staying forever is worth 2 / (1 - 0.9) = 20.
    # In state 0: staying is worth 1 / 0.1 = 10; going is worth 0 + 0.9 * 20 = 18 -> go.
    P, R = two_state_mdp()
    for solve in (value_iteration, policy_iteration):
        result = solve(P, R, 0.9)
        np.testing.assert_allclose(result.values, [18.0, 20.0], atol=1e-8)
        np.testing.assert_array_equal(result.policy, [1, 0])
        # Q by hand: Q(0, stay) = 1 + 0.9 * 18, Q(1, back) = 0 + 0.9 * 18
        np.testing.assert_allclose(result.q_values, [[17.2, 18.0], [20.0, 16.2]], atol=1e-8)


def test_two_state_mdp_myopic_discount():
    # gamma = 0.4: going is worth 0.4 * V(1) = 0.4 * 2 / 0.6 = 1.333; staying 1 / 0.6 = 1.667 -> stay
    P, R = two_state_mdp()
    result = value_iteration(P, R, 0.4)
    np.testing.assert_array_equal(result.policy, [0, 0])
    np.testing.assert_allclose(result.values, [1 / 0.6, 2 / 0.6], atol=1e-9)


def test_transition_rewards_are_reduced_to_expected_rewards():
    P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    R3 = np.zeros((2, 1, 2))
    R3[0, 0] = [4.0, 2.0]  # expected reward 3
    result = value_iteration(P, R3, 0.5, terminal=[False, True])
    # V(0) = 3 + 0.5 * (0.5 V(0) + 0.5 * 0) -> V(0) = 3 / 0.75 = 4
    np.testing.assert_allclose(result.values, [4.0, 0.0], atol=1e-9)


def test_policy_evaluation_matches_a_slow_sweep_loop():
    rng = np.random.default_rng(0)
    P = rng.random((6, 3, 6))
    P /= P.sum(-1, keepdims=True)
    R = rng.normal(size=(6, 3))
    terminal = np.array([False, False, True, False, False, False])
    policy = rng.integers(0, 3, 6)
    v = np.zeros(6)
    for _ in range(2000):  # the obvious iterative evaluation, one state at a time
        for s in range(6):
            if terminal[s]:
                continue
            v[s] = R[s, policy[s]] + 0.9 * sum(P[s, policy[s], s2] * (0 if terminal[s2] else v[s2]) for s2 in range(6))
    np.testing.assert_allclose(policy_evaluation(P, R, 0.9, policy, terminal), v, atol=1e-9)
    vi, pi = value_iteration(P, R, 0.9, terminal), policy_iteration(P, R, 0.9, terminal)
    np.testing.assert_allclose(vi.values, pi.values, atol=1e-8)
    np.testing.assert_array_equal(vi.policy, pi.policy)


def test_dice_game_value_iteration_gives_the_closed_form_value():
    # Closed form (porcini/envs/builtin/dice_game.py): V* = max(5, 3 / (1 - gamma * 2/3)); 9 at gamma = 1.
    env = make_env("porcini/DiceGame-v0")
    game = env.envs[0].unwrapped
    P, R, terminal = game.transition_model()
    for gamma, value, action in ((1.0, 9.0, 1), (0.9, 7.5, 1), (0.5, 5.0, 0)):
        result = value_iteration(P, R, gamma, terminal)
        assert result.values[0] == pytest.approx(value, abs=1e-8)
        assert result.values[0] == pytest.approx(game.optimal_value(gamma), abs=1e-8)
        assert result.policy[0] == action
        assert policy_iteration(P, R, gamma, terminal).values[0] == pytest.approx(value, abs=1e-9)


def test_cliff_walking_optimal_return_is_minus_13():
    env = make_env("porcini/CliffWalking-v0")
    P, R, terminal = env.envs[0].unwrapped.transition_model()
    assert value_iteration(P, R, 1.0, terminal).values[36] == pytest.approx(-13.0)


def test_errors_name_the_problem():
    P, R = two_state_mdp()
    with pytest.raises(ValueError, match="probability distribution"):
        value_iteration(P * 0.5, R, 0.9)
    with pytest.raises(ValueError, match="R must be shaped"):
        value_iteration(P, R[:1], 0.9)
    with pytest.raises(ValueError, match="improper"):
        policy_iteration(P, R, 1.0)  # no terminal state: every policy loops forever under gamma = 1
    with pytest.raises(RuntimeError, match="did not converge"):
        value_iteration(P, R, 1.0, max_iterations=50)


def test_undiscounted_evaluation_needs_every_state_to_reach_a_terminal_one():
    # State 0 stays with 0.5 and ends with 0.5 (reward 1 a step): proper, V(0) = 1 / 0.5 = 2. State 1 under
    # action 0 stays forever: improper, named in the error; under action 1 it moves to 0: V(1) = 1 + 2.
    P = np.zeros((3, 2, 3))
    P[0, :, 0] = P[0, :, 2] = 0.5
    P[1, 0, 1] = P[1, 1, 0] = 1.0
    P[2, :, 2] = 1.0
    R = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    terminal = [False, False, True]
    np.testing.assert_allclose(policy_evaluation(P, R, 1.0, [0, 1, 0], terminal), [2.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="never terminates from state 1"):
        policy_evaluation(P, R, 1.0, [0, 0, 0], terminal)
    assert policy_evaluation(P, R, 0.5, [0, 0, 0], terminal)[1] == pytest.approx(2.0)  # gamma < 1: always finite


def test_a_tabular_policy_numbers_states_from_the_observation_start():
    """Observation ``start + i`` plays ``policy[i]``, as a Q-table reads row ``i``."""
    policy = [1, 0, 2, 1]
    shifted = TabularPolicyAgent(EnvInfo("toy", gym.spaces.Discrete(4, start=10), gym.spaces.Discrete(3)), policy)
    plain = TabularPolicyAgent(EnvInfo("toy", gym.spaces.Discrete(4), gym.spaces.Discrete(3)), policy)
    np.testing.assert_array_equal(shifted.act(np.array([10, 11, 12, 13]), explore=False), policy)
    np.testing.assert_array_equal(plain.act(np.array([0, 1, 2, 3]), explore=False), policy)
