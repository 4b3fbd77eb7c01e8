"""Every deep agent trains on every kind of observation space, through make_env and Core, with tiny configs."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.registry import get_algorithm
from porcini.envs.testing import SpaceEnv
from porcini.networks.cnn import NatureCNN

S = gym.spaces
SPACES = {
    "float_vector": S.Box(-1.0, 1.0, (3,), np.float32),
    "uint8_vector": S.Box(0, 255, (10,), np.uint8),  # MiniGrid's FlatObsWrapper: not an image
    "uint8_image": S.Box(0, 255, (8, 8, 3), np.uint8),
    "uint8_image_stack": S.Box(0, 255, (2, 8, 8, 3), np.uint8),  # FrameStackObservation over RGB frames
    "discrete": S.Discrete(5, start=2),
    "multi_discrete": S.MultiDiscrete([3, 4]),
    "multi_binary": S.MultiBinary(4),
    "dict_image_discrete": S.Dict({"image": S.Box(0, 255, (7, 7, 3), np.uint8), "direction": S.Discrete(4)}),
    "dict_vector_vector": S.Dict({"a": S.Box(-1.0, 1.0, (2,), np.float32), "b": S.Box(0.0, 5.0, (3,), np.float64)}),
    "tuple": S.Tuple((S.Discrete(3), S.Box(-1.0, 1.0, (2,), np.float32))),
}
OFF_POLICY = dict(learning_starts=40, buffer_size=400, batch_size=8, net_arch=(8,))
AGENTS = {
    "ppo": dict(n_steps=16, batch_size=16, n_epochs=1, net_arch=(8,)),
    "a2c": dict(n_steps=5, net_arch=(8,)),
    "trpo": dict(n_steps=16, batch_size=16, net_arch=(8,)),
    "reinforce": dict(net_arch=(8,)),
    "recurrent_ppo": dict(n_steps=16, batch_size=16, n_epochs=1, lstm_hidden_size=8, net_arch=(8,)),
    "dqn": dict(OFF_POLICY, features_dim=16),
    "qr_dqn": dict(OFF_POLICY, features_dim=16),
    "ddpg": OFF_POLICY,
    "td3": OFF_POLICY,
    "sac": OFF_POLICY,
    "discrete_sac": OFF_POLICY,
    "iql": OFF_POLICY,
    "cql": dict(OFF_POLICY, cql_n_actions=2),
    "discrete_cql": dict(OFF_POLICY, features_dim=16),
}
BOX_ACTIONS = ("ddpg", "td3", "sac", "iql", "cql")
STEPS = 200


def space_env(algo, space, n_envs=2, seed=0):
    action_space = S.Box(-1.0, 1.0, (1,), np.float32) if algo in BOX_ACTIONS else S.Discrete(2)
    return make_env(lambda: SpaceEnv(space, action_space), n_envs=n_envs, seed=seed)


def parameters(agent):
    return {f"{name}.{key}": value.clone() for name, module in agent.modules.items()
            for key, value in module.state_dict().items()}


@pytest.mark.parametrize("space_name", SPACES)
@pytest.mark.parametrize("algo", AGENTS)
def test_agent_trains_on_observation_space(algo, space_name):
    env = space_env(algo, SPACES[space_name])
    agent = get_algorithm(algo)(env.info, **AGENTS[algo])
    before = parameters(agent)
    assert Core(agent, env, progress=False).learn(steps=STEPS).steps == STEPS
    after = parameters(agent)
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    assert changed, f"{algo} did not update any parameter on {space_name}"
    if "image" in space_name:  # the gradient reaches a CNN over the image
        cnns = [key for key in before if ".convs.0.weight" in key]
        assert cnns and set(cnns) & changed
        assert any(isinstance(m, NatureCNN) for module in agent.modules.values() for m in module.modules())
    action = agent.act(env.reset(seed=1)[0], explore=False)
    assert env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype))


ON_POLICY = ("ppo", "a2c", "trpo", "reinforce", "recurrent_ppo")
ACTION_SPACES = {"multi_discrete": S.MultiDiscrete([3, 2]), "multi_binary": S.MultiBinary(3),
                 "box": S.Box(-1.0, 1.0, (2,), np.float32)}


@pytest.mark.parametrize("space_name", ["dict_image_discrete", "tuple", "discrete", "uint8_vector"])
@pytest.mark.parametrize("action_name", ACTION_SPACES)
@pytest.mark.parametrize("algo", ON_POLICY)
def test_on_policy_agent_trains_on_every_observation_and_action_pair(algo, action_name, space_name):
    env = make_env(lambda: SpaceEnv(SPACES[space_name], ACTION_SPACES[action_name]), n_envs=2, seed=0)
    agent = get_algorithm(algo)(env.info, **AGENTS[algo])
    before = parameters(agent)
    assert Core(agent, env, progress=False).learn(steps=STEPS).steps == STEPS  # every action was checked in-space
    after = parameters(agent)
    assert any(not torch.equal(before[key], after[key]) for key in before)
    action = agent.act(env.reset(seed=1)[0], explore=True)
    assert all(env.single_action_space.contains(np.asarray(a, dtype=env.single_action_space.dtype)) for a in action)
