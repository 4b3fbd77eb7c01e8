"""SIGTERM / SIGINT during training: stop at the next step, checkpoint, one resume line, exit 128 + signal.

Real signals to real processes: a `porcini train` subprocess (single run and --seeds), and this process for the
library-level contract (handlers restored, a user's own handler kept, the MLflow run marked KILLED).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from porcini.core import Callback
from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.experiment import Experiment
from porcini.experiment.interrupt import TrainingInterrupted
from porcini.experiment.launch import resolve

# q_learning on FrozenLake: a few thousand steps per second, so an epoch of 10000 steps takes a second or more
STEPS, EPOCH = 30_000, 10_000
SETTINGS = [f"steps_per_epoch={EPOCH}", "log.sinks=[csv]", "eval_episodes=5"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell may start tests with SIGINT ignored; users have it


def _train_command(out: Path, *extra: str) -> list[str]:
    sets = [arg for setting in SETTINGS for arg in ("--set", setting)]
    return [sys.executable, "-m", "porcini", "train", "q_learning", "FrozenLake-v1", "--steps", str(STEPS),
            *sets, "--out", str(out), "--no-progress", *extra]


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return bool(a == b)


def _metric_rows(run_dir: Path) -> list[list[str]]:
    """metrics.csv without the clock columns (they differ between any two runs)."""
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name not in ("wall_time_s", "time/steps_per_second")]
    return [[line.split(",")[i] for i in keep] for line in lines]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The same run trained straight through: its run directory and summary."""
    out = tmp_path_factory.mktemp("straight")
    summary = Experiment.start(resolve("q_learning", "FrozenLake-v1", None,
                                       [f"steps={STEPS}", f"out={out}", *SETTINGS])).train().to_dict()
    return Path(summary["run_dir"]), summary


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_epoch_checkpoints_and_the_resumed_run_is_exact(
        tmp_path: Path, signum: int, uninterrupted: tuple[Path, dict[str, Any]]) -> None:
    out = tmp_path / "runs"
    proc = subprocess.Popen(_train_command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    try:
        _wait_for(lambda: any(out.glob("*/checkpoints/last.pt")), 60, "the first epoch's checkpoint")
        time.sleep(0.3)  # into the second epoch
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = next(out.iterdir())
    assert proc.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert stderr.splitlines() == [f"stopped by {name}; checkpoint saved; continue with: porcini resume {run_dir}"]
    assert stdout == ""
    assert not (run_dir / "summary.json").exists()  # no final evaluation or summary for a stopped run
    stopped_at = load_checkpoint(run_dir / "checkpoints" / "last.pt")["core"]["env_steps"]
    last_epoch = int(_metric_rows(run_dir)[-1][0])
    assert last_epoch < stopped_at < STEPS  # the state at the signal, not the last epoch's

    resumed = subprocess.run([sys.executable, "-m", "porcini", "resume", str(run_dir), "--json", "--no-progress"],
                             capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout.splitlines()[-1])
    straight_dir, straight = uninterrupted
    for key in ("env_steps", "eval_return_mean", "eval_return_std"):
        assert summary[key] == straight[key]
    assert summary["train_episodes"] == straight["train_episodes"]
    assert _metric_rows(run_dir) == _metric_rows(straight_dir)
    final = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    reference = load_checkpoint(straight_dir / "checkpoints" / "last.pt")
    assert _equal(final["agent"], reference["agent"])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("kill_parent", [False, True], ids=["SIGTERM-to-parent", "parent-SIGKILLed"])
def test_seeds_stop_with_their_parent_and_leave_no_process(tmp_path: Path, kill_parent: bool) -> None:
    out = tmp_path / "runs"
    command = _train_command(out, "--seeds", "0-1", "--steps", "2000000", "--set", "steps_per_epoch=2000")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    children: list[int] = []
    try:
        _wait_for(lambda: len(list(out.glob("*/checkpoints/last.pt"))) == 2, 90, "a checkpoint of both seeds")
        children = _children(proc.pid)
        assert len(children) >= 2  # the two workers (and multiprocessing's resource tracker)
        proc.send_signal(signal.SIGKILL if kill_parent else signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        _wait_for(lambda: not any(_alive(pid) for pid in children), 20, "every worker to exit")
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in {*children, *_children(proc.pid)}:  # a failed test leaves no orphan behind either
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    run_dirs = sorted(out.iterdir())
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        last_epoch = int(_metric_rows(run_dir)[-1][0])
        # a signal that lands during an epoch's evaluation stops the run right at that epoch's end
        assert last_epoch <= load_checkpoint(run_dir / "checkpoints" / "last.pt")["core"]["env_steps"] < 2_000_000
    if not kill_parent:
        assert proc.returncode == 143
        assert sorted(stderr.splitlines()) == [
            f"stopped by SIGTERM; checkpoint saved; continue with: porcini resume {d}" for d in run_dirs]


class _SignalAt(Callback):
    """Send this process ``signum`` once, at the first step past ``at`` env steps."""

    def __init__(self, at: int, signum: int = signal.SIGTERM) -> None:
        self.at, self.signum, self.sent = at, signum, False

    def on_step(self, core: Any, *args: Any) -> None:
        if not self.sent and core.env_steps > self.at:
            self.sent = True
            os.kill(os.getpid(), self.signum)


def _experiment(tmp_path: Path, *sinks: str) -> Experiment:
    config = resolve("q_learning", "FrozenLake-v1", None, [
        "steps=3000", "steps_per_epoch=1000", f"log.sinks=[csv{''.join(',' + s for s in sinks)}]",
        "eval_episodes=2", f"out={tmp_path}"])
    return Experiment.start(config, progress=False)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy deprecations inside MLflow's store
def test_in_process_signal_stops_with_a_checkpoint_marks_mlflow_killed_and_restores_handlers(
        tmp_path: Path) -> None:
    sinks = ("mlflow",) if importlib.util.find_spec("mlflow") else ()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    experiment = _experiment(tmp_path, *sinks)
    experiment.core.callbacks.append(_SignalAt(1500))
    with pytest.raises(TrainingInterrupted) as stopped:
        experiment.train()
    assert stopped.value.exit_code == 143 and stopped.value.run_dirs == [experiment.run_dir.path]
    assert {s: signal.getsignal(s) for s in before} == before
    assert load_checkpoint(experiment.run_dir.checkpoints / "last.pt")["core"]["env_steps"] == 1501
    assert not (experiment.run_dir.path / "summary.json").exists()
    if sinks:
        from mlflow.tracking import MlflowClient

        mlflow_logger = experiment.logger.loggers[-1]
        client = MlflowClient(tracking_uri=mlflow_logger.tracking_uri)
        assert client.get_run(mlflow_logger.run_id).info.status == "KILLED"


def test_a_second_signal_aborts_at_once_and_keeps_the_last_complete_checkpoint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = _experiment(tmp_path)
    experiment.core.callbacks.append(_SignalAt(1500))
    real_fsync = os.fsync

    def fsync_interrupted_by_a_second_signal(fd: int) -> None:
        if experiment.core.stop_requested:  # the stop's own checkpoint is half written: a second signal comes
            os.kill(os.getpid(), signal.SIGTERM)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_interrupted_by_a_second_signal)
    with pytest.raises(TrainingInterrupted, match="aborted by a second SIGTERM") as aborted:
        experiment.train()
    assert aborted.value.aborted and aborted.value.exit_code == 143
    checkpoints = experiment.run_dir.checkpoints
    assert load_checkpoint(checkpoints / "last.pt")["core"]["env_steps"] == 1000  # the epoch's, intact
    assert sorted(p.name for p in checkpoints.iterdir()) == ["best.pt", "last.pt"]  # no temporary file left
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_handler_of_the_users_own_is_kept(tmp_path: Path) -> None:
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        experiment = _experiment(tmp_path)
        experiment.core.callbacks.append(_SignalAt(1500))
        summary = experiment.train()  # the user's handler took the signal: porcini trains on
        assert received == [signal.SIGTERM]
        assert summary.env_steps == 3000
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, previous)


# Experiment.start in a subprocess, whose loggers send the signal while the run is being built (before training)
_SIGNAL_WHILE_BUILDING = """
import os, signal, sys
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import MultiLogger
MultiLogger.log_params = lambda self, params: os.kill(os.getpid(), getattr(signal, sys.argv[2]))
config = resolve("q_learning", "FrozenLake-v1", None, ["steps=100", "log.sinks=[csv]", "out=" + sys.argv[1]])
try:
    Experiment.start(config)
except KeyboardInterrupt as stop:
    print("stopped:", stop)
    sys.exit(getattr(stop, "exit_code", 130))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_run_is_built_leaves_no_run_directory(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", _SIGNAL_WHILE_BUILDING, str(out), signal.Signals(signum).name],
                          capture_output=True, text=True, timeout=120, preexec_fn=_default_sigint)
    # the process ends by the exception, as on a signal during training, not killed by the signal
    assert done.returncode == 128 + signum, (done.returncode, done.stderr[-2000:])
    assert list(out.iterdir()) == []  # no run directory without a checkpoint, which resume could not continue
    assert "before training started" in done.stdout, done.stdout
