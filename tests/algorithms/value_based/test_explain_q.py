"""explain() of DQN and QR-DQN: the online network's action values, never action probabilities."""

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.value_based.dqn import DQN
from porcini.algorithms.value_based.qr_dqn import QRDQN


@pytest.mark.parametrize("cls", [DQN, QRDQN])
def test_q_values_are_the_online_networks_and_value_their_max(cls):
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    agent = cls(env.info, learning_starts=16, train_freq=4, batch_size=8, net_arch=(16,))
    Core(agent, env, progress=False).learn(steps=64)
    assert agent.n_updates > 0
    obs = np.stack([env.single_observation_space.sample() for _ in range(5)]).astype(np.float32)
    out = agent.explain(obs)
    assert set(out) == {"q_values", "value"}  # a softmax of Q-values is not DQN's policy
    with torch.no_grad():
        q = agent.q_net(torch.as_tensor(obs))
        q = q if cls is DQN else q.mean(dim=-1)  # QR-DQN: the mean of each action's quantiles
    np.testing.assert_allclose(out["q_values"], q.numpy(), rtol=1e-5, atol=1e-6)
    assert out["q_values"].shape == (5, 2) and out["value"].shape == (5,)
    np.testing.assert_allclose(out["value"], q.max(dim=-1).values.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["q_values"].argmax(-1), agent.act(obs, explore=False))
