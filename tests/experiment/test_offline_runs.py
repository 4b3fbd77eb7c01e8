"""Runs that learn from a dataset: the CLI, offline epochs, exact resume, other data refused, offline -> online."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from porcini import make_env
from porcini.core import Callback
from porcini.data import collect_dataset, save_dataset
from porcini.errors import CheckpointError
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.interrupt import TrainingInterrupted
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv

SMALL = ["net_arch=[16,16]", "batch_size=32", "eval_episodes=1", "log.sinks=[csv]"]


def pendulum_dataset(path, steps=600, seed=0):
    """A swing-pushing controller's transitions on Pendulum, saved to ``path``."""
    env = make_env("Pendulum-v1", seed=seed)
    data = collect_dataset(env, lambda obs: np.clip(2 * np.sign(obs[:, 2:3]), -2, 2).astype(np.float32),
                           steps=steps, seed=seed)
    save_dataset(path, data)
    return path


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    return pendulum_dataset(tmp_path_factory.mktemp("data") / "pendulum.npz")


def offline_config(out, dataset, offline_steps, steps=0, algo="td3_bc", **extra):
    overrides = [f"data.dataset={dataset}", f"data.offline_steps={offline_steps}", "data.offline_steps_per_epoch=100",
                 f"steps={steps}", f"out={out}", *SMALL, *[f"{k}={v}" for k, v in extra.items()]]
    return resolve(algo, "Pendulum-v1", None, overrides)


def test_cli_trains_td3_bc_offline_from_a_dataset(tmp_path, dataset_path):
    result = CliRunner().invoke(main, ["train", "td3_bc", "Pendulum-v1", "--dataset", str(dataset_path),
                                       "--offline-steps", "250", "--steps", "0", "--out", str(tmp_path), "--json",
                                       "--set", "data.offline_steps_per_epoch=100",
                                       *[arg for s in SMALL for arg in ("--set", s)]])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["env_steps"] == 0 and summary["offline_steps"] == 250 and summary["train_episodes"] == 0
    run_dir = Path(summary["run_dir"])
    assert json.loads((run_dir / "summary.json").read_text())["offline_steps"] == 250
    _, rows = read_metrics_csv(run_dir / "metrics.csv")
    assert [r["env_steps"] for r in rows] == [100, 200, 250]  # two epochs and the partial one that ends the phase
    assert [r["data/offline_steps"] for r in rows] == [100, 200, 250]
    assert all(r["data/online"] == 0 and np.isfinite(r["eval_return_mean"]) and r["loss/bc"] >= 0 for r in rows)
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["data"]["source"] == str(dataset_path)
    assert "dataset: " + str(dataset_path) in (run_dir / "config.yaml").read_text()


