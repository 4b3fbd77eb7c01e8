"""Population-based training (porcini tune --method pbt): explore, exploit, rounds, lineage, resume."""

import csv
import json
import math

import numpy as np
import pytest

from porcini.errors import ConfigError
from porcini.experiment.interrupt import TrainingInterrupted
from porcini.experiment.tune import parse_space, tune
from porcini.experiment.tune.pbt import PERTURB_FACTORS, exploit_pairs, explore

ALGO, ENV = "q_learning", "porcini/RiverSwim-v0"
FAST = ("steps_per_epoch=100", "eval_episodes=2", "log.sinks=[csv]")
SPACE = {"learning_rate": {"loguniform": [0.01, 0.9]}, "algo.epsilon": {"choice": [0.0, 0.05, 0.1, 0.3]}}


def test_explore_perturbs_numbers_by_the_factors_within_bounds_and_moves_choices_to_a_neighbour():
    space = parse_space({"lr": {"uniform": [0.1, 1.0]}, "n": {"int": [1, 10]}, "c": {"choice": ["a", "b", "c"]}})
    rng = np.random.default_rng(0)
    for _ in range(200):
        new = explore({"lr": 0.5, "n": 5, "c": "b"}, space, rng, resample=0.0)
        assert any(new["lr"] == pytest.approx(0.5 * f) for f in PERTURB_FACTORS)
        assert new["n"] in (4, 6) and new["c"] in ("a", "c")
    at_bounds = [explore({"lr": 1.0, "n": 10, "c": "c"}, space, rng, resample=0.0) for _ in range(100)]
    assert max(p["lr"] for p in at_bounds) == 1.0 and max(p["n"] for p in at_bounds) == 10
    assert {p["c"] for p in at_bounds} == {"b", "c"}  # "c" has one neighbour; moving up stays at the end
    small = [explore({"lr": 0.5, "n": 1, "c": "a"}, space, rng, resample=0.0)["n"] for _ in range(100)]
    assert set(small) == {1, 2}  # an integer moves by at least one, clipped at the bound


def test_explore_with_resample_one_draws_from_the_space():
    space = parse_space({"lr": {"uniform": [0.1, 1.0]}})
    draws = [explore({"lr": 0.5}, space, np.random.default_rng(i), resample=1.0)["lr"] for i in range(300)]
    assert all(0.1 <= d <= 1.0 for d in draws) and not any(d in (0.4, 0.6) for d in draws)
    assert 0.45 < float(np.mean(draws)) < 0.65


def test_exploit_pairs_replace_the_worst_quantile_and_failed_members_by_top_members():
    rng = np.random.default_rng(0)
    pairs = exploit_pairs([1.0, 5.0, 3.0, 4.0, 2.0, 0.0, 6.0, 7.0], 0.25, rng)
    assert set(pairs) == {0, 5} and set(pairs.values()) <= {6, 7}
    pairs = exploit_pairs([1.0, None, 3.0, 4.0], 0.25, rng)
    assert set(pairs) == {1, 0} and set(pairs.values()) == {3}
    assert exploit_pairs([None, None], 0.25, rng) == {}
    assert exploit_pairs([2.0, 2.0], 0.5, rng) == {1: 0}  # a tie ranks the earlier member higher


def lineage(tune_dir):
    with open(tune_dir / "lineage.csv") as f:
        return list(csv.DictReader(f))


def test_a_pbt_tune_trains_the_population_in_rounds_and_records_its_lineage(tmp_path):
    result = tune(ALGO, ENV, SPACE, method="pbt", trials=4, steps=600, pbt_interval=200, out=tmp_path / "t",
                  overrides=FAST, report_seeds=2, pbt_quantile=0.25)
    tune_dir = tmp_path / "t"
    for name in ("results.csv", "best.yaml", "report.json", "lineage.csv", "lineage.png", "objective.png"):
        assert (tune_dir / name).is_file(), name
    rows = lineage(tune_dir)
    assert [(r["member"], r["round"], r["env_steps"]) for r in rows] == [
        (str(m), str(k), str(200 * (k + 1))) for m in range(4) for k in range(3)]
    copies = [r for r in rows if r["copied_from"]]
    assert len(copies) == 2  # one of four members copies a better one after each of the two first rounds
    for row in copies:
        member, rnd, donor = int(row["member"]), int(row["round"]), int(row["copied_from"])
        before = {int(r["member"]): float(r["score"]) for r in rows if int(r["round"]) == rnd - 1}
        assert before[donor] == max(before.values()) and before[member] == min(before.values())
        branch = tune_dir / row["run_dir"]
        origin = json.loads((branch / "branched_from.json").read_text())
        assert origin["env_steps"] == 200 * rnd and f"trials/{donor}/" in origin["run_dir"]
        assert set(origin["changed"]) <= {"algo.learning_rate", "algo.epsilon"} and origin["changed"]
        summary = json.loads((branch / "summary.json").read_text())
        assert summary["env_steps"] == 600 or rnd < 2
    for record in result.records:  # every member's last run ends at the full length, its earlier ones at a round
        last = json.loads((tune_dir / record.run_dirs[-1] / "summary.json").read_text())
        assert last["env_steps"] == 600 and record.status == "complete"
        assert record.objective == pytest.approx(last["eval_return_mean"])
    report = json.loads((tune_dir / "report.json").read_text())
    assert report["seeds"] == [1000, 1001] and len(report["configs"][0]["scores"]) == 2


