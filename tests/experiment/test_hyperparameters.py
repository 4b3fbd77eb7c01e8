"""The configs of record from Python: one call gives what `porcini train ALGO ENV` would use."""

import pytest

from porcini.algorithms import DQN, PPO
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPOConfig
from porcini.errors import ConfigError
from porcini.experiment import config_of_record, envs_with_record, run_config_of_record
from porcini.experiment.config import to_dict
from porcini.experiment.launch import resolve


@pytest.mark.parametrize("algo, env_id", [("ppo", "CartPole-v1"), ("dqn", "CartPole-v1"), ("sac", "Pendulum-v1"),
                                          ("recurrent_ppo", "porcini/CueMemory-v0"), ("dqn", "ALE/Pong-v5"),
                                          ("ppo", "ALE/Breakout-v5")])
def test_config_of_record_is_what_the_cli_resolves(algo, env_id):
    config = config_of_record(algo, env_id, seed=3)
    cli = resolve(algo, env_id, None, ["seed=3"])
    assert to_dict(config) == {**cli.algo, "seed": 3}
    assert run_config_of_record(algo, env_id, ["seed=3"]) == cli


def test_config_of_record_holds_the_records_hyperparameters():
    ppo = config_of_record("ppo", "CartPole-v1")
    assert isinstance(ppo, PPO.Config)
    assert (ppo.learning_rate, ppo.learning_rate_schedule, ppo.n_steps, ppo.gamma) == (1e-3, "linear", 32, 0.98)
    dqn = config_of_record("dqn", "CartPole-v1")
    assert isinstance(dqn, DQN.Config) and dqn.exploration_fraction == 0.16 and dqn.net_arch == (256, 256)
    assert not hasattr(dqn, "total_steps")  # the horizon is the run's steps, not a hyperparameter
    run = run_config_of_record("dqn", "CartPole-v1", {"steps": 20_000})
    assert run.steps == 20_000 and "total_steps" not in run.algo and run.algo["learning_rate"] == 2.3e-3
    assert isinstance(config_of_record("recurrent_ppo", "porcini/CartPoleNoVel-v1"), RecurrentPPOConfig)


def test_missing_record_names_the_envs_that_have_one():
    assert envs_with_record("recurrent_ppo") == ["porcini/CartPoleNoVel-v1", "porcini/CueMemory-v0"]
    assert envs_with_record("random") == []
    with pytest.raises(ConfigError,
                       match="no config of record for ppo on FrozenLake-v1 .*ppo on .*CartPole-v1.*PPOConfig"):
        config_of_record("ppo", "FrozenLake-v1")
    with pytest.raises(KeyError, match="unknown algorithm 'nope'"):
        config_of_record("nope", "CartPole-v1")
