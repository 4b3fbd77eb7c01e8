"""Checkpoints refused: damaged after they were written, or of networks the run's config no longer builds."""

import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from porcini.errors import CheckpointError
from porcini.experiment.checkpoint import read_checkpoint, save_checkpoint
from porcini.experiment.cli import main
from porcini.experiment.evaluation import load_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


def snapshot(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(Path(run_dir).rglob("*")) if p.is_file()}


@pytest.mark.parametrize("edit", [{"net_arch": [8]}, {"dueling": True}, {"buffer_size": 400}])
def test_a_checkpoint_of_other_networks_is_refused_by_resume_and_eval_in_one_line(tmp_path, edit):
    overrides = ["steps=200", "steps_per_epoch=200", "eval_episodes=1", "log.sinks=[csv]", f"out={tmp_path}",
                 "learning_starts=50", "train_freq=50", "gradient_steps=1", "batch_size=16", "buffer_size=500",
                 "net_arch=[16,16]"]
    run_dir = Experiment.start(resolve("dqn", "CartPole-v1", None, overrides)).train().extra["run_dir"]
    config_path = Path(run_dir) / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["algo"].update(edit)  # the run's networks are no longer the ones its checkpoints hold
    config_path.write_text(yaml.safe_dump(config))
    before = snapshot(run_dir)
    with pytest.raises(CheckpointError, match=r"last.pt does not fit the agent this run builds \(.*: its config"):
        Experiment.resume(run_dir, steps=400)
    with pytest.raises(CheckpointError, match=r"best.pt does not fit the agent this run builds"):
        load_policy(run_dir)
    assert snapshot(run_dir) == before
    for command in (["resume", run_dir], ["eval", run_dir, "--episodes", "1"]):
        result = CliRunner().invoke(main, command)
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "undo the change" in errors[0], result.output


def flip_a_bit_inside(path, record_name):
    """Flip one bit in the middle of the data of the zip record ``record_name`` (torch writes them uncompressed)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(record_name)
    data = bytearray(path.read_bytes())
    header = data[info.header_offset:]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
    data[start + info.file_size // 2] ^= 0x08
    path.write_bytes(bytes(data))


def test_a_checkpoint_damaged_after_it_was_written_is_refused_not_loaded(tmp_path):
    weights = np.arange(1000, dtype=np.float32)
    path, spare = tmp_path / "checkpoints" / "last.pt", tmp_path / "checkpoints" / "best.pt"
    save_checkpoint(path, {"weights": weights}, {"algo": "dqn"})
    save_checkpoint(spare, {"weights": weights}, {"algo": "dqn"})
    with zipfile.ZipFile(path) as archive:
        record = max(archive.infolist(), key=lambda info: info.file_size).filename  # the weights' storage
    flip_a_bit_inside(path, record)
    with pytest.raises(CheckpointError, match=rf"last.pt is corrupt or truncated .*{record} does not match its CRC-32"
                                              rf".*{spare} loads"):
        state = read_checkpoint(path).state  # before: loaded, with one weight silently changed
        assert not np.array_equal(state["weights"], weights)
    np.testing.assert_array_equal(read_checkpoint(spare).state["weights"], weights)


def test_resuming_a_run_killed_before_its_first_checkpoint_says_to_start_it_over(tmp_path):
    overrides = ["steps=200", "log.sinks=[csv]", f"out={tmp_path}"]
    started = Experiment.start(resolve("q_learning", "FrozenLake-v1", None, overrides))
    started.close()  # what a kill during the first epoch leaves: config.yaml, metrics.csv, no checkpoint
    run_dir = started.run_dir.path
    before = snapshot(run_dir)
    result = CliRunner().invoke(main, ["resume", str(run_dir)])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output  # a usage error
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"no checkpoint ({run_dir / 'checkpoints' / 'last.pt'} does not exist)" in errors[0]
    assert "start the run over (porcini train --config RUN_DIR/config.yaml)" in errors[0], errors[0]
    assert snapshot(run_dir) == before
