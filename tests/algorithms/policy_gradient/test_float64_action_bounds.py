"""On-policy agents on a float64 Box whose bounds float32 cannot hold: clipped actions stay inside the env's box."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy.stats import norm

from porcini import Core, make_env
from porcini.algorithms import A2C, PPO, TRPO, RecurrentPPO, Reinforce

LOW, HIGH = np.array([-0.3, 0.1]), np.array([0.7, 0.3])  # -0.3 and 0.1 round outward to float32, 0.7 and 0.3 inward


class Float64Box(gym.Env):
    """Float64 actions in ``[LOW, HIGH]``; every step checks the action it gets lies inside, in float64."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Box(LOW, HIGH, dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        assert np.all(LOW <= action) and np.all(action <= HIGH), action.tolist()
        return np.zeros(2, np.float32), 0.0, True, False, {}


@pytest.mark.parametrize("agent_cls", [PPO, A2C, TRPO, Reinforce, RecurrentPPO])
def test_clipped_actions_stay_inside_float64_bounds(agent_cls):
    env = make_env(Float64Box, n_envs=2, seed=0, check=False)  # the env's own float64 check is the reference
    kwargs = {} if agent_cls is Reinforce else {"n_steps": 16}
    agent = agent_cls(env.info, log_std_init=1.0, seed=0, **kwargs)  # std e: most samples land on a bound
    Core(agent, env, progress=False).learn(steps=64)
    actions = np.concatenate([agent.act(np.zeros((2, 2), np.float32), explore=True) for _ in range(50)])
    assert actions.dtype == np.float64
    assert np.all(LOW <= actions) and np.all(actions <= HIGH)
    assert np.sum(np.isclose(actions, LOW, atol=1e-6) | np.isclose(actions, HIGH, atol=1e-6)) > 10  # clipped ones


def test_actions_on_a_bound_are_scored_by_the_tail_mass():
    env = make_env(Float64Box, n_envs=1, seed=0, check=False)
    agent = PPO(env.info, log_std_init=1.0, seed=0)
    obs = torch.zeros((200, 2))
    actions = np.concatenate([agent.act(np.zeros((1, 2), np.float32), explore=True) for _ in range(200)])
    with torch.no_grad():
        dist = agent.model.policy(obs)
        log_prob = agent.model.log_prob(dist, torch.as_tensor(actions)).double().numpy()
        mean, std = dist.mean.double().numpy(), dist.std.double().numpy()
    # the clipped Gaussian in float64; an action within float32 rounding of a bound sits on it
    on_low, on_high = actions <= LOW + 1e-7, actions >= HIGH - 1e-7
    assert on_low.sum() > 10 and on_high.sum() > 10
    reference = np.where(on_low, norm.logcdf((LOW - mean) / std),
                         np.where(on_high, norm.logsf((HIGH - mean) / std),
                                  norm.logpdf(actions, mean, std))).sum(axis=-1)
    np.testing.assert_allclose(log_prob, reference, rtol=1e-5, atol=1e-5)
