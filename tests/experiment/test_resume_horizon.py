"""`resume --steps N` past a run's end: every schedule's horizon becomes N (as Stable-Baselines3 recomputes progress
against the new total), config.yaml records it, and N at or below the steps done is refused; the console's epoch
number continues; an interrupted run resumed with its own steps stays bit-identical to an uninterrupted one."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.config.dataclass_io import load_yaml
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv

PPO_SMALL = ["env.n_envs=2", "n_steps=64", "batch_size=64", "n_epochs=2", "net_arch=[16]"]  # record: linear lr, clip
DQN_SMALL = ["learning_starts=100", "train_freq=50", "gradient_steps=10", "batch_size=32", "buffer_size=5000",
             "net_arch=[16]"]  # record: ε decays over 0.16 of the run


def cfg(algo, out, steps, extra=(), sinks="[csv]"):
    overrides = [f"steps={steps}", "steps_per_epoch=256", f"log.sinks={sinks}", f"out={out}", "eval_episodes=2"]
    return resolve(algo, "CartPole-v1", None, [*overrides, *extra])


def parameters(experiment):
    return torch.cat([p.detach().flatten() for p in experiment.agent.model.parameters()]).clone()


def test_resume_past_the_end_decays_the_learning_rate_and_clip_range_over_the_new_steps(tmp_path):
    first = Experiment.start(cfg("ppo", tmp_path, 512, PPO_SMALL))
    first.train()
    resumed = Experiment.resume(first.run_dir.path, steps=1024)
    before = parameters(resumed)
    resumed.train()
    assert not torch.equal(parameters(resumed), before)  # a horizon kept at 512 gives lr 0: nothing would move
    rows = {int(r["env_steps"]): r for r in read_metrics_csv(first.run_dir.path / "metrics.csv")[1]}
    # the row at 768 shows the last fit's schedules: 6 fits of 128 env steps, progress remaining 1 - 768 / 1024
    assert float(rows[768]["train/learning_rate"]) == pytest.approx(1e-3 * (1 - 768 / 1024))
    assert float(rows[768]["train/clip_range"]) == pytest.approx(0.2 * (1 - 768 / 1024))
    assert float(rows[512]["train/learning_rate"]) == 0.0  # the first session decayed to 0 at its own end
    saved = yaml.safe_load((first.run_dir.path / "config.yaml").read_text())
    assert saved["steps"] == 1024 and "total_steps" not in saved["algo"]


def test_resume_past_the_end_decays_epsilon_over_the_new_steps(tmp_path):
    first = Experiment.start(cfg("dqn", tmp_path, 500, DQN_SMALL))
    first.train()
    assert first.agent.epsilon.decay_steps == 80  # 0.16 of the run's 500 steps (the config of record's fraction)
    resumed = Experiment.resume(first.run_dir.path, steps=5000)
    resumed.train()
    assert resumed.agent.epsilon.decay_steps == 800


def test_resume_with_steps_not_past_the_steps_done_is_a_usage_error_naming_them(tmp_path):
    run = Experiment.start(cfg("ppo", tmp_path, 300, PPO_SMALL))
    run.train()
    path = run.run_dir.path
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    for steps in ("300", "100"):
        result = CliRunner().invoke(main, ["resume", str(path), "--steps", steps, "--no-progress"])
        assert result.exit_code == 2, result.output
        error = next(line for line in result.output.splitlines() if line.startswith("Error:"))
        assert f"--steps {steps} does not extend" in error and "it has done 300 env steps" in error
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before  # nothing changed


def test_console_epoch_number_continues_after_resume(tmp_path, capsys):
    run = Experiment.start(cfg("ppo", tmp_path, 512, PPO_SMALL, sinks="[console]"))
    run.train()
    assert "epoch 2 | env_steps 512" in capsys.readouterr().err
    Experiment.resume(run.run_dir.path, steps=1024).train()
    err = capsys.readouterr().err
    assert "epoch 3 | env_steps 768" in err and "epoch 4 | env_steps 1,024" in err and "epoch 1 " not in err


class Interrupted(Exception):
    """Stands for a crash right after the checkpoint at 512 env steps."""


@pytest.mark.parametrize("algo, extra", [("ppo", PPO_SMALL), ("dqn", [*DQN_SMALL, "exploration_fraction=0.5"])])
def test_interrupted_run_resumed_with_its_steps_equals_the_uninterrupted_run(tmp_path, monkeypatch, algo, extra):
    # the schedules span the run (linear lr and clip range; ε decaying well past the warm-up), so the resumed session
    # must give them the run's own horizon, not its remaining steps
    straight = Experiment.start(cfg(algo, tmp_path / "a", 1024, extra)).train()
    end_epoch = Experiment.end_epoch

    def end_epoch_then_crash(self):
        end_epoch(self)
        if self.core.env_steps >= 512:
            raise Interrupted

    monkeypatch.setattr(Experiment, "end_epoch", end_epoch_then_crash)
    crashed = Experiment.start(cfg(algo, tmp_path / "b", 1024, extra))
    with pytest.raises(Interrupted):
        crashed.train()
    monkeypatch.setattr(Experiment, "end_epoch", end_epoch)
    assert load_checkpoint(crashed.run_dir.checkpoints / "last.pt")["core"]["env_steps"] == 512
    resumed = Experiment.resume(crashed.run_dir.path).train()
    assert resumed.eval_return_mean == straight.eval_return_mean
    clocks = ("wall_time_s", "time/steps_per_second")
    rows = [[{k: v for k, v in r.items() if k not in clocks} for r in read_metrics_csv(Path(d) / "metrics.csv")[1]]
            for d in (crashed.run_dir.path, straight.extra["run_dir"])]
    assert rows[0] == rows[1] and len(rows[0]) == 4
    assert load_yaml(crashed.run_dir.path / "config.yaml")["steps"] == 1024


def test_dqn_epsilon_follows_the_run_steps_and_no_config_holds_a_horizon(tmp_path):
    config = cfg("dqn", tmp_path, 2000, ["learning_starts=100", "train_freq=500", "buffer_size=5000"])
    assert not any("total_steps" in section for section in (config.algo, copy.deepcopy(vars(config))))
    run = Experiment.start(config)
    run.train()
    assert run.agent.epsilon.decay_steps == round(0.16 * 2000)  # not 0.16 of the record's 50,000
    assert "total_steps" not in (run.run_dir.path / "config.yaml").read_text()
    assert np.isclose(run.agent.exploration_rate, 0.04)


def test_a_run_saved_with_the_old_total_steps_key_still_resumes(tmp_path):
    run = Experiment.start(cfg("ppo", tmp_path, 256, PPO_SMALL))
    run.train()
    config_path = run.run_dir.path / "config.yaml"
    saved = yaml.safe_load(config_path.read_text())
    saved["algo"]["total_steps"] = 256  # what runs stored before the horizon became the run's steps
    config_path.write_text(yaml.safe_dump(saved))
    assert Experiment.resume(run.run_dir.path, steps=512).train().env_steps == 512
    assert "total_steps" not in yaml.safe_load(config_path.read_text())["algo"]
