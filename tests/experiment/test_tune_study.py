import csv
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from porcini.errors import ConfigError
from porcini.experiment.cli import main
from porcini.experiment.tune import tune

ALGO, ENV = "q_learning", "porcini/RiverSwim-v0"
FAST = ("steps_per_epoch=100", "eval_episodes=2", "log.sinks=[csv]")


def run_dirs(folder):
    return sorted(p for p in folder.rglob("config.yaml") if p.parent.parent.parent.name == "trials")


def rows(tune_dir):
    with open(tune_dir / "results.csv") as f:
        return list(csv.DictReader(f))


def test_a_grid_study_writes_its_tune_directory(tmp_path):
    space = {"learning_rate": {"choice": [0.1, 0.5]}, "algo.epsilon": {"choice": [0.0, 0.1]}}
    result = tune(ALGO, ENV, space, method="grid", trials=3, steps=300, out=tmp_path / "t", overrides=FAST,
                  report_seeds=2, top_k=2)
    tune_dir = tmp_path / "t"
    for name in ("space.yaml", "tune.yaml", "results.csv", "best.yaml", "report.json", "objective.png"):
        assert (tune_dir / name).is_file(), name
    table = rows(tune_dir)
    assert [r["number"] for r in table] == ["0", "1", "2"] and {r["status"] for r in table} == {"complete"}
    assert [(float(r["learning_rate"]), float(r["algo.epsilon"])) for r in table] == [(0.1, 0.0), (0.1, 0.1),
                                                                                     (0.5, 0.0)]
    assert all((tune_dir / r["run_dirs"] / "summary.json").is_file() for r in table)
    best = max(table, key=lambda r: float(r["objective"]))
    assert result.best is not None and result.best.number == int(best["number"])
    assert yaml.safe_load((tune_dir / "space.yaml").read_text()) == space
    report = json.loads((tune_dir / "report.json").read_text())
    assert report["seeds"] == [1000, 1001] and len(report["configs"]) == 2
    for entry in report["configs"]:
        assert len(entry["scores"]) == 2 and entry["ci_low"] <= entry["iqm"] <= entry["ci_high"]
        seeds = {yaml.safe_load((tune_dir / d / "config.yaml").read_text())["seed"] for d in entry["run_dirs"]}
        assert seeds == {1000, 1001}  # fresh seeds, never the selection seed 0
    assert result.to_dict()["report"] == report


