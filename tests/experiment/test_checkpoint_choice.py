"""Corrupt checkpoints: the message keeps the whole inner error and only recommends a checkpoint that loads;
``resume``, ``eval`` and ``inspect`` take ``--checkpoint best|last|PATH`` so that the advice can be followed."""

import json
import pathlib
import shutil
import sys

import pytest
import torch
from click.testing import CliRunner

from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve

STEPS = 400


@pytest.fixture()
def run_dir(tmp_path):
    config = resolve("q_learning", "FrozenLake-v1", None, [f"steps={STEPS}", "steps_per_epoch=200", "eval_episodes=2",
                                                           "log.sinks=[csv]", f"out={tmp_path / 'runs'}"])
    path = Experiment.start(config).train().extra["run_dir"]
    assert (pathlib.Path(path) / "checkpoints" / "best.pt").is_file()
    return pathlib.Path(path)


def write_unloadable(path):
    """A checkpoint torch refuses to load with ``weights_only``: its error message is long (over 200 chars)."""
    torch.save({"format_version": 1, "state": pathlib.PurePosixPath("x")}, path)


def error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_corrupt_last_keeps_the_inner_error_and_recommends_only_a_checkpoint_that_loads(run_dir):
    last, best = run_dir / "checkpoints" / "last.pt", run_dir / "checkpoints" / "best.pt"
    good_best = best.read_bytes()
    write_unloadable(last)
    best.write_bytes(good_best[:100])  # truncated
    result = CliRunner().invoke(main, ["resume", str(run_dir), "--no-progress"])
    assert result.exit_code == 1
    line = error_line(result)
    assert "corrupt or truncated" in line
    # the end of torch's message, far past the first 200 characters
    assert "Unsupported global: GLOBAL pathlib.PurePosixPath" in line
    assert "torch.load to learn more" in line
    assert "best.pt" not in line and "start the run over" in line

    best.write_bytes(good_best)
    line = error_line(CliRunner().invoke(main, ["resume", str(run_dir), "--no-progress"]))
    assert f"{best} loads: pass --checkpoint {best}" in line


def test_resume_eval_and_inspect_take_a_checkpoint_path(run_dir, tmp_path):
    kept = tmp_path / "kept.pt"
    shutil.copy(run_dir / "checkpoints" / "best.pt", kept)
    write_unloadable(run_dir / "checkpoints" / "last.pt")
    runner = CliRunner()

    evaluated = runner.invoke(main, ["eval", str(run_dir), "--checkpoint", str(kept), "--episodes", "2", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout.strip().splitlines()[-1])["checkpoint"] == str(kept)
    assert runner.invoke(main, ["eval", str(run_dir), "--checkpoint", "last"]).exit_code == 1  # the corrupt one

    figure = tmp_path / "inspect.png"
    inspected = runner.invoke(main, ["inspect", str(run_dir), "--checkpoint", str(kept), "-o", str(figure)])
    assert inspected.exit_code == 0, inspected.output
    assert figure.stat().st_size > 0

    resumed = runner.invoke(main, ["resume", str(run_dir), "--checkpoint", str(kept), "--json", "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["env_steps"] == STEPS
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["format_version"] == 1  # rewritten


@pytest.mark.parametrize("command", ["resume", "eval", "inspect"])
def test_a_checkpoint_path_that_does_not_exist_is_a_usage_error(run_dir, tmp_path, command):
    result = CliRunner().invoke(main, [command, str(run_dir), "--checkpoint", str(tmp_path / "nope.pt")])
    assert result.exit_code == 2
    line = error_line(result)
    assert "nope.pt" in line and "best, last or the path" in line


def test_eval_video_without_the_video_extra_fails_before_evaluating(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio", None)  # as if the package were not installed
    result = CliRunner().invoke(main, ["eval", str(run_dir), "--video", "--episodes", "1"])
    assert result.exit_code == 2
    line = error_line(result)
    assert 'pip install "porcini[video]"' in line and 'pip install -e ".[video]"' in line
    assert not (run_dir / "videos").exists()


def test_resume_refuses_the_checkpoint_of_another_run(run_dir, tmp_path):
    config = resolve("q_learning", "FrozenLake-v1", None, [f"steps={STEPS}", "steps_per_epoch=200", "eval_episodes=2",
                                                           "log.sinks=[csv]", f"out={tmp_path / 'runs'}", "seed=1"])
    other = pathlib.Path(Experiment.start(config).train().extra["run_dir"])  # same config, another seed
    theirs = other / "checkpoints" / "last.pt"
    metrics = (run_dir / "metrics.csv").read_text()
    result = CliRunner().invoke(main, ["resume", str(run_dir), "--checkpoint", str(theirs), "--steps", "600",
                                       "--no-progress"])
    assert result.exit_code == 1
    line = error_line(result)
    assert f"checkpoint {theirs} belongs to run {other.name}, not to {run_dir.name}" in line
    assert "pass a checkpoint of" in line
    assert (run_dir / "metrics.csv").read_text() == metrics  # nothing of the run changed
    kept = tmp_path / "kept.pt"  # a copy of the run's own checkpoint, outside its folder, is still its own
    shutil.copy(run_dir / "checkpoints" / "last.pt", kept)
    resumed = CliRunner().invoke(main, ["resume", str(run_dir), "--checkpoint", str(kept), "--steps", "600",
                                        "--no-progress"])
    assert resumed.exit_code == 0, resumed.output
