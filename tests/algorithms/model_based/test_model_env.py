"""ModelEnv: a known model's rollouts equal the real env's, truncation at the horizon with the true final
observation, a known termination rule, reproducible starts, and agents that learn inside it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import Core, make_env
from porcini.algorithms.model_based.known_models import PendulumModel
from porcini.algorithms.model_based.model_env import ModelEnv
from porcini.algorithms.policy_gradient.ppo import PPO


def pendulum_model_env(n_envs: int = 3, horizon: int = 5, seed: int = 0, **kwargs) -> ModelEnv:
    real = gym.make("Pendulum-v1")
    starts = np.stack([real.reset(seed=s)[0] for s in range(10)])
    return ModelEnv(PendulumModel(), real.observation_space, real.action_space, starts, n_envs=n_envs,
                    horizon=horizon, seed=seed, **kwargs)


def test_a_rollout_in_the_known_model_is_the_real_envs():
    env = pendulum_model_env(n_envs=1, horizon=50)
    obs, _ = env.reset(seed=3)
    real = gym.make("Pendulum-v1")
    real.reset(seed=0)
    real.unwrapped.state = np.array([np.arctan2(obs[0, 1], obs[0, 0]), obs[0, 2]])
    rng = np.random.default_rng(0)
    for _ in range(40):
        action = rng.uniform(-2, 2, (1, 1)).astype(np.float32)
        obs, reward, terminated, truncated, _ = env.step(action)
        real_obs, real_reward, *_ = real.step(action[0])
        np.testing.assert_allclose(obs[0], real_obs, atol=1e-4)
        assert reward[0] == pytest.approx(real_reward, abs=1e-4) and not terminated[0] and not truncated[0]


def test_rollouts_are_truncated_at_the_horizon_with_their_true_final_observation():
    env = pendulum_model_env(n_envs=2, horizon=3)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        before = obs
        obs, _, terminated, truncated, info = env.step(np.zeros((2, 1), dtype=np.float32))
    assert truncated.all() and not terminated.any() and info["_final_obs"].all()
    expected, _, _ = PendulumModel().step(torch.as_tensor(before, dtype=torch.float64), torch.zeros(2, 1,
                                                                                                  dtype=torch.float64))
    np.testing.assert_allclose(info["final_obs"], expected.numpy(), atol=1e-6)
    assert any(np.allclose(o, s) for o in obs for s in env.start_states)  # restarted from start states


def test_a_termination_rule_ends_rollouts_and_starts_are_reproducible():
    env = pendulum_model_env(n_envs=4, horizon=100, termination_fn=lambda o, a, n: n[:, 0] < 0.0)  # fell below
    env.reset(seed=0)
    ended = []
    for _ in range(30):
        obs, _, terminated, truncated, info = env.step(np.full((4, 1), 2.0, dtype=np.float32))
        if terminated.any():
            assert (info["final_obs"][terminated, 0] < 0).all() and not truncated[terminated].any()
            ended.append(int(terminated.sum()))
    assert ended
    first = [pendulum_model_env(seed=5).reset(seed=1)[0] for _ in range(2)]
    np.testing.assert_array_equal(*first)


def test_bad_start_states_are_named():
    real = gym.make("Pendulum-v1")
    with pytest.raises(ValueError, match=r"start_states must be \[M, 3\]"):
        ModelEnv(PendulumModel(), real.observation_space, real.action_space, np.zeros((4, 2)), n_envs=1, horizon=5)


def test_an_agent_trains_inside_the_model_and_acts_in_the_real_env():
    env = pendulum_model_env(n_envs=4, horizon=20)
    agent = PPO(env.info, n_steps=32, batch_size=64, n_epochs=1, net_arch=(16,), seed=0)
    summary = Core(agent, env, progress=False).learn(steps=512)
    assert summary.steps == 512 and all(length == 20 for length in summary.episodes.lengths)
    obs, _ = make_env("Pendulum-v1", seed=0).reset(seed=0)
    assert agent.act(obs, explore=False).shape == (1, 1)
