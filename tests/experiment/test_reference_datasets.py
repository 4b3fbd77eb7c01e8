"""The reference dataset suite: registry, cache, atomic and locked builds, repeatability, the stopping rule, the CLI.

The recipes run here at a small ``scale`` of their budget (a few hundred env steps); the full suite is built by
the slow learning tests (tests/algorithms/offline/test_learning_reference_datasets.py).
"""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from porcini.data import load_dataset
from porcini.data.dataset_stats import complete_episode_returns
from porcini.data.fingerprint import dataset_fingerprint
from porcini.data.validation import DatasetError
from porcini.experiment.cli import main
from porcini.experiment.reference_datasets import (
    RECIPES,
    _train,
    reference_dataset,
    reference_datasets,
    reference_path,
)

TINY = 0.01
SMALL = 0.006  # SAC: 120 env steps, 20 gradient steps
NAMES = ["pendulum-random", "pendulum-expert", "pendulum-medium", "pendulum-medium-replay", "cartpole-medium-replay"]


def test_the_registry_names_the_suite_with_one_line_each():
    listed = reference_datasets()
    assert list(listed) == NAMES
    assert all(text and "\n" not in text for text in listed.values())


def test_a_dataset_is_built_once_then_read_from_the_cache(tmp_path, monkeypatch):
    path = reference_dataset("pendulum-random", tmp_path, scale=TINY)
    assert path == tmp_path / "pendulum-random-v1-scale0.01.npz" and path.is_file()
    data = load_dataset(path)
    assert data.metadata["env_id"] == "Pendulum-v1" and data.metadata["reference"] == "pendulum-random"
    assert data.n_episodes == 1 and len(data) == 200
    before = path.stat().st_mtime_ns

    def no_build(scale, root):
        raise AssertionError("the cached dataset was built again")

    monkeypatch.setitem(RECIPES, "pendulum-random", RECIPES["pendulum-random"].__class__(
        "pendulum-random", "", no_build))
    assert load_dataset(path).metadata["recipe_version"] == 1
    assert reference_dataset("pendulum-random", tmp_path, scale=TINY) == path
    assert path.stat().st_mtime_ns == before


def test_the_cache_folder_is_the_environment_variables_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("PORCINI_DATASETS", str(tmp_path / "cache"))
    path = reference_dataset("pendulum-random", scale=TINY)
    assert path.parent == tmp_path / "cache" and path.is_file()
    assert reference_path("pendulum-random") == tmp_path / "cache" / "pendulum-random-v1.npz"
    assert reference_path("pendulum-medium") == tmp_path / "cache" / "pendulum-medium-v2.npz"  # its recipe changed


