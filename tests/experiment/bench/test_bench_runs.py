"""``porcini bench`` end to end on a tiny budget: run directories, resume, failures, the report and its numbers."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from porcini.experiment.bench import SUITES, run_bench, suite_pairs
from porcini.experiment.bench.runner import finished_run_dirs, scaled
from porcini.experiment.cli import main
from porcini.experiment.launch import resolve
from porcini.experiment.statistics import aggregate_iqm

SMOKE = ["--steps-scale", "0.001", "--eval-episodes", "1", "--jobs", "1"]
SMALL = {"algos": ["ppo"], "envs": ["CartPole-v1", "Pendulum-v1"], "eval_episodes": 1, "jobs": 1}


def bench(*args: str):
    return CliRunner().invoke(main, ["bench", *args])


@pytest.fixture(scope="module")
def suite_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "classic"
    result = bench("classic", "--seeds", "2", "--out", str(out), *SMOKE, "--json")  # every pair runs end to end
    assert result.exit_code == 0, result.output
    return out


def test_one_run_directory_per_pair_and_seed_with_the_scaled_config_of_record(suite_out):
    runs = sorted(p.name.rsplit("-", 2)[0] for p in (suite_out / "runs").iterdir())
    expected = sorted(f"{a}-{e}-s{s}" for a, e in suite_pairs(SUITES["classic"]) for s in (0, 1))
    assert len(expected) == 64 and runs == expected
    summary = json.loads(next((suite_out / "runs").glob("ppo-CartPole-v1-s1-*/summary.json")).read_text())
    config = scaled(resolve("ppo", "CartPole-v1", None, []), 0.001)
    assert config.steps <= summary["env_steps"] < config.steps + config.env.n_envs  # whole steps of 8 envs


def test_the_report_holds_each_pairs_iqm_of_its_runs_and_the_zoo_score(suite_out):
    results = json.loads((suite_out / "report" / "results.json").read_text())
    pendulum = next(p for p in results["pairs"] if (p["algo"], p["env"]) == ("sac", "Pendulum-v1"))
    finals = [json.loads(next((suite_out / "runs").glob(f"sac-Pendulum-v1-s{s}-*/summary.json")).read_text())
              ["eval_return_mean"] for s in (0, 1)]
    assert pendulum["scores"] == finals
    assert pendulum["iqm"] == pytest.approx(aggregate_iqm(finals))
    assert pendulum["ci_low"] <= pendulum["iqm"] <= pendulum["ci_high"]
    assert pendulum["zoo_score"] == pytest.approx(-156.995)
    assert pendulum["status"] == "below_zoo"  # 40 steps of SAC do not swing a pendulum up
    page = (suite_out / "report.md").read_text()
    assert "| Pendulum-v1 | sac | 2 |" in page and "-157.0" in page
    assert "--steps-scale 0.001" in page and "--resume" in page
    for png in ("CartPole-v1.png", "Pendulum-v1.png", "profiles.png"):
        assert f"(report/{png})" in page and (suite_out / "report" / png).stat().st_size > 1000
    assert "P(X > Y)" in page and "| ppo | sac | 2 |" in page and "| dqn | qr_dqn | 4 |" in page


def test_a_second_call_needs_resume_and_then_trains_nothing(suite_out):
    result = bench("classic", "--seeds", "2", "--out", str(suite_out), *SMOKE)
    assert result.exit_code == 2
    assert "already holds runs of a suite: add --resume" in result.output
    before = sorted((suite_out / "runs").iterdir())
    outcome = run_bench("classic", seeds=2, out=suite_out, resume=True, steps_scale=0.001, eval_episodes=1, jobs=1,
                        report=suite_out / "again.md")
    assert outcome.trained == 0 and sorted((suite_out / "runs").iterdir()) == before
    assert all(len(p.scores) == 2 for p in outcome.pairs)


def test_resume_runs_what_is_missing_or_changed(suite_out, tmp_path):
    out = tmp_path / "bench"
    first = run_bench("classic", seeds=1, out=out, steps_scale=0.001, **SMALL)
    assert first.trained == 2
    more = run_bench("classic", seeds=2, out=out, resume=True, steps_scale=0.001, **SMALL)
    assert more.trained == 2  # seed 1 of each pair
    other_budget = run_bench("classic", seeds=1, out=out, resume=True, steps_scale=0.002, report_only=True, **SMALL)
    assert other_budget.trained == 0 and {p.status for p in other_budget.pairs} == {"pending"}
    assert len(finished_run_dirs(out)) == 4


def test_a_failed_run_is_reported_and_the_suite_goes_on(tmp_path, monkeypatch):
    import porcini.experiment.launch as launch

    real = launch.train_one

    def train_one(config, progress=None, label=""):
        if config.env.id == "Pendulum-v1" and config.seed == 1:
            raise RuntimeError("the env server went away")
        return real(config, progress, label)

    monkeypatch.setattr(launch, "train_one", train_one)
    outcome = run_bench("classic", seeds=2, out=tmp_path, steps_scale=0.001, **SMALL)
    pendulum = next(p for p in outcome.pairs if p.env == "Pendulum-v1")
    assert len(pendulum.scores) == 1 and pendulum.failures == [
        "ppo on Pendulum-v1 seed 1: RuntimeError: the env server went away"]
    assert all(len(p.scores) == 2 for p in outcome.pairs if p.env != "Pendulum-v1")
    assert json.loads((tmp_path / "failures.json").read_text())
    monkeypatch.setattr(launch, "train_one", real)
    retried = run_bench("classic", seeds=2, out=tmp_path, resume=True, steps_scale=0.001, **SMALL)
    assert retried.trained == 1 and json.loads((tmp_path / "failures.json").read_text()) == {}


def test_runs_in_parallel_processes_report_a_failure_in_place(tmp_path):
    import dataclasses

    from porcini.experiment.seed_processes import train_in_processes

    good = dataclasses.replace(scaled(resolve("ppo", "CartPole-v1", None, []), 0.001), eval_episodes=1,
                               out=str(tmp_path))
    bad = dataclasses.replace(good, env=dataclasses.replace(good.env, kwargs={"no_such_kwarg": 1}))
    results = train_in_processes([good, bad], max_parallel=2, errors="return")
    assert results[0]["env"] == "CartPole-v1" and isinstance(results[1], BaseException)
    assert "no_such_kwarg" in str(results[1])


def test_steps_scale_and_notes_errors(tmp_path):
    result = bench("classic", "--steps-scale", "0", "--out", str(tmp_path))
    assert result.exit_code == 2 and "--steps-scale" in result.output
    notes = tmp_path / "notes.yaml"
    notes.write_text("- a list\n")
    result = bench("classic", "--notes", str(notes), "--out", str(tmp_path), "--report-only")
    assert result.exit_code == 2 and "notes must be a YAML mapping" in result.output


def test_scaled_budget_keeps_at_most_five_evaluations():
    config = resolve("ppo", "CartPole-v1", None, [])
    small = scaled(config, 0.01)
    assert small.steps == round(config.steps * 0.01)
    assert 1 <= np.ceil(small.steps / small.steps_per_epoch) <= 5
    assert scaled(config, 1.0) is config


@pytest.mark.slow
def test_the_smoke_mode_of_the_issue_runs_the_whole_classic_suite(tmp_path):
    result = bench("classic", "--seeds", "2", "--steps-scale", "0.05", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output.strip().splitlines()[-1])
    assert outcome["pairs"] and all(p["seeds"] == 2 for p in outcome["pairs"])


def test_notes_go_under_the_title_and_beside_their_pair(suite_out, tmp_path):
    notes = tmp_path / "notes.yaml"
    notes.write_text("page: Trained two at a time on a shared machine.\n"
                     "sac/Pendulum-v1: tried 40 steps only; a smoke run.\n")
    report = tmp_path / "page.md"
    result = bench("classic", "--seeds", "2", "--out", str(suite_out), *SMOKE, "--report-only", "--notes", str(notes),
                   "--report", str(report))
    assert result.exit_code == 0, result.output
    page = report.read_text()
    title, rest = page.split("Trained two at a time on a shared machine.", 1)
    assert title.startswith("# Benchmarks: the `classic` suite") and "cores." in title
    assert "- **sac on Pendulum-v1**: tried 40 steps only; a smoke run." in rest
    assert (tmp_path / "page" / "results.json").is_file() and "(page/Pendulum-v1.png)" in page


def test_below_the_zoo_needs_the_interval_below_or_one_seed_below_the_zoos_spread():
    from porcini.experiment.bench.results import PairResult

    def pair(scores, low, high):
        return PairResult("dqn", "Acrobot-v1", 5, 100, scores=scores, iqm=float(np.mean(scores)), ci_low=low,
                          ci_high=high, zoo_score=-76.6, zoo_std=11.8)

    assert pair([-90.0, -85.0], -90.0, -85.0).status == "below_zoo"
    assert pair([-90.0, -70.0], -90.0, -70.0).status == "ok"
    assert pair([-85.0], -85.0, -85.0).status == "ok"  # within the Zoo's own spread across episodes
    assert pair([-95.0], -95.0, -95.0).status == "below_zoo"
    assert PairResult("dqn", "Acrobot-v1", 5, 100).status == "pending"
    assert PairResult("dqn", "Acrobot-v1", 5, 100, failures=["boom"]).status == "failed"


def test_a_run_made_before_porcini_gained_a_config_section_still_counts(tmp_path):
    import yaml

    first = run_bench("classic", seeds=1, out=tmp_path, steps_scale=0.001, **SMALL)
    config_file = next((tmp_path / "runs").glob("ppo-CartPole-v1-s0-*/config.yaml"))
    config = yaml.safe_load(config_file.read_text())
    del config["data"]  # as a config.yaml written before the `data` section existed
    config_file.write_text(yaml.safe_dump(config))
    again = run_bench("classic", seeds=1, out=tmp_path, resume=True, steps_scale=0.001, **SMALL)
    assert first.trained == 2 and again.trained == 0


def test_a_failed_run_is_listed_in_the_report_even_when_its_pairs_other_seeds_finished():
    from porcini.experiment.bench.report import below_zoo_section
    from porcini.experiment.bench.results import PairResult

    error = "ppo on Pendulum-v1 seed 1: RuntimeError: the env server went away"
    partly = PairResult("ppo", "Pendulum-v1", 2, 100, scores=[-150.0], ci_low=-150.0, ci_high=-150.0,
                        iqm=-150.0, failures=[error])
    wholly = PairResult("ppo", "CartPole-v1", 2, 100, failures=["ppo on CartPole-v1 seed 0: boom"])
    text = "\n".join(below_zoo_section([partly, wholly], {}))
    assert error in text and "seed 0: boom" in text  # docs: a failed run is listed in the report


def test_a_damaged_summary_or_failures_file_is_a_one_line_error_naming_it(tmp_path):
    args = ["classical", "--algos", "value_iteration", "--envs", "FrozenLake-v1", "--seeds", "1", "--out",
            str(tmp_path), "--steps-scale", "0.01", "--eval-episodes", "1", "--jobs", "1"]
    assert bench(*args).exit_code == 0
    summary = next((tmp_path / "runs").iterdir()) / "summary.json"
    failures = tmp_path / "failures.json"
    kept = summary.read_text()
    without_score = json.dumps({k: v for k, v in json.loads(kept).items() if k != "eval_return_mean"})
    for damaged_file, text in ((summary, without_score), (failures, '{"ppo": '), (failures, "[1]")):
        summary.write_text(kept)
        failures.write_text("{}")
        damaged_file.write_text(text)
        result = bench(*args, "--report-only")
        assert isinstance(result.exception, SystemExit) and result.exit_code == 2, result.output
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and f"{damaged_file} is not" in errors[0], result.output


def test_resume_continues_a_stopped_run_from_its_checkpoint_instead_of_starting_it_over(tmp_path):
    from porcini.experiment.bench.runner import plan_runs
    from porcini.experiment.bench.suites import get_suite
    from porcini.experiment.experiment import Experiment
    from porcini.experiment.loggers import read_metrics_csv

    out = tmp_path / "bench"
    (planned,) = plan_runs(get_suite("classic"), seeds=[0], out=out, algos=["ppo"], envs=["CartPole-v1"],
                           steps_scale=0.001, eval_episodes=1)
    stopped = Experiment.start(planned.config, progress=False)
    stopped.train(until=planned.config.steps_per_epoch)  # a stop after the first epoch: its checkpoint is written
    _, before = read_metrics_csv(stopped.run_dir.path / "metrics.csv")
    outcome = run_bench("classic", seeds=1, out=out, resume=True, steps_scale=0.001, algos=["ppo"],
                        envs=["CartPole-v1"], eval_episodes=1, jobs=1)
    assert outcome.trained == 1 and list((out / "runs").iterdir()) == [stopped.run_dir.path]
    _, rows = read_metrics_csv(stopped.run_dir.path / "metrics.csv")
    assert rows[0] == before[0] and len(rows) > len(before)  # its first epoch was kept, not trained again
    assert finished_run_dirs(out) == {planned.key: stopped.run_dir.path}
