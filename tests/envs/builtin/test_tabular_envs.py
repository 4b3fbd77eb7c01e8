"""Tabular envs: the sampler follows the exposed model; grid layouts, walls, pits, cliffs and slips."""

import numpy as np
import pytest

from porcini.envs.builtin import Chain, CliffWalking, DiceGame, GridWorld, RiverSwim, TabularEnv


def _empirical_model(env, n_samples, seed=0):
    """Estimate P[s, a, s'] and R[s, a] by starting in every (s, a) n_samples times."""
    P, R, terminal = env.transition_model()
    counts, rewards = np.zeros_like(P), np.zeros_like(R)
    env.reset(seed=seed)
    for s in np.flatnonzero(~terminal):
        for a in range(P.shape[1]):
            for _ in range(n_samples):
                env.reset(options={"state": int(s)})
                next_state, reward, *_ = env.step(a)
                counts[s, a, next_state] += 1
                rewards[s, a] += reward
    return counts / n_samples, rewards / n_samples, ~terminal


@pytest.mark.parametrize(
    "env", [RiverSwim(), Chain(), GridWorld(), GridWorld(["S.C", "..G"], slip=0.3, cliff_reward=-5.0)]
)
def test_sampler_matches_transition_model(env):
    n = 2000
    P_hat, R_hat, live = _empirical_model(env, n)
    P, R, _ = env.transition_model()
    # Binomial frequency: 5 standard deviations (+ a floor for p = 0 or 1, which must match exactly).
    tolerance = 5 * np.sqrt(P * (1 - P) / n) + 1e-12
    assert np.all(np.abs(P_hat - P)[live] <= tolerance[live])
    reward_scale = max(1.0, np.abs(R).max())
    np.testing.assert_allclose(R_hat[live], R[live], atol=0.1 * reward_scale)


def test_from_dense_round_trip_and_doc_example():
    P = np.zeros((3, 2, 3))
    P[0, 0] = [0.0, 0.5, 0.5]
    P[0, 1, 0] = 1.0
    P[1, :, 2] = 1.0
    P[2, :, 2] = 1.0
    R = np.array([[1.0, -1.0], [2.0, 2.0], [0.0, 0.0]])
    env = TabularEnv.from_dense(P, R, terminal=[False, False, True], gamma=0.9)
    P2, R2, terminal = env.transition_model()
    np.testing.assert_array_equal(P2, P)
    np.testing.assert_array_equal(R2, R)
    assert terminal.tolist() == [False, False, True] and env.metadata["gamma"] == 0.9
    assert env.reset(seed=0) == (0, {})
    assert env.step(1) == (0, -1.0, False, False, {})


def test_tabular_errors_name_the_problem():
    with pytest.raises(ValueError, match="state 0, action 0"):
        TabularEnv.from_dense(np.full((1, 1, 1), 0.5), np.zeros((1, 1)), terminal=[False])
    env = RiverSwim()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        env.step(2)
    with pytest.raises(ValueError, match="not a state index"):
        env.reset(options={"state": 6})


def test_russell_norvig_slip_probabilities_by_hand():
    env = GridWorld()  # layout ("...G", ".#.X", "S..."), slip 0.2
    P, R, terminal = env.transition_model()
    start = env.cell_index(2, 0)
    # Up from the start: 0.8 up to (1, 0); 0.1 left bumps the edge and stays; 0.1 right to (2, 1).
    expected = {env.cell_index(1, 0): 0.8, start: 0.1, env.cell_index(2, 1): 0.1}
    assert {int(s): p for s, p in enumerate(P[start, 0]) if p > 0} == pytest.approx(expected)
    # Right from (1, 2), beside the pit: 0.8 into the pit (-1), 0.1 up, 0.1 down.
    s = env.cell_index(1, 2)
    assert P[s, 1, env.cell_index(1, 3)] == pytest.approx(0.8)
    assert R[s, 1] == pytest.approx(0.8 * -1.0 + 0.2 * -0.04)
    assert terminal.sum() == 2 and terminal[env.cell_index(0, 3)] and terminal[env.cell_index(1, 3)]
    # Left from (1, 2) walks into the wall at (1, 1): stays put with probability 0.8.
    assert P[s, 3, s] == pytest.approx(0.8)


