"""porcini tune --backend ray and porcini train --backend ray, on a real local Ray (2 CPUs, no dashboard): the same
trials as the local backend, Ray Tune's PBT with run-directory lineages, OptunaSearch with pruning, restore."""

import csv
import json

import pytest

from porcini.experiment.launch import resolve, train_seeds
from porcini.experiment.tune import tune

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.usefixtures("local_ray")

ALGO, ENV = "q_learning", "porcini/RiverSwim-v0"
FAST = ("steps_per_epoch=100", "eval_episodes=2", "log.sinks=[csv]")
SPACE = {"learning_rate": {"loguniform": [0.01, 0.9]}, "algo.epsilon": {"choice": [0.0, 0.05, 0.1, 0.3]}}




def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_a_grid_on_ray_runs_the_same_trials_as_locally_and_a_second_start_runs_none(tmp_path):
    space = {"learning_rate": {"choice": [0.1, 0.5]}, "algo.epsilon": {"choice": [0.0, 0.1]}}
    options = dict(method="grid", steps=300, overrides=FAST, report_seeds=0)
    local = tune(ALGO, ENV, space, out=tmp_path / "local", **options)
    on_ray = tune(ALGO, ENV, space, out=tmp_path / "ray", backend="ray", **options)
    assert [(r.number, r.params, r.status) for r in on_ray.records] == [
        (r.number, r.params, r.status) for r in local.records]
    assert [r.objective for r in on_ray.records] == [r.objective for r in local.records]  # same seeds, same runs
    assert (tmp_path / "ray" / "best.yaml").read_text() == (tmp_path / "local" / "best.yaml").read_text()
    before = sorted(p.name for p in (tmp_path / "ray" / "trials").glob("*/*/summary.json"))
    again = tune(ALGO, ENV, space, out=tmp_path / "ray", backend="ray", **options)  # Tuner.restore: all finished
    assert [r.objective for r in again.records] == [r.objective for r in on_ray.records]
    assert sorted(p.name for p in (tmp_path / "ray" / "trials").glob("*/*/summary.json")) == before


def test_pbt_on_ray_records_each_member_as_a_chain_of_run_directories(tmp_path):
    result = tune(ALGO, ENV, SPACE, method="pbt", trials=4, steps=600, pbt_interval=200, out=tmp_path / "t",
                  overrides=FAST, report_seeds=0, backend="ray")
    tune_dir = tmp_path / "t"
    assert [r.status for r in result.records] == ["complete"] * 4
    lineage = rows(tune_dir / "lineage.csv")
    for member in range(4):
        steps = [int(r["env_steps"]) for r in lineage if r["member"] == str(member)]
        assert steps == sorted(steps) and steps[-1] == 600  # every member reached the end, in order
    branches = list(tune_dir.glob("trials/*/*/branched_from.json"))
    assert branches, "Ray Tune's PBT exploited no member"
    for path in branches:
        origin = json.loads(path.read_text())
        assert origin["env_steps"] in (200, 400) and origin["changed"]
        member = path.parent.parent.name
        copied = [r for r in lineage if r["member"] == member and r["run_dir"].endswith(path.parent.name)]
        assert copied[0]["copied_from"] in ("", *"0123") and int(copied[0]["env_steps"]) > origin["env_steps"]
    for record in result.records:
        bounds = SPACE["learning_rate"]["loguniform"]
        assert bounds[0] <= record.params["learning_rate"] <= bounds[1]  # Ray's perturbations clipped to the space
        assert record.params["algo.epsilon"] in SPACE["algo.epsilon"]["choice"]


def test_optuna_on_ray_numbers_trials_and_records_pruned_ones(tmp_path):
    result = tune(ALGO, ENV, SPACE, method="optuna", trials=5, steps=500, out=tmp_path / "t", overrides=FAST,
                  report_seeds=0, backend="ray", jobs=2)
    table = rows(tmp_path / "t" / "results.csv")
    assert [r["number"] for r in table] == ["0", "1", "2", "3", "4"]
    assert {r.status for r in result.records} <= {"complete", "pruned"} and result.best is not None
    for record in result.records:
        summaries = [json.loads((tmp_path / "t" / d / "summary.json").read_text()) for d in record.run_dirs
                     if (tmp_path / "t" / d / "summary.json").is_file()]
        if record.status == "complete":
            assert summaries and summaries[0]["env_steps"] == 500
    assert json.loads((tmp_path / "t" / "trials" / "ray_trials.json").read_text()).values().__len__() == 5


def test_train_seeds_on_ray_equals_local_processes(tmp_path):
    config = resolve("ppo", "CartPole-v1", None, ["steps=1024", "steps_per_epoch=512", "log.sinks=[csv]",
                                                  "eval_episodes=2", f"out={tmp_path / 'local'}"])
    local = train_seeds(config, [0, 1])
    on_ray = train_seeds(resolve("ppo", "CartPole-v1", None, ["steps=1024", "steps_per_epoch=512",
                                                              "log.sinks=[csv]", "eval_episodes=2",
                                                              f"out={tmp_path / 'ray'}"]), [0, 1], backend="ray")
    assert [s["eval_return_mean"] for s in on_ray] == [s["eval_return_mean"] for s in local]
    assert all(str(tmp_path / "ray") in s["run_dir"] for s in on_ray)


def test_a_failing_run_on_ray_raises_its_own_error(tmp_path):
    config = resolve("ppo", "CartPole-v1", None, ["steps=256", "log.sinks=[csv]", f"out={tmp_path}",
                                                  "env.kwargs={not_an_argument: 1}"])
    with pytest.raises(Exception, match="not_an_argument") as raised:
        train_seeds(config, [0], backend="ray")
    assert "RayTaskError" not in type(raised.value).__name__


def test_starting_ray_keeps_this_processs_signal_handlers():
    import signal

    from porcini.ray_runtime import keeping_signal_handlers

    before = signal.getsignal(signal.SIGTERM)
    with keeping_signal_handlers():
        signal.signal(signal.SIGTERM, lambda *_: None)  # what ray.init does to the driver
    assert signal.getsignal(signal.SIGTERM) is before


def test_hyperband_on_ray_records_trials_that_trained_to_the_end_as_complete(tmp_path):
    result = tune(ALGO, ENV, SPACE, method="optuna", trials=2, steps=200, seeds=2, out=tmp_path / "t",
                  overrides=FAST, report_seeds=0, backend="ray", jobs=2, pruner="hyperband")
    assert [r.status for r in result.records] == ["complete", "complete"]
    assert all(len(r.run_dirs) == 2 for r in result.records)  # the second seed trained too


def test_a_damaged_ray_trial_table_is_one_line_and_is_not_overwritten(tmp_path):
    from porcini.errors import RunDirectoryError
    from porcini.experiment.tune.ray_backend import claim_number

    assert [claim_number(tmp_path, "a"), claim_number(tmp_path, "b"), claim_number(tmp_path, "a")] == [0, 1, 0]
    table = tmp_path / "trials" / "ray_trials.json"
    table.write_text('{"a": 0, "b"')  # a write cut short
    with pytest.raises(RunDirectoryError, match="ray_trials.json is not porcini's table of Ray trial numbers") as err:
        claim_number(tmp_path, "c")
    assert "\n" not in str(err.value) and "--out" in str(err.value)
    assert table.read_text() == '{"a": 0, "b"'
