"""``porcini plot`` on run sets that once went wrong: many differing settings, uneven seeds across envs."""

import json

from click.testing import CliRunner

from porcini.experiment.cli import main
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve


def run(tmp_path, seed, env="FrozenLake-v1", **extra):
    overrides = ["steps=400", "steps_per_epoch=200", "log.sinks=[csv]", f"out={tmp_path}", f"seed={seed}",
                 "eval_episodes=2", *[f"{k}={v}" for k, v in extra.items()]]
    return str(Experiment.start(resolve("q_learning", env, None, overrides)).train().extra["run_dir"])


def plot(tmp_path, dirs):
    return CliRunner().invoke(main, ["plot", *dirs, "-o", str(tmp_path / "c.png"), "--json"])


def test_groups_that_differ_beyond_the_shown_settings_stay_separate_lines(tmp_path):
    # four settings differ across the groups; base and other_lr agree on the first three in sorted order
    many = {"epsilon": 0.3, "gamma": 0.9, "initial_value": 1.0}
    dirs = [run(tmp_path, 0), run(tmp_path, 0, learning_rate=0.5), run(tmp_path, 0, **many)]
    result = plot(tmp_path, dirs)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["groups"]) == 3
    assert len(report["aggregates"]) == 3  # one table row per configuration, never two configurations pooled
    assert all(": 1 run(s): s0" in line for line in report["groups"])


def test_uneven_seeds_across_envs_is_one_line_error(tmp_path):
    dirs = [run(tmp_path, 0), run(tmp_path, 1), run(tmp_path, 0, env="porcini/RiverSwim-v0")]
    result = plot(tmp_path, dirs)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "FrozenLake-v1" in result.output and "RiverSwim" in result.output
    assert not (tmp_path / "c.png").exists()  # refused before anything is written


def test_a_run_still_in_its_first_epoch_is_named_as_such(tmp_path):
    started = run(tmp_path, 0)
    (tmp_path / started / "metrics.csv").write_text("env_steps\n")  # what the csv sink writes when a run starts
    (tmp_path / started / "summary.json").unlink()
    result = plot(tmp_path, [started])
    assert result.exit_code == 2, result.output
    assert "no evaluation yet" in result.output and "evaluation off" not in result.output


def test_a_damaged_summary_is_a_one_line_error_naming_it(tmp_path):
    run_dir = run(tmp_path, 0)
    summary = tmp_path / run_dir / "summary.json"
    for damaged in ('{"env_steps": 40', "[]", '{"algo": "q_learning"}'):  # cut by a copy, or not a summary
        summary.write_text(damaged)
        result = plot(tmp_path, [run_dir])
        assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and f"{summary} is not a summary of porcini" in errors[0], result.output
    summary.unlink()  # the fix the message gives: progress then comes from metrics.csv
    assert plot(tmp_path, [run_dir]).exit_code == 0
