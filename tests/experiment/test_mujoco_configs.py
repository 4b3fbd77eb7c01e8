"""The MuJoCo configs of record (SAC, TD3, PPO on Hopper, HalfCheetah, Walker2d, Ant v5): each resolves to a full
run of the RL Baselines3 Zoo's length, cites the Zoo entry it comes from, and normalizes as the Zoo does."""

from __future__ import annotations

import itertools

import pytest

from porcini.experiment.config import record_path
from porcini.experiment.launch import resolve

ALGOS = ("sac", "td3", "ppo")
ENVS = ("Hopper", "HalfCheetah", "Walker2d", "Ant")
PAIRS = list(itertools.product(ALGOS, ENVS))


def _header(algo: str, env: str) -> str:
    text = record_path(algo, f"{env}-v5").read_text(encoding="utf-8")
    # one line of words: the header's line breaks fall anywhere
    return " ".join(line.removeprefix("#").strip() for line in text.splitlines() if line.startswith("#"))


@pytest.mark.parametrize(("algo", "env"), PAIRS)
def test_the_config_of_record_resolves_to_a_zoo_length_run_with_20_to_50_evaluations(algo, env):
    config = resolve(algo, f"{env}-v5", None, [])
    assert config.algo_name == algo and config.env.id == f"{env}-v5"
    assert config.steps == 1_000_000  # the Zoo's n_timesteps for all twelve
    assert 20 <= config.steps // config.steps_per_epoch <= 50
    assert config.env.n_envs == 1


@pytest.mark.parametrize(("algo", "env"), PAIRS)
def test_the_header_cites_the_zoo_file_its_entry_and_score(algo, env):
    header = _header(algo, env)
    assert header, "the config of record starts with no comment header"
    assert f"rl-baselines3-zoo hyperparams/{algo}.yml, entry {env}-v4" in header
    assert "v5 is the current version of the env" in header
    assert f"on {env}-v3" in header and "benchmark.md" in header  # the Zoo's scores are for v3
    assert "Differences from the Zoo" in header


@pytest.mark.parametrize(("algo", "env"), PAIRS)
def test_ppo_normalizes_observations_and_rewards_with_its_gamma_and_off_policy_runs_do_not(algo, env):
    config = resolve(algo, f"{env}-v5", None, [])
    names = [w if isinstance(w, str) else next(iter(w)) for w in config.env.wrappers]
    if algo != "ppo":
        assert names == []
        assert config.algo["learning_starts"] == 10_000
        return
    assert names == ["NormalizeObservation", "NormalizeReward"]
    reward_kwargs = dict(config.env.wrappers[1])["NormalizeReward"]
    assert reward_kwargs["gamma"] == config.algo["gamma"]  # the Zoo gives VecNormalize the agent's gamma
