"""explain() of the on-policy agents: documented keys and shapes, equal to the networks' own forward."""

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.policy_gradient.a2c import A2C
from porcini.algorithms.policy_gradient.ppo import PPO
from porcini.algorithms.policy_gradient.recurrent_ppo import RecurrentPPO
from porcini.algorithms.policy_gradient.reinforce import Reinforce
from porcini.algorithms.policy_gradient.trpo import TRPO
from porcini.core.agent import EXPLAIN_KEYS, Explainable

AGENTS = {
    "ppo": lambda info: PPO(info, n_steps=8, batch_size=8, n_epochs=1, net_arch=(16,)),
    "a2c": lambda info: A2C(info, net_arch=(16,)),
    "trpo": lambda info: TRPO(info, n_steps=8, net_arch=(16,)),
    "reinforce_baseline": lambda info: Reinforce(info, baseline=True, net_arch=(16,)),
    "reinforce": lambda info: Reinforce(info, baseline=False, net_arch=(16,)),
}


def trained(name, env_id, n_envs=2):
    """An agent after a few fits (so the networks are not at their initialization) and a batch of observations."""
    env = make_env(env_id, n_envs=n_envs, seed=0)
    agent = AGENTS[name](env.info)
    Core(agent, env, progress=False).learn(steps=64)
    obs = np.stack([env.single_observation_space.sample() for _ in range(5)]).astype(np.float32)
    return agent, obs


@pytest.mark.parametrize("name", list(AGENTS))
def test_categorical_policy_explains_value_and_probabilities(name):
    agent, obs = trained(name, "CartPole-v1")
    out = agent.explain(obs)
    assert isinstance(agent, Explainable) and set(out) <= set(EXPLAIN_KEYS)
    x, m = torch.as_tensor(obs), agent.model
    with torch.no_grad():
        logits = m.pi_head.linear(m.pi_trunk(x))
        np.testing.assert_allclose(out["action_probs"], torch.softmax(logits, -1).numpy(), rtol=1e-5, atol=1e-7)
        if name == "reinforce":
            assert "value" not in out  # no baseline: no critic to ask
        else:
            value = m.v_head.linear(m.vf_trunk(x)).squeeze(-1)
            np.testing.assert_allclose(out["value"], value.numpy(), rtol=1e-5, atol=1e-6)
            assert out["value"].shape == (5,)
    assert out["action_probs"].shape == (5, 2)
    np.testing.assert_allclose(out["action_probs"].sum(-1), 1.0, rtol=1e-6)
    assert "action_mean" not in out and "q_values" not in out


@pytest.mark.parametrize("name", ["ppo", "a2c", "trpo", "reinforce"])
def test_gaussian_policy_explains_mean_and_std(name):
    agent, obs = trained(name, "Pendulum-v1")
    out = agent.explain(obs)
    m = agent.model
    with torch.no_grad():
        mean = m.pi_head.linear(m.pi_trunk(torch.as_tensor(obs)))
        std = torch.exp(m.pi_head.log_std).expand_as(mean)
    np.testing.assert_allclose(out["action_mean"], mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["action_std"], std.numpy(), rtol=1e-6)
    assert out["action_mean"].shape == out["action_std"].shape == (5, 1)
    assert "action_probs" not in out


def test_explain_draws_nothing_from_the_agents_random_stream():
    env = make_env("CartPole-v1", n_envs=2, seed=0)
    plain, explained = (PPO(env.info, n_steps=8, net_arch=(16,)) for _ in range(2))
    obs, _ = env.reset(seed=1)
    actions = []
    for agent in (plain, explained):
        run = []
        for _ in range(20):
            if agent is explained:
                agent.explain(obs)
            run.append(agent.act(obs, explore=True))
        actions.append(np.stack(run))
    np.testing.assert_array_equal(actions[0], actions[1])


def test_recurrent_ppo_explains_from_the_acting_state_without_advancing_it():
    env = make_env("CartPole-v1", n_envs=1, seed=0)
    agent = RecurrentPPO(env.info, n_steps=8, batch_size=8, n_epochs=1, lstm_hidden_size=8, net_arch=(8,))
    reference = RecurrentPPO(env.info, n_steps=8, batch_size=8, n_epochs=1, lstm_hidden_size=8, net_arch=(8,))
    obs, _ = env.reset(seed=0)
    seen, explained = [], []
    for _ in range(6):
        explained.append(agent.explain(obs))
        action = agent.act(obs, explore=True)
        assert np.array_equal(action, reference.act(obs, explore=True))  # explain left state and stream alone
        seen.append(obs)
        obs, *_ = env.step(action)
    # independent: both LSTMs run over the whole sequence from a zero state
    m = reference.model
    x = torch.as_tensor(np.stack(seen))  # [T, 1, obs_dim]
    starts = torch.zeros(len(seen), 1, dtype=torch.bool)
    starts[0] = True
    with torch.no_grad():
        pi_out, _ = m.pi_lstm(x, m.pi_lstm.initial_state(1, torch.device("cpu")), starts)
        vf_out, _ = m.vf_lstm(x, m.vf_lstm.initial_state(1, torch.device("cpu")), starts)
        probs = torch.softmax(m.heads.pi_head.linear(m.heads.pi_trunk(pi_out)), -1)
        value = m.heads.v_head.linear(m.heads.vf_trunk(vf_out)).squeeze(-1)
    for t, out in enumerate(explained):
        assert set(out) == {"value", "action_probs"}
        np.testing.assert_allclose(out["action_probs"], probs[t].numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(out["value"], value[t].numpy(), rtol=1e-4, atol=1e-6)
