"""benchmarks/vs_d3rlpy.py: its dataset file, its d3rlpy conversion and its porcini side on a tiny budget.

The d3rlpy side needs its own virtual environment (d3rlpy pins another Gymnasium), so it is not run here.
"""

import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling `common`
    try:
        yield importlib.import_module("vs_d3rlpy")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def data_path(bench, tmp_path_factory):
    path = tmp_path_factory.mktemp("vs-d3rlpy") / "pendulum.npz"
    stats = bench.write_dataset(path, episodes=2)
    assert stats["transitions"] == 400 and stats["episodes"] == 2
    return path


def test_the_dataset_file_is_flat_episodes_and_converts_to_d3rlpy_arguments(bench, data_path):
    flat = bench.read_flat(data_path)
    assert sorted(flat) == sorted(["obs", "action", "reward", "next_obs", "terminated", "truncated"])
    assert flat["obs"].shape == (400, 3) and flat["action"].shape == (400, 1) and flat["reward"].shape == (400,)
    # Pendulum ends only by its time limit: two whole episodes, each truncated at its 200th step
    assert np.flatnonzero(flat["truncated"]).tolist() == [199, 399] and not flat["terminated"].any()
    # within an episode the next observation is the following row's observation
    assert np.array_equal(flat["next_obs"][:199], flat["obs"][1:200])
    arrays = bench.d3rlpy_arrays(flat)
    assert sorted(arrays) == ["actions", "observations", "rewards", "terminals", "timeouts"]
    assert np.array_equal(arrays["timeouts"], flat["truncated"].astype(np.float32))
    assert arrays["rewards"].shape == (400, 1) and arrays["observations"].dtype == np.float32


@pytest.mark.parametrize("algo", ["td3_bc", "iql", "cql"])
def test_the_porcini_side_returns_a_well_formed_record(bench, data_path, algo):
    steps = 6 if algo == "cql" else 20
    record = bench.run_porcini(algo, str(data_path), steps=steps, warmup=2, eval_episodes=1, seed=0)
    assert record["lib"] == "porcini" and record["algo"] == algo and record["seed"] == 0
    assert record["gradient_steps"] == steps and record["transitions"] == 400 and record["eval_episodes"] == 1
    assert record["steps_per_s"] > 0 and record["steps_per_cpu_s"] > 0
    assert math.isclose(record["steps_per_s"], steps / record["update_wall_s"], rel_tol=0.05)
    assert -2000 < record["eval_return_mean"] <= 0  # one Pendulum episode: 200 rewards in [-16.3, 0]


def test_the_agents_get_the_shared_settings(bench):
    from porcini import make_env

    info = make_env("Pendulum-v1").info
    for algo in ("td3_bc", "iql", "cql"):
        config = bench.porcini_agent(algo, info, seed=3).config
        settings = bench.SETTINGS[algo]
        assert config.net_arch == (256, 256) and config.batch_size == settings["batch_size"] == 256
        assert config.tau == settings["tau"] and config.gamma == settings["gamma"] and config.seed == 3
    cql = bench.porcini_agent("cql", info, seed=0).config
    assert (cql.actor_learning_rate, cql.learning_rate, cql.cql_alpha, cql.cql_n_actions) == (1e-4, 3e-4, 5.0, 10)


def test_bad_algos_are_refused_with_the_choices(bench, capsys):
    with pytest.raises(SystemExit) as error:
        bench.parse_args(["--algos", "td3_bc,sac"])
    assert error.value.code == 2
    assert "unknown sac; choose from td3_bc, iql, cql" in capsys.readouterr().err
