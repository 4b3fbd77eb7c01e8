"""Planners on a known quadratic cost, rollout costs with terminations, the known Pendulum model against the env,
and MPC's plans: reproducible, resumable, refused where no model is known."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from porcini import make_env
from porcini.algorithms.model_based.known_models import PendulumModel
from porcini.algorithms.model_based.mpc import MPC
from porcini.algorithms.model_based.planners import CEM, MPPI, RandomShooting, rollout_cost, shift_plan
from porcini.errors import NoModelError, UnsupportedSpaceError

LOW, HIGH = torch.tensor([-1.0, -1.0], dtype=torch.float64), torch.tensor([1.0, 1.0], dtype=torch.float64)
TARGET = torch.tensor([[0.3, -0.5], [0.9, 0.1], [-0.2, 2.0]], dtype=torch.float64)  # the last beyond a bound


def quadratic(sequences: torch.Tensor) -> torch.Tensor:
    return ((sequences - TARGET) ** 2).sum(dim=(1, 2))


def planner(cls, **kwargs):
    return cls(low=LOW, high=HIGH, horizon=3, population=300, iterations=8,
               generator=torch.Generator().manual_seed(0), **kwargs)


@pytest.mark.parametrize("cls, kwargs, excess", [(CEM, {"elites": 30}, 1e-3),
                                                 (MPPI, {"temperature": 0.01, "noise_std": 0.1}, 1e-2),
                                                 (RandomShooting, {}, 1.0)])  # 2,400 uniform draws in 6 dimensions
def test_planners_find_the_optimum_of_a_quadratic_cost_inside_the_bounds(cls, kwargs, excess):
    plan = planner(cls, **kwargs).plan(quadratic)
    optimum = torch.clamp(TARGET, LOW, HIGH)  # the cost is separable: the optimum is the target clipped
    assert torch.all(plan >= LOW) and torch.all(plan <= HIGH)
    assert 0 <= (quadratic(plan[None]) - quadratic(optimum[None])).item() < excess


def test_a_warm_start_is_where_cem_starts_and_a_shifted_plan_repeats_its_last_action():
    cem = planner(CEM, elites=30)
    cem.iterations = 1
    near = cem.plan(quadratic, initial=torch.clamp(TARGET, LOW, HIGH))
    far = planner(CEM, elites=30)
    far.iterations = 1
    assert quadratic(near[None]) < quadratic(far.plan(quadratic)[None])
    plan = torch.arange(6.0).reshape(3, 2)
    assert shift_plan(plan).tolist() == [[2.0, 3.0], [4.0, 5.0], [4.0, 5.0]]


class _Countdown:
    """A toy model: the state counts down by one each step, reward = the action, terminated at 0."""

    def step(self, states, actions):
        nxt = states - 1
        return nxt, actions[:, 0], nxt[:, 0] <= 0


def test_rollout_cost_sums_rewards_until_the_model_terminates():
    sequences = torch.ones((2, 5, 1), dtype=torch.float64)
    sequences[1] *= 2
    costs = rollout_cost(_Countdown(), torch.tensor([3.0], dtype=torch.float64), sequences)
    assert costs.tolist() == [-3.0, -6.0]  # three steps, then nothing after the termination


def test_the_known_pendulum_model_steps_as_the_env_does():
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    model, rng = PendulumModel(), np.random.default_rng(0)
    for _ in range(100):
        action = rng.uniform(-3, 3, (1,)).astype(np.float32)  # beyond the bounds too: both clip
        next_obs, reward, *_ = env.step(action)
        predicted, predicted_reward, terminated = model.step(torch.tensor(obs[None], dtype=torch.float64),
                                                             torch.tensor(action[None], dtype=torch.float64))
        np.testing.assert_allclose(predicted[0].numpy(), next_obs, atol=1e-5)
        assert predicted_reward.item() == pytest.approx(reward, abs=1e-5) and not terminated.item()
        obs = next_obs


@pytest.mark.parametrize("name", ["cem", "mppi", "random"])
def test_mpc_save_load_gives_identical_plans_and_seeds_decide_them(name):
    settings = {"planner": name, "horizon": 8, "population": 40, "iterations": 2, "elites": 5}
    env = make_env("Pendulum-v1", n_envs=2, seed=0)
    obs, _ = env.reset(seed=0)
    agent = MPC(env.info, seed=0, **settings)
    agent.act(obs, explore=True)
    restored = MPC(env.info, seed=5, **settings)
    restored.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(restored.act(obs, explore=True), agent.act(obs, explore=True))
    first, again, other = (MPC(env.info, seed=seed, **settings).act(obs, explore=True) for seed in (0, 0, 1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    agent.reset(np.array([True, False]))
    assert agent.warm[0] is None and agent.warm[1] is not None


def test_mpc_without_a_known_model_or_with_discrete_actions_is_refused():
    with pytest.raises(NoModelError, match=r"MountainCarContinuous-v0 has no known model.*Pendulum-v1"):
        MPC(make_env("MountainCarContinuous-v0").info)
    with pytest.raises(UnsupportedSpaceError, match="continuous actions"):
        MPC(make_env("CartPole-v1").info)
    with pytest.raises(ValueError, match="elites"):
        MPC(make_env("Pendulum-v1").info, population=10, elites=20)
