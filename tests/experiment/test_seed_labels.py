import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from porcini.experiment.loggers.console import ConsoleLogger, line_prefix

ROOT = Path(__file__).resolve().parents[2]
METRICS = {"eval_return_mean": 20.0, "train/episode_return/mean": 21.5, "train/episode_return/std": 1.5}


def test_every_line_of_a_table_carries_the_prefix():
    stream = io.StringIO()
    with line_prefix("[s3] "):
        logger = ConsoleLogger(stream, use_rich=False)
    logger.log(METRICS, step=1000)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[s3] epoch 1 | env_steps 1,000" and len(lines) > 4
    assert all(line.startswith("[s3] | ") or line.startswith("[s3] +-") for line in lines[1:])
    unlabelled = io.StringIO()
    ConsoleLogger(unlabelled, use_rich=False).log(METRICS, step=1000)  # outside the block: no prefix
    assert unlabelled.getvalue().splitlines()[0] == "epoch 1 | env_steps 1,000"


def test_parallel_seeds_label_their_console_lines(tmp_path):
    command = [sys.executable, "-m", "porcini", "train", "random", "CartPole-v1", "--seeds", "0-1", "--steps", "200",
               "--out", str(tmp_path), "--set", "steps_per_epoch=100", "--set", "eval_episodes=2",
               "--set", "log.sinks=[console,csv]", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    table_lines = [line for line in result.stderr.splitlines() if re.search(r"epoch \d|\| |\+-", line)]
    assert table_lines and all(re.match(r"\[s[01]\] ", line) for line in table_lines), result.stderr
    for seed in (0, 1):
        titles = [line for line in table_lines if line.startswith(f"[s{seed}] epoch")]
        assert titles == [f"[s{seed}] epoch 1 | env_steps 100", f"[s{seed}] epoch 2 | env_steps 200"]


def test_rich_tables_are_labelled_too():
    pytest.importorskip("rich")
    stream = io.StringIO()
    ConsoleLogger(stream, use_rich=True, prefix="[s1] ").log(METRICS, step=5)
    lines = stream.getvalue().splitlines()
    assert lines and all(line.startswith("[s1] ") for line in lines)
    assert any("train/episode_return" in line and "21.5" in line for line in lines)
