import gymnasium as gym
import numpy as np

from porcini.envs.wrappers import DomainRandomization, NumpyResizeObservation
from porcini.experiment.config import EnvConfig, RunConfig
from porcini.experiment.envs import build_envs, wrapper_specs


def config_with(*wrappers, env_id="CartPole-v1", n_envs=1):
    return RunConfig(algo_name="random", env=EnvConfig(id=env_id, n_envs=n_envs, wrappers=wrappers),
                     eval_episodes=1)


def test_a_gymnasium_wrapper_in_a_config_gets_its_list_arguments_as_tuples():
    """YAML writes ``shape: [20, 20]`` as a list; Gymnasium's ResizeObservation refuses anything but a tuple."""
    config = config_with({"ResizeObservation": {"shape": [20, 20]}}, env_id="porcini/PixelGridWorld-v0", n_envs=2)
    env, eval_env = build_envs(config)
    try:
        assert env.single_observation_space == eval_env.single_observation_space == gym.spaces.Box(
            0, 255, (20, 20, 3), np.uint8)
    finally:
        env.close(), eval_env.close()
    ((wrapper, kwargs),) = wrapper_specs(config_with({"ReshapeObservation": {"shape": [2, 2]}}))
    assert wrapper is gym.wrappers.ReshapeObservation and kwargs == {"shape": (2, 2)}


def test_porcinis_wrappers_get_their_arguments_as_written():
    """porcini's take lists, and DomainRandomization reads a list as choices (a tuple would be a range)."""
    choices = {"length": [0.4, 0.6]}
    config = config_with({"DomainRandomization": {"distributions": choices}},
                         {"NumpyResizeObservation": {"shape": [20, 20]}})
    specs = wrapper_specs(config)
    assert specs == [(DomainRandomization, {"distributions": choices}), (NumpyResizeObservation, {"shape": [20, 20]})]