def test_best_yaml_is_accepted_by_train_config(tmp_path):
    tune(ALGO, ENV, {"learning_rate": {"choice": [0.2, 0.3]}}, method="grid", steps=200, out=tmp_path / "t",
         overrides=FAST, report_seeds=0)
    best = yaml.safe_load((tmp_path / "t" / "best.yaml").read_text())
    assert best["algo"]["learning_rate"] in (0.2, 0.3) and best["seed"] == 0 and best["steps"] == 200
    result = CliRunner().invoke(main, ["train", ALGO, ENV, "--config", str(tmp_path / "t" / "best.yaml"), "--json",
                                       "--out", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["env_steps"] == 200 and summary["algo"] == ALGO


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path):
    # a config that resolves but whose env cannot be built: it fails when its run starts
    space = {"env.kwargs": {"choice": [{}, {"no_such_argument": 1}]}, "learning_rate": {"choice": [0.1, 0.2]}}
    result = tune(ALGO, ENV, space, method="grid", steps=200, out=tmp_path / "t", overrides=FAST, report_seeds=0)
    table = rows(tmp_path / "t")
    assert [r["status"] for r in table] == ["complete", "complete", "failed", "failed"]
    assert all("no_such_argument" in r["error"] for r in table[2:]) and table[2]["objective"] == ""
    assert result.best is not None and result.best.number in (0, 1)


def test_resume_runs_only_the_unfinished_trials(tmp_path):
    space = {"learning_rate": {"choice": [0.1, 0.2, 0.3]}}
    kwargs = dict(method="random", trials=3, steps=200, out=tmp_path / "t", overrides=FAST, report_seeds=0, seed=5)
    first = tune(ALGO, ENV, space, **kwargs)
    trials = tmp_path / "t" / "trials"
    before = run_dirs(trials)
    assert len(before) == 3
    # simulate a kill: trial 1 was running (its run unfinished), trial 2 never started
    record = json.loads((trials / "1" / "trial.json").read_text())
    (trials / "1" / "trial.json").write_text(json.dumps({**record, "status": "running", "objective": None}))
    (before[1].parent / "summary.json").unlink()
    for path in (trials / "2").iterdir():
        path.unlink() if path.is_file() else None
    (trials / "2" / "trial.json").unlink(missing_ok=True)
    second = tune(ALGO, ENV, space, **kwargs)
    after = run_dirs(trials)
    assert len(after) == 3  # the killed trial's run was removed and run again: one run per trial
    assert after[0] == before[0]  # the finished trial did not run again
    assert [r.params for r in second.records] == [r.params for r in first.records]  # the same trial list
    assert [r["status"] for r in rows(tmp_path / "t")] == ["complete"] * 3
    third = tune(ALGO, ENV, space, **{**kwargs, "trials": 4})  # more trials extend the tune
    assert len(run_dirs(trials)) == 4 and [r.params for r in third.records[:3]] == [r.params for r in first.records]


def test_resume_with_other_settings_is_refused(tmp_path):
    space = {"learning_rate": {"choice": [0.1]}}
    tune(ALGO, ENV, space, method="grid", steps=100, out=tmp_path / "t", overrides=FAST, report_seeds=0)
    with pytest.raises(ConfigError, match="steps differ"):
        tune(ALGO, ENV, space, method="grid", steps=200, out=tmp_path / "t", overrides=FAST, report_seeds=0)


def test_cli_prints_the_tune_summary_as_the_last_json_line(tmp_path):
    (tmp_path / "space.yaml").write_text("learning_rate: {loguniform: [0.01, 0.5]}\n")
    args = ["tune", ALGO, ENV, "--space", str(tmp_path / "space.yaml"), "--method", "random", "--trials", "2",
            "--steps", "200", "--report-seeds", "2", "--out", str(tmp_path / "t"), "--json"]
    result = CliRunner().invoke(main, args + [a for s in FAST for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["tune_dir"] == str(tmp_path / "t") and summary["trials"] == 2
    assert set(summary["best_params"]) == {"learning_rate"} and summary["best_value"] is not None
    assert summary["report"]["seeds"] == [1000, 1001] and "iqm" in summary["report"]["configs"][0]


@pytest.mark.parametrize("space, method, fragment", [
    ("learning_rat: {choice: [0.1]}\n", "random", "learning_rat"),
    ("learning_rate: {uniform: [0.1, 0.2]}\n", "grid", "continuous"),
    ("learning_rate: {uniform: 0.1}\n", "random", "learning_rate"),
])
def test_cli_space_errors_exit_2_with_one_line_naming_the_key(tmp_path, space, method, fragment):
    (tmp_path / "space.yaml").write_text(space)
    result = CliRunner().invoke(main, ["tune", ALGO, ENV, "--space", str(tmp_path / "space.yaml"), "--method", method,
                                       "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and fragment in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "t").exists()


def test_jobs_train_a_trials_seeds_in_parallel_processes(tmp_path):
    result = tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, method="grid", seeds=2, jobs=2, steps=200,
                  out=tmp_path / "t", overrides=FAST, report_seeds=0)
    (trial,) = result.records
    assert trial.status == "complete" and len(trial.run_dirs) == 2
    seeds = sorted(yaml.safe_load((p / "config.yaml").read_text())["seed"] for p in map(Path, trial.run_dirs))
    assert seeds == [0, 1]


def test_a_signal_stops_the_tune_and_says_how_to_continue(tmp_path, monkeypatch):
    import signal

    from porcini.experiment.interrupt import TrainingInterrupted
    from porcini.experiment.tune import study

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted(signal.SIGINT, [])

    kwargs = dict(method="grid", steps=200, out=tmp_path / "t", overrides=FAST, report_seeds=0)
    monkeypatch.setattr(study, "run_trial", interrupted)
    with pytest.raises(study.TuneInterrupted, match=f"--out {tmp_path / 't'}") as stop:
        tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, **kwargs)
    assert stop.value.exit_code == 130
    assert json.loads((tmp_path / "t" / "trials" / "0" / "trial.json").read_text())["status"] == "running"
    monkeypatch.undo()
    assert tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, **kwargs).records[0].status == "complete"


def test_a_local_tune_continued_on_ray_is_refused_not_run_again(tmp_path, monkeypatch):
    from porcini.experiment.tune import ray_backend

    space = {"learning_rate": {"choice": [0.1, 0.5]}}
    options = dict(method="grid", steps=100, out=tmp_path / "t", overrides=FAST, report_seeds=0)
    tune(ALGO, ENV, space, **options)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "t" / "trials").rglob("*") if p.is_file()}

    def rerun(tune_dir, *args):  # Ray Tune would empty each trial's folder and train it from scratch
        raise AssertionError("the finished local trials were handed to Ray Tune to run again")

    monkeypatch.setattr(ray_backend, "run_on_ray", rerun)
    with pytest.raises(ConfigError, match="--backend local"):
        tune(ALGO, ENV, space, backend="ray", **options)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "t" / "trials").rglob("*") if p.is_file()} == before


