"""The exposed transition models solve to the values the literature gives (value iteration written here)."""

import numpy as np
import pytest

from porcini.envs.builtin import Chain, CliffWalking, DiceGame, GridWorld, RiverSwim


def value_iteration(P, R, terminal, gamma, tol=1e-12, max_iterations=100_000):
    """Plain value iteration: Q = R + gamma P V, V = max_a Q, terminal states worth 0."""
    V = np.zeros(P.shape[0])
    for _ in range(max_iterations):
        Q = R + gamma * P @ V
        V_new = np.where(terminal, 0.0, Q.max(axis=1))
        if np.max(np.abs(V_new - V)) < tol:
            return V_new, Q
        V = V_new
    raise AssertionError("value iteration did not converge")


def test_models_are_stochastic_matrices():
    for env in (GridWorld(), CliffWalking(), Chain(), RiverSwim(), DiceGame()):
        P, R, terminal = env.transition_model()
        assert P.shape[:2] == R.shape and P.shape[0] == P.shape[2] == terminal.shape[0]
        np.testing.assert_allclose(P.sum(axis=-1), 1.0, atol=1e-12)
        assert np.all(P >= 0)


@pytest.mark.parametrize("gamma", [1.0, 0.9, 0.75, 0.6, 0.5, 0.0])
def test_dice_game_value_equals_closed_form(gamma):
    P, R, terminal = DiceGame().transition_model()
    V, Q = value_iteration(P, R, terminal, gamma)
    # Closed form, by hand: continuing forever is worth V_c = 3 + gamma (2/3) V_c, so V_c = 3 / (1 - 2 gamma / 3);
    # quitting is worth 5. At gamma = 1, V_c = 9 > 5.
    continue_forever = 3.0 / (1.0 - 2.0 * gamma / 3.0)
    assert V[DiceGame.IN_GAME] == pytest.approx(max(5.0, continue_forever), abs=1e-9)
    assert V[DiceGame.GAME_OVER] == 0.0
    if gamma == 1.0:
        assert V[DiceGame.IN_GAME] == pytest.approx(9.0, abs=1e-9)
    if gamma > 0.6:
        assert Q[DiceGame.IN_GAME].argmax() == DiceGame.CONTINUE
    elif gamma < 0.6:
        assert Q[DiceGame.IN_GAME].argmax() == DiceGame.QUIT
    assert DiceGame().optimal_value(gamma) == pytest.approx(max(5.0, continue_forever), abs=1e-12)


def test_dice_game_monte_carlo_return_of_always_continue():
    env = DiceGame()
    env.reset(seed=0)
    returns = []
    for _ in range(4000):
        env.reset()
        total, terminated = 0.0, False
        while not terminated:
            _, reward, terminated, _, _ = env.step(DiceGame.CONTINUE)
            total += reward
        returns.append(total)
    # Return = 3 x (number of rounds), rounds ~ Geometric(1/3): mean 9, std 3 sqrt(6) ~ 7.35.
    assert np.mean(returns) == pytest.approx(9.0, abs=4 * 7.35 / np.sqrt(len(returns)))


def test_cliff_walking_optimal_return_is_minus_13():
    env = CliffWalking()
    P, R, terminal = env.transition_model()
    V, Q = value_iteration(P, R, terminal, gamma=1.0)
    start = env.cell_index(3, 0)
    assert start == 36 and V[start] == pytest.approx(-13.0)
    # The greedy policy, run in the env itself, walks the cliff edge: 13 moves, return -13.
    obs, _ = env.reset(seed=0)
    total, n_moves, terminated = 0.0, 0, False
    while not terminated and n_moves < 100:
        obs, reward, terminated, _, _ = env.step(int(Q[obs].argmax()))
        total, n_moves = total + reward, n_moves + 1
    assert (total, n_moves, obs) == (-13.0, 13, 47)


def test_russell_norvig_4x3_utilities():
    # AIMA (3rd ed.), Fig. 17.3: utilities of the 4x3 world with R(s) = -0.04, gamma = 1, 0.8/0.1/0.1 moves.
    # AIMA's U(s) counts the reward of being in s; our V(s) counts rewards of entered cells, so U = V - 0.04.
    aima = {(0, 0): 0.812, (0, 1): 0.868, (0, 2): 0.918, (1, 0): 0.762, (1, 2): 0.660,
            (2, 0): 0.705, (2, 1): 0.655, (2, 2): 0.611, (2, 3): 0.388}  # fmt: skip
    env = GridWorld()
    V, _ = value_iteration(*env.transition_model(), gamma=1.0)
    for (row, col), utility in aima.items():
        assert V[env.cell_index(row, col)] - 0.04 == pytest.approx(utility, abs=1.5e-3), (row, col)


def test_river_swim_optimal_policy_swims_right():
    env = RiverSwim()
    P, R, terminal = env.transition_model()
    _, Q = value_iteration(P, R, terminal, gamma=0.95)
    assert np.all(Q.argmax(axis=1) == RiverSwim.RIGHT)
    # With a tiny far reward, the small sure reward of staying left wins in state 0.
    cheap = RiverSwim(large_reward=1.0)
    _, Q = value_iteration(*cheap.transition_model(), gamma=0.95)
    assert Q[0].argmax() == RiverSwim.LEFT


def test_chain_optimal_policy_goes_forward():
    env = Chain()
    _, Q = value_iteration(*env.transition_model(), gamma=0.99)
    assert np.all(Q.argmax(axis=1) == Chain.FORWARD)
    # Myopic (gamma = 0): the small reward of going back looks best everywhere but the last state.
    _, Q0 = value_iteration(*env.transition_model(), gamma=0.0)
    assert np.all(Q0[:-1].argmax(axis=1) == Chain.BACK)
