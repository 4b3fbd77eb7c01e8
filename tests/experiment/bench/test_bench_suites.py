"""Suites list the pairs the issue names; every pair runs with a config of record that resolves."""

import pytest

from porcini.algorithms.registry import get_algorithm
from porcini.errors import ConfigError
from porcini.experiment.bench import SUITES, ZOO_SCORES, get_suite, suite_pairs
from porcini.experiment.launch import resolve


def test_classic_runs_every_deep_algorithm_that_fits_each_env():
    pairs = suite_pairs(SUITES["classic"])
    for algo, env in pairs:
        assert SUITES["classic"].action_spaces[env] in get_algorithm(algo).action_spaces
    discrete = {(a, e) for a, e in pairs if e in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3")}
    assert {a for a, _ in discrete} <= {"dqn", "qr_dqn", "ppo", "a2c", "trpo"}
    assert not {a for a, e in pairs if e == "Pendulum-v1"} & {"dqn", "qr_dqn"}


def test_every_pair_resolves_and_keeps_its_config_of_record():
    for suite in SUITES.values():
        for algo, env in suite_pairs(suite):
            config = resolve(algo, env, None, [])
            assert config.env.id == env and config.algo_name == algo


def test_zoo_scores_belong_to_classic_pairs_with_the_algorithms_action_space():
    classic = SUITES["classic"]
    for algo, env in ZOO_SCORES:
        assert env in classic.envs and algo in classic.algos
        assert classic.action_spaces[env] in get_algorithm(algo).action_spaces


def test_algos_filter_and_its_errors():
    pairs = suite_pairs(SUITES["classic"], ["ppo"])
    assert pairs and {a for a, _ in pairs} == {"ppo"}
    with pytest.raises(ConfigError, match="--algos: sarsa not in the 'classic' suite; its algorithms are: dqn"):
        suite_pairs(SUITES["classic"], ["sarsa"])
    with pytest.raises(ConfigError, match="unknown benchmark suite 'atari'; choose one of: classic"):
        get_suite("atari")


def test_envs_filter_and_its_error():
    assert suite_pairs(SUITES["classic"], ["sac", "ppo"], ["Pendulum-v1"]) == [("ppo", "Pendulum-v1"),
                                                                                ("sac", "Pendulum-v1")]
    with pytest.raises(ConfigError, match="--envs: Pong not in the 'classic' suite; its envs are: CartPole-v1"):
        suite_pairs(SUITES["classic"], None, ["Pong"])
