"""Lagrangian PPO: cost GAE against a slow loop, the episode cost it budgets, the advantage it mixes, state."""

import dataclasses

import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.registry import get_algorithm
from porcini.algorithms.safe.ppo_lagrangian import PPOLagrangian, cost_gae_rollout, mixed_advantage
from porcini.core.batch import TransitionBatch
from porcini.errors import ConfigError

SMALL = {"n_steps": 16, "batch_size": 32, "n_epochs": 2, "net_arch": (16,)}


def slow_gae(cost, value, next_value, terminated, truncated, gamma, lam):
    """GAE by a backward loop per env, one episode at a time: bootstrap unless terminated, cut at every end."""
    n_rows, n_envs = cost.shape
    advantage = np.zeros_like(cost)
    for env in range(n_envs):
        running = 0.0
        for t in reversed(range(n_rows)):
            if terminated[t, env] or truncated[t, env] or t == n_rows - 1:
                running = 0.0
            bootstrap = 0.0 if terminated[t, env] else gamma * next_value[t, env]
            delta = cost[t, env] + bootstrap - value[t, env]
            running = delta + gamma * lam * running
            advantage[t, env] = running
    return advantage


def random_batch(rng, n_rows, n_envs, obs_dim):
    terminated = rng.random((n_rows, n_envs)) < 0.1
    truncated = (rng.random((n_rows, n_envs)) < 0.1) & ~terminated
    return TransitionBatch(
        rng.normal(size=(n_rows, n_envs, obs_dim)).astype(np.float32), rng.integers(0, 2, (n_rows, n_envs)),
        rng.normal(size=(n_rows, n_envs)).astype(np.float32), rng.normal(size=(n_rows, n_envs, obs_dim)).astype(
            np.float32), terminated, truncated, {"cost": (rng.random((n_rows, n_envs)) < 0.3).astype(np.float64)})