def test_a_killed_pbt_tune_resumes_in_its_round_and_trains_no_segment_twice(tmp_path, monkeypatch):
    from porcini.experiment import launch

    calls = []
    real = launch.run_job

    def counting(job, progress=None, label=""):
        calls.append(label)
        if len(calls) == 6 and not stopped:  # member 1 of round 1: kill the tune as it starts
            stopped.append(True)
            raise TrainingInterrupted(15)
        return real(job, progress, label)

    stopped: list[bool] = []
    monkeypatch.setattr(launch, "run_job", counting)
    options = dict(method="pbt", trials=4, steps=600, pbt_interval=200, out=tmp_path / "t", overrides=FAST,
                   report_seeds=0)
    with pytest.raises(TrainingInterrupted):
        tune(ALGO, ENV, SPACE, **options)
    result = tune(ALGO, ENV, SPACE, **options)
    trained = [c for c in calls[:5]] + calls[6:]  # the interrupted call trained nothing
    assert sorted(trained) == sorted(f"[member {m} round {k}] " for m in range(4) for k in range(3))
    assert all(r.status == "complete" for r in result.records)
    uninterrupted = tune(ALGO, ENV, SPACE, **{**options, "out": tmp_path / "u"})
    assert [r.objective for r in result.records] == [r.objective for r in uninterrupted.records]


def test_pbt_refuses_settings_it_cannot_run(tmp_path):
    with pytest.raises(ConfigError, match="--seeds 1"):
        tune(ALGO, ENV, SPACE, method="pbt", seeds=2, steps=600, out=tmp_path / "a", overrides=FAST)
    with pytest.raises(ConfigError, match="at least 2"):
        tune(ALGO, ENV, SPACE, method="pbt", trials=1, steps=600, out=tmp_path / "b", overrides=FAST)
    with pytest.raises(ConfigError, match="pbt-interval"):
        tune(ALGO, ENV, SPACE, method="pbt", steps=600, pbt_interval=600, out=tmp_path / "c", overrides=FAST)
    with pytest.raises(ConfigError, match="env.n_envs"):
        tune(ALGO, ENV, {"env.n_envs": {"choice": [1, 2]}}, method="pbt", steps=600, out=tmp_path / "d",
             overrides=FAST)
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_a_failed_member_is_replaced_by_a_copy_of_a_better_one(tmp_path, monkeypatch):
    from porcini.experiment import launch

    real = launch.run_job

    def failing(job, progress=None, label=""):
        if label == "[member 2 round 0] ":
            raise FloatingPointError("NaN loss")
        return real(job, progress, label)

    monkeypatch.setattr(launch, "run_job", failing)
    result = tune(ALGO, ENV, SPACE, method="pbt", trials=4, steps=400, pbt_interval=200, out=tmp_path / "t",
                  overrides=FAST, report_seeds=0)
    member = result.records[2]
    assert member.segments[0]["error"] == "FloatingPointError: NaN loss" and member.segments[1]["parent"] is not None
    assert member.status == "complete"  # it lived on as a copy


def test_start_sets_the_population_and_members_train_with_seed_plus_number(tmp_path):
    start = [{"learning_rate": 0.02, "algo.epsilon": 0.0}, {"learning_rate": 0.5, "algo.epsilon": 0.3}]
    result = tune(ALGO, ENV, SPACE, method="pbt", trials=2, steps=400, pbt_interval=200, out=tmp_path / "t",
                  overrides=FAST, report_seeds=0, start=start, seed=5)
    assert [r.segments[0]["params"] for r in result.records] == start
    seeds = [json.loads((tmp_path / "t" / r.run_dirs[0] / "summary.json").read_text())["seed"]
             for r in result.records]
    assert seeds == [5, 6]
    with pytest.raises(ConfigError, match="population of 2"):
        tune(ALGO, ENV, SPACE, method="pbt", trials=2, steps=400, out=tmp_path / "a", overrides=FAST,
             start=start[:1])
    with pytest.raises(ConfigError, match="pbt"):
        tune(ALGO, ENV, SPACE, method="random", trials=2, steps=400, out=tmp_path / "b", overrides=FAST,
             start=start)


