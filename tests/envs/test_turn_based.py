"""TurnBasedSeat: one seat of a two-player AEC game, the opponent moving inside reset and step."""

import numpy as np
import pytest

from porcini import make_env
from porcini.envs.adapters.turn_based import TurnBasedSeat, copy_game, legal_actions_of
from porcini.errors import EnvCheckError

tictactoe_v3 = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
connect_four_v3 = pytest.importorskip("pettingzoo.classic.connect_four_v3")


def scripted(moves):
    """A player that plays ``moves`` in order (and fails loudly when asked for more)."""
    remaining = list(moves)
    return lambda env, agent: remaining.pop(0)


def random_player(seed):
    rng = np.random.default_rng(seed)
    return lambda env, agent: int(rng.choice(legal_actions_of(env, agent)))


def squares(obs):
    """The learner's and the opponent's marks as two 0/1 vectors over the squares 0..8."""
    board = obs["observation"]
    return board[:, :, 0].ravel(), board[:, :, 1].ravel()


def play(seat_name, learner_moves, opponent_moves):
    """Play a scripted game with the learner in ``seat_name``; return the rewards, terminated and truncated flags."""
    seat = TurnBasedSeat(tictactoe_v3.env(), scripted(opponent_moves), seat=seat_name)
    seat.reset(seed=0)
    rewards, flags = [], []
    for move in learner_moves:
        _, reward, terminated, truncated, _ = seat.step(move)
        rewards.append(reward)
        flags.append((terminated, truncated))
        if terminated or truncated:
            break
    return rewards, flags


@pytest.mark.parametrize("seat_name, learner, opponent, expected", [
    ("player_1", [0, 1, 2], [3, 4], [0.0, 0.0, 1.0]),  # the learner wins on its own move
    ("player_1", [0, 1, 8], [3, 4, 5], [0.0, 0.0, -1.0]),  # the opponent wins on its move
    ("player_2", [3, 4, 5], [0, 1, 8], [0.0, 0.0, 1.0]),  # second seat, wins on its own move
    ("player_2", [3, 4], [0, 1, 2], [0.0, -1.0]),  # second seat, the opponent wins on its move
    ("player_1", [0, 8, 7, 2, 3], [4, 1, 6, 5], [0.0] * 5),  # a draw that the learner's move ends
    ("player_2", [4, 1, 6, 5], [0, 8, 7, 2, 3], [0.0] * 4),  # a draw that the opponent's move ends
])
def test_the_reward_reaches_the_learner_whichever_seat_ends_the_game(seat_name, learner, opponent, expected):
    rewards, flags = play(seat_name, learner, opponent)
    assert rewards == expected
    assert flags[-1] == (True, False) and all(f == (False, False) for f in flags[:-1])


def test_the_seat_is_drawn_from_np_random_at_every_reset_and_a_fixed_seat_stays():
    seat = TurnBasedSeat(tictactoe_v3.env(), random_player(0))
    seats = [seat.reset(seed=3)[1]["seat"]] + [seat.reset()[1]["seat"] for _ in range(199)]
    assert 70 < sum(seats) < 130
    # a fresh seat whose np_random is put in the state it had before a reset lands in the same seat (replay)
    rebuilt = TurnBasedSeat(tictactoe_v3.env(), random_player(0))
    rebuilt.reset(seed=0)
    for _ in range(20):
        rebuilt.np_random.bit_generator.state = seat.np_random.bit_generator.state
        assert rebuilt.reset()[1]["seat"] == seat.reset()[1]["seat"]
    firsts = {TurnBasedSeat(tictactoe_v3.env(), random_player(0)).reset(seed=s)[1]["seat"] for s in range(20)}
    assert firsts == {0, 1}
    fixed = TurnBasedSeat(tictactoe_v3.env(), random_player(0), seat="player_2")
    assert [fixed.reset(seed=s)[1]["seat"] for s in range(4)] == [1] * 4


def test_the_opponent_moves_first_in_the_second_seat_and_after_each_learner_move():
    seat = TurnBasedSeat(tictactoe_v3.env(), random_player(0), seat="player_2")
    obs, _ = seat.reset(seed=0)
    mine, theirs = squares(obs)
    assert mine.sum() == 0 and theirs.sum() == 1
    obs, reward, terminated, _, _ = seat.step(int(legal_actions_of(seat.aec_env, "player_2")[0]))
    mine, theirs = squares(obs)
    assert (mine.sum(), theirs.sum(), terminated) == (1, 2, False)
    first = TurnBasedSeat(tictactoe_v3.env(), random_player(0), seat="player_1")
    mine, theirs = squares(first.reset(seed=0)[0])
    assert mine.sum() == theirs.sum() == 0


