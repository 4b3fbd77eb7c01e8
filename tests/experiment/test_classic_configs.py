"""The classic benchmark suite's configs of record: one file per pair, citing its RL Baselines3 Zoo entry."""

import re

import pytest

from porcini.experiment.config import record_path
from porcini.experiment.launch import resolve

DISCRETE = [(algo, env_id) for env_id in ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3")
            for algo in ("dqn", "qr_dqn", "ppo", "a2c", "trpo")]
CONTINUOUS = [(algo, env_id) for env_id in ("MountainCarContinuous-v0", "Pendulum-v1")
              for algo in ("ppo", "a2c", "trpo", "sac", "td3", "ddpg")]
SUITE = DISCRETE + CONTINUOUS
ZOO_FILE = {"qr_dqn": "qrdqn"}  # the Zoo's file name where it differs from porcini's algorithm name


def header(algo: str, env_id: str) -> str:
    """The comment lines at the top of the config of record."""
    lines = record_path(algo, env_id).read_text().splitlines()
    return "\n".join(line for line in lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))])


def test_suite_has_32_pairs():
    assert len(set(SUITE)) == 32


@pytest.mark.parametrize("algo, env_id", SUITE)
def test_config_of_record_cites_the_zoo_and_resolves(algo, env_id):
    assert record_path(algo, env_id).is_file(), f"no config of record: add porcini/configs/{algo}/{env_id}.yaml"
    text = header(algo, env_id)
    assert "Zoo" in text and f"hyperparams/{ZOO_FILE.get(algo, algo)}.yml" in text and env_id in text, text
    run = resolve(algo, env_id, None, [])
    assert run.env.id == env_id
    n_timesteps = re.search(r"n_timesteps ([0-9.e]+)", text)
    assert n_timesteps is not None, "the header lists the Zoo's n_timesteps"
    assert run.steps == int(float(n_timesteps.group(1)))


@pytest.mark.parametrize("algo, env_id", SUITE)
def test_zoo_normalize_is_observation_and_reward_normalization_with_the_agents_gamma(algo, env_id):
    run = resolve(algo, env_id, None, [])
    if re.search(r"normalize true", header(algo, env_id), re.IGNORECASE):
        assert list(run.env.wrappers) == ["NormalizeObservation", {"NormalizeReward": {"gamma": run.algo["gamma"]}}]
    else:
        assert not run.env.wrappers
