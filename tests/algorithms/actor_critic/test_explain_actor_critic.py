"""explain() of DDPG, TD3, SAC and DiscreteSAC, checked against a member-by-member forward of the critics."""

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.actor_critic.ddpg import DDPG
from porcini.algorithms.actor_critic.discrete_sac import DiscreteSAC
from porcini.algorithms.actor_critic.sac import SAC
from porcini.algorithms.actor_critic.td3 import TD3


def trained(cls, env_id):
    env = make_env(env_id, n_envs=1, seed=0)
    agent = cls(env.info, net_arch=(16, 16), batch_size=8, learning_starts=16)
    Core(agent, env, progress=False).learn(steps=48)
    assert agent.n_updates > 0
    obs = np.stack([env.single_observation_space.sample() for _ in range(5)]).astype(np.float32)
    return agent, obs


def min_q(critic, member_q, x):
    return torch.stack([member_q(critic, k, x) for k in range(critic.n_members)]).amin(dim=0)


@pytest.mark.parametrize("cls", [DDPG, TD3])
def test_deterministic_actor_value_is_the_critics_minimum_at_its_action(cls, member_q):
    agent, obs = trained(cls, "Pendulum-v1")
    out = agent.explain(obs)
    assert set(out) == {"value"} and out["value"].shape == (5,)
    x = torch.as_tensor(obs)
    with torch.no_grad():
        q = min_q(agent.critic, member_q, torch.cat([x, agent.actor(x)], dim=-1)).squeeze(-1)
    np.testing.assert_allclose(out["value"], q.numpy(), rtol=1e-5, atol=1e-5)


def test_sac_explains_its_value_and_the_gaussian_before_the_tanh(member_q):
    agent, obs = trained(SAC, "Pendulum-v1")
    out = agent.explain(obs)
    assert set(out) == {"value", "pre_tanh_mean", "pre_tanh_std"}
    x = torch.as_tensor(obs)
    with torch.no_grad():
        mean, log_std = agent.actor_head.linear(agent.actor_trunk(x)).chunk(2, dim=-1)
        q = min_q(agent.critic, member_q, torch.cat([x, torch.tanh(mean)], dim=-1)).squeeze(-1)
    np.testing.assert_allclose(out["pre_tanh_mean"], mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["pre_tanh_std"], log_std.clamp(-20, 2).exp().numpy(), rtol=1e-5)
    np.testing.assert_allclose(out["value"], q.numpy(), rtol=1e-5, atol=1e-5)
    assert out["pre_tanh_mean"].shape == out["pre_tanh_std"].shape == (5, 1)
    low, high = agent.low, agent.high  # the deterministic action is the tanh of the mean, scaled to the bounds
    np.testing.assert_allclose(agent.act(obs, explore=False),
                               low + (np.tanh(out["pre_tanh_mean"]) + 1) * (high - low) / 2, rtol=1e-5, atol=1e-5)


def test_discrete_sac_explains_probabilities_q_values_and_the_value_of_its_action(member_q):
    agent, obs = trained(DiscreteSAC, "CartPole-v1")
    out = agent.explain(obs)
    assert set(out) == {"value", "q_values", "action_probs"}
    x = torch.as_tensor(obs)
    with torch.no_grad():
        probs = torch.softmax(agent.actor_head.linear(agent.actor_trunk(x)), dim=-1)
        q = min_q(agent.critic, member_q, x)
    np.testing.assert_allclose(out["action_probs"], probs.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["q_values"], q.numpy(), rtol=1e-5, atol=1e-5)
    action = agent.act(obs, explore=False)
    np.testing.assert_allclose(out["value"], q.numpy()[np.arange(5), action], rtol=1e-5, atol=1e-5)
    assert out["action_probs"].shape == out["q_values"].shape == (5, 2)
