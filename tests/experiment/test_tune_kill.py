"""A killed ``porcini tune`` started again finishes its study with every trial (or PBT round) run exactly once
(``-m slow``: real processes, SIGKILL mid-trial, PPO on CartPole-v1)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SPACE = "learning_rate: {loguniform: [1.0e-4, 3.0e-3]}\n"
FAST = ["--set", "log.sinks=[csv]", "--set", "eval_episodes=3", "--set", "steps_per_epoch=2000"]


def command(tune_dir: Path, space: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "porcini", "tune", "ppo", "CartPole-v1", "--space", str(space), "--steps", "6000",
            "--out", str(tune_dir), "--report-seeds", "0", *FAST, *extra]


def kill_when(cmd: list[str], ready, timeout: float = 300) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` holds (a kill: no handler runs)."""
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while not ready():
        assert process.poll() is None, "the tune ended before the kill"
        assert time.time() < deadline, "the moment to kill never came"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def status(tune_dir: Path, number: int) -> str | None:
    try:
        return json.loads((tune_dir / "trials" / str(number) / "trial.json").read_text())["status"]
    except (OSError, ValueError):
        return None


def test_a_killed_random_search_finishes_with_every_trial_run_once(tmp_path):
    space, tune_dir = tmp_path / "space.yaml", tmp_path / "t"
    space.write_text(SPACE)
    cmd = command(tune_dir, space, "--method", "random", "--trials", "4")
    metrics = tune_dir / "trials" / "1"
    kill_when(cmd, lambda: status(tune_dir, 1) == "running" and any(metrics.glob("*/metrics.csv")))
    first = sorted(p.parent.name for p in (tune_dir / "trials" / "0").glob("*/summary.json"))
    assert status(tune_dir, 0) == "complete" and len(first) == 1
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    with open(tune_dir / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["status"] for r in table] == ["complete"] * 4
    for number in range(4):
        runs = [p for p in (tune_dir / "trials" / str(number)).iterdir() if p.is_dir()]
        assert len(runs) == 1, runs  # the killed trial's partial run was removed, then run once
        assert json.loads((runs[0] / "summary.json").read_text())["env_steps"] == 6000
    assert sorted(p.parent.name for p in (tune_dir / "trials" / "0").glob("*/summary.json")) == first


def test_a_killed_pbt_tune_finishes_with_every_round_trained_once(tmp_path):
    space, tune_dir = tmp_path / "space.yaml", tmp_path / "t"
    space.write_text(SPACE)
    cmd = command(tune_dir, space, "--method", "pbt", "--trials", "4", "--pbt-interval", "2000")

    def in_round_one():
        records = [json.loads(p.read_text()) for p in tune_dir.glob("trials/*/trial.json")]
        ended = [s for r in records for s in r.get("segments", []) if s["round"] == 1 and s.get("ended")]
        return len(ended) >= 1

    kill_when(cmd, in_round_one)
    before = {p.parent.name: json.loads(p.read_text()) for p in tune_dir.glob("trials/*/trial.json")}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    after = {p.parent.name: json.loads(p.read_text()) for p in tune_dir.glob("trials/*/trial.json")}
    assert all(r["status"] == "complete" for r in after.values())
    for member, record in before.items():  # the rounds that had ended kept their runs and scores
        for old in (s for s in record["segments"] if s.get("ended")):
            new = next(s for s in after[member]["segments"] if s["round"] == old["round"])
            assert (new["run_dir"], new["score"]) == (old["run_dir"], old["score"])
    for record in after.values():
        assert [s["round"] for s in record["segments"]] == [0, 1, 2]
        for run_dir in {s["run_dir"] for s in record["segments"]}:
            with open(Path(run_dir) / "metrics.csv") as f:
                steps = [int(float(r["env_steps"])) for r in csv.DictReader(f)]
            assert steps == sorted(set(steps)), steps  # no epoch logged twice: nothing trained again
