"""Runs of the DQN family on a dataset: the CLI offline, exact resume, offline -> online, refusals."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import make_env
from porcini.data import collect_dataset, save_dataset
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.interrupt import TrainingInterrupted
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv

from .test_offline_runs import SignalAtEpoch, agent_parameters

# the DQN config of record on CartPole fits 128 gradient steps every 256 env steps: a small run fits every 4
SMALL = ["net_arch=[16,16]", "batch_size=32", "eval_episodes=1", "log.sinks=[csv]", "train_freq=4",
         "gradient_steps=1", "target_update_interval=50"]


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    """A push-toward-the-lean controller on CartPole, a random action 30% of the time."""
    rng = np.random.default_rng(0)

    def policy(obs):
        action = (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)
        return np.where(rng.random(len(obs)) < 0.3, rng.integers(0, 2, len(obs)), action)

    path = tmp_path_factory.mktemp("data") / "cartpole.npz"
    save_dataset(path, collect_dataset(make_env("CartPole-v1", seed=0), policy, steps=600, seed=0))
    return path


def config(out, dataset, offline_steps, steps=0, algo="discrete_cql", **extra):
    overrides = [f"data.dataset={dataset}", f"data.offline_steps={offline_steps}", "data.offline_steps_per_epoch=100",
                 f"steps={steps}", f"out={out}", *SMALL, *[f"{k}={v}" for k, v in extra.items()]]
    return resolve(algo, "CartPole-v1", None, overrides)


def test_cli_trains_discrete_cql_offline_from_a_dataset(tmp_path, dataset_path):
    result = CliRunner().invoke(main, ["train", "discrete_cql", "CartPole-v1", "--dataset", str(dataset_path),
                                       "--offline-steps", "250", "--steps", "0", "--out", str(tmp_path), "--json",
                                       "--set", "data.offline_steps_per_epoch=100",
                                       *[arg for s in SMALL for arg in ("--set", s)]])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["env_steps"] == 0 and summary["offline_steps"] == 250 and summary["train_episodes"] == 0
    run_dir = Path(summary["run_dir"])
    _, rows = read_metrics_csv(run_dir / "metrics.csv")
    assert [(r["env_steps"], r["train/n_updates"], r["data/online"]) for r in rows] == [
        (100, 100, 0), (200, 200, 0), (250, 250, 0)]
    assert all(np.isfinite(r["eval_return_mean"]) and r["loss/cql"] > 0 for r in rows)
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert checkpoint["data"]["source"] == str(dataset_path) and checkpoint["agent"]["behaviour_steps"] == 0


@pytest.mark.filterwarnings("error::porcini.experiment.envs.ResumeWarning")  # the env's first reset is to come
def test_an_offline_discrete_cql_run_resumed_mid_way_ends_with_the_parameters_of_a_straight_run(tmp_path, dataset_path):
    straight = Experiment.start(config(tmp_path / "a", dataset_path, 300, steps=120, steps_per_epoch=60))
    straight.train()
    stopped = Experiment.start(config(tmp_path / "b", dataset_path, 300, steps=120, steps_per_epoch=60))
    stopped.core.callbacks.append(SignalAtEpoch(2))  # mid offline phase, between gradient steps 200 and 201
    with pytest.raises(TrainingInterrupted):
        stopped.train()
    assert load_checkpoint(stopped.run_dir.checkpoints / "last.pt")["core"]["offline_steps"] == 200
    resumed = Experiment.resume(stopped.run_dir.path)
    resumed.train()
    a, b = agent_parameters(straight.run_dir.path), agent_parameters(stopped.run_dir.path)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    _, rows_a = read_metrics_csv(straight.run_dir.path / "metrics.csv")
    _, rows_b = read_metrics_csv(stopped.run_dir.path / "metrics.csv")
    assert [(r["env_steps"], r["eval_return_mean"]) for r in rows_a] == [
        (r["env_steps"], r["eval_return_mean"]) for r in rows_b]


def test_dqn_offline_then_online_switches_at_the_configured_step_with_no_warm_up(tmp_path, dataset_path):
    run = Experiment.start(config(tmp_path, dataset_path, 200, steps=120, algo="dqn", steps_per_epoch=60,
                                  learning_starts=1000))
    summary = run.train()
    assert summary.env_steps == 120 and summary.extra["offline_steps"] == 200
    _, rows = read_metrics_csv(run.run_dir.path / "metrics.csv")
    assert [(r["env_steps"], r["data/offline_steps"], r["data/online"]) for r in rows] == [
        (100, 100, 0), (200, 200, 0), (260, 200, 1), (320, 200, 1)]
    agent = run.agent
    # learning_starts does not hold the dataset back: a gradient step every 4 env steps from the first fit on
    assert len(agent.buffer) == 120 and agent.n_updates == 200 + 120 // 4 and agent.behaviour_steps == 120


def test_dqn_with_n_step_returns_and_a_dataset_is_a_usage_error_that_leaves_no_run(tmp_path, dataset_path):
    result = CliRunner().invoke(main, ["train", "dqn", "CartPole-v1", "--dataset", str(dataset_path),
                                       "--offline-steps", "10", "--steps", "0", "--out", str(tmp_path),
                                       "--set", "n_steps=3"])
    assert result.exit_code == 2, result.output
    message = result.output.strip().splitlines()[-1]
    assert "one-step uniform replay only, but n_steps = 3; set n_steps=1" in message
    assert not list(tmp_path.glob("dqn-*"))
