"""Core refuses an env (or eval env) whose spaces differ from those of the env its agent was built for, with one
EnvCheckError naming both, instead of a torch shape error on the first observation."""

import gymnasium as gym
import numpy as np
import pytest

from porcini import Core, make_env
from porcini.algorithms import DQN, PPO
from porcini.errors import EnvCheckError


@pytest.mark.parametrize("other,expected", [
    ("Acrobot-v1", "whose observation_space is Box of shape (4,), but env Acrobot-v1 has Box of shape (6,)"),
    ("MountainCar-v0", "whose observation_space is Box of shape (4,), but env MountainCar-v0 has Box of shape (2,)"),
    ("FrozenLake-v1", "but env FrozenLake-v1 has Discrete(16)"),
])
@pytest.mark.parametrize("as_eval_env", [False, True])
def test_an_agent_built_for_another_env_is_refused(other, expected, as_eval_env):
    cartpole, env = make_env("CartPole-v1", seed=0), make_env(other, seed=0)
    agent = DQN(cartpole.info)
    with pytest.raises(EnvCheckError) as caught:
        Core(agent, cartpole, eval_env=env) if as_eval_env else Core(agent, env)
    message = str(caught.value)
    assert message.startswith("DQN was built for CartPole-v1, ") and expected in message
    assert message.endswith("build the agent from this env's info: DQN(env.info, ...)")


class ThreeActions(gym.Env):
    """CartPole's observation shape with three actions, so only the action spaces differ."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(3)


def test_another_action_space_is_refused():
    agent = PPO(make_env("CartPole-v1").info)
    with pytest.raises(EnvCheckError, match=r"whose action_space is Discrete\(2\), but env .* has Discrete\(3\)"):
        Core(agent, make_env(ThreeActions))


def test_an_env_of_the_same_spaces_is_taken():
    agent = PPO(make_env("CartPole-v1").info, n_steps=8, batch_size=8)
    Core(agent, make_env("CartPole-v1", n_envs=2, seed=1), eval_env=make_env("CartPole-v1"))
