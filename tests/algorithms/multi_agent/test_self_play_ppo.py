"""Self-play as a run: two-player games as seat envs, SelfPlayPPO's pool, its evaluation games, exact resume."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import Core, make_env
from porcini.algorithms.multi_agent.opponent_pool import OpponentPool, PolicyPlayer
from porcini.algorithms.multi_agent.self_play_ppo import SelfPlayPPO
from porcini.envs.adapters.players import GreedyPlayer, RandomPlayer
from porcini.envs.adapters.turn_based import TurnBasedSeat
from porcini.envs.two_player import FixedOpponent, SeatOpponents
from porcini.errors import ConfigError
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

pytest.importorskip("pettingzoo.classic.tictactoe_v3")
GAME = "pettingzoo.classic.tictactoe_v3:env"
SMALL = dict(n_steps=16, batch_size=32, n_epochs=1, net_arch=(16,))


def test_make_env_gives_one_seat_per_env_sharing_an_opponent_source_that_spawn_does_not_share():
    env = make_env(GAME, n_envs=3, seed=0)
    opponents = env.info.opponents
    assert isinstance(opponents, SeatOpponents) and env.info.n_envs == 3 and env.info.agents == ()
    assert all(isinstance(seat, TurnBasedSeat) for seat in env.envs) and opponents.n_seats == 3
    assert isinstance(opponents.source, FixedOpponent)  # a random player until a learner replaces it
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "action_mask"} and obs["action_mask"].shape == (3, 9)
    spawned = env.spawn(2, 7)
    assert spawned.info.opponents is not opponents and spawned.info == make_env(GAME, n_envs=2, seed=7).info
    with pytest.raises(ConfigError, match="vectorization \\(env.vectorization\\) to auto or sync"):
        make_env(GAME, n_envs=2, seed=0, vectorization="async")


@pytest.mark.parametrize("command", [["self_play_ppo", GAME, "--set", "env.vectorization=async"],
                                     ["self_play_ppo", "CartPole-v1"]])
def test_the_command_line_refuses_what_self_play_cannot_train_in_one_line(tmp_path, command):
    result = CliRunner().invoke(main, ["train", *command, "--steps", "100", "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and ("env.vectorization" in lines[0] or "two-player turn-based" in lines[0])
    assert not any(tmp_path.iterdir())


def test_seat_opponents_pass_each_seat_its_number_and_refuse_a_source_without_draw():
    seen = []

    class Recording:
        def draw(self, rng, seat=None):
            seen.append(seat)
            return RandomPlayer()

    opponents = SeatOpponents(lambda: __import__("pettingzoo.classic.tictactoe_v3").classic.tictactoe_v3.env(),
                              Recording())
    seats = [opponents.seat() for _ in range(3)]
    for i, seat in enumerate(seats):
        seat.reset(seed=i)
    assert seen == [0, 1, 2]
    opponents.source = RandomPlayer()
    with pytest.raises(TypeError, match="FixedOpponent"):
        seats[0].reset(seed=0)


def test_self_play_ppo_refuses_other_envs_and_bad_settings():
    with pytest.raises(ConfigError, match="two-player turn-based"):
        SelfPlayPPO(make_env("CartPole-v1", n_envs=1, seed=0).info)
    info = make_env(GAME, n_envs=2, seed=0).info
    with pytest.raises(ConfigError, match="pool_size"):
        SelfPlayPPO(info, pool_size=0)
    with pytest.raises(ConfigError, match="greedy_prob"):
        SelfPlayPPO(info, random_prob=0.7, greedy_prob=0.5)


def test_self_play_ppo_owns_the_training_seats_pool_and_snapshots_after_fits():
    env = make_env(GAME, n_envs=2, seed=0)
    agent = SelfPlayPPO(env.info, snapshot_every=64, **SMALL)
    assert env.info.opponents.source is agent.pool and agent.pool.snapshot_steps == [0]
    Core(agent, env, progress=False).learn(steps=256)
    assert agent.pool.snapshot_steps == [0, 64, 128, 192, 256]
    assert set(agent.pool.current) == {0, 1}  # each seat by its env index
    newest = agent.pool._agent(agent.pool.snapshot_ids[-1])
    assert type(newest).__name__ == "PPO"  # a plain PPO plays a snapshot: no pool of its own
    for p, q in zip(newest.model.parameters(), agent.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_evaluation_metrics_play_random_and_greedy_players_without_illegal_moves():
    agent = SelfPlayPPO(make_env(GAME, n_envs=2, seed=0).info, eval_games=6, **SMALL)
    metrics = agent.evaluation_metrics(seed=3)
    for name in ("random", "greedy"):
        rates = [metrics[f"eval_vs_{name}/{k}_rate"] for k in ("win", "draw", "loss")]
        assert sum(rates) == pytest.approx(1.0) and metrics[f"eval_vs_{name}/illegal"] == 0
    assert agent.evaluation_metrics(seed=3) == metrics
    assert SelfPlayPPO(make_env(GAME, n_envs=2, seed=0).info, eval_games=0, **SMALL).evaluation_metrics(0) == {}


def seat_agent():
    return SelfPlayPPO(make_env(GAME, n_envs=1, seed=0).info, **SMALL)


def snapshot_of(pool, player):
    """The id of the snapshot a drawn player plays, or its class name for a fixed player."""
    if not isinstance(player, PolicyPlayer):
        return type(player).__name__
    return next(k for k, agent in pool._agents.items() if agent is player.agent)


def test_after_a_load_each_seat_meets_its_opponent_again_even_one_evicted_from_the_pool():
    agent = seat_agent()
    pool = OpponentPool(agent, pool_size=2, latest_prob=1.0, random_prob=0.0)
    pool.snapshot(0)
    rng = np.random.default_rng(0)
    assert snapshot_of(pool, pool.draw(rng, seat=5)) == 0
    pool.snapshot(10)
    pool.snapshot(20)  # snapshot 0 leaves the pool while seat 5 still plays it
    assert pool.snapshot_ids == [1, 2] and set(pool.retired) == {0}
    state = pool.state_dict()
    restored = OpponentPool(seat_agent(), pool_size=2, latest_prob=1.0, random_prob=0.0)
    restored.load_state_dict(state)
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    replayed = restored.draw(a, seat=5)
    assert snapshot_of(restored, replayed) == 0 and a.random() == (b.random(3), b.random())[1]  # three numbers
    for p, q in zip(replayed.agent.model.parameters(), pool._agent(0).model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert snapshot_of(restored, restored.draw(a, seat=5)) == 2  # the next episode draws anew: the newest
    assert restored.retired == {}  # no seat plays snapshot 0 any more
    assert isinstance(restored.draw(a), PolicyPlayer) and restored.current == {5: 2}  # no seat: nothing recorded


def test_fixed_players_are_recorded_and_replayed_by_kind():
    pool = OpponentPool(seat_agent(), random_prob=0.5, greedy_prob=0.5)
    rng = np.random.default_rng(0)
    kinds = [type(pool.draw(rng, seat=i)) for i in range(20)]
    assert set(kinds) == {RandomPlayer, GreedyPlayer}
    restored = OpponentPool(seat_agent(), random_prob=0.5, greedy_prob=0.5)
    restored.load_state_dict(pool.state_dict())
    assert [type(restored.draw(rng, seat=i)) for i in range(20)] == kinds


def config(out, steps, extra=()):
    # epochs end at fits (32 env steps each), so the checkpoint follows a snapshot that episodes in progress predate
    overrides = [f"steps={steps}", "steps_per_epoch=192", "log.sinks=[csv]", f"out={out}", "eval_episodes=4",
                 "env.n_envs=4", "n_steps=8", "batch_size=32", "n_epochs=2", "net_arch=[16]",
                 "learning_rate_schedule=constant", "snapshot_every=32", "pool_size=2", "latest_prob=0.3",
                 "random_prob=0.1", "greedy_prob=0.1", "eval_games=4", *extra]
    return resolve("self_play_ppo", GAME, None, overrides)


def test_a_self_play_run_logs_its_games_and_resumes_exactly_mid_episode(tmp_path, eval_columns):
    straight = Experiment.start(config(tmp_path / "a", 768)).train()
    first = Experiment.start(config(tmp_path / "b", 384))
    first.train()
    state = load_checkpoint(first.run_dir.checkpoints / "last.pt")
    pool_state, in_progress = state["agent"]["opponent_pool"], np.asarray(state["core"]["ep_length"]) > 0
    current = {int(k): v for k, v in pool_state["current"].items()}
    # what makes the resume hard: a seat plays a snapshot in an episode that began before the newest snapshot (taken
    # at the checkpoint's fit), so drawing its opponent again from the pool as it is now would pick another one
    first_seat = min(current)
    assert int(pool_state["snapshot_steps"][-1]) == 384 and pool_state["next_id"] > 2
    assert any(isinstance(key, int) and in_progress[seat - first_seat] for seat, key in current.items())
    resuming = Experiment.resume(first.run_dir.path, steps=768)
    assert resuming.agent.pool.current == current  # the replayed episodes met the same opponents
    resumed = resuming.train()
    assert resumed.env_steps == straight.env_steps == 768
    a, b = eval_columns(first.run_dir.path), eval_columns(straight.extra["run_dir"])
    assert "eval_vs_greedy/win_rate" in a[0] and "train/opponent_pool_size" in a[0]
    assert a == b
    summary = json.loads((first.run_dir.path / "summary.json").read_text())
    assert summary["eval_vs_random/illegal"] == 0 and 0 <= summary["eval_vs_random/win_rate"] <= 1
    assert summary == {**json.loads((Path(straight.extra["run_dir"]) / "summary.json").read_text()),
                       "run_dir": summary["run_dir"], "wall_time_s": summary["wall_time_s"],
                       "eval_time_s": summary["eval_time_s"]}


def test_connect_four_goes_through_the_same_seats_pool_and_evaluation():
    pytest.importorskip("pettingzoo.classic.connect_four_v3")
    env = make_env("pettingzoo.classic.connect_four_v3:env", n_envs=2, seed=0)
    agent = SelfPlayPPO(env.info, snapshot_every=32, eval_games=2, **SMALL)
    Core(agent, env, progress=False).learn(steps=64)
    assert env.single_action_space.n == 7 and agent.pool.snapshot_steps == [0, 32, 64]
    metrics = agent.evaluation_metrics(seed=0)
    assert metrics["eval_vs_random/illegal"] == metrics["eval_vs_greedy/illegal"] == 0
