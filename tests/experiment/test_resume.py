"""Checkpoints and exact resume: 'train 2N' equals 'train N, stop, resume to 2N'; bad checkpoints are refused."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from porcini.core.errors import CheckpointError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


def config(tmp_path, steps, **extra):
    overrides = [f"steps={steps}", "steps_per_epoch=500", "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=5",
                 *[f"{k}={v}" for k, v in extra.items()]]
    return resolve("q_learning", "FrozenLake-v1", None, overrides)


def eval_columns(run_dir):
    rows = (Path(run_dir) / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in ("wall_time_s", "time/steps_per_second")]
    return [[row.split(",")[i] for i in keep] for row in rows]


def test_train_2n_equals_train_n_then_resume(tmp_path):
    straight = Experiment.start(config(tmp_path / "a", 2000)).train()
    first = Experiment.start(config(tmp_path / "b", 1000))
    first.train()
    resumed = Experiment.resume(first.run_dir.path, steps=2000).train()
    assert resumed.env_steps == straight.env_steps == 2000
    assert resumed.eval_return_mean == straight.eval_return_mean
    assert resumed.extra["train_episodes"] == straight.extra["train_episodes"]
    assert eval_columns(first.run_dir.path) == eval_columns(straight.extra["run_dir"])


def test_mismatched_and_corrupt_checkpoints_are_refused(tmp_path):
    run = Experiment.start(config(tmp_path, 500))
    run.train()
    last = run.run_dir.checkpoints / "last.pt"
    with pytest.raises(CheckpointError, match="algo = 'q_learning'.*'sarsa'"):
        load_checkpoint(last, {"algo": "sarsa"})
    with pytest.raises(CheckpointError, match="obs_shape"):
        load_checkpoint(last, {"obs_shape": [4]})
    before = sorted(p.name for p in run.run_dir.path.rglob("*"))
    config_text = (run.run_dir.path / "config.yaml").read_text()
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        Experiment.resume(run.run_dir.path, steps=1000)
    assert sorted(p.name for p in run.run_dir.path.rglob("*")) == before  # nothing lost or added
    assert (run.run_dir.path / "config.yaml").read_text() == config_text  # steps not extended by a failed resume
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_run_that_ends_between_epochs_is_checkpointed_at_its_end(tmp_path):
    straight = Experiment.start(config(tmp_path / "a", 1700)).train()
    first = Experiment.start(config(tmp_path / "b", 700))  # epochs of 500: the last one ended at 500
    first.train()
    assert load_checkpoint(first.run_dir.checkpoints / "last.pt")["core"]["env_steps"] == 700
    resumed = Experiment.resume(first.run_dir.path, steps=1700).train()
    assert resumed.env_steps == 1700
    assert resumed.eval_return_mean == straight.eval_return_mean
    assert resumed.extra["train_episodes"] == straight.extra["train_episodes"]


def test_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"x": 1}, {"algo": "q_learning"})
    import torch

    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)


def test_checkpoint_load_does_not_execute_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    import torch

    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "identity": {}, "state": Evil()}, path)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_sigkill_mid_run_resumes_from_last_checkpoint(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "porcini", "train", "q_learning", "FrozenLake-v1", "--steps", "200000",
           "--set", "steps_per_epoch=500", "--set", "log.sinks=[csv]", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            lasts = list(out.glob("*/checkpoints/last.pt"))
            if lasts and len((lasts[0].parent.parent / "metrics.csv").read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = next(out.iterdir())
    saved = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    at = saved["core"]["env_steps"]
    assert 0 < at < 200_000
    summary = Experiment.resume(run_dir, steps=at + 1000).train()
    assert summary.env_steps == at + 1000
    steps = [int(line.split(",")[0]) for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))  # rows after the checkpoint were dropped, not duplicated
    assert steps[-1] == at + 1000
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] == at + 1000


# Deep agents: schedules over the run are constant here, so "2N" and "N then resume to 2N" train identically
# (a schedule's horizon is the run length, which `resume --steps` extends; test_resume_horizon.py tests that).
DEEP = {
    "ppo": ["env.n_envs=2", "n_steps=64", "batch_size=64", "n_epochs=2", "learning_rate_schedule=constant",
            "clip_range_schedule=constant"],
    "dqn": ["learning_starts=100", "train_freq=50", "gradient_steps=10", "batch_size=32", "buffer_size=2000",
            "exploration_fraction=0.1"],  # ε reaches its floor within the warm-up over a horizon of 500 or 1000
    "sac": ["learning_starts=100", "batch_size=32", "buffer_size=2000", "net_arch=[32,32]"],
    "discrete_sac": ["learning_starts=100", "batch_size=32", "buffer_size=2000", "net_arch=[32,32]"],
    "recurrent_ppo": ["env.n_envs=2", "n_steps=40", "batch_size=40", "n_epochs=2", "lstm_hidden_size=8",
                      "net_arch=[16]"],
}
ENV_OF = {"sac": "Pendulum-v1"}


@pytest.mark.parametrize("algo", ["ppo", "dqn", "sac", "discrete_sac", "recurrent_ppo"])
def test_deep_agents_resume_exactly(tmp_path, algo):
    def cfg(out, steps):
        overrides = [f"steps={steps}", "steps_per_epoch=250", "log.sinks=[csv]", f"out={out}", "eval_episodes=3"]
        return resolve(algo, ENV_OF.get(algo, "CartPole-v1"), None, [*overrides, *DEEP[algo]])

    straight = Experiment.start(cfg(tmp_path / "a", 1000)).train()
    first = Experiment.start(cfg(tmp_path / "b", 500))
    first.train()
    resumed = Experiment.resume(first.run_dir.path, steps=1000).train()
    assert resumed.eval_return_mean == straight.eval_return_mean
    # every logged column but the clocks is identical, the agent's losses included
    a, b = eval_columns(first.run_dir.path), eval_columns(straight.extra["run_dir"])
    assert any(name.startswith("loss/") for name in a[0])
    assert a == b
