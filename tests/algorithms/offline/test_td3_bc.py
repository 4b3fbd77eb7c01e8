"""TD3+BC: the actor loss against a hand computation, dataset statistics, data as replay, checkpoints, seeding."""

import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.actor_critic.common import as_sample
from porcini.algorithms.offline.td3_bc import TD3BC
from porcini.data import collect_dataset
from porcini.experiment.checkpoint import load_checkpoint, save_checkpoint

SMALL = {"net_arch": (16, 16), "batch_size": 32}


@pytest.fixture(scope="module")
def pendulum():
    env = make_env("Pendulum-v1", seed=0)
    data = collect_dataset(env, lambda obs: np.clip(2 * np.sign(obs[:, 2:3]), -2, 2).astype(np.float32), steps=400,
                           seed=0)
    return env, data


def test_dataset_sets_the_observation_statistics_and_is_the_replay(pendulum):
    env, data = pendulum
    agent = TD3BC(env.info, **SMALL)
    agent.add_dataset(data)
    obs = np.asarray(data.batch.obs, dtype=np.float64).reshape(-1, 3)
    np.testing.assert_allclose(agent.obs_mean.numpy(), obs.mean(0), rtol=1e-6)
    np.testing.assert_allclose(agent.obs_std.numpy(), obs.std(0) + 1e-3, rtol=1e-6)
    np.testing.assert_array_equal(agent.dataset.batch.action, np.asarray(data.batch.action) / 2.0)  # normalized
    metrics = agent.update(3)
    assert agent.n_updates == 3 and len(agent.buffer) == 0 and set(metrics) >= {"loss_bc", "lambda"}


def member_q(critic, k, x):
    """Critic member ``k`` computed layer by layer from its own weights: the slow, obvious reference."""
    p = dict(critic.named_parameters())
    for layer in range(critic.n_layers):
        x = x @ p[f"weight_{layer}"][k] + p[f"bias_{layer}"][k, 0]
        if layer < critic.n_layers - 1:
            x = torch.relu(x)
    return x


def test_actor_loss_is_minus_lambda_q_plus_squared_error_to_the_data(pendulum):
    env, data = pendulum
    agent = TD3BC(env.info, alpha=1.7, **SMALL)
    agent.add_dataset(data)
    drawn = agent.dataset.sample(32, np.random.default_rng(0))
    raw = as_sample(drawn, agent.device, 0.99, env.info.observation_space)
    s = raw._replace(obs=agent.normalize(raw.obs), next_obs=agent.normalize(raw.next_obs))
    terms = agent.actor_loss(s)
    with torch.no_grad():
        x = (raw.obs - agent.obs_mean) / agent.obs_std
        pi = agent.actor(x)
        q = member_q(agent.critic, 0, torch.cat([x, pi], dim=1))[:, 0]
        lam = 1.7 / q.abs().mean()
        expected = -lam * q.mean() + ((pi - s.action) ** 2).mean()
    torch.testing.assert_close(terms["loss_actor"].detach(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms["lambda"], lam, rtol=1e-5, atol=1e-6)


def test_actor_update_moves_the_policy_towards_the_data_when_alpha_is_tiny(pendulum):
    env, data = pendulum
    agent = TD3BC(env.info, alpha=1e-6, policy_delay=1, learning_rate=3e-3, **SMALL)
    agent.add_dataset(data)
    first = agent.update(1)["loss_bc"]
    agent.update(300)
    assert agent.update(1)["loss_bc"] < 0.25 * first


def test_save_load_gives_identical_actions_and_same_seed_same_parameters(pendulum, tmp_path):
    env, data = pendulum
    a, b = TD3BC(env.info, seed=3, **SMALL), TD3BC(env.info, seed=3, **SMALL)
    for agent in (a, b):
        agent.add_dataset(data)
        agent.update(40)
    assert all(torch.equal(p, q) for p, q in zip(a.actor.parameters(), b.actor.parameters()))
    save_checkpoint(tmp_path / "a.pt", a.state_dict(), {"algo": "td3_bc"})
    restored = TD3BC(env.info, seed=9, **SMALL)  # no dataset: the statistics come from the checkpoint
    restored.load_state_dict(load_checkpoint(tmp_path / "a.pt", {"algo": "td3_bc"}))
    obs = np.asarray(data.batch.obs[:50, 0])
    np.testing.assert_array_equal(restored.act(obs, explore=False), a.act(obs, explore=False))
    torch.testing.assert_close(restored.obs_mean, a.obs_mean)
