"""DAgger, GAIL and BC runs from the command line: an expert run directory or demonstrations, exact resume, errors."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from porcini.data import load_dataset
from porcini.errors import ConfigError
from porcini.experiment.cli import main
from porcini.experiment.collect import collect_policy
from porcini.experiment.config import load_run_config
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv

DAGGER = ["round_steps=200", "updates_per_round=20", "net_arch=[16]", "batch_size=32", "eval_episodes=2",
          "steps_per_epoch=200", "log.sinks=[csv]"]


def train(*args: str) -> dict:
    result = CliRunner().invoke(main, ["train", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def expert_run(tmp_path_factory) -> str:
    """A PPO run on CartPole (briefly trained: any run directory is an expert)."""
    out = tmp_path_factory.mktemp("experts")
    return train("ppo", "CartPole-v1", "--steps", "512", "--out", str(out), "--set", "n_steps=128",
                 "--set", "log.sinks=[csv]")["run_dir"]


def test_cli_trains_dagger_with_an_expert_run_directory(tmp_path, expert_run):
    summary = train("dagger", "CartPole-v1", "--expert", expert_run, "--steps", "600", "--out", str(tmp_path),
                    *[arg for s in DAGGER for arg in ("--set", s)])
    run_dir = Path(summary["run_dir"])
    assert summary["env_steps"] == 600 and (run_dir / "checkpoints").is_dir()
    _, rows = read_metrics_csv(run_dir / "metrics.csv")
    assert [r["env_steps"] for r in rows] == [200, 400, 600]
    assert [r["train/beta"] for r in rows] == [1.0, 0.5, 0.25]  # one round per epoch, its β halving from 1
    assert [r["train/dataset_size"] for r in rows] == [200, 400, 600] and all(r["loss/bc"] >= 0 for r in rows)


def dagger_config(out, expert, steps):
    return resolve("dagger", "CartPole-v1", None, [f"data.expert={expert}", f"steps={steps}", f"out={out}", *DAGGER])


def test_a_resumed_run_continues_exactly(tmp_path, expert_run):
    whole = Experiment.start(dagger_config(tmp_path / "whole", expert_run, 600), progress=False)
    whole.train()
    half = Experiment.start(dagger_config(tmp_path / "half", expert_run, 400), progress=False)
    half.train()
    resumed = Experiment.resume(half.run_dir.path, steps=600, progress=False)
    resumed.train()
    columns = ("env_steps", "eval_return_mean", "loss/bc", "train/beta", "train/dataset_size")
    _, a = read_metrics_csv(whole.run_dir.path / "metrics.csv")
    _, b = read_metrics_csv(half.run_dir.path / "metrics.csv")
    assert [[r[c] for c in columns] for r in a] == [[r[c] for c in columns] for r in b]


def test_expert_errors_name_the_fix_and_leave_no_run_directory(tmp_path, expert_run):
    with pytest.raises(ConfigError, match="dagger learns from an expert: give --expert RUN_DIR"):
        Experiment.start(resolve("dagger", "CartPole-v1", None, [f"out={tmp_path}", *DAGGER]), progress=False)
    with pytest.raises(ConfigError, match="ppo does not learn from an expert"):
        Experiment.start(resolve("ppo", "CartPole-v1", None, [f"out={tmp_path}", f"data.expert={expert_run}"]),
                         progress=False)
    # recording the demonstrations of another env's expert
    with pytest.raises(ConfigError, match="was trained on CartPole-v1, this run is Acrobot-v1: give an expert"):
        Experiment.start(resolve("gail", "Acrobot-v1", None, [f"out={tmp_path}", f"data.expert={expert_run}"]),
                         progress=False)
    with pytest.raises(ConfigError, match="is not a run directory"):
        Experiment.start(dagger_config(tmp_path, tmp_path / "nowhere", 200), progress=False)
    other_env = resolve("dagger", "Acrobot-v1", None, [f"data.expert={expert_run}", f"out={tmp_path}", *DAGGER])
    with pytest.raises(ConfigError, match=r"acts on Box.*Discrete\(2\).*Acrobot-v1 has .*Discrete\(3\)"):
        Experiment.start(other_env, progress=False)
    other_wrappers = resolve("dagger", "CartPole-v1", None, [f"data.expert={expert_run}", f"out={tmp_path}", *DAGGER,
                                                            "env.wrappers=[SignReward]"])
    with pytest.raises(ConfigError, match=r"trained with env.wrappers \[\], this run has \['SignReward'\]"):
        Experiment.start(other_wrappers, progress=False)
    assert list(tmp_path.iterdir()) == []


GAIL = ["n_steps=64", "batch_size=64", "n_epochs=2", "net_arch=[16]", "discriminator_arch=[16]",
        "discriminator_batch_size=32", "gradient_penalty=10", "eval_episodes=2", "steps_per_epoch=256",
        "log.sinks=[csv]", "env.n_envs=2", "learning_rate_schedule=constant", "clip_range_schedule=constant"]


@pytest.fixture(scope="module")
def demos(tmp_path_factory, expert_run) -> str:
    path = tmp_path_factory.mktemp("demos") / "demos.npz"
    collect_policy(expert_run, 3, str(path), seed=0)
    return str(path)


def test_cli_trains_gail_from_demonstrations_and_logs_both_rewards(tmp_path, demos):
    summary = train("gail", "CartPole-v1", "--dataset", demos, "--steps", "512", "--out", str(tmp_path),
                    *[arg for s in GAIL for arg in ("--set", s)])
    _, rows = read_metrics_csv(Path(summary["run_dir"]) / "metrics.csv")
    assert [r["env_steps"] for r in rows] == [256, 512]
    for row in rows:
        assert row["train/env_reward_mean"] == 1.0 and row["train/learned_reward_mean"] > 0
        assert row["loss/discriminator"] > 0 and row["train/gradient_penalty"] >= 0


def test_a_resumed_gail_run_continues_exactly(tmp_path, demos):
    def config(out, steps):
        return resolve("gail", "CartPole-v1", None, [f"data.dataset={demos}", f"steps={steps}", f"out={out}", *GAIL])

    whole = Experiment.start(config(tmp_path / "whole", 768), progress=False)
    whole.train()
    half = Experiment.start(config(tmp_path / "half", 512), progress=False)
    half.train()
    Experiment.resume(half.run_dir.path, steps=768, progress=False).train()
    columns = ("env_steps", "eval_return_mean", "loss/discriminator", "train/learned_reward_mean")
    _, a = read_metrics_csv(whole.run_dir.path / "metrics.csv")
    _, b = read_metrics_csv(half.run_dir.path / "metrics.csv")
    assert [[r[c] for c in columns] for r in a] == [[r[c] for c in columns] for r in b]


def test_gail_without_demonstrations_or_with_offline_steps_names_the_fix(tmp_path, demos):
    with pytest.raises(ConfigError, match="gail learns from an expert's demonstrations: give --dataset SOURCE"):
        Experiment.start(resolve("gail", "CartPole-v1", None, [f"out={tmp_path}", *GAIL]), progress=False)
    offline = resolve("gail", "CartPole-v1", None, [f"out={tmp_path}", f"data.dataset={demos}",
                                                    "data.offline_steps=10", *GAIL])
    with pytest.raises(ConfigError, match="not offline: set data.offline_steps=0"):
        Experiment.start(offline, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("algo, flags", [("gail", [*GAIL, "data.expert_episodes=2"]),
                                         ("bc", ["net_arch=[16]", "eval_episodes=2", "log.sinks=[csv]",
                                                 "data.offline_steps=100", "data.offline_steps_per_epoch=50",
                                                 "data.expert_episodes=2"])])
def test_an_expert_run_records_the_demonstrations_of_bc_and_gail_into_the_run(tmp_path, expert_run, algo, flags):
    steps = "512" if algo == "gail" else "0"
    summary = train(algo, "CartPole-v1", "--expert", expert_run, "--steps", steps, "--out", str(tmp_path),
                    *[arg for s in flags for arg in ("--set", s)])
    run_dir = Path(summary["run_dir"])
    demos = load_dataset(run_dir / "demonstrations.npz")
    assert len(list(demos.episodes())) == 2 and demos.batch.obs.shape[-1] == 4
    config = load_run_config(run_dir / "config.yaml")  # what a resume reads: the recorded file, no expert
    assert config.data.dataset == str((run_dir / "demonstrations.npz").resolve()) and config.data.expert is None
    again = load_dataset(collect_to(tmp_path / "again.npz", expert_run, 2))
    np.testing.assert_array_equal(again.batch.action, demos.batch.action)  # the expert's, seeded by the run


def collect_to(path: Path, run: str, episodes: int) -> Path:
    collect_policy(run, episodes, str(path), seed=0)
    return path


def test_expert_and_dataset_together_or_an_expert_for_preferences_are_refused(tmp_path, expert_run, demos):
    both = resolve("gail", "CartPole-v1", None, [f"out={tmp_path}", f"data.dataset={demos}",
                                                 f"data.expert={expert_run}", *GAIL])
    with pytest.raises(ConfigError, match="got both --expert and --dataset: give one"):
        Experiment.start(both, progress=False)
    preferences = resolve("preferences", "CartPole-v1", None, [f"out={tmp_path}", f"data.expert={expert_run}"])
    with pytest.raises(ConfigError, match="preferences does not learn from an expert: drop --expert"):
        Experiment.start(preferences, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_run_resumed_after_its_expert_changed_is_refused(tmp_path):
    from porcini.errors import CheckpointError

    expert = train("ppo", "CartPole-v1", "--steps", "256", "--out", str(tmp_path / "expert"), "--set", "n_steps=128",
                   "--set", "log.sinks=[csv]")["run_dir"]
    run = Experiment.start(dagger_config(tmp_path / "dagger", expert, 400), progress=False)
    run.train(until=200)
    Experiment.resume(run.run_dir.path, progress=False).close()  # the same expert: resumes
    Experiment.resume(expert, steps=512, progress=False).train()  # the expert trains on and reaches a new best
    checkpoints = Path(expert) / "checkpoints"
    (checkpoints / "best.pt").write_bytes((checkpoints / "last.pt").read_bytes())
    with pytest.raises(CheckpointError, match="data.expert = .* now holds another expert .*with the new expert"):
        Experiment.resume(run.run_dir.path, progress=False)