def test_gridworld_walls_goals_and_rewards():
    # States: 0 S, 1 #, 2 a / 3, 4, 5 / 6, 7, 8 b.
    env = GridWorld(["S#a", "...", "..b"], step_reward=-1.0, terminal_rewards={"a": 5.0, "b": 2.0}, slip=0.0)
    assert env.reset(seed=0)[0] == 0
    assert env.step(1)[:3] == (0, -1.0, False)  # right: the wall, stay
    assert env.step(2)[:3] == (3, -1.0, False)  # down
    assert env.step(1)[:3] == (4, -1.0, False)  # right
    assert env.step(0)[:3] == (4, -1.0, False)  # up: the wall, stay
    assert env.step(1)[:3] == (5, -1.0, False)  # right
    assert env.step(0)[:3] == (2, 5.0, True)  # up into goal a
    env.reset(options={"state": 5})
    assert env.step(2)[:3] == (8, 2.0, True)  # down into goal b
    env.reset(options={"state": 6})
    assert env.step(3)[:3] == (6, -1.0, False)  # left: the grid's edge, stay


def test_cliff_sends_back_to_start_without_terminating():
    env = CliffWalking()
    obs, _ = env.reset(seed=0)
    assert obs == 36
    assert env.step(1)[:4] == (36, -100.0, False, False)  # right, into the cliff
    assert env.step(0)[:3] == (24, -1.0, False)  # up
    env.reset(options={"state": 35})  # above the goal
    assert env.step(2)[:3] == (47, -1.0, True)
    assert env.render() is None  # no render mode
    text = CliffWalking(render_mode="ansi")
    text.reset(seed=0)
    assert text.render().splitlines()[3] == "ACCCCCCCCCCG"


def test_layout_errors():
    with pytest.raises(ValueError, match="equal length"):
        GridWorld(["S..", ".."])
    with pytest.raises(ValueError, match=r"unknown characters \['Z'\]"):
        GridWorld(["SZ"])
    with pytest.raises(ValueError, match="no start cell"):
        GridWorld(["..G"])
    with pytest.raises(ValueError, match="single characters"):
        GridWorld(["SG"], terminal_rewards={"#": 1.0})
    with pytest.raises(ValueError, match="slip"):
        GridWorld(["SG"], slip=1.5)


def test_random_start_covers_free_cells():
    env = GridWorld(["...", ".#.", "..G"], random_start=True, slip=0.0)
    env.reset(seed=0)
    starts = {env.reset()[0] for _ in range(300)}
    assert starts == {0, 1, 2, 3, 5, 6, 7}  # every free cell; not the wall (4) nor the goal (8)


def test_river_swim_paper_parameters():
    P, R, terminal = RiverSwim().transition_model()
    assert not terminal.any()
    np.testing.assert_allclose(P[0, RiverSwim.RIGHT, :2], [0.7, 0.3])
    np.testing.assert_allclose(P[3, RiverSwim.RIGHT, 2:5], [0.1, 0.6, 0.3])
    np.testing.assert_allclose(P[5, RiverSwim.RIGHT, 4:], [0.7, 0.3])
    assert P[3, RiverSwim.LEFT, 2] == 1.0
    assert R[0, RiverSwim.LEFT] == 5.0 and R[5, RiverSwim.RIGHT] == pytest.approx(0.3 * 10000)
    np.testing.assert_allclose(RiverSwim().initial_state_distribution, [0, 0.5, 0.5, 0, 0, 0])


def test_deterministic_chain_and_dice_rules():
    chain = Chain(n_states=4, slip=0.0)
    chain.reset(seed=0)
    assert [chain.step(Chain.FORWARD)[:2] for _ in range(4)] == [(1, 0.0), (2, 0.0), (3, 0.0), (3, 10.0)]
    assert chain.step(Chain.BACK)[:3] == (0, 2.0, False)
    game = DiceGame()
    game.reset(seed=0)
    assert game.step(DiceGame.QUIT)[:3] == (1, 5.0, True)
    with pytest.raises(ValueError, match="losing_faces"):
        DiceGame(losing_faces=0)


def test_probabilities_rounded_to_six_digits_are_rescaled_for_sampling_and_the_model():
    # thirds written to six digits: accepted by the constructor, so reset must not crash in NumPy's choice, and the
    # model must be the distribution the sampler draws from (each row summing to 1)
    third = 0.333333
    P = np.zeros((3, 1, 3))
    P[:, 0] = third
    env = TabularEnv.from_dense(P, np.ones((3, 1)), terminal=[False] * 3, initial_probs=[third] * 3)
    starts = np.bincount([env.reset(seed=seed)[0] for seed in range(3000)], minlength=3) / 3000
    np.testing.assert_allclose(starts, 1 / 3, atol=5 * np.sqrt(2 / 9 / 3000))
    np.testing.assert_allclose(env.initial_state_distribution, 1 / 3, rtol=1e-12)
    model, _, _ = env.transition_model()
    np.testing.assert_allclose(model.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model, 1 / 3, rtol=1e-12)
