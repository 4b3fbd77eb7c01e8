"""Every run ends with a logged evaluation and a complete run directory, whatever its length."""

import json

import pytest

from porcini.experiment.checkpoint import load_checkpoint
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv


def start(tmp_path, steps, per_epoch):
    config = resolve("q_learning", "FrozenLake-v1", None, [f"steps={steps}", f"steps_per_epoch={per_epoch}",
                                                           "log.sinks=[csv]", f"out={tmp_path}", "eval_episodes=4"])
    return Experiment.start(config)


def test_a_run_shorter_than_one_epoch_is_complete(tmp_path):
    run = start(tmp_path, 300, 10_000)
    summary = run.train()
    path = run.run_dir.path
    _, rows = read_metrics_csv(path / "metrics.csv")
    assert [row["env_steps"] for row in rows] == [300]
    assert rows[0]["eval_return_mean"] == summary.eval_return_mean  # the summary is that same final evaluation
    assert (path / "checkpoints" / "best.pt").is_file()
    assert load_checkpoint(path / "checkpoints" / "best.pt")["core"]["env_steps"] == 300
    saved = json.loads((path / "summary.json").read_text())
    assert saved["best_eval_return"] == rows[0]["eval_return_mean"]


def test_the_last_partial_epoch_is_evaluated_and_logged(tmp_path):
    run = start(tmp_path, 1500, 1000)
    summary = run.train()
    _, rows = read_metrics_csv(run.run_dir.path / "metrics.csv")
    assert [row["env_steps"] for row in rows] == [1000, 1500]
    assert all("eval_return_mean" in row for row in rows)
    assert rows[-1]["eval_return_mean"] == summary.eval_return_mean


def test_the_final_evaluation_is_not_run_twice(tmp_path, monkeypatch):
    run = start(tmp_path, 1500, 1000)
    calls = []
    evaluate = run.core.evaluate
    monkeypatch.setattr(run.core, "evaluate", lambda *a, **k: calls.append(1) or evaluate(*a, **k))
    run.train()
    _, rows = read_metrics_csv(run.run_dir.path / "metrics.csv")
    assert len(calls) == len(rows) == 2  # each evaluation is logged; the summary reuses the one at 1500


@pytest.mark.parametrize("steps", [1000, 1300])
def test_a_finished_run_extended_by_resume_keeps_one_row_per_evaluation(tmp_path, steps):
    first = start(tmp_path, steps, 1000)
    first.train()
    Experiment.resume(first.run_dir.path, steps=2500).train()
    _, rows = read_metrics_csv(first.run_dir.path / "metrics.csv")
    expected = [1000, 2000, 2500] if steps == 1000 else [1000, 1300, 2000, 2500]
    assert [row["env_steps"] for row in rows] == expected
