"""BC: copies a simple deterministic policy (Box by MSE or Gaussian NLL, Discrete by cross-entropy); checkpoints."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.offline.bc import BC
from porcini.data import collect_dataset


def pendulum_controller(obs):
    """A smooth deterministic policy inside the bounds, swinging the pendulum through its whole range."""
    return (1.8 * np.tanh(2.0 * obs[:, 1:2] + 0.5 * obs[:, 2:3])).astype(np.float32)


@pytest.fixture(scope="module")
def pendulum_data():
    env = make_env("Pendulum-v1", seed=0)
    return env, collect_dataset(env, pendulum_controller, steps=2000, seed=0)


@pytest.mark.parametrize("loss", ["mse", "gaussian_nll"])
def test_bc_copies_a_deterministic_continuous_policy(pendulum_data, loss):
    env, data = pendulum_data
    agent = BC(env.info, net_arch=(64, 64), batch_size=64, loss=loss, seed=0)
    agent.add_dataset(data)
    test_obs = collect_dataset(make_env("Pendulum-v1", seed=5), pendulum_controller, steps=200, seed=5).batch.obs[:, 0]
    error_before = np.abs(agent.act(test_obs, explore=False) - pendulum_controller(test_obs)).mean()
    agent.update(1500)
    error = np.abs(agent.act(test_obs, explore=False) - pendulum_controller(test_obs)).mean()
    assert error < 0.1 and error < 0.1 * error_before  # torque units, range [-2, 2]


def test_bc_copies_a_discrete_policy_by_cross_entropy():
    env = make_env("CartPole-v1", seed=0)
    policy = lambda obs: (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)  # noqa: E731
    data = collect_dataset(env, policy, steps=1500, seed=0)
    agent = BC(env.info, net_arch=(64,), batch_size=64, learning_rate=3e-3)
    agent.add_dataset(data)
    agent.update(3000)
    test_obs = collect_dataset(make_env("CartPole-v1", seed=7), policy, steps=300, seed=7).batch.obs[:, 0]
    assert (agent.act(test_obs, explore=False) == policy(test_obs)).mean() > 0.95


def test_save_load_gives_identical_actions_and_same_seed_same_parameters(pendulum_data):
    env, data = pendulum_data
    a, b = BC(env.info, net_arch=(16,), seed=2), BC(env.info, net_arch=(16,), seed=2)
    for agent in (a, b):
        agent.add_dataset(data)
        agent.update(20)
    assert all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), b.policy.parameters()))
    restored = BC(env.info, net_arch=(16,), seed=8)
    restored.load_state_dict(a.state_dict())
    obs = np.asarray(data.batch.obs[:30, 0])
    np.testing.assert_array_equal(restored.act(obs, explore=False), a.act(obs, explore=False))
    a.update(5)
    restored.add_dataset(data)
    restored.update(5)  # the sampling generator came with the checkpoint: the same minibatches follow
    assert all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), restored.policy.parameters()))


def test_bc_without_a_dataset_says_so(pendulum_data):
    env, _ = pendulum_data
    with pytest.raises(ValueError, match="no dataset; call add_dataset"):
        BC(env.info).update(1)


@pytest.mark.parametrize("name", ["bc", "dagger"])
def test_bc_and_dagger_refuse_dict_observations_at_construction(name):
    import gymnasium as gym

    from porcini.algorithms.registry import get_algorithm
    from porcini.envs.info import EnvInfo
    from porcini.errors import UnsupportedSpaceError

    obs = gym.spaces.Dict({"a": gym.spaces.Box(-1.0, 1.0, (2,)), "b": gym.spaces.Discrete(3)})
    info = EnvInfo("toy", obs, gym.spaces.Discrete(2), horizon=10)
    with pytest.raises(UnsupportedSpaceError, match="Dict observations: flatten them with the FlattenObservation"):
        get_algorithm(name)(info)
