"""The classical suite's configs of record: each resolves, and each learns what its header says.

Dynamic programming plans in seconds, so its runs are in the default suite, end to end: a run directory, its
checkpoint and ``porcini eval`` of it. The TD agents' runs take up to a minute or two each: ``pytest -m slow
tests/algorithms/test_classical_configs.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import porcini
from porcini.experiment.evaluation import evaluate_run
from porcini.experiment.launch import resolve, train_one

CONFIGS = Path(porcini.__file__).parent / "configs"

# (algo, env id) -> the eval return its run must reach (the headers say where the numbers come from)
CLASSICAL = {
    ("value_iteration", "FrozenLake-v1"): 0.65,  # success rate, planned optimum about 0.74
    ("policy_iteration", "FrozenLake-v1"): 0.65,
    ("value_iteration", "CliffWalking-v1"): -13.0,  # the optimal path along the cliff
    ("policy_iteration", "CliffWalking-v1"): -13.0,
    ("value_iteration", "Taxi-v4"): 7.0,  # optimum 7.93 over Taxi's start states
    ("policy_iteration", "Taxi-v4"): 7.0,
    ("q_learning", "porcini/CliffWalking-v0"): -13.0,
    ("sarsa", "porcini/CliffWalking-v0"): -17.0,  # the safe path, away from the cliff
    ("expected_sarsa", "porcini/CliffWalking-v0"): -17.0,
    ("q_learning", "Taxi-v4"): 7.0,
    ("double_q_learning", "Taxi-v4"): 7.0,
    ("expected_sarsa", "FrozenLake-v1"): 0.6,
    ("q_learning", "porcini/RiverSwim-v0"): 100_000.0,  # swimming left only: 5000 per episode
    ("sarsa_lambda", "porcini/GridWorld-v0"): 0.6,  # planned optimum about 0.75
    ("sarsa_lambda", "MountainCar-v0"): -150.0,
    ("true_online_sarsa_lambda", "MountainCar-v0"): -150.0,
}
PLANNING = [pair for pair in CLASSICAL if pair[0].endswith("_iteration")]
LEARNING = [pair for pair in CLASSICAL if pair not in PLANNING]


def config_file(algo: str, env_id: str) -> Path:
    return CONFIGS / algo / f"{env_id.replace('/', '__')}.yaml"


@pytest.mark.parametrize(("algo", "env_id"), list(CLASSICAL))
def test_config_of_record_resolves(algo, env_id):
    written = yaml.safe_load(config_file(algo, env_id).read_text())
    run = resolve(algo, env_id, None, [])
    assert run.steps == written["steps"]  # the file was read, not the defaults
    assert {k: run.algo[k] for k in written["algo"]} == written["algo"]
    assert config_file(algo, env_id).read_text().startswith("# ")  # a header says where the values come from


def test_every_classical_config_file_is_listed_here():
    algos = {algo for algo, _ in CLASSICAL}
    files = {(path.parent.name, path.stem) for algo in algos for path in (CONFIGS / algo).glob("*.yaml")}
    assert files == {(algo, env_id.replace("/", "__")) for algo, env_id in CLASSICAL}


def train(algo: str, env_id: str, tmp_path: Path) -> dict:
    return train_one(resolve(algo, env_id, None, [f"out={tmp_path}", "log.sinks=[csv]"]), progress=False)


@pytest.mark.parametrize(("algo", "env_id"), [p for p in PLANNING if p[1] != "CliffWalking-v1"])
def test_planning_configs_reach_their_returns_and_evaluate_from_the_checkpoint(algo, env_id, tmp_path):
    summary = train(algo, env_id, tmp_path)
    assert summary["eval_return_mean"] >= CLASSICAL[algo, env_id], summary
    assert summary["env_steps"] == resolve(algo, env_id, None, []).steps
    # `porcini eval` rebuilds the agent from the checkpoint and gets the same greedy episodes
    evaluated = evaluate_run(summary["run_dir"], episodes=summary["eval_episodes"])
    assert evaluated["eval_return_mean"] == summary["eval_return_mean"]


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "env_id"), LEARNING)
def test_td_configs_learn(algo, env_id, tmp_path):
    summary = train(algo, env_id, tmp_path)
    print(f"{algo} {env_id}: eval return {summary['eval_return_mean']:.2f} in {summary['wall_time_s']:.0f} s")
    assert summary["eval_return_mean"] >= CLASSICAL[algo, env_id], summary
