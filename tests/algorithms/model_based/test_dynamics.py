"""The learned dynamics ensemble: it recovers a linear system and its noise, picks its elites on held-out data,
round-trips through its state, and is a model planners can use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini.algorithms.model_based.dynamics import DynamicsEnsemble
from porcini.algorithms.model_based.planners import CEM, rollout_cost

A = np.array([[0.9, 0.2], [-0.1, 0.8]])
B = np.array([[0.5], [1.0]])
NOISE = 0.05


def linear_data(rng: np.random.Generator, n: int):
    obs, action = rng.normal(size=(n, 2)), rng.uniform(-1, 1, (n, 1))
    next_obs = obs @ A.T + action @ B.T + NOISE * rng.normal(size=(n, 2))
    return obs, action, next_obs, -(obs**2).sum(1)


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = DynamicsEnsemble(2, 1, n_members=4, n_elites=2, hidden=(64, 64))
    info = model.fit(*linear_data(rng, 1500), rng=rng, epochs=60)
    return model, info


def test_a_model_trained_on_a_linear_system_recovers_it_and_its_noise(fitted):
    model, info = fitted
    obs, action, _, reward = linear_data(np.random.default_rng(1), 500)
    predicted, predicted_reward, terminated = model.step(torch.tensor(obs), torch.tensor(action))
    exact = obs @ A.T + action @ B.T
    assert np.sqrt(((predicted.numpy() - exact) ** 2).mean()) < 0.25 * NOISE  # the mean, well under the noise
    assert np.sqrt(((predicted_reward.numpy() - reward) ** 2).mean()) < 0.2 and not terminated.any()
    with torch.no_grad():
        _, log_var = model(model._normalize_inputs(torch.tensor(obs).float(), torch.tensor(action).float()))
    std = (torch.exp(0.5 * log_var[model.elites]).mean(dim=(0, 1)) * model.out_std)[:2]
    np.testing.assert_allclose(std.numpy(), [NOISE, NOISE], rtol=0.3)  # it learned how noisy the system is
    errors = info["holdout_errors"]
    assert sorted(model.elites.tolist()) == sorted(np.argsort(errors)[:2].tolist())


def test_samples_spread_as_the_learned_noise_and_the_state_round_trips(fitted):
    model, _ = fitted
    obs, action = torch.zeros((4000, 2), dtype=torch.float64), torch.zeros((4000, 1), dtype=torch.float64)
    sampled, _, _ = model.step(obs, action, sample=True, generator=torch.Generator().manual_seed(0))
    assert sampled.std(dim=0).numpy() == pytest.approx([NOISE, NOISE], rel=0.3)
    copy = DynamicsEnsemble(2, 1, n_members=4, n_elites=2, hidden=(64, 64))
    copy.load_state_dict(model.state_dict())
    a = model.step(obs[:5], action[:5], generator=torch.Generator().manual_seed(3))[0]
    b = copy.step(obs[:5], action[:5], generator=torch.Generator().manual_seed(3))[0]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_planner_steers_the_learned_model(fitted):
    model, _ = fitted
    cem = CEM(low=torch.tensor([-1.0], dtype=torch.float64), high=torch.tensor([1.0], dtype=torch.float64),
              horizon=5, population=200, iterations=4, elites=20, generator=torch.Generator().manual_seed(0))
    state = torch.tensor([1.0, 1.0], dtype=torch.float64)
    plan = cem.plan(lambda seqs: rollout_cost(model, state, seqs))
    assert plan[0, 0] < -0.5  # pushing the state toward 0 (reward -|s|^2) needs a negative first action


def test_a_deterministic_ensemble_and_bad_sizes():
    rng = np.random.default_rng(2)
    model = DynamicsEnsemble(2, 1, n_members=2, n_elites=1, hidden=(32,), probabilistic=False)
    model.fit(*linear_data(rng, 500), rng=rng, epochs=20)
    with torch.no_grad():
        _, log_var = model(torch.zeros(3, 3))
    assert torch.all(log_var == 0)
    with pytest.raises(ValueError, match="n_elites = 3"):
        DynamicsEnsemble(2, 1, n_members=2, n_elites=3)