def test_a_damaged_report_scores_file_is_a_one_line_error_naming_it(tmp_path):
    from porcini.errors import RunDirectoryError

    settings = dict(method="grid", steps=100, out=tmp_path / "t", overrides=FAST, report_seeds=1)
    tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, **settings)
    (scores,) = (tmp_path / "t" / "report").rglob("scores.json")
    scores.write_text('{"seeds": [10')
    with pytest.raises(RunDirectoryError, match=f"{scores} is not .*restore it, or delete it"):
        tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, **settings)


def test_a_tune_resumed_from_another_folder_lists_its_finished_runs_relative_to_the_tune(tmp_path, monkeypatch):
    settings = dict(method="grid", steps=100, overrides=FAST, report_seeds=0)
    space = {"learning_rate": {"choice": [0.1, 0.5]}}
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / "a")
    tune(ALGO, ENV, space, out="t", trials=1, **settings)
    monkeypatch.chdir(tmp_path / "b")
    result = tune(ALGO, ENV, space, out="../a/t", trials=2, **settings)  # one more trial, the first kept
    assert all(Path(d, "config.yaml").is_file() for r in result.records for d in r.run_dirs)
    for row in rows(tmp_path / "a" / "t"):
        assert all((tmp_path / "a" / "t" / d / "config.yaml").is_file() for d in row["run_dirs"].split(";")), row


@pytest.mark.parametrize("damage", ['{"number": 0, "params": {"learning_rate"', "[1, 2]",
                                    '{"number": 0, "params": {}, "x": 1}'])
def test_a_damaged_trial_record_is_a_one_line_error_and_its_runs_are_kept(tmp_path, damage):
    from porcini.errors import RunDirectoryError

    settings = dict(method="grid", steps=100, out=tmp_path / "t", overrides=FAST, report_seeds=0)
    tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, **settings)
    record = tmp_path / "t" / "trials" / "0" / "trial.json"
    before = run_dirs(tmp_path / "t" / "trials")
    record.write_text(damage)
    with pytest.raises(RunDirectoryError, match=f"{record} is not a trial record of porcini tune .*: restore it, "
                                                "or delete the folder .* to run trial 0 again"):
        tune(ALGO, ENV, {"learning_rate": {"choice": [0.1]}}, **settings)
    assert run_dirs(tmp_path / "t" / "trials") == before and all(p.is_file() for p in before)


def test_a_resumed_tune_with_fewer_trials_than_it_ran_is_refused_not_cut_short(tmp_path):
    space = {"learning_rate": {"choice": [0.1, 0.2, 0.3]}}
    kwargs = dict(method="random", steps=100, out=tmp_path / "t", overrides=FAST, report_seeds=0, seed=5)
    tune(ALGO, ENV, space, trials=3, **kwargs)
    with pytest.raises(ConfigError, match=r"holds trials \[2\], which --trials 2 would leave out of its results: "
                                          "pass --trials 3 or more"):
        tune(ALGO, ENV, space, trials=2, **kwargs)
    assert len(rows(tmp_path / "t")) == 3
    assert [r.number for r in tune(ALGO, ENV, space, trials=3, **kwargs).records] == [0, 1, 2]
