"""Experts for the imitation tests: a scripted CartPole controller and its demonstrations, and for the slow tests
experts trained once per session with porcini's configs of record."""

from __future__ import annotations

import numpy as np
import pytest

from porcini import make_env
from porcini.data import Dataset, collect_dataset, load_dataset
from porcini.experiment.collect import collect_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


def controller(obs: np.ndarray) -> np.ndarray:
    """Push toward the side the pole falls to."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


@pytest.fixture(scope="module")
def demos() -> Dataset:
    """400 steps of :func:`controller` on CartPole."""
    return collect_dataset(make_env("CartPole-v1", seed=1), controller, steps=400, seed=1)


def rollout(agent, env, steps: int):
    """A ``[T, B]`` batch of the agent's own transitions (no fit)."""
    return collect_dataset(env, lambda obs: agent.act(obs, explore=True), steps=steps, seed=3).batch


@pytest.fixture(scope="session")
def cartpole_expert(tmp_path_factory) -> tuple[float, Dataset]:
    """PPO trained on CartPole with its config of record; its evaluation return and 10 episodes it recorded."""
    out = tmp_path_factory.mktemp("cartpole-expert")
    run = Experiment.start(resolve("ppo", "CartPole-v1", None, [f"out={out}", "log.sinks=[csv]"]), progress=False)
    summary = run.train()
    path = out / "demos.npz"
    collect_policy(str(run.run_dir.path), 10, str(path), seed=0)
    return float(summary.eval_return_mean), load_dataset(path)
