"""Learning test (slow): the self-play run of record on tic-tac-toe never loses to a random player.

``porcini train self_play_ppo pettingzoo.classic.tictactoe_v3:env`` as a user runs it (the config of record, 500k
learner moves), then 200 games against a random and 200 against a greedy player, half in each seat.
"""

import csv
from pathlib import Path

import pytest

from porcini.algorithms.multi_agent.self_play import play_games
from porcini.envs.adapters.players import GreedyPlayer, RandomPlayer
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

tictactoe_v3 = pytest.importorskip("pettingzoo.classic.tictactoe_v3")
GAME = "pettingzoo.classic.tictactoe_v3:env"


@pytest.mark.slow
def test_the_self_play_run_of_record_wins_or_draws_against_random_play_and_never_loses(tmp_path):
    experiment = Experiment.start(resolve("self_play_ppo", GAME, None, [f"out={tmp_path}", "log.sinks=[csv]"]),
                                  progress=False)
    summary = experiment.train()
    with (Path(summary.extra["run_dir"]) / "metrics.csv").open() as f:
        for row in csv.DictReader(f):
            print(row["env_steps"], {k: row[k] for k in row if k.startswith("eval_vs_")})
    versus_random = play_games(experiment.agent, tictactoe_v3.env, RandomPlayer(), 200, seed=1000)
    versus_greedy = play_games(experiment.agent, tictactoe_v3.env, GreedyPlayer(), 200, seed=1000)
    print(f"after {summary.env_steps} steps ({summary.wall_time_s:.0f} s of training):\nvs random {versus_random}\n"
          f"vs greedy {versus_greedy}")
    assert versus_random["illegal"] == versus_greedy["illegal"] == 0
    assert versus_random["loss"] == 0
    assert versus_random["win"] + versus_random["draw"] >= 0.95 * 200