def test_a_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def broken(scale, root):
        raise RuntimeError("the training run failed")

    monkeypatch.setitem(RECIPES, "pendulum-random", RECIPES["pendulum-random"].__class__("pendulum-random", "",
                                                                                        broken))
    with pytest.raises(RuntimeError):
        reference_dataset("pendulum-random", tmp_path, scale=TINY)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_two_processes_building_the_same_dataset_build_it_once(tmp_path):
    """Real processes: the second waits on the first's lock, then reads its file; the file loads intact."""
    script = textwrap.dedent(f"""
        import time
        from porcini.experiment import reference_datasets as reference
        recipe = reference.RECIPES["pendulum-random"]
        def counted(scale, root):
            with open({str(tmp_path / "builds.txt")!r}, "a") as f:
                f.write("built\\n")
            time.sleep(1.0)  # the other process arrives while this one builds
            return recipe.build(scale, root)
        reference.RECIPES["pendulum-random"] = reference.Recipe(recipe.name, recipe.description, counted)
        print(reference.reference_dataset("pendulum-random", {str(tmp_path / "cache")!r}, scale={TINY}))
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert (tmp_path / "builds.txt").read_text().splitlines() == ["built"]
    assert outputs[0] == outputs[1] and len(load_dataset(outputs[0])) == 200


def test_the_same_seeds_give_the_same_datasets(tmp_path):
    """Rebuilt in another folder, every array is the same (metadata too); the npz's zip timestamps may differ.

    At this scale SAC takes 20 gradient steps (120 env steps, 100 of them its random warm-up), DQN none (its
    warm-up is 1,000 steps) but acts ε-greedily on its seeded network.
    """
    first, second = tmp_path / "first", tmp_path / "second"
    for name in ("pendulum-medium-replay", "cartpole-medium-replay"):
        reference_dataset(name, first, scale=SMALL)
    second.mkdir()
    for name in ("pendulum-random", "pendulum-expert"):  # the medium run's inputs, built once: time is short
        shutil.copy(reference_path(name, first, scale=SMALL), second)
    for name in ("pendulum-medium-replay", "cartpole-medium-replay"):
        reference_dataset(name, second, scale=SMALL)
    for name in ("pendulum-medium", "pendulum-medium-replay", "cartpole-medium-replay"):
        a, b = (load_dataset(reference_path(name, root, scale=SMALL)) for root in (first, second))
        assert dataset_fingerprint(a) == dataset_fingerprint(b), name
        assert a.metadata == b.metadata, name
    medium = load_dataset(reference_path("pendulum-medium", first, scale=SMALL)).metadata
    assert medium["policy"] == "sac, stochastic" and medium["train_seed"] == 1
    assert medium["target_return"] == pytest.approx(
        medium["random_return"] + (medium["expert_return"] - medium["random_return"]) / 3)


def test_a_run_stops_at_the_first_evaluation_at_or_above_the_target():
    reached = _train("dqn", "CartPole-v1", 0, 0.03, target=0.0, eval_every=1024, eval_explore=False)
    assert reached.metadata["train_steps"] == 1024 and reached.metadata["reached"]
    assert [step for step, _ in reached.metadata["evaluations"]] == [1024]
    assert reached.replay.n_transitions == 1024  # the replay up to the stopping point, every stored transition
    never = _train("dqn", "CartPole-v1", 0, 0.03, target=1e9, eval_every=512, eval_explore=False)
    assert never.metadata["train_steps"] == 1500 and not never.metadata["reached"]  # the whole budget
    assert [step for step, _ in never.metadata["evaluations"]] == [512, 1024]
    # the stopped run is the start of the full one: the same seed, the same stored transitions
    np.testing.assert_array_equal(never.replay.action[:1024], reached.replay.action)


def test_complete_episode_returns_leave_out_an_unfinished_tail(tmp_path):
    data = load_dataset(reference_dataset("cartpole-medium-replay", tmp_path, scale=TINY))
    returns = complete_episode_returns(data)
    ends = np.flatnonzero(data.batch.episode_end[:, 0])
    assert len(returns) == len(ends) and returns.sum() == pytest.approx(data.batch.reward[: ends[-1] + 1].sum())


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_lists_builds_and_prints_statistics(tmp_path):
    listing = invoke("dataset", "reference")
    assert listing.exit_code == 0 and all(name in listing.output for name in NAMES)
    root = str(tmp_path)
    text = invoke("dataset", "reference", "pendulum-random", "--root", root, "--scale", str(TINY))
    assert text.exit_code == 0, text.output
    assert "pendulum-random: 1 episodes, 200 steps in Pendulum-v1" in text.output and "return: mean" in text.output
    result = invoke("dataset", "reference", "pendulum-random", "cartpole-medium-replay", "--root", root,
                    "--scale", str(TINY), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["root"] == root and list(report["datasets"]) == ["pendulum-random", "cartpole-medium-replay"]
    pendulum = report["datasets"]["pendulum-random"]
    assert pendulum["episodes"] == 1 and pendulum["steps"] == 200 and pendulum["path"].endswith("scale0.01.npz")
    assert report["datasets"]["cartpole-medium-replay"]["env_id"] == "CartPole-v1"


def test_an_unknown_name_is_one_line_naming_the_known_ones_and_builds_nothing(tmp_path):
    result = invoke("dataset", "reference", "pendulum-random", "pendulum-meduim", "--root", str(tmp_path))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'pendulum-meduim'" in result.stderr and all(name in result.stderr for name in NAMES)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DatasetError, match="pendulum-medium-replay"):
        reference_dataset("hopper-medium", tmp_path)
