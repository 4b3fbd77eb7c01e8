"""One writer per run directory: the lock is held by live processes, stale locks are taken over, others reported."""

import errno
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.run_lock import LOCK_NAME, RunLock, RunLockedError

HOLD = ("import sys, time\nfrom porcini.experiment.run_lock import RunLock\n"
        "lock = RunLock.acquire(sys.argv[1])\nprint('held', flush=True)\ntime.sleep(120)\n")


def hold_in_subprocess(run_dir):
    """A process that takes the lock of ``run_dir`` and keeps it until killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_holder_is_reported_and_a_killed_one_is_taken_over(tmp_path, caplog):
    holder = hold_in_subprocess(tmp_path)
    try:
        with pytest.raises(RunLockedError, match=rf"pid {holder.pid} on host {socket.gethostname()}.*kill"):
            RunLock.acquire(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder.pid  # a kill leaves the file behind
    with caplog.at_level(logging.WARNING, logger="porcini"):
        lock = RunLock.acquire(tmp_path)
    assert "stale lock" in caplog.text and str(holder.pid) in caplog.text
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_second_holder_in_the_same_process_is_refused_and_release_frees_it(tmp_path):
    with RunLock.acquire(tmp_path):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            RunLock.acquire(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()
    with pytest.raises(KeyError), RunLock.acquire(tmp_path):
        raise KeyError("a failure while the lock is held")
    assert not (tmp_path / LOCK_NAME).exists()  # released on an exception too
    RunLock.acquire(tmp_path).release()


def test_a_lock_from_another_host_is_never_taken_silently(tmp_path):
    owner = {"pid": 4242, "host": "node-elsewhere", "started": "2024-01-01 00:00:00"}
    (tmp_path / LOCK_NAME).write_text(json.dumps(owner))
    with pytest.raises(RunLockedError, match=r"pid 4242 on host node-elsewhere.*delete .*\.lock"):
        RunLock.acquire(tmp_path)
    assert json.loads((tmp_path / LOCK_NAME).read_text()) == owner


def test_experiment_holds_the_lock_while_it_trains_and_releases_it(tmp_path):
    config = resolve("q_learning", "FrozenLake-v1", None, ["steps=500", "steps_per_epoch=250", "log.sinks=[csv]",
                                                          f"out={tmp_path}", "eval_episodes=2"])
    run = Experiment.start(config)
    lock_file = run.run_dir.path / LOCK_NAME
    assert json.loads(lock_file.read_text())["pid"] == os.getpid()
    with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
        Experiment.resume(run.run_dir.path, steps=1000)
    run.train()
    assert not lock_file.exists()
    resumed = Experiment.resume(run.run_dir.path, steps=1000)
    assert lock_file.exists()
    resumed.train()
    assert not lock_file.exists()


def test_resume_while_train_runs_exits_2_naming_the_trainer(tmp_path):
    out = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    train = subprocess.Popen(
        [sys.executable, "-m", "porcini", "train", "q_learning", "FrozenLake-v1", "--steps", "10000000",
         "--set", "steps_per_epoch=500", "--set", "log.sinks=[csv]", "--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list(out.glob("*/checkpoints/last.pt")):
            time.sleep(0.05)
        run_dir = next(out.iterdir())
        rows_before = (run_dir / "metrics.csv").read_text().splitlines()
        resume = subprocess.run([sys.executable, "-m", "porcini", "resume", str(run_dir), "--no-progress"],
                                capture_output=True, text=True, timeout=60, env=env)
        assert train.poll() is None
    finally:
        train.send_signal(signal.SIGKILL)
        train.wait(timeout=10)
    assert resume.returncode == 2, resume.stderr
    assert "Traceback" not in resume.stderr
    errors = [line for line in resume.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"pid {train.pid} on host {socket.gethostname()}" in errors[0]
    steps = [int(row.split(",")[0]) for row in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and len(steps) >= len(rows_before) - 1  # the refused resume wrote nothing


def test_without_flock_the_owner_pid_decides(tmp_path, monkeypatch, caplog):
    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)  # a file system without flock (some network mounts)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        owner = {"pid": holder.pid, "host": socket.gethostname(), "started": "2024-01-01 00:00:00"}
        (tmp_path / LOCK_NAME).write_text(json.dumps(owner))
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            RunLock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with caplog.at_level(logging.WARNING, logger="porcini"):
        lock = RunLock.acquire(tmp_path)  # its pid no longer runs: stale
    assert "stale lock" in caplog.text
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()