def test_the_report_of_a_pbt_tune_never_evaluates_on_the_members_own_seeds(tmp_path):
    # --seed 1000: the members train (and were scored) with run seeds 1000 and 1001, so the report's fresh seeds
    # must be others, or its scores repeat the selection's evaluation episodes
    result = tune(ALGO, ENV, SPACE, method="pbt", trials=2, steps=400, pbt_interval=200, out=tmp_path / "t",
                  overrides=FAST, report_seeds=2, seed=1000)
    member_seeds = {json.loads((tmp_path / "t" / d / "summary.json").read_text())["seed"]
                    for r in result.records for d in r.run_dirs}
    assert member_seeds == {1000, 1001}
    report = json.loads((tmp_path / "t" / "report.json").read_text())
    assert len(report["seeds"]) == 2 and not set(report["seeds"]) & member_seeds


def test_a_pbt_tune_resumed_with_another_population_is_refused(tmp_path):
    options = dict(method="pbt", steps=400, pbt_interval=200, out=tmp_path / "t", overrides=FAST, report_seeds=0)
    tune(ALGO, ENV, SPACE, trials=2, **options)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "t").rglob("*") if p.is_file()}
    for population in (3, 4):  # a member joining after the rounds were decided would not be the same population
        with pytest.raises(ConfigError, match="trials"):
            tune(ALGO, ENV, SPACE, trials=population, **options)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "t").rglob("*") if p.is_file()} == before


def test_a_killed_pbt_tune_resumed_from_another_folder_finds_its_runs(tmp_path, monkeypatch):
    from porcini.experiment import launch

    real, calls = launch.run_job, []

    def kill_once(job, progress=None, label=""):
        calls.append(label)
        if len(calls) == 6:  # member 1 of round 1: kill the tune as it starts
            raise TrainingInterrupted(15)
        return real(job, progress, label)

    options = dict(method="pbt", trials=4, steps=600, pbt_interval=200, overrides=FAST, report_seeds=0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setattr(launch, "run_job", kill_once)
    with pytest.raises(TrainingInterrupted):
        tune(ALGO, ENV, SPACE, out="t", **options)
    monkeypatch.chdir(tmp_path / "b")  # started again from another folder: --out ../a/t
    result = tune(ALGO, ENV, SPACE, out="../a/t", **options)
    assert [r.status for r in result.records] == ["complete"] * 4, [r.error for r in result.records]
    uninterrupted = tune(ALGO, ENV, SPACE, out=tmp_path / "u", **options)
    assert [r.objective for r in result.records] == [r.objective for r in uninterrupted.records]
    with open(tmp_path / "a" / "t" / "results.csv") as f:
        for row in csv.DictReader(f):
            assert all((tmp_path / "a" / "t" / d / "config.yaml").is_file() for d in row["run_dirs"].split(";"))


@pytest.mark.parametrize("population", range(2, 13))
@pytest.mark.parametrize("quantile", [0.1, 0.2, 0.25, 0.3, 0.4, 0.5])
def test_exploit_pairs_replace_as_many_members_as_ray_tunes_pbt(population, quantile):
    # Ray Tune's PopulationBasedTraining._quantiles: ceil(n * q) members, but never more than half
    expected = math.ceil(population * quantile)
    if expected > population / 2:
        expected = population // 2
    scores = [float(s) for s in np.random.default_rng(population).permutation(population)]
    pairs = exploit_pairs(scores, quantile, np.random.default_rng(0))
    ranked = sorted(range(population), key=lambda i: scores[i])
    assert sorted(pairs) == sorted(ranked[:expected])
    assert set(pairs.values()) <= set(ranked[population - expected:])


def test_a_pbt_tune_killed_in_round_0_continues_its_runs_from_their_checkpoints(tmp_path, monkeypatch):
    from porcini.experiment import launch
    from porcini.experiment.loggers import read_metrics_csv

    jobs = {}
    real = launch.run_job

    def stopping(job, progress=None, label=""):
        jobs.setdefault(label, []).append(type(job).__name__)
        if label == "[member 1 round 0] " and len(jobs[label]) == 1:  # killed after its first epoch's checkpoint
            real(launch.StartRun(job.config, 100), progress, label)
            raise TrainingInterrupted(15)
        return real(job, progress, label)

    monkeypatch.setattr(launch, "run_job", stopping)
    options = dict(method="pbt", trials=2, steps=400, pbt_interval=200, out=tmp_path / "t", overrides=FAST,
                   report_seeds=0)
    with pytest.raises(TrainingInterrupted):
        tune(ALGO, ENV, SPACE, **options)
    (killed,) = (tmp_path / "t" / "trials" / "1").glob("*/metrics.csv")
    _, before = read_metrics_csv(killed)
    result = tune(ALGO, ENV, SPACE, **options)
    assert jobs["[member 1 round 0] "] == ["StartRun", "ResumeRun"]  # continued, not started over
    _, after = read_metrics_csv(killed)
    assert after[0] == before[0] and after[1]["env_steps"] == 200
    uninterrupted = tune(ALGO, ENV, SPACE, **{**options, "out": tmp_path / "u"})
    assert [r.objective for r in result.records] == [r.objective for r in uninterrupted.records]
