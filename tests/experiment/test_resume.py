"""Checkpoints and exact resume: 'train 2N' equals 'train N, stop, resume to 2N'; bad checkpoints are refused."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from porcini.errors import CheckpointError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.evaluation import load_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


def config(tmp_path, steps, **extra):
    overrides = [f"steps={steps}", "steps_per_epoch=500", "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=5",
                 *[f"{k}={v}" for k, v in extra.items()]]
    return resolve("q_learning", "FrozenLake-v1", None, overrides)


def test_train_2n_equals_train_n_then_resume(tmp_path, eval_columns):
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
def test_deep_agents_resume_exactly(tmp_path, algo, eval_columns):
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


def test_a_run_on_native_vector_envs_resumes_exactly(tmp_path, eval_columns):
    import warnings

    from porcini.envs.vectorized import NativeCartPole

    def cfg(out, steps):
        overrides = [f"steps={steps}", "steps_per_epoch=250", "log.sinks=[csv]", f"out={out}", "eval_episodes=3",
                     "env.vectorization=native"]
        return resolve("ppo", "CartPole-v1", None, [*overrides, *DEEP["ppo"]])

    straight = Experiment.start(cfg(tmp_path / "a", 1000)).train()
    first = Experiment.start(cfg(tmp_path / "b", 500))
    assert isinstance(first.env.unwrapped, NativeCartPole)
    first.train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ResumeWarning: the envs continue mid-episode
        resumed = Experiment.resume(first.run_dir.path, steps=1000)
    summary = resumed.train()
    assert summary.eval_return_mean == straight.eval_return_mean
    assert eval_columns(first.run_dir.path) == eval_columns(straight.extra["run_dir"])


# A 5 ms step: `auto` steps the 2 envs in subprocesses. The CLI runs with porcini.envs.testing imported, which
# registers the slow env (a command line naming an env module of its own is another feature).
SLOW_CLI = [sys.executable, "-c", "import porcini.envs.testing; from porcini.experiment.cli import main; main()"]
SLOW_PPO = ["steps=400", "steps_per_epoch=200", "eval_episodes=2", "log.sinks=[csv]", *DEEP["ppo"]]


def assert_same_tree(a, b, path="state"):
    import torch

    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same_tree(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tree(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, path


def test_sigkilled_run_with_async_envs_resumes_exactly_from_the_cli(tmp_path, eval_columns):
    from porcini.envs import make_env
    from porcini.envs.async_vector import AsyncVectorEnv
    from porcini.envs.testing import SLOW_ENV_ID
    from porcini.experiment.envs import resumable_base

    probe = make_env(SLOW_ENV_ID, n_envs=2)
    assert isinstance(resumable_base(probe), AsyncVectorEnv)  # what `auto` picks for this env
    probe.close()
    out = tmp_path / "killed"
    cmd = [*SLOW_CLI, "train", "ppo", SLOW_ENV_ID, "--out", str(out), "--no-progress",
           *(x for kv in SLOW_PPO for x in ("--set", kv))]
    killed = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while not list(out.glob("*/checkpoints/last.pt")) and time.time() < deadline:
            assert killed.poll() is None, killed.communicate()[1].decode()
            time.sleep(0.02)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        if killed.poll() is None:
            killed.kill()
    run_dir = next(out.iterdir())
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["core"]["env_steps"] == 200
    assert not (run_dir / "summary.json").exists()  # killed mid-run, between its two epochs
    resumed = subprocess.run([*SLOW_CLI, "resume", str(run_dir), "--no-progress"], capture_output=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert b"episode boundaries" not in resumed.stderr  # replayed exactly, no fallback
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] == 400
    # the same run, uninterrupted (in this process: the CLI's train resolves the same config)
    straight = Experiment.start(resolve("ppo", SLOW_ENV_ID, None, [*SLOW_PPO, f"out={tmp_path / 'straight'}"]))
    straight.train()
    assert eval_columns(run_dir) == eval_columns(straight.run_dir.path)
    final = [load_checkpoint(d / "checkpoints" / "last.pt") for d in (run_dir, straight.run_dir.path)]
    assert_same_tree(final[0]["agent"], final[1]["agent"])


def test_envs_that_cannot_be_replayed_resume_at_episode_boundaries(tmp_path):
    from porcini.envs.testing import SLOW_ENV_ID
    from porcini.experiment.envs import ResumeWarning

    # the env draws its noise from NumPy's global RNG: replaying its actions cannot rebuild its episodes
    overrides = ["steps_per_epoch=150", "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=2",
                 "env.vectorization=async", "env.kwargs={step_seconds: 0.0, episode_length: 40, global_noise: true}",
                 *DEEP["ppo"]]
    first = Experiment.start(resolve("ppo", SLOW_ENV_ID, None, ["steps=300", *overrides]))
    first.train()
    saved = load_checkpoint(first.run_dir.checkpoints / "last.pt")["core"]
    assert saved["ep_length"].tolist() == [30, 30] and saved["storage"]["t"] == 22  # mid-episode, mid-rollout
    with pytest.warns(ResumeWarning, match="resuming at episode boundaries"):
        resumed = Experiment.resume(first.run_dir.path, steps=600)
    core = resumed.core.state_dict()
    assert core["ep_length"].tolist() == [0, 0] and core["obs"][:, 1].tolist() == [0.0, 0.0]  # new episodes
    truncated, saved_truncated = core["storage"]["fields"][5], saved["storage"]["fields"][5]
    assert truncated[-1].all() and not saved_truncated[-1].any()  # the cut ends the rollout's episodes
    np.testing.assert_array_equal(truncated[:-1], saved_truncated[:-1])
    summary = resumed.train()
    assert summary.env_steps == 600
    assert summary.extra["train_episodes"] == saved["episodes"] + 2 * (150 // 40)  # the cut episodes not counted


def test_a_checkpoint_without_episode_logs_resumes_at_episode_boundaries():
    from porcini.envs import make_env
    from porcini.experiment.envs import ResumeWarning, restore_envs

    def restart(steps):
        # what a run on a native vector env (env.vectorization: vector_entry_point) checkpoints: no episode log
        env = make_env("CartPole-v1", n_envs=2, seed=0, vectorization="sync")
        with pytest.warns(ResumeWarning, match="no episode log.*resuming at episode boundaries"):
            return restore_envs(env, {"env": None, "wrappers": [], "core": {"env_steps": steps}}, seed=0)

    # new episodes, seeded from the run seed and the checkpoint's step count: the same checkpoint, the same start
    np.testing.assert_array_equal(restart(100), restart(100))
    assert not np.array_equal(restart(100), restart(200))


def edit_config(run_dir, edit):
    path = Path(run_dir) / "config.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))


def snapshot(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(Path(run_dir).rglob("*")) if p.is_file()}


def test_a_checkpoint_of_other_observations_is_refused_before_any_file_changes(tmp_path):
    # the case: same algorithm and env, a frame-stack wrapper added to config.yaml; last.pt is older
    # than the last metrics row (a kill between the two), so truncating metrics.csv first would lose rows
    overrides = ["steps_per_epoch=250", "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=2", *DEEP["ppo"]]
    first = Experiment.start(resolve("ppo", "CartPole-v1", None, ["steps=500", *overrides]))
    first.train()
    run_dir = first.run_dir.path
    at_500 = (run_dir / "checkpoints" / "last.pt").read_bytes()
    Experiment.resume(run_dir, steps=1000).train()
    (run_dir / "checkpoints" / "last.pt").write_bytes(at_500)
    edit_config(run_dir, lambda c: c["env"].update(wrappers=[{"FrameStackObservation": {"stack_size": 4}}]))
    before = snapshot(run_dir)
    with pytest.raises(CheckpointError, match=r"wrappers = \[\], but this run has wrappers = \['FrameStack"):
        Experiment.resume(run_dir, steps=1500)
    assert snapshot(run_dir) == before
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 1 + 4
    result = CliRunner().invoke(main, ["eval", str(run_dir), "--episodes", "1"])
    assert isinstance(result.exception, SystemExit) and result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "FrameStackObservation" in errors[0]


def test_a_checkpoint_of_another_observation_space_is_refused_by_resume_and_eval(tmp_path):
    run = Experiment.start(config(tmp_path, 500))
    run.train()
    edit_config(run.run_dir.path, lambda c: c["env"].update(kwargs={"map_name": "8x8"}))  # 16 states -> 64
    before = snapshot(run.run_dir.path)
    with pytest.raises(CheckpointError, match=r"observation_space = 'Discrete\(16, start=0\)'.*'Discrete\(64"):
        Experiment.resume(run.run_dir.path, steps=1000)
    assert snapshot(run.run_dir.path) == before
    with pytest.raises(CheckpointError, match="observation_space"):
        load_policy(run.run_dir.path)


def test_checkpoints_without_the_newer_identity_keys_still_resume(tmp_path):
    import torch

    run = Experiment.start(config(tmp_path, 500))
    run.train()
    last = run.run_dir.checkpoints / "last.pt"
    payload = torch.load(last, weights_only=True)
    payload["identity"] = {k: payload["identity"][k] for k in ("algo", "env", "n_envs", "obs_shape")}
    torch.save(payload, last)
    assert Experiment.resume(run.run_dir.path, steps=1000).train().env_steps == 1000


def _points(run_dir, key="eval_return_mean"):
    """The steps of ``key`` in the run's TensorBoard events and its MLflow run, duplicates kept."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    run_id = load_checkpoint(run_dir / "checkpoints" / "last.pt")["mlflow_run_id"]
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlflow.db'}")
    return [e.step for e in events.Scalars(key)], sorted(m.step for m in client.get_metric_history(run_id, key))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy deprecations inside MLflow's store
