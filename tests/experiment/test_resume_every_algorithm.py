"""Exact resume of the algorithms the other resume tests do not cover: a run stopped by SIGTERM mid-epoch and
resumed has the metrics rows and the final agent state of the same run trained without a stop."""

import os
import signal

import numpy as np
import pytest
import torch

from porcini.core import Callback
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.experiment import Experiment
from porcini.experiment.interrupt import TrainingInterrupted
from porcini.experiment.launch import resolve

OFF_POLICY = ["learning_starts=100", "batch_size=32", "buffer_size=2000"]
ON_POLICY = ["env.n_envs=2", "n_steps=64", "batch_size=64", "n_epochs=2", "learning_rate_schedule=constant",
             "clip_range_schedule=constant"]
PLANNER = ["env.max_episode_steps=40", "population=20", "iterations=2", "elites=4", "horizon=5"]
MODEL = ["model_hidden=[16]", "model_epochs=3", "n_members=2", "n_elites=2"]
# algorithm: (env, steps, stop after, steps per epoch, overrides)
CASES = {
    "random": ("CartPole-v1", 1000, 613, 250, []),
    "sarsa": ("FrozenLake-v1", 2000, 1234, 500, ["env.n_envs=3"]),
    "expected_sarsa": ("FrozenLake-v1", 2000, 1234, 500, []),
    "double_q_learning": ("FrozenLake-v1", 2000, 1234, 500, []),
    "sarsa_lambda": ("MountainCar-v0", 2000, 1234, 500, []),
    "true_online_sarsa_lambda": ("FrozenLake-v1", 2000, 1234, 500, ["env.n_envs=2"]),
    "dyna_q": ("FrozenLake-v1", 2000, 1234, 500, []),
    "prioritized_sweeping": ("FrozenLake-v1", 2000, 1234, 500, []),
    "value_iteration": ("FrozenLake-v1", 2000, 1234, 500, []),
    "policy_iteration": ("FrozenLake-v1", 2000, 1234, 500, []),
    "epsilon_greedy": ("porcini/GaussianBandit-v0", 1000, 613, 250, []),
    "ucb": ("porcini/GaussianBandit-v0", 1000, 613, 250, []),
    "thompson": ("porcini/BernoulliBandit-v0", 1000, 613, 250, []),
    "fqi": ("CartPole-v1", 1000, 613, 250, ["regressor=mlp", "fit_every_steps=200", "n_iterations=3", "n_epochs=2",
                                            "hidden_sizes=[16]", "batch_size=32"]),
    "qr_dqn": ("CartPole-v1", 1000, 613, 250, [*OFF_POLICY, "train_freq=50", "gradient_steps=10",
                                               "exploration_fraction=0.1"]),
    "reinforce": ("CartPole-v1", 1000, 613, 250, []),
    "a2c": ("CartPole-v1", 1000, 613, 250, ["env.n_envs=2"]),
    "trpo": ("CartPole-v1", 1000, 613, 250, ["env.n_envs=2"]),
    "ppo_lagrangian": ("porcini/CartPoleBand-v0", 1000, 400, 250, ON_POLICY),  # stopped right after a fit
    "ddpg": ("Pendulum-v1", 500, 313, 200, OFF_POLICY),
    "td3": ("Pendulum-v1", 500, 313, 200, OFF_POLICY),
    "sac_lagrangian": ("porcini/PendulumSpeed-v0", 500, 313, 200, OFF_POLICY),
    "mpc": ("Pendulum-v1", 100, 67, 40, PLANNER),
    "pets": ("Pendulum-v1", 200, 137, 80, [*PLANNER, *MODEL, "particles=4", "model_train_freq=50",
                                           "learning_starts=50"]),
    "mbpo": ("Pendulum-v1", 400, 277, 100, [*MODEL, "model_train_freq=100", "learning_starts=100", "net_arch=[16]",
                                            "batch_size=32", "gradient_steps=2", "rollout_batch_size=50"]),
}


class StopAt(Callback):
    """Sends this process SIGTERM once the run has taken ``at`` env steps: a preemption mid-epoch."""

    def __init__(self, at):
        self.at, self.sent = at, False

    def on_step(self, core, *args):
        if not self.sent and core.env_steps >= self.at:
            self.sent = True
            os.kill(os.getpid(), signal.SIGTERM)


def same_tree(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_tree(x, y) for x, y in zip(a, b))
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b


@pytest.mark.parametrize("algo", list(CASES))
def test_a_stopped_and_resumed_run_is_the_uninterrupted_run(tmp_path, algo, eval_columns):
    env, steps, stop_at, per_epoch, extra = CASES[algo]

    def cfg(out):
        return resolve(algo, env, None, [f"steps={steps}", f"steps_per_epoch={per_epoch}", "log.sinks=[csv]",
                                         f"out={out}", "eval_episodes=3", *extra])

    straight = Experiment.start(cfg(tmp_path / "a"), progress=False)
    straight.train()
    stopped = Experiment.start(cfg(tmp_path / "b"), progress=False)
    stopped.core.callbacks.append(StopAt(stop_at))
    with pytest.raises(TrainingInterrupted):
        stopped.train()
    assert 0 < load_checkpoint(stopped.run_dir.checkpoints / "last.pt")["core"]["env_steps"] < steps
    Experiment.resume(stopped.run_dir.path, progress=False).train()
    assert eval_columns(stopped.run_dir.path) == eval_columns(straight.run_dir.path)
    agents = [load_checkpoint(run.run_dir.checkpoints / "last.pt")["agent"] for run in (straight, stopped)]
    assert same_tree(*agents)