@pytest.mark.parametrize("seed", range(4))
def test_cost_gae_matches_a_slow_loop_with_terminations_and_truncations(seed):
    rng = np.random.default_rng(seed)
    env = make_env("porcini/CartPoleBand-v0", n_envs=3, seed=seed)
    agent = PPOLagrangian(env.info, seed=seed, **SMALL)
    batch = random_batch(rng, 20, 3, 4)
    assert batch.terminated.any() and batch.truncated.any()
    b = agent._to_torch(batch)
    cost = torch.as_tensor(batch.extras["cost"], dtype=torch.float32)
    rollout = cost_gae_rollout(agent.model, agent.cost_critic, b, cost, 0.9, 0.8)
    with torch.no_grad():
        value, next_value = agent.cost_critic(b.obs).numpy(), agent.cost_critic(b.next_obs).numpy()
    expected = slow_gae(batch.extras["cost"], value, next_value, batch.terminated, batch.truncated, 0.9, 0.8)
    np.testing.assert_allclose(rollout.cost_advantage.numpy(), expected.reshape(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rollout.cost_returns.numpy(), (expected + value).reshape(-1), rtol=1e-5, atol=1e-5)
    # the reward part is PPO's, untouched by the costs
    assert not torch.allclose(rollout.advantage, rollout.cost_advantage)


def test_mixed_advantage_weighs_the_cost_by_lambda():
    reward_adv, cost_adv = torch.tensor([1.0, -2.0, 4.0]), torch.tensor([3.0, 0.0, -1.0])
    torch.testing.assert_close(mixed_advantage(reward_adv, cost_adv, 0.0, normalize=False), reward_adv)
    torch.testing.assert_close(mixed_advantage(reward_adv, cost_adv, 3.0, normalize=False),
                               torch.tensor([-2.0, -0.5, 1.75]))
    normalized = mixed_advantage(reward_adv, cost_adv, 1.0, normalize=True)
    reward_std = (reward_adv - reward_adv.mean()) / reward_adv.std()
    cost_std = (cost_adv - cost_adv.mean()) / cost_adv.std()
    torch.testing.assert_close(normalized, (reward_std - cost_std) / 2.0, rtol=1e-4, atol=1e-4)
    # standardized, the mix keeps a unit spread however large λ grows
    big = mixed_advantage(reward_adv, 1e-3 * cost_adv, 1e3, normalize=True)
    assert big.std().item() > 0.9


def test_episode_cost_counts_episodes_across_rollouts_and_falls_back_to_the_step_mean():
    env = make_env("porcini/CartPoleBand-v0", n_envs=2, seed=0)
    agent = PPOLagrangian(env.info, **SMALL)
    cost = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    no_end = np.zeros((3, 2), bool)
    # no episode ended: mean step cost 4/6 times the 500-step time limit
    assert agent.episode_cost(cost, no_end) == pytest.approx(4 / 6 * 500)
    # env 0 ends at row 1 (2 + 2 = 4, its episode began in the previous rollout), env 1 at row 2 (2 + 2 = 4)
    ends = np.array([[False, False], [True, False], [False, True]])
    assert agent.episode_cost(cost, ends) == pytest.approx(4.0)
    np.testing.assert_allclose(agent.episode_cost_so_far, [0.0, 0.0])


def test_fit_updates_lambda_with_the_rollouts_cost_and_reports_it():
    env = make_env("porcini/CartPoleBand-v0", n_envs=2, seed=0)
    agent = PPOLagrangian(env.info, cost_limit=0.0, lagrangian_lr=0.5, **SMALL)
    batch = random_batch(np.random.default_rng(0), 16, 2, 4)
    expected_cost = PPOLagrangian(env.info, **SMALL).episode_cost(batch.extras["cost"],
                                                                  batch.terminated | batch.truncated)
    metrics = agent.fit(batch)
    assert metrics["episode_cost"] == pytest.approx(expected_cost)
    assert metrics["lagrange_multiplier"] == pytest.approx(0.5 * expected_cost) == agent.multiplier.value
    assert np.isfinite(metrics["loss_cost_value"]) and "loss_policy" in metrics


def test_the_cost_critic_learns_the_cost_to_go():
    env = make_env("porcini/CartPoleBand-v0", n_envs=2, seed=0)
    agent = PPOLagrangian(env.info, learning_rate=3e-3, **SMALL)
    rng = np.random.default_rng(1)
    batch = random_batch(rng, 16, 2, 4)
    batch = dataclasses.replace(batch, extras={"cost": np.ones((16, 2))})
    obs = torch.as_tensor(batch.obs.reshape(-1, 4))
    before = agent.cost_critic(obs).mean().item()
    for _ in range(30):
        agent.fit(batch)
    assert agent.cost_critic(obs).mean().item() > before + 0.5  # every step costs 1: V_c rises toward it


def test_registered_with_a_validated_config():
    assert get_algorithm("ppo_lagrangian") is PPOLagrangian
    env = make_env("porcini/CartPoleBand-v0", seed=0)
    with pytest.raises(ConfigError, match="cost_limit = -1.0 is invalid"):
        PPOLagrangian(env.info, cost_limit=-1.0)
    with pytest.raises(ConfigError, match="lagrangian = 'adam' is invalid"):
        PPOLagrangian(env.info, lagrangian="adam")
    agent = PPOLagrangian(env.info, cost_key="hazard")
    assert agent.info_keys == ("hazard",) and agent.cost_key == "hazard"


def test_a_core_given_no_info_keys_takes_the_agents_own_and_the_cost_reaches_the_fit():
    env = make_env("porcini/CartPoleBand-v0", n_envs=2, seed=0, env_kwargs={"band": 0.02})
    agent = PPOLagrangian(env.info, **SMALL)
    core = Core(agent, env, progress=False)
    assert core.info_keys == agent.info_keys == ("cost",)
    core.learn(steps=64)
    assert agent.fits >= 1 and core.evaluate(1, env=env.spawn(1, 5)).info_sums["cost"][0] >= 0


@pytest.mark.parametrize("lagrangian", ["gradient", "pid"])
def test_state_round_trip_resumes_exactly(lagrangian):
    config = {**SMALL, "lagrangian": lagrangian, "cost_limit": 0.5, "lagrangian_lr": 0.2}
    env = make_env("porcini/CartPoleBand-v0", n_envs=2, seed=3, env_kwargs={"band": 0.02})
    agent = PPOLagrangian(env.info, seed=3, **config)
    core = Core(agent, env, info_keys=agent.info_keys, progress=False)
    core.learn(steps=160)  # λ moved, and an episode is in progress at the end
    assert agent.multiplier.value > 0 and agent.episode_cost_so_far.any()
    state = agent.state_dict()
    restored = PPOLagrangian(env.info, seed=5, **config)  # another seed: everything must come from the state
    restored.load_state_dict(state)
    assert restored.multiplier.state_dict() == agent.multiplier.state_dict()
    rng = np.random.default_rng(0)
    for _ in range(2):  # the same rollouts: the same multiplier, metrics and parameters
        batch = random_batch(rng, 16, 2, 4)
        assert restored.fit(batch) == agent.fit(batch)
    assert restored.multiplier.state_dict() == agent.multiplier.state_dict()
    np.testing.assert_array_equal(restored.episode_cost_so_far, agent.episode_cost_so_far)
    for key, value in agent.cost_critic.state_dict().items():
        torch.testing.assert_close(restored.cost_critic.state_dict()[key], value, rtol=0, atol=0)
    obs = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(restored.act(obs, explore=True), agent.act(obs, explore=True))
