"""Self-play: players, the opponent pool, evaluation games, the callback and a learning run on tic-tac-toe."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.multi_agent.self_play import (
    GreedyPlayer,
    OpponentPool,
    PolicyPlayer,
    RandomPlayer,
    SelfPlayCallback,
    play_games,
    train_self_play,
)
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.core import Core
from porcini.envs.adapters.turn_based import TurnBasedSeat, legal_actions_of

tictactoe_v3 = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
connect_four_v3 = pytest.importorskip("pettingzoo.classic.connect_four_v3")


def game_after(moves, make_game=None):
    """A tic-tac-toe (or ``make_game``) game after ``moves``, played alternately from player_1."""
    game = (make_game or tictactoe_v3.env)()
    game.reset(seed=0)
    for move in moves:
        game.step(move)
    return game


def choices(player, game, n=30):
    """The moves ``player`` picks for the player to move in ``game`` over ``n`` reseeded calls."""
    picks = set()
    for seed in range(n):
        player.reseed(seed)
        picks.add(player(game, game.agent_selection))
    return picks


def test_random_player_is_uniform_over_legal_moves_and_seeded():
    game = game_after([4, 0])
    player = RandomPlayer(0)
    draws = [player(game, "player_1") for _ in range(2100)]
    counts = np.bincount(draws, minlength=9)
    assert counts[0] == counts[4] == 0 and np.all(np.abs(counts[[1, 2, 3, 5, 6, 7, 8]] / 2100 - 1 / 7) < 0.03)
    assert [RandomPlayer(5)(game, "player_1") for _ in range(3)] == [RandomPlayer(5)(game, "player_1")] * 3


def test_greedy_player_takes_a_win_over_a_block():
    # X: 0, 1 (wins at 2); O: 3, 4 (would win at 5); X to move
    game = game_after([0, 3, 1, 4])
    assert choices(GreedyPlayer(), game) == {2}
    assert game.agent_selection == "player_1" and legal_actions_of(game, "player_1").tolist() == [2, 5, 6, 7, 8]


def test_greedy_player_blocks_an_immediate_win():
    game = game_after([0, 3, 1])  # X threatens 2, O has no win: O must block
    assert choices(GreedyPlayer(), game) == {2}
    connect = game_after([0, 6, 0, 6, 0], connect_four_v3.env)  # three in column 0: block on top
    assert choices(GreedyPlayer(), connect) == {0}


def test_greedy_player_plays_at_random_without_a_win_or_a_threat():
    game = game_after([4])
    assert len(choices(GreedyPlayer(), game)) >= 4


def test_greedy_player_beats_a_first_legal_move_player():
    results = play_games(FirstLegal(), tictactoe_v3.env, GreedyPlayer(), 40, seed=0)
    assert results["loss"] > 2 * results["win"]


class FirstLegal:
    """A stand-in agent that plays the first legal action of every observation (or always 0: ``ignore_mask``)."""

    def __init__(self, ignore_mask=False):
        self.ignore_mask = ignore_mask

    def act(self, obs, *, explore):
        if self.ignore_mask:
            return np.zeros(len(obs["action_mask"]), dtype=np.int64)
        return np.argmax(obs["action_mask"], axis=1)


def test_play_games_counts_outcomes_and_alternates_seats():
    results = play_games(FirstLegal(), tictactoe_v3.env, RandomPlayer(), 20, seed=0)
    assert results["win"] + results["draw"] + results["loss"] == results["games"] == 20
    assert results["illegal"] == 0
    assert results["win_rate"] == results["win"] / 20 and results["loss_rate"] == results["loss"] / 20
    assert play_games(FirstLegal(), tictactoe_v3.env, RandomPlayer(), 20, seed=0) == results
    seat = TurnBasedSeat(tictactoe_v3.env(), RandomPlayer())
    seats = [seat.reset(seed=0)[1]["seat"]] + [seat.reset()[1]["seat"] for _ in range(199)]
    assert 70 < sum(seats) < 130  # a training seat is drawn at every reset
    first_movers = []

    class Recording(FirstLegal):
        def act(self, obs, *, explore):
            if obs["action_mask"][0].all():  # the empty board: the agent moves first
                first_movers.append(len(first_movers))
            return super().act(obs, explore=explore)

    play_games(Recording(), tictactoe_v3.env, RandomPlayer(), 20, seed=0)
    assert len(first_movers) == 10  # play_games alternates: 10 games in each seat


def test_play_games_counts_an_illegal_action_as_a_forfeit():
    results = play_games(FirstLegal(ignore_mask=True), tictactoe_v3.env, RandomPlayer(), 10, seed=0)
    assert results["illegal"] >= 5 and results["loss"] >= results["illegal"]


def seat_env(n_envs=2, opponent=None):
    return make_env(lambda: TurnBasedSeat(tictactoe_v3.env(), opponent or RandomPlayer()), n_envs, 0,
                    vectorization="sync")


def small_ppo(seed=0):
    return PPO(seat_env().info, n_steps=16, batch_size=32, n_epochs=1, net_arch=(16,), seed=seed)


def test_policy_player_plays_the_agents_masked_action():
    agent = small_ppo()
    game = game_after([4, 0, 8])
    obs = {key: value[None] for key, value in game.observe("player_2").items()}
    assert PolicyPlayer(agent)(game, "player_2") == int(agent.act(obs, explore=False)[0])
    sampled = {PolicyPlayer(agent, explore=True, seed=s)(game, "player_2") for s in range(40)}
    assert sampled <= set(legal_actions_of(game, "player_2").tolist()) and len(sampled) > 1


def perturbed(agent, scale):
    with torch.no_grad():
        for p in agent.model.parameters():
            p.add_(scale)
    return agent


def test_pool_keeps_the_newest_snapshots_on_its_cadence():
    agent = small_ppo()
    pool = OpponentPool(agent, pool_size=3, snapshot_every=100)
    taken = [steps for steps in (0, 50, 100, 130, 250, 290, 300, 420) if pool.maybe_snapshot(steps)]
    assert taken == [0, 100, 250, 300, 420]
    assert pool.snapshot_steps == [250, 300, 420] and len(pool.snapshots) == 3 and pool.next_snapshot_at == 500


def classify(pool, player):
    """-2 for a greedy player, -1 for a random one, else the index of the snapshot the player's agent plays."""
    if isinstance(player, GreedyPlayer):
        return -2
    if isinstance(player, RandomPlayer):
        return -1
    first = next(iter(player.agent.model.parameters())).detach()
    for index, state in enumerate(pool.snapshots):
        if torch.equal(first, next(iter(state["modules"]["model"].values()))):
            return index
    raise AssertionError("a drawn player matches no snapshot")


