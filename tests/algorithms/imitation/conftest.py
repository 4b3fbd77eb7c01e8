"""Experts for the slow imitation tests, trained once per session with porcini's configs of record."""

from __future__ import annotations

import pytest

from porcini.data import Dataset, load_dataset
from porcini.experiment.collect import collect_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


@pytest.fixture(scope="session")
def cartpole_expert(tmp_path_factory) -> tuple[float, Dataset]:
    """PPO trained on CartPole with its config of record; its evaluation return and 10 episodes it recorded."""
    out = tmp_path_factory.mktemp("cartpole-expert")
    run = Experiment.start(resolve("ppo", "CartPole-v1", None, [f"out={out}", "log.sinks=[csv]"]), progress=False)
    summary = run.train()
    path = out / "demos.npz"
    collect_policy(str(run.run_dir.path), 10, str(path), seed=0)
    return float(summary.eval_return_mean), load_dataset(path)
