"""The toy-text P-table adapter, checked against obviously-correct loops over the tables themselves."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms.model_based.dynamic_programming import value_iteration
from porcini.envs.tabular_model import model_from_transitions, tabular_model
from porcini.errors import NoModelError, UnsupportedSpaceError

TOY_TEXT = [
    ("FrozenLake-v1", {"is_slippery": True}),
    ("FrozenLake-v1", {"is_slippery": False}),
    ("FrozenLake8x8-v1", {}),
    ("CliffWalking-v1", {}),
    ("CliffWalkingSlippery-v1", {}),
    ("Taxi-v4", {}),
    ("Taxi-v4", {"is_rainy": True}),
]


def reference_arrays(table, n_states, n_actions, absorbing):
    """P and R by the plainest loop: one outcome at a time; terminations enter state n_states when absorbing."""
    size = n_states + 1 if absorbing else n_states
    P, R = np.zeros((size, n_actions, size)), np.zeros((size, n_actions))
    for s in range(n_states):
        for a in range(n_actions):
            for prob, next_state, reward, terminated in table[s][a]:
                P[s, a, n_states if (absorbing and terminated) else next_state] += prob
                R[s, a] += prob * reward
    if absorbing:
        P[n_states, :, n_states] = 1.0
    return P, R


def reference_values(table, n_states, n_actions, gamma):
    """Value iteration straight on the table: Q(s, a) = sum p (r + gamma * (0 if terminated else V(s')))."""
    values, previous = np.zeros(n_states), np.full(n_states, np.inf)
    while np.max(np.abs(values - previous)) > 1e-12:
        previous = values
        values = np.array([
            max(sum(p * (r + (0.0 if done_ else gamma * values[s2])) for p, s2, r, done_ in table[s][a])
                for a in range(n_actions))
            for s in range(n_states)
        ])
    return values


@pytest.mark.parametrize(("env_id", "kwargs"), TOY_TEXT)
def test_arrays_match_a_loop_over_the_table(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    table, n_states, n_actions = env.unwrapped.P, env.observation_space.n, env.action_space.n
    model = tabular_model(env)
    P, R = reference_arrays(table, n_states, n_actions, model.has_absorbing_state)
    np.testing.assert_allclose(model.P, P, atol=1e-12)
    np.testing.assert_allclose(model.R, R, atol=1e-12)
    assert model.n_states == n_states
    # Taxi lists moves between its delivered-passenger states, entered elsewhere only by a drop-off: absorbing
    assert model.has_absorbing_state == env_id.startswith("Taxi")


@pytest.mark.parametrize(("env_id", "kwargs"), TOY_TEXT)
def test_planned_values_match_value_iteration_on_the_table(env_id, kwargs):
    # The values an episode can meet: every state that is not terminal in the model (terminal ones are worth 0)
    env = gym.make(env_id, **kwargs)
    table, n_states, n_actions = env.unwrapped.P, env.observation_space.n, env.action_space.n
    model = tabular_model(env)
    gamma = 0.7
    planned = value_iteration(model.P, model.R, gamma, model.terminal, tol=1e-12).values[:n_states]
    expected = reference_values(table, n_states, n_actions, gamma)
    live = ~model.terminal[:n_states]
    np.testing.assert_allclose(planned[live], expected[live], atol=1e-8)


def test_duplicate_outcomes_add_up_and_terminations_do_not_bootstrap():
    # FrozenLake slips: moving left in the top-left corner lists state 0 twice (left and up both bump the edge)
    env = gym.make("FrozenLake-v1")
    assert [s2 for _, s2, _, _ in env.unwrapped.P[0][0]] == [0, 0, 4]
    model = tabular_model(env)
    assert model.P[0, 0, 0] == pytest.approx(2 / 3) and model.P[0, 0, 4] == pytest.approx(1 / 3)
    assert model.terminal.tolist() == [c in b"HG" for c in env.unwrapped.desc.flatten()]
    # By hand: state 0 goes to 0 (twice, reward 0) or ends in 1 with reward 1; action 1 ends with reward 5
    table = {0: {0: [(0.25, 0, 0.0, False), (0.25, 0, 0.0, False), (0.5, 1, 1.0, True)],
                 1: [(1.0, 1, 5.0, True)]},
             1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
    model = model_from_transitions(table, 2, 2)
    np.testing.assert_allclose(model.P[0], [[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(model.R[0], [0.5, 5.0])
    assert model.terminal.tolist() == [False, True] and not model.has_absorbing_state
    result = value_iteration(model.P, model.R, 1.0, model.terminal)
    assert result.values[0] == pytest.approx(5.0)  # the terminating reward, nothing after it
    # Q(0, 0) = 0.5 * (0 + V(0)) + 0.5 * 1: the terminating half has no bootstrap
    assert result.q_values[0, 0] == pytest.approx(0.5 * 5.0 + 0.5)


def test_termination_that_is_not_a_property_of_the_state_gets_an_absorbing_state():
    # Action 1 in state 0 ends the episode without moving ("quit", reward 2); action 0 moves to 1 (reward 0),
    # and from 1 action 0 returns to 0 with reward 3. State 0 is entered both ways: a terminal mask on it would
    # be wrong, so terminations go to an extra absorbing state.
    table = {0: {0: [(1.0, 1, 0.0, False)], 1: [(1.0, 0, 2.0, True)]},
             1: {0: [(1.0, 0, 3.0, False)], 1: [(1.0, 1, 0.0, False)]}}
    model = model_from_transitions(table, 2, 2)
    assert model.has_absorbing_state and model.P.shape == (3, 2, 3)
    assert model.terminal.tolist() == [False, False, True]
    result = value_iteration(model.P, model.R, 0.5, model.terminal)
    # V(0) = max(quit: 2, go: 0.5 * V(1)), V(1) = max(3 + 0.5 V(0), 0.5 V(1)) -> V(0) = 2, V(1) = 4
    np.testing.assert_allclose(result.values[:2], [2.0, 4.0])
    np.testing.assert_allclose(result.values[:2], reference_values(table, 2, 2, 0.5))
    # an episode that can start in a state entered by a termination also needs it
    consistent = {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 0.0, True)]}}
    assert not model_from_transitions(consistent, 2, 1).has_absorbing_state
    assert model_from_transitions(consistent, 2, 1, initial_probs=[0.5, 0.5]).has_absorbing_state


def test_porcini_envs_give_their_own_model():
    env = make_env("porcini/CliffWalking-v0")
    P, R, terminal = env.envs[0].unwrapped.transition_model()
    model = tabular_model(env)  # a porcini vector env: its first env
    np.testing.assert_array_equal(model.P, P)
    np.testing.assert_array_equal(model.R, R)
    assert env.info.model.get().P is env.info.model.get().P  # read once


def test_env_info_has_a_model_source_only_for_discrete_envs():
    assert make_env("CartPole-v1").info.model is None
    env = make_env("FrozenLake-v1", n_envs=2, vectorization="async", env_kwargs={"is_slippery": False})
    try:  # envs in subprocesses: the model of a local copy
        np.testing.assert_array_equal(env.info.model.get().P, tabular_model(gym.make("FrozenLake-v1",
                                                                                     is_slippery=False)).P)
    finally:
        env.close()


class NoTable(gym.Env):
    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(2)


def test_errors_name_the_problem():
    with pytest.raises(NoModelError, match="NoTable has no transition model: planning needs .* P table"):
        tabular_model(NoTable())
    assert issubclass(NoModelError, UnsupportedSpaceError)
    with pytest.raises(NoModelError, match="needs Discrete observations and actions"):
        tabular_model(gym.make("CartPole-v1"))
    with pytest.raises(NoModelError, match="fickle_passenger"):
        tabular_model(gym.make("Taxi-v4", fickle_passenger=True))
    good = {0: {0: [(1.0, 0, 0.0, False)], 1: [(1.0, 0, 0.0, False)]}}
    with pytest.raises(ValueError, match="no entry for action 1"):
        model_from_transitions({0: {0: good[0][0]}}, 1, 2)
    with pytest.raises(ValueError, match="no entry for state 1"):
        model_from_transitions(good, 2, 2)
    with pytest.raises(ValueError, match=r"P\[0\]\[1\] names next state 4"):
        model_from_transitions({0: {0: good[0][0], 1: [(1.0, 4, 0.0, False)]}}, 1, 2)
    with pytest.raises(ValueError, match=r"P\[0\]\[1\]: outcome probabilities sum to 0.5"):
        model_from_transitions({0: {0: good[0][0], 1: [(0.5, 0, 0.0, False)]}}, 1, 2)
