import math

import numpy as np
import pytest

from porcini.algorithms.registry import get_algorithm
from porcini.errors import ConfigError
from porcini.experiment.config import resolve_run_config
from porcini.experiment.tune import grid_points, parse_space, random_points
from porcini.experiment.tune.space import validate_space


def q_learning_resolver():
    config_cls = get_algorithm("q_learning").Config
    return lambda values: resolve_run_config("q_learning", "porcini/RiverSwim-v0", overrides=values,
                                             algo_config_cls=config_cls)


@pytest.mark.parametrize("spec, fragment", [
    ({"learning_rate": [0.1, 0.2]}, "give one distribution"),
    ({"learning_rate": {"normal": [0, 1]}}, "give one distribution"),
    ({"learning_rate": {"uniform": [0.5, 0.1]}}, "low < high"),
    ({"learning_rate": {"uniform": [0.1]}}, "[low, high]"),
    ({"learning_rate": {"loguniform": [0.0, 0.1]}}, "low > 0"),
    ({"n_steps": {"int": [1.5, 3]}}, "integer bounds"),
    ({"learning_rate": {"choice": []}}, "non-empty list"),
])
def test_a_bad_distribution_names_its_key(spec, fragment):
    with pytest.raises(ConfigError) as err:
        parse_space(spec)
    assert next(iter(spec)) in str(err.value) and fragment in str(err.value)


def test_an_empty_space_is_refused():
    with pytest.raises(ConfigError, match="non-empty mapping"):
        parse_space({})


def test_a_typo_key_is_named_with_the_closest_valid_one():
    space = parse_space({"learning_rat": {"choice": [0.1]}})
    with pytest.raises(ConfigError) as err:
        validate_space(space, q_learning_resolver(), {})
    message = str(err.value)
    assert "'learning_rat'" in message and "did you mean 'learning_rate'" in message and "\n" not in message


def test_an_out_of_range_bound_is_refused_before_anything_runs():
    space = parse_space({"algo.epsilon": {"uniform": [0.0, 2.0]}})
    with pytest.raises(ConfigError, match=r"search space key 'algo.epsilon' = 2.0"):
        validate_space(space, q_learning_resolver(), {})
    validate_space(parse_space({"algo.epsilon": {"uniform": [0.0, 1.0]}, "steps": {"int": [100, 200]}}),
                   q_learning_resolver(), {})


def test_grid_is_the_product_of_the_choices_and_refuses_continuous_keys():
    space = parse_space({"a": {"choice": [1, 2]}, "b": {"choice": ["x", "y", "z"]}, "c": {"int": [0, 1]}})
    points = grid_points(space)
    assert len(points) == 12 and points[0] == {"a": 1, "b": "x", "c": 0} and points[-1] == {"a": 2, "b": "z", "c": 1}
    assert len({tuple(p.values()) for p in points}) == 12
    assert grid_points(space, limit=5) == points[:5]
    with pytest.raises(ConfigError, match="learning_rate is continuous"):
        grid_points(parse_space({"learning_rate": {"loguniform": [1e-4, 1e-2]}, "a": {"choice": [1]}}))


def test_random_points_are_reproducible_and_inside_their_bounds():
    space = parse_space({"lr": {"loguniform": [1e-4, 1e-2]}, "g": {"uniform": [0.9, 0.99]},
                         "n": {"int": [1, 3]}, "arch": {"choice": [[64], [64, 64]]}})
    points = random_points(space, 400, seed=3)
    assert points == random_points(space, 400, seed=3) and points != random_points(space, 400, seed=4)
    assert random_points(space, 10, seed=3) == points[:10]  # more trials extend the same list
    lr = np.array([p["lr"] for p in points])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-2
    # log-uniform: as many points per decade
    assert abs(np.mean(lr < 1e-3) - 0.5) < 0.1
    assert all(0.9 <= p["g"] <= 0.99 for p in points)
    assert {p["n"] for p in points} == {1, 2, 3} and all(isinstance(p["n"], int) for p in points)
    assert {tuple(p["arch"]) for p in points} == {(64,), (64, 64)}
    assert all(isinstance(p["lr"], float) and math.isfinite(p["lr"]) for p in points)
