"""The run directory under faults: concurrent creation, the umask, stale temporary files, errors from the OS."""

import errno
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from porcini.errors import RunDirectoryError
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.run_dir import RunDirectory, atomic_write_text
from porcini.experiment.run_lock import RunLock, RunLockedError

TRAIN = ["train", "q_learning", "FrozenLake-v1", "--steps", "1000", "--set", "steps_per_epoch=500",
         "--set", "log.sinks=[csv]", "--set", "eval_episodes=2", "--no-progress"]


def config(out, steps=500):
    return resolve("q_learning", "FrozenLake-v1", None, [f"steps={steps}", "steps_per_epoch=250", "log.sinks=[csv]",
                                                        f"out={out}", "eval_episodes=2"])


def one_line_error(result, *needles):
    """The CLI exited 2 with exactly one ``Error:`` line naming every needle, not with an exception."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path):
    """``mount(size, ro=False)``: a fresh tmpfs under tmp_path (the test is skipped where mounting fails)."""
    mounted = []

    def mount(size, ro=False):
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs needs root")
        where = tmp_path / f"tmpfs{len(mounted)}"
        where.mkdir()
        options = f"size={size}" + (",ro" if ro else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def create_after(barrier, out):
    barrier.wait()
    return str(RunDirectory.create(out, "ppo", "CartPole-v1", 0).path)


def test_concurrent_processes_create_distinct_directories(tmp_path):
    context = multiprocessing.get_context("fork")  # forked workers start at once, all past the imports
    with context.Manager() as manager, context.Pool(12) as pool:
        for attempt in range(10):  # a lost race is likely in one attempt, near certain in ten
            out, barrier = tmp_path / str(attempt), manager.Barrier(12)
            paths = pool.starmap(create_after, [(barrier, out)] * 12)
            assert len(set(paths)) == 12 == len(list(out.iterdir()))


def test_concurrent_threads_create_distinct_directories(tmp_path):
    def create(barrier, out, paths):
        paths.append(create_after(barrier, out))

    for attempt in range(10):
        out, barrier, paths = tmp_path / str(attempt), threading.Barrier(20), []
        threads = [threading.Thread(target=create, args=(barrier, out, paths)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(paths)) == 20 == len(list(out.iterdir()))


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_run_files_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        run = Experiment.start(config(tmp_path))
        run.train()
    finally:
        os.umask(old)
    files = ["config.yaml", "metrics.csv", "summary.json", "checkpoints/last.pt", "checkpoints/best.pt"]
    modes = {name: stat.S_IMODE((run.run_dir.path / name).stat().st_mode) for name in files}
    assert modes == dict.fromkeys(files, 0o666 & ~umask)


def test_resume_removes_temporary_files_of_interrupted_writes_but_not_a_live_writers(tmp_path):
    run = Experiment.start(config(tmp_path))
    run.train()
    leftovers = [run.run_dir.checkpoints / ".last.pt.k3j2h1g0.tmp", run.run_dir.path / ".summary.json.a1b2c3d4.tmp",
                 run.run_dir.path / "metrics.csvq9w8e7r6.tmp"]
    for path in leftovers:
        path.write_bytes(b"\0" * 100_000)
    with RunLock.acquire(run.run_dir.path):  # another writer is running: its temporary files are live
        with pytest.raises(RunLockedError):
            Experiment.resume(run.run_dir.path, steps=1000)
    assert all(path.exists() for path in leftovers)
    Experiment.resume(run.run_dir.path, steps=1000).train()
    assert not any(path.exists() for path in leftovers)
    assert load_checkpoint(run.run_dir.checkpoints / "last.pt")["core"]["env_steps"] == 1000


def test_out_that_is_a_file_exits_2_in_one_line_without_a_traceback(tmp_path):
    out = tmp_path / "runs"
    out.write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "porcini", *TRAIN, "--out", str(out)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(out) in errors[0] and "is a file" in errors[0]
    beneath = CliRunner().invoke(main, [*TRAIN, "--out", str(out / "runs")])  # a parent that is a file
    one_line_error(beneath, str(out), "Not a directory")
    assert out.read_text() == "not a folder"


def test_a_path_component_too_long_exits_2_naming_it(tmp_path):
    out = tmp_path / ("x" * 300)
    one_line_error(CliRunner().invoke(main, [*TRAIN, "--out", str(out)]), "File name too long", str(out))
    assert list(tmp_path.iterdir()) == []


def test_a_path_too_long_for_the_checkpoints_fails_before_training(tmp_path):
    # the run directory and its config.yaml fit within PATH_MAX, checkpoints/.best.pt.XXXXXXXX.tmp does not
    path_max = os.pathconf(tmp_path, "PC_PATH_MAX")
    target = path_max - len("/q_learning-FrozenLake-v1-s0-20240101-120000") - 30
    out = tmp_path
    while (remaining := target - len(str(out)) - 1) > 0:
        out = out / ("d" * min(200, remaining))
    out.mkdir(parents=True)
    assert len(str(out / "q_learning-FrozenLake-v1-s0-20240101-120000" / ".config.yaml.XXXXXXXX.tmp")) < path_max
    result = CliRunner().invoke(main, [*TRAIN, "--out", str(out)])
    one_line_error(result, "File name too long", "best.pt", "shorter")
    assert list(out.iterdir()) == []  # nothing trained, nothing left behind


def test_a_read_only_out_exits_2_before_training(tmpfs):
    read_only = tmpfs("64k", ro=True)
    result = CliRunner().invoke(main, [*TRAIN, "--out", str(read_only / "runs")])
    one_line_error(result, "Read-only file system", str(read_only / "runs"))


def test_resume_of_a_run_on_a_read_only_disk_exits_2(tmpfs):
    disk = tmpfs("1m")
    run = Experiment.start(config(disk))
    run.train()
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    result = CliRunner().invoke(main, ["resume", str(run.run_dir.path), "--steps", "1000", "--no-progress"])
    one_line_error(result, "Read-only file system", ".lock")


def test_a_full_disk_during_a_checkpoint_exits_2_naming_the_file(tmpfs):
    disk = tmpfs("32k")  # config.yaml and metrics.csv fit, the first checkpoints (17 kB each) do not both
    result = CliRunner().invoke(main, [*TRAIN, "--out", str(disk)])
    line = one_line_error(result, "No space left on device while writing", "checkpoints/")
    assert line.split()[-1] != "vs"  # not torch's "unexpected pos ... vs ..."
    run_dir = next(disk.iterdir())
    assert not list(run_dir.rglob("*.tmp"))  # the failed write left no temporary file
    assert not (run_dir / ".lock").exists()


class FullDisk:
    """A file whose writes fail with ENOSPC once ``room`` bytes were written (a patched ``write``)."""

    def __init__(self, file, room):
        self.file, self.room = file, room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def test_full_disk_writes_raise_one_line_and_keep_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"weights": list(range(10))}, {"algo": "q_learning"})
    atomic_write_text(tmp_path / "config.yaml", "seed: 0\n")
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *args, **kw: FullDisk(real_fdopen(fd, *args, **kw), 1000))
    import numpy as np

    with pytest.raises(RunDirectoryError, match=rf"^No space left on device while writing {path}: free some space"):
        save_checkpoint(path, {"weights": np.zeros(10_000)}, {"algo": "q_learning"})
    with pytest.raises(RunDirectoryError, match="No space left on device while writing .*config.yaml"):
        atomic_write_text(tmp_path / "config.yaml", "x" * 5000)
    monkeypatch.undo()
    assert load_checkpoint(path)["weights"] == list(range(10))
    assert (tmp_path / "config.yaml").read_text() == "seed: 0\n"
    assert not list(tmp_path.rglob("*.tmp"))
