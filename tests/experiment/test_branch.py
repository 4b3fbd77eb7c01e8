"""Branching a run (porcini.experiment.branch) and stopping one early (Experiment.train(until=...)): a branch
continues another run's checkpoint under a new config whose learning rates take effect; a run stopped at a round
and resumed equals one that never stopped, schedules included."""

import json

import pytest
import torch
import yaml

from porcini.errors import CheckpointError, ConfigError
from porcini.experiment.branch import branch_run
from porcini.experiment.checkpoint import optimizers_of
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv

PPO_SMALL = ["env.n_envs=2", "n_steps=64", "batch_size=64", "n_epochs=2", "net_arch=[16]"]  # record: linear lr, clip
DQN_SMALL = ["learning_starts=100", "train_freq=50", "gradient_steps=10", "batch_size=32", "buffer_size=5000",
             "net_arch=[16]", "learning_rate=0.001"]


def cfg(algo, out, steps, extra=()):
    overrides = [f"steps={steps}", "steps_per_epoch=256", "log.sinks=[csv]", f"out={out}", "eval_episodes=2"]
    return resolve(algo, "CartPole-v1", None, [*overrides, *extra])


def parameters(agent):
    optimizer = optimizers_of(agent)[0]
    return torch.cat([p.detach().flatten() for g in optimizer.param_groups for p in g["params"]]).clone()


def test_a_branch_continues_the_source_checkpoint_with_the_new_learning_rate(tmp_path):
    source = Experiment.start(cfg("dqn", tmp_path / "a", 512, DQN_SMALL))
    source.train()
    config = cfg("dqn", tmp_path / "b", 1024, [*DQN_SMALL, "learning_rate=0.0003", "seed=7"])
    branch = branch_run(source.run_dir.path, config)
    origin = json.loads((branch / "branched_from.json").read_text())
    assert origin == {"run_dir": str(source.run_dir.path), "env_steps": 512, "changed": {"algo.learning_rate": 3e-4}}
    rows = read_metrics_csv(branch / "metrics.csv")[1]
    assert [int(r["env_steps"]) for r in rows] == [256, 512]  # the source's history up to the branch point
    resumed = Experiment.resume(branch)
    assert resumed.core.env_steps == 512 and torch.equal(parameters(resumed.agent), parameters(source.agent))
    assert [g["lr"] for opt in optimizers_of(resumed.agent) for g in opt.param_groups] == [3e-4]
    summary = resumed.train()
    assert summary.env_steps == 1024 and summary.seed == 7
    assert yaml.safe_load((branch / "config.yaml").read_text())["algo"]["learning_rate"] == 3e-4
    assert json.loads((source.run_dir.path / "summary.json").read_text())["env_steps"] == 512  # source untouched


def test_a_branch_that_does_not_fit_the_checkpoint_is_refused_and_leaves_nothing(tmp_path):
    source = Experiment.start(cfg("dqn", tmp_path / "a", 256, DQN_SMALL))
    source.train()
    with pytest.raises(CheckpointError, match="n_envs"):
        branch_run(source.run_dir.path, cfg("dqn", tmp_path / "b", 1024, [*DQN_SMALL, "env.n_envs=2"]))
    with pytest.raises(ConfigError, match="past its 256 env steps"):
        branch_run(source.run_dir.path, cfg("dqn", tmp_path / "b", 256, DQN_SMALL))
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_a_learning_rate_edited_in_config_yaml_takes_effect_on_resume(tmp_path):
    run = Experiment.start(cfg("discrete_sac", tmp_path, 300, ["learning_starts=100", "batch_size=16",
                                                               "net_arch=[16]"]))
    run.train()
    path = run.run_dir.path / "config.yaml"
    saved = yaml.safe_load(path.read_text())
    saved["algo"]["learning_rate"] = 1e-5
    path.write_text(yaml.safe_dump(saved))
    resumed = Experiment.resume(run.run_dir.path, steps=400)
    lrs = {g["lr"] for opt in optimizers_of(resumed.agent) for g in opt.param_groups}
    assert lrs == {1e-5}
    for old, new in zip(optimizers_of(run.agent), optimizers_of(resumed.agent)):  # the moments are the checkpoint's
        old_state, new_state = old.state_dict()["state"], new.state_dict()["state"]
        assert old_state.keys() == new_state.keys() and old_state
        assert all(torch.equal(old_state[k]["exp_avg"], new_state[k]["exp_avg"]) for k in old_state)
    resumed.close()


def test_a_run_stopped_at_a_round_and_resumed_equals_one_that_never_stopped(tmp_path):
    straight = Experiment.start(cfg("ppo", tmp_path / "a", 1024, PPO_SMALL))
    straight.train()
    stopped = Experiment.start(cfg("ppo", tmp_path / "b", 1024, PPO_SMALL))
    first = stopped.train(until=384)
    assert first.env_steps == 384
    assert json.loads((stopped.run_dir.path / "summary.json").read_text())["env_steps"] == 384
    resumed = Experiment.resume(stopped.run_dir.path)
    assert resumed.train().env_steps == 1024
    assert torch.equal(parameters(resumed.agent), parameters(straight.agent))  # the schedules span 1024 in both
    rows = {int(r["env_steps"]): r for r in read_metrics_csv(stopped.run_dir.path / "metrics.csv")[1]}
    assert float(rows[768]["train/learning_rate"]) == pytest.approx(1e-3 * (1 - 768 / 1024))


def test_a_branchs_best_checkpoint_and_best_return_are_its_own(tmp_path):
    source = Experiment.start(cfg("dqn", tmp_path / "a", 512, DQN_SMALL))
    source.train()
    assert (source.run_dir.path / "checkpoints" / "best.pt").is_file()
    branch = branch_run(source.run_dir.path, cfg("dqn", tmp_path / "b", 1024, [*DQN_SMALL, "learning_rate=0.0003"]))
    assert not (branch / "checkpoints" / "best.pt").exists()
    resumed = Experiment.resume(branch)
    assert resumed.best_eval_return == float("-inf")  # no best evaluation it could restore
    summary = resumed.train()
    own = [float(r["eval_return_mean"]) for r in read_metrics_csv(branch / "metrics.csv")[1]
           if int(r["env_steps"]) > 512]
    assert summary.extra["best_eval_return"] == max(own)
    best = torch.load(branch / "checkpoints" / "best.pt", weights_only=True)["state"]
    assert best["core"]["env_steps"] > 512 and best["best_eval_return"] == max(own)
