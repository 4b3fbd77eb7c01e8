"""On-policy agents on a Box of shape (2, 1) and on a scalar Box: actions of the space's shape, each in its bounds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from scipy.stats import norm

from porcini import Core, make_env
from porcini.algorithms import A2C, PPO, TRPO, RecurrentPPO, Reinforce
from porcini.core.batch import TransitionBatch
from porcini.networks.actor_critic import clipped_gaussian_log_prob

LOW, HIGH = np.array([[-1.0], [0.0]], np.float32), np.array([[3.0], [10.0]], np.float32)


class ShapedBox(gym.Env):
    """Actions in ``Box(LOW, HIGH)`` of shape (2, 1), or a scalar Box in ``[-1, 0.5]`` with ``scalar=True``."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, scalar: bool = False) -> None:
        self.action_space = (gym.spaces.Box(-1.0, 0.5, (), np.float32) if scalar else
                             gym.spaces.Box(LOW, HIGH, dtype=np.float32))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action)), action
        return np.zeros(2, np.float32), 0.0, True, False, {}


@pytest.mark.parametrize("scalar", [False, True])
@pytest.mark.parametrize("agent_cls", [PPO, A2C, TRPO, Reinforce, RecurrentPPO])
def test_actions_take_the_space_shape_and_its_bounds(agent_cls, scalar):
    env = make_env(lambda: ShapedBox(scalar), n_envs=2, seed=0)  # the run-time checks refuse another shape
    kwargs = {} if agent_cls is Reinforce else {"n_steps": 8}
    agent = agent_cls(env.info, log_std_init=1.5, seed=0, **kwargs)
    Core(agent, env, progress=False).learn(steps=32)
    space = env.single_action_space
    actions = np.concatenate([agent.act(np.zeros((2, 2), np.float32), explore=True) for _ in range(50)])
    assert actions.shape == (100, *space.shape)
    assert all(space.contains(np.asarray(a)) for a in actions)


def test_shaped_actions_are_scored_entry_by_entry_against_their_own_bounds():
    env = make_env(ShapedBox, n_envs=1, seed=0)
    agent = PPO(env.info, log_std_init=1.5, seed=0)
    actions = np.concatenate([agent.act(np.zeros((1, 2), np.float32), explore=True) for _ in range(100)])
    with torch.no_grad():
        dist = agent.model.policy(torch.zeros((100, 2)))
        log_prob = agent.model.log_prob(dist, torch.as_tensor(actions)).double().numpy()
        mean, std = dist.mean.double().numpy(), dist.std.double().numpy()
    a, low, high = actions.reshape(100, 2), LOW.reshape(-1), HIGH.reshape(-1)  # entry i of the flat Gaussian
    assert (a == low).sum() > 10 and (a == high).sum() > 0
    reference = np.where(a <= low, norm.logcdf((low - mean) / std),
                         np.where(a >= high, norm.logsf((high - mean) / std), norm.logpdf(a, mean, std))).sum(-1)
    np.testing.assert_allclose(log_prob, reference, rtol=1e-5, atol=1e-5)


def test_a_fit_on_shaped_actions_scores_the_actions_it_was_given():
    env = make_env(ShapedBox, n_envs=2, seed=0)
    agent = PPO(env.info, n_steps=4, batch_size=8, n_epochs=1, seed=0)
    rng = np.random.default_rng(0)
    action = rng.uniform(LOW, HIGH, (4, 2, 2, 1)).astype(np.float32)
    obs = rng.uniform(-1, 1, (4, 2, 2)).astype(np.float32)
    batch = TransitionBatch(obs, action, np.ones((4, 2)), obs, np.ones((4, 2), bool), np.zeros((4, 2), bool))
    with torch.no_grad():
        dist = agent.model.policy(torch.as_tensor(obs))
        flat = torch.as_tensor(action.reshape(4, 2, 2))
        low, high = torch.as_tensor(LOW.reshape(-1)), torch.as_tensor(HIGH.reshape(-1))
        expected = clipped_gaussian_log_prob(dist, flat, low, high)
        assert torch.allclose(agent.model.log_prob(dist, torch.as_tensor(action)), expected)
    assert np.isfinite(agent.fit(batch)["loss_policy"])