class SignalAtEpoch(Callback):
    """Sends this process SIGTERM after the given epoch: the run stops there as under a scheduler's preemption."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, core):
        if core.epochs == self.epoch:
            os.kill(os.getpid(), signal.SIGTERM)


def agent_parameters(run_dir):
    modules = load_checkpoint(Path(run_dir) / "checkpoints" / "last.pt")["agent"]["modules"]
    return {f"{m}.{k}": v for m, state in modules.items() for k, v in state.items()}


@pytest.mark.filterwarnings("error::porcini.experiment.envs.ResumeWarning")  # the env's first reset is to come
def test_offline_resume_mid_run_gives_the_parameters_of_a_straight_run(tmp_path, dataset_path):
    straight = Experiment.start(offline_config(tmp_path / "a", dataset_path, 300, steps=150, steps_per_epoch=100))
    straight.train()
    stopped = Experiment.start(offline_config(tmp_path / "b", dataset_path, 300, steps=150, steps_per_epoch=100))
    stopped.core.callbacks.append(SignalAtEpoch(2))
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


def test_resuming_with_another_dataset_is_refused_and_changes_nothing(tmp_path):
    path = pendulum_dataset(tmp_path / "data.npz")
    run = Experiment.start(offline_config(tmp_path / "runs", path, 100))
    run.train()
    before = {p: p.read_bytes() for p in run.run_dir.path.rglob("*") if p.is_file() and p.suffix != ".lock"}
    pendulum_dataset(path, seed=1)  # other transitions at the same path
    with pytest.raises(CheckpointError, match="is not the dataset this run was trained on.*put the original"):
        Experiment.resume(run.run_dir.path)
    assert {p: p.read_bytes() for p in before} == before


def test_offline_to_online_switches_at_the_configured_step_and_logs_it(tmp_path, dataset_path):
    config = offline_config(tmp_path, dataset_path, 200, steps=300, algo="td3", steps_per_epoch=150)
    run = Experiment.start(config)
    summary = run.train()
    assert summary.env_steps == 300 and summary.extra["offline_steps"] == 200
    _, rows = read_metrics_csv(run.run_dir.path / "metrics.csv")
    assert [(r["env_steps"], r["data/offline_steps"], r["data/online"]) for r in rows] == [
        (100, 100, 0), (200, 200, 0), (350, 200, 1), (500, 200, 1)]
    agent = run.agent
    assert len(agent.buffer) == 300 and agent.n_updates == 200 + 300  # no random warm-up once data is there
    assert run.config.data.offline_steps == 200


def test_a_dataset_for_an_algorithm_that_cannot_use_one_is_a_usage_error(tmp_path, dataset_path):
    result = CliRunner().invoke(main, ["train", "ppo", "Pendulum-v1", "--dataset", str(dataset_path), "--steps",
                                       "100", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "ppo does not learn from a dataset" in result.output
    result = CliRunner().invoke(main, ["train", "td3_bc", "Pendulum-v1", "--dataset", str(tmp_path / "none.npz"),
                                       "--offline-steps", "10", "--steps", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no dataset file" in result.output and "none.npz" in result.output
    result = CliRunner().invoke(main, ["train", "td3", "Pendulum-v1", "--steps", "0", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "steps" in result.output
    assert not list(tmp_path.glob("*-Pendulum-v1-*"))


def test_bc_given_a_dataset_but_no_offline_steps_is_a_usage_error_not_a_run_that_never_trains(tmp_path,
                                                                                            dataset_path):
    # bc learns offline only: its env steps would train nothing, and the run would report an untrained policy
    result = CliRunner().invoke(main, ["train", "bc", "Pendulum-v1", "--dataset", str(dataset_path), "--steps", "50",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 2 and "bc learns from a dataset offline only" in result.output
    assert "--offline-steps N" in result.output and len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*-Pendulum-v1-*"))


def test_a_run_given_a_relative_dataset_path_resumes_from_another_folder(tmp_path, dataset_path, monkeypatch):
    # config.yaml kept the path as typed: resume from another folder failed with "no dataset file 'pendulum.npz'"
    monkeypatch.chdir(dataset_path.parent)
    config = offline_config(tmp_path / "runs", dataset_path.name, 200, steps_per_epoch=100)
    assert config.data.dataset == str(dataset_path.resolve())
    stopped = Experiment.start(config)
    stopped.core.callbacks.append(SignalAtEpoch(1))
    with pytest.raises(TrainingInterrupted):
        stopped.train()
    monkeypatch.chdir(tmp_path)
    Experiment.resume(stopped.run_dir.path).train()
    _, rows = read_metrics_csv(stopped.run_dir.path / "metrics.csv")
    assert [r["env_steps"] for r in rows] == [100, 200]


def test_a_tilde_in_out_is_the_home_folder_not_a_folder_named_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    config = resolve("random", "Pendulum-v1", None, ["out=~/runs", "steps=20", "steps_per_epoch=20", *SMALL[2:]])
    run = Experiment.start(config)
    run.close()
    assert run.run_dir.path.parent == tmp_path / "home" / "runs" and not (tmp_path / "~").exists()