def test_resuming_a_finished_run_logs_no_point_again_but_a_run_stopped_before_its_last_row_logs_it(tmp_path):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboard")
    sinks = {"log.sinks": "[csv,tensorboard,mlflow]", "steps_per_epoch": 200}
    finished = Experiment.start(config(tmp_path / "a", 400, **sinks))
    finished.train()
    summary = Experiment.resume(finished.run_dir.path).train()
    assert summary.env_steps == 400
    assert _points(finished.run_dir.path) == ([200, 400], [200, 400])
    assert [r["env_steps"] for r in finished.run_dir.read_metrics()] == ["200", "400"]

    stopped = Experiment.start(config(tmp_path / "b", 500, **sinks))  # stopped at its end before its partial epoch
    stopped.core.learn(steps=500, steps_per_epoch=200, horizon=500)
    stopped.save()
    stopped.close()
    Experiment.resume(stopped.run_dir.path).train()
    assert _points(stopped.run_dir.path) == ([200, 400, 500], [200, 400, 500])


def test_a_run_stopped_after_a_fit_reports_that_fits_losses_in_the_next_row(tmp_path, eval_columns):
    import os

    from porcini.core import Callback
    from porcini.experiment.interrupt import TrainingInterrupted

    class TermAt(Callback):
        def on_step(self, core, *args):
            if core.env_steps == 400:  # PPO fits every 128 steps: at 384, then 512, after the epoch ending at 500
                os.kill(os.getpid(), signal.SIGTERM)

    def cfg(out):
        return resolve("ppo", "CartPole-v1", None, ["steps=1000", "steps_per_epoch=250", "log.sinks=[csv]",
                                                    f"out={out}", "eval_episodes=3", *DEEP["ppo"]])

    straight = Experiment.start(cfg(tmp_path / "a"))
    straight.train()
    stopped = Experiment.start(cfg(tmp_path / "b"))
    stopped.core.callbacks.append(TermAt())
    with pytest.raises(TrainingInterrupted):
        stopped.train()
    Experiment.resume(stopped.run_dir.path).train()
    assert eval_columns(stopped.run_dir.path) == eval_columns(straight.run_dir.path)