@pytest.mark.parametrize("make_game", [lambda: tictactoe_v3.env(), lambda: connect_four_v3.env()])
def test_masks_are_the_legal_moves_and_random_games_end_with_a_zero_sum_outcome(make_game):
    seat = TurnBasedSeat(make_game(), random_player(1))
    rng = np.random.default_rng(0)
    obs, _ = seat.reset(seed=0)
    outcomes = set()
    for _ in range(40):
        total, ended = 0.0, False
        while not ended:
            mask = obs["action_mask"]
            assert mask.any()
            np.testing.assert_array_equal(np.flatnonzero(mask), legal_actions_of(seat.aec_env, seat.seat))
            obs, reward, terminated, truncated, _ = seat.step(int(rng.choice(np.flatnonzero(mask))))
            total, ended = total + reward, terminated or truncated
        outcomes.add(total)
        assert total in (-1.0, 0.0, 1.0)
        obs, _ = seat.reset()
    assert {-1.0, 1.0} <= outcomes


def trajectory(seed, n_steps=60):
    """Seats, observations and rewards of a seeded seat against a random opponent it reseeds itself."""

    class Reseeded:
        def __init__(self):
            self.rng = np.random.default_rng(12345)

        def reseed(self, s):
            self.rng = np.random.default_rng(s)

        def __call__(self, env, agent):
            return int(self.rng.choice(legal_actions_of(env, agent)))

    seat = TurnBasedSeat(tictactoe_v3.env(), Reseeded())
    obs, info = seat.reset(seed=seed)
    out = [info["seat"], obs["observation"].copy()]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, info = seat.step(int(np.flatnonzero(obs["action_mask"])[0]))
        out += [reward, obs["observation"].copy()]
        if terminated or truncated:
            obs, info = seat.reset()
            out += [info["seat"], obs["observation"].copy()]
    return out


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_seeded_seat_repeats_and_another_seed_differs():
    assert same(trajectory(0), trajectory(0))
    assert not same(trajectory(0), trajectory(1))


def test_an_illegal_learner_action_names_the_action_and_the_legal_ones():
    seat = TurnBasedSeat(tictactoe_v3.env(), scripted([4]), seat="player_2")
    seat.reset(seed=0)
    with pytest.raises(EnvCheckError, match=r"action 4 .*illegal.*legal actions are \[0, 1, 2, 3, 5, 6, 7, 8\]"):
        seat.step(4)
    with pytest.raises(EnvCheckError, match="action 9"):
        seat.step(9)


def test_an_illegal_opponent_action_and_misuse_raise():
    seat = TurnBasedSeat(tictactoe_v3.env(), scripted([0, 0]), seat="player_1")
    with pytest.raises(EnvCheckError, match="before reset"):
        seat.step(0)
    seat.reset(seed=0)
    seat.step(4)
    with pytest.raises(EnvCheckError, match="opponent .*action 0"):
        seat.step(8)
    done = TurnBasedSeat(tictactoe_v3.env(), scripted([3, 4]), seat="player_1")
    done.reset(seed=0)
    for move in (0, 1, 2):
        done.step(move)
    with pytest.raises(EnvCheckError, match="after the game ended"):
        done.step(5)


class ThreePlayers:
    possible_agents = ["a", "b", "c"]
    metadata = {"name": "three"}


def test_a_game_without_exactly_two_agents_or_an_unknown_seat_is_refused():
    with pytest.raises(ValueError, match="two-player game; three has 3 agents"):
        TurnBasedSeat(ThreePlayers(), scripted([]))
    with pytest.raises(ValueError, match="seat 'player_3'"):
        TurnBasedSeat(tictactoe_v3.env(), scripted([]), seat="player_3")


def test_copy_game_is_an_independent_copy_in_the_same_state():
    game = tictactoe_v3.env()
    game.reset(seed=0)
    game.step(4)
    clone = copy_game(game)
    assert clone.agent_selection == game.agent_selection == "player_2"
    np.testing.assert_array_equal(clone.observe("player_2")["observation"], game.observe("player_2")["observation"])
    clone.step(0)
    assert game.agent_selection == "player_2" and legal_actions_of(game, "player_2").tolist() == [0, 1, 2, 3, 5, 6,
                                                                                                  7, 8]


def test_make_env_vectorizes_seats_with_masked_observations():
    env = make_env(lambda: TurnBasedSeat(tictactoe_v3.env(), random_player(0)), n_envs=2, seed=0,
                   vectorization="sync")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(30):
        action = np.array([rng.choice(np.flatnonzero(m)) for m in obs["action_mask"]])
        obs, reward, terminated, truncated, _ = env.step(action)
        ends += int(terminated.sum())
    assert ends >= 4 and obs["action_mask"].any(axis=1).all()
