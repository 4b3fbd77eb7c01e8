"""Known models and rewards against the envs they copy: the swing-up model steps as the env, batched or not, walls
included; known_reward gives the env's rewards for Pendulum-v1 and the swing-up, and refuses other envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.known_models import (
    CartPoleSwingUpModel,
    PendulumModel,
    known_model,
    known_reward,
)
from porcini.algorithms.model_based.mpc import MPC
from porcini.errors import NoModelError

SWING_UP = "porcini/CartPoleSwingUp-v0"


def as_rows(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.tensor(np.asarray(a)[None], dtype=torch.float64) for a in arrays]


def random_transitions(env_id: str, episodes: int, low: float, high: float) -> list[tuple]:
    """``(obs, action, reward, next_obs, terminated, truncated)`` of uniform actions in ``[low, high]``."""
    env, rng, transitions = gym.make(env_id), np.random.default_rng(0), []
    for episode in range(episodes):
        obs, _ = env.reset(seed=episode)
        truncated = False
        while not truncated:
            action = rng.uniform(low, high, (1,)).astype(np.float32)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            transitions.append((obs, action, reward, next_obs, terminated, truncated))
            obs = next_obs
    return transitions


def test_the_known_swing_up_model_steps_as_the_env_does_walls_included():
    transitions = random_transitions(SWING_UP, episodes=4, low=-1.5, high=1.5)  # beyond the bounds too: both clip
    model = CartPoleSwingUpModel()
    for obs, action, reward, next_obs, terminated, _ in transitions:
        predicted, predicted_reward, predicted_terminated = model.step(*as_rows(obs, action))
        np.testing.assert_allclose(predicted[0].numpy(), next_obs, atol=1e-5)
        assert predicted_reward.item() == pytest.approx(reward, abs=1e-5)
        assert not terminated and not predicted_terminated.item()
    assert len(transitions) == 800
    assert sum(abs(t[3][0]) == np.float32(2.4) for t in transitions) > 5  # the wall stop was exercised


def test_the_swing_up_model_is_the_same_batched_and_row_by_row():
    transitions = random_transitions(SWING_UP, episodes=1, low=-1.0, high=1.0)
    obs = torch.tensor(np.stack([t[0] for t in transitions]), dtype=torch.float64)
    actions = torch.tensor(np.stack([t[1] for t in transitions]), dtype=torch.float64)
    batched, rewards, _ = CartPoleSwingUpModel().step(obs, actions)
    for row in (0, 57, 199):
        single, reward, _ = CartPoleSwingUpModel().step(obs[row:row + 1], actions[row:row + 1])
        torch.testing.assert_close(batched[row:row + 1], single)
        torch.testing.assert_close(rewards[row:row + 1], reward)


@pytest.mark.parametrize("env_id, low, high", [("Pendulum-v1", -3.0, 3.0), (SWING_UP, -1.5, 1.5)])
def test_known_reward_gives_the_envs_rewards(env_id, low, high):
    reward_fn = known_reward(env_id)
    for obs, action, reward, next_obs, *_ in random_transitions(env_id, episodes=2, low=low, high=high):
        assert reward_fn(*as_rows(obs, action, next_obs)).item() == pytest.approx(reward, abs=1e-5)


def test_known_reward_is_the_models_reward_and_reads_the_right_state():
    obs = torch.tensor(np.random.default_rng(0).uniform(-1, 1, (6, 3)))
    actions = torch.linspace(-2, 2, 6, dtype=torch.float64)[:, None]
    _, reward, _ = PendulumModel().step(obs, actions)
    torch.testing.assert_close(known_reward("Pendulum-v1")(obs, actions, torch.zeros_like(obs)), reward)
    down, up = torch.tensor([[0.0, 0.0, -1.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]])
    swing_up = known_reward(SWING_UP)
    assert swing_up(down, torch.zeros(1, 1), up).item() == 1.0  # the state reached counts
    assert swing_up(up, torch.zeros(1, 1), down).item() == 0.0
    assert swing_up(up, torch.ones(1, 1), up).item() == pytest.approx(0.8)


def test_other_envs_have_no_known_model_or_reward():
    assert isinstance(known_model(SWING_UP), CartPoleSwingUpModel)
    with pytest.raises(NoModelError, match=r"CartPole-v1 has no known reward.*CartPoleSwingUp-v0"):
        known_reward("CartPole-v1")
    with pytest.raises(NoModelError, match=r"MountainCarContinuous-v0 has no known model.*Pendulum-v1"):
        known_model("MountainCarContinuous-v0")


def test_mpc_plans_the_swing_up_with_its_known_model():
    env = make_env(SWING_UP, seed=0)
    agent = MPC(env.info, horizon=5, population=20, iterations=2, elites=4)
    obs, _ = env.reset(seed=0)
    action = agent.act(obs, explore=False)
    assert isinstance(agent.model, CartPoleSwingUpModel)
    assert action.shape == (1, 1) and action.dtype == np.float32 and np.all(np.abs(action) <= 1.0)
