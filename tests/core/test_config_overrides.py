"""Hyperparameters passed in Python (``Agent(env.info, **hyperparameters)``) are refused like the CLI's: a
misspelt name gets the closest field, a value of the wrong type a ConfigError naming the field, not a TypeError
from deep inside the Config's range checks."""

import numpy as np
import pytest

from porcini import make_env
from porcini.algorithms import DQN, PPO
from porcini.errors import ConfigError


@pytest.fixture(scope="module")
def info():
    return make_env("CartPole-v1", seed=0).info


@pytest.mark.parametrize("agent_cls,overrides,message", [
    (PPO, {"learning_rate": "3e-4"}, "PPOConfig.learning_rate = '3e-4' is invalid: expected float, got str"),
    (PPO, {"n_epochs": 2.5}, "PPOConfig.n_epochs = 2.5 is invalid: expected int, got float"),
    (PPO, {"n_epochs": True}, "PPOConfig.n_epochs = True is invalid: expected int, got bool"),
    (PPO, {"normalize_advantage": 1}, "PPOConfig.normalize_advantage = 1 is invalid: expected bool, got int"),
    (DQN, {"gamma": [0.9]}, "DQNConfig.gamma = [0.9] is invalid: expected float, got list"),
    (PPO, {"learnin_rate": 1e-3}, "PPOConfig has no field(s) learnin_rate; did you mean 'learning_rate'?"),
])
def test_a_bad_hyperparameter_is_one_config_error(info, agent_cls, overrides, message):
    with pytest.raises(ConfigError) as caught:
        agent_cls(info, **overrides)
    assert message in str(caught.value)


def test_an_int_for_a_float_and_numpy_floats_still_pass(info):
    agent = PPO(info, learning_rate=1, n_epochs=2, gamma=np.float32(0.5), normalize_advantage=False)
    assert agent.config.n_epochs == 2 and agent.config.learning_rate == 1
