"""Ray Tune's PBT as porcini configures it (porcini tune --backend ray --method pbt): what explore does to a member's
hyperparameters, through Ray's own explore step (no Ray instance needed)."""

import random
from types import SimpleNamespace

import pytest

from porcini.experiment.tune.ray_backend import _search
from porcini.experiment.tune.space import Distribution, SearchSpace

pytest.importorskip("ray")


def explored(space, config, resample=0.0, times=200):
    from ray.tune.schedulers.pbt import _explore

    settings = SimpleNamespace(method="pbt", trials=4, pbt=SimpleNamespace(interval=100, quantile=0.25,
                                                                           resample=resample))
    scheduler = _search(settings, space, None, 1000)[1]
    random.seed(0)
    return [_explore(config, scheduler._hyperparam_mutations, scheduler._resample_probability,
                     scheduler._perturbation_factors, scheduler._custom_explore_fn)[0] for _ in range(times)]


def test_integers_round_and_move_by_at_least_one_within_the_bounds():
    space = SearchSpace((Distribution("n_epochs", "int", (1, 10)), Distribution("learning_rate", "uniform", (0.1, 1))))
    assert {c["n_epochs"] for c in explored(space, {"n_epochs": 2, "learning_rate": 0.5})} == {1, 3}
    assert {c["n_epochs"] for c in explored(space, {"n_epochs": 1, "learning_rate": 0.5})} == {1, 2}  # 0 is out
    assert {c["n_epochs"] for c in explored(space, {"n_epochs": 10, "learning_rate": 0.5})} == {8, 10}  # 12 is out
    assert {c["n_epochs"] for c in explored(space, {"n_epochs": 5, "learning_rate": 0.5})} == {4, 6}
    assert {c["learning_rate"] for c in explored(space, {"n_epochs": 5, "learning_rate": 0.5})} == {0.4, 0.6}
    configs = explored(space, {"n_epochs": 5, "learning_rate": 0.5})
    assert all(type(c["n_epochs"]) is int and type(c["learning_rate"]) is float for c in configs)


def test_integers_are_redrawn_from_the_space_with_the_resample_probability():
    space = SearchSpace((Distribution("n_epochs", "int", (1, 10)),))
    assert {c["n_epochs"] for c in explored(space, {"n_epochs": 5}, resample=1.0)} == set(range(1, 11))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_ray_trial_with_a_non_finite_final_return_is_failed_as_locally(tmp_path, value):
    from porcini.experiment.tune.ray_backend import _record
    from porcini.experiment.tune.report import ranked
    from porcini.experiment.tune.trials import TrialRecord, _finish

    points = [{"learning_rate": 0.1}, {"learning_rate": 0.5}]
    local = _finish(tmp_path, TrialRecord(0, points[0]), [{"eval_return_mean": value, "run_dir": "r"}])
    results = [SimpleNamespace(metrics={"objective": objective, "final": True, "run_dirs": ""}, config={"trial": i},
                               path=str(tmp_path / f"t{i}"), error=None) for i, objective in enumerate((value, 1.0))]
    on_ray = [_record(tmp_path, result, points, ["learning_rate"]) for result in results]
    assert (on_ray[0].status, on_ray[0].objective) == (local.status, local.objective) == ("failed", None)
    assert "non-finite" in on_ray[0].error
    assert [r.number for r in ranked(on_ray)] == [1]  # never the best