def test_pool_draws_follow_latest_prob_random_prob_and_greedy_prob():
    agent = small_ppo()
    pool = OpponentPool(agent, pool_size=4, latest_prob=0.4, random_prob=0.2, greedy_prob=0.1)
    rng = np.random.default_rng(0)
    empty = np.bincount([classify(pool, pool.draw(rng)) + 2 for _ in range(6000)], minlength=2) / 6000
    np.testing.assert_allclose(empty, [0.1, 0.9], atol=0.02)  # empty pool: random players in place of snapshots
    for step in range(3):
        pool.snapshot(step)
        perturbed(agent, 0.01)
    n = 6000
    counts = np.bincount([classify(pool, pool.draw(rng)) + 2 for _ in range(n)], minlength=5) / n
    expected = [0.1, 0.2, 0.7 * 0.6 / 3, 0.7 * 0.6 / 3, 0.7 * (0.4 + 0.6 / 3)]
    np.testing.assert_allclose(counts, expected, atol=0.02)
    p = pool.probabilities()
    np.testing.assert_allclose([p["greedy"], p["random"], *p["snapshots"]], expected)


def test_pool_state_dict_round_trip_restores_the_same_draws():
    agent = small_ppo()
    pool = OpponentPool(agent, pool_size=3, snapshot_every=10, random_prob=0.3)
    for step in (0, 10, 20):
        pool.maybe_snapshot(step)
        perturbed(agent, 0.02)
    state = pool.state_dict()
    perturbed(agent, 1.0)
    pool.maybe_snapshot(30)  # changes the pool after the state was taken
    restored = OpponentPool(small_ppo(seed=1), pool_size=3, snapshot_every=10, random_prob=0.3)
    restored.load_state_dict(state)
    assert restored.snapshot_steps == [0, 10, 20] and restored.next_snapshot_at == 30
    original = OpponentPool(agent, pool_size=3, snapshot_every=10, random_prob=0.3)
    original.load_state_dict(state)
    game = game_after([4])
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(30):
        pa, pb = original.draw(a), restored.draw(b)
        assert type(pa) is type(pb) and classify(original, pa) == classify(restored, pb)
        if isinstance(pa, PolicyPlayer):
            pa.reseed(1), pb.reseed(1)
            assert pa(game, "player_2") == pb(game, "player_2")


def test_pool_rejects_bad_settings():
    with pytest.raises(ValueError, match="pool_size"):
        OpponentPool(pool_size=0)
    with pytest.raises(ValueError, match="random_prob = 1.5"):
        OpponentPool(random_prob=1.5)
    with pytest.raises(ValueError, match="random_prob \\+ greedy_prob = 1.2"):
        OpponentPool(random_prob=0.6, greedy_prob=0.6)
    with pytest.raises(ValueError, match="no learner"):
        OpponentPool().snapshot(0)


def test_the_callback_snapshots_at_fits_and_evaluates_each_epoch():
    pool = OpponentPool(snapshot_every=64)
    env = make_env(lambda: TurnBasedSeat(tictactoe_v3.env(), pool), 2, 0, vectorization="sync")
    agent = PPO(env.info, n_steps=16, batch_size=32, n_epochs=1, net_arch=(16,))
    callback = SelfPlayCallback(pool, tictactoe_v3.env, eval_games=6)
    Core(agent, env, callbacks=[callback], progress=False).learn(steps=256, steps_per_epoch=128)
    assert pool.learner is agent
    assert pool.snapshot_steps == [0, 64, 128, 192, 256]
    assert [row["env_steps"] for row in callback.history] == [128, 256]
    for row in callback.history:
        for name in ("random", "greedy"):
            assert row[f"{name}/win_rate"] + row[f"{name}/draw_rate"] + row[f"{name}/loss_rate"] == pytest.approx(1)
            assert row[f"{name}/illegal"] == 0


def test_train_self_play_repeats_with_a_seed():
    kwargs = dict(n_envs=2, eval_games=4, n_steps=32, batch_size=64, n_epochs=1, net_arch=(16,),
                  pool_kwargs={"snapshot_every": 64})
    first = train_self_play(tictactoe_v3.env, 256, seed=3, **kwargs)
    second = train_self_play(tictactoe_v3.env, 256, seed=3, **kwargs)
    assert len(first.history) == 1 and first.pool is not None and len(first.pool.snapshots) >= 2
    for p, q in zip(first.agent.model.parameters(), second.agent.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert first.history == second.history
