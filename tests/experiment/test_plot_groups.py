"""``porcini plot`` groups runs by algorithm, env and configuration, refuses double seeds, marks unfinished runs."""

import json

from click.testing import CliRunner

from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv


def run(tmp_path, seed, steps=800, **extra):
    overrides = [f"steps={steps}", "steps_per_epoch=400", "log.sinks=[csv]", f"out={tmp_path}", f"seed={seed}",
                 "eval_episodes=3", *[f"{k}={v}" for k, v in extra.items()]]
    return str(Experiment.start(resolve("q_learning", "FrozenLake-v1", None, overrides)).train().extra["run_dir"])


def plot(tmp_path, dirs):
    return CliRunner().invoke(main, ["plot", *dirs, "-o", str(tmp_path / "c.png"), "--json"])


def test_runs_with_different_configs_are_separate_lines(tmp_path):
    dirs = [run(tmp_path, 0), run(tmp_path, 1), run(tmp_path, 0, steps=1200)]
    result = plot(tmp_path, dirs)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["aggregates"]) == {"q_learning (steps=800)", "q_learning (steps=1200)"}
    assert report["groups"][0].startswith("q_learning (steps=800) on FrozenLake-v1: 2 run(s): s0, s1")
    assert "1 x 1" in report["table"] and "2 x 1" in report["table"]


def test_two_runs_of_one_seed_and_config_are_refused(tmp_path):
    dirs = [run(tmp_path, 0), run(tmp_path, 0)]
    result = plot(tmp_path, dirs)
    assert result.exit_code == 2
    assert dirs[0] in result.output and dirs[1] in result.output and "both seed 0" in result.output


def test_an_unfinished_run_is_marked_and_left_out_of_the_scores(tmp_path):
    done = [run(tmp_path, 0), run(tmp_path, 1)]
    killed = run(tmp_path, 2)
    (tmp_path / killed / "summary.json").unlink()  # as if killed after its last epoch
    result = plot(tmp_path, [*done, killed])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "s2 (unfinished: 800 of 800 steps)" in report["groups"][0]
    finals = [read_metrics_csv(f"{d}/metrics.csv")[1][-1]["eval_return_mean"] for d in done]
    assert report["aggregates"]["q_learning"]["mean"]["value"] == sum(finals) / 2
    assert "2 x 1" in report["table"]


def test_only_unfinished_runs_give_no_table(tmp_path):
    killed = run(tmp_path, 0)
    (tmp_path / killed / "summary.json").unlink()
    result = plot(tmp_path, [killed])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["aggregates"] == {}
