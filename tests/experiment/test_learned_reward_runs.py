"""AIRL and preference runs from the command line, and a new run on the reward one of them learned (--reward)."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from porcini.envs.wrappers import LearnedReward, NormalizeReward, vector_wrappers
from porcini.envs.wrappers.learned_reward import true_successors
from porcini.errors import ConfigError
from porcini.experiment.cli import main
from porcini.experiment.collect import collect_policy
from porcini.experiment.experiment import Experiment
from porcini.experiment.launch import resolve
from porcini.experiment.loggers import read_metrics_csv

SMALL = ["n_steps=32", "batch_size=64", "n_epochs=2", "net_arch=[16]", "env.n_envs=4", "eval_episodes=2",
         "steps_per_epoch=256", "log.sinks=[csv]"]
AIRL = [*SMALL, "discriminator_arch=[16]", "discriminator_batch_size=64"]
PREFERENCES = [*SMALL, "reward_arch=[16]", "preference_pairs=40", "query_rounds=2", "query_interval=2",
               "segment_length=8"]


def train(*args: str) -> dict:
    result = CliRunner().invoke(main, ["train", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def sets(values: list[str]) -> list[str]:
    return [arg for s in values for arg in ("--set", s)]


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("expert")
    run = train("ppo", "CartPole-v1", "--steps", "512", "--out", str(out), "--set", "n_steps=128",
                "--set", "log.sinks=[csv]")["run_dir"]
    path = out / "demos.npz"
    collect_policy(run, 3, str(path), seed=0)
    return str(path)


@pytest.fixture(scope="module")
def airl_run(tmp_path_factory, demos) -> str:
    out = tmp_path_factory.mktemp("airl")
    return train("airl", "CartPole-v1", "--dataset", demos, "--steps", "512", "--out", str(out), *sets(AIRL))["run_dir"]


def test_airl_logs_both_rewards_and_a_new_agent_trains_on_its_reward_evaluated_on_the_envs(tmp_path, airl_run):
    _, rows = read_metrics_csv(Path(airl_run) / "metrics.csv")
    assert [r["env_steps"] for r in rows] == [256, 512]
    assert all(r["train/env_reward_mean"] == 1.0 and "train/learned_reward_mean" in r for r in rows)
    config = resolve("ppo", "CartPole-v1", None, [f"out={tmp_path}", f"data.reward={airl_run}", "steps=256", *SMALL])
    run = Experiment.start(config, progress=False)
    assert isinstance(run.env, LearnedReward) and not isinstance(run.eval_env, LearnedReward)
    summary = run.train()
    # CartPole's own return is the episode length, a whole number; the learned reward's is not
    assert summary.eval_return_mean * 2 == round(summary.eval_return_mean * 2)
    _, rows = read_metrics_csv(run.run_dir.path / "metrics.csv")
    assert rows[-1]["env_steps"] == 256


def test_cli_trains_preferences_and_logs_the_pairs_and_the_reward_correlation(tmp_path):
    summary = train("preferences", "CartPole-v1", "--steps", "512", "--out", str(tmp_path), *sets(PREFERENCES))
    _, rows = read_metrics_csv(Path(summary["run_dir"]) / "metrics.csv")
    assert [r["train/preference_pairs"] for r in rows] == [20, 40]  # rounds at fits 0 and 2 (128 steps a fit)
    assert -1 <= rows[0]["train/reward_correlation"] <= 1
    ppo = train("ppo", "CartPole-v1", "--reward", summary["run_dir"], "--steps", "256", "--out", str(tmp_path),
                *sets(SMALL))
    assert ppo["env_steps"] == 256


def test_a_resumed_preference_run_continues_exactly(tmp_path):
    def config(out, steps):
        return resolve("preferences", "CartPole-v1", None, [f"steps={steps}", f"out={out}", *PREFERENCES,
                                                            "query_rounds=4", "preference_pairs=40"])

    whole = Experiment.start(config(tmp_path / "whole", 768), progress=False)
    whole.train()
    half = Experiment.start(config(tmp_path / "half", 512), progress=False)
    half.train()
    Experiment.resume(half.run_dir.path, steps=768, progress=False).train()
    columns = ("env_steps", "eval_return_mean", "train/learned_reward_mean", "train/preference_pairs")
    _, a = read_metrics_csv(whole.run_dir.path / "metrics.csv")
    _, b = read_metrics_csv(half.run_dir.path / "metrics.csv")
    assert [[r[c] for c in columns] for r in a] == [[r[c] for c in columns] for r in b]


def test_a_reward_source_that_is_not_a_reward_run_names_the_fix(tmp_path, airl_run, demos):
    def start(source: str, env: str = "CartPole-v1") -> None:
        Experiment.start(resolve("ppo", env, None, [f"out={tmp_path / 'runs'}", f"data.reward={source}", *SMALL]),
                         progress=False)

    with pytest.raises(ConfigError, match="is not a run directory"):
        start(str(tmp_path))
    ppo_run = train("ppo", "CartPole-v1", "--steps", "128", "--out", str(tmp_path / "ppo"), *sets(SMALL))["run_dir"]
    with pytest.raises(ConfigError, match="is a ppo run, which learns no reward: give an airl or preferences run"):
        start(ppo_run)
    with pytest.raises(ConfigError, match="train on the env the reward was learned on"):
        start(airl_run, "Acrobot-v1")
    assert not (tmp_path / "runs").exists()


def test_a_learned_reward_with_a_dataset_whose_rewards_are_the_envs_is_refused(tmp_path, airl_run, demos):
    with pytest.raises(ConfigError, match="the env's own rewards"):
        Experiment.start(resolve("dqn", "CartPole-v1", None, [f"out={tmp_path / 'runs'}", f"data.reward={airl_run}",
                                                              f"data.dataset={demos}", "log.sinks=[csv]"]),
                         progress=False)
    assert not (tmp_path / "runs").exists()


def test_normalize_reward_scales_the_learned_reward_the_agent_learns_from(tmp_path, airl_run):
    # the reward was learned without NormalizeReward: a reward wrapper changes nothing the learned reward reads
    config = resolve("ppo", "CartPole-v1", None, [f"out={tmp_path}", f"data.reward={airl_run}",
                                                  "env.wrappers=[VectorRecordEpisodeStatistics, NormalizeReward]",
                                                  *SMALL])
    run = Experiment.start(config, progress=False)
    chain = vector_wrappers(run.env)
    norm = next(w for w in chain if isinstance(w, NormalizeReward))
    learned = next(w for w in chain if isinstance(w, LearnedReward))
    obs, _ = run.env.reset(seed=0)
    for _ in range(20):
        actions = np.array([0, 1, 1, 0])
        next_obs, reward, terminated, _, info = run.env.step(actions)
        raw = learned.reward_fn(obs, actions, true_successors(next_obs, info), terminated)
        assert np.allclose(reward, norm.scale_reward(raw)), "the reward learned from is the normalized learned one"
        obs = next_obs
    assert not np.allclose(reward, raw)
    run.close()


def test_a_per_env_reward_wrapper_beside_a_learned_reward_is_refused(tmp_path, airl_run):
    config = resolve("ppo", "CartPole-v1", None, [f"out={tmp_path / 'runs'}", f"data.reward={airl_run}",
                                                  "env.wrappers=[{ClipReward: {min_reward: -1, max_reward: 1}}]",
                                                  *SMALL])
    with pytest.raises(ConfigError, match=r"\['ClipReward'\] would change the env's reward only"):
        Experiment.start(config, progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_run_resumed_after_its_reward_run_trained_on_is_refused(tmp_path, demos):
    from porcini.errors import CheckpointError

    airl = Experiment.start(resolve("airl", "CartPole-v1", None, [f"out={tmp_path / 'airl'}", f"data.dataset={demos}",
                                                                  "steps=256", *AIRL]), progress=False)
    airl.train()
    config = resolve("ppo", "CartPole-v1", None, [f"out={tmp_path}", f"data.reward={airl.run_dir.path}", "steps=512",
                                                  *SMALL])
    run = Experiment.start(config, progress=False)
    run.train(until=256)
    resumed = Experiment.resume(run.run_dir.path, progress=False)  # the same reward: resumes
    resumed.close()
    Experiment.resume(airl.run_dir.path, steps=512, progress=False).train()  # the reward run trains on
    with pytest.raises(CheckpointError, match="data.reward = .* now holds another reward .*new run on the new reward"):
        Experiment.resume(run.run_dir.path, progress=False)


def test_a_run_on_a_learned_reward_resumes_exactly(tmp_path, airl_run):
    def config(out):
        return resolve("ppo", "CartPole-v1", None, [f"out={out}", f"data.reward={airl_run}", "steps=768", *SMALL])

    whole = Experiment.start(config(tmp_path / "whole"), progress=False)
    whole.train()
    half = Experiment.start(config(tmp_path / "half"), progress=False)
    half.train(until=512)
    Experiment.resume(half.run_dir.path, progress=False).train()
    _, a = read_metrics_csv(whole.run_dir.path / "metrics.csv")
    _, b = read_metrics_csv(half.run_dir.path / "metrics.csv")
    columns = [c for c in a[0] if c.startswith(("env_steps", "eval_", "loss/", "train/"))]
    assert len(a) == 3 and [[r[c] for c in columns] for r in a] == [[r[c] for c in columns] for r in b]
