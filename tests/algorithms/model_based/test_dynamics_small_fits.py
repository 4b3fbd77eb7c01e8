"""A dynamics fit on fewer transitions than ``1 / holdout`` still learns: it holds out at least one of them."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from porcini.algorithms.model_based.dynamics import DynamicsEnsemble


def prediction_error(model: DynamicsEnsemble, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray) -> float:
    """Mean squared error of the elites' mean next observations, in the data's units."""
    with torch.no_grad():
        predicted, _, _ = model.step_elites(torch.as_tensor(obs).expand(model.n_elites, *obs.shape),
                                            torch.as_tensor(action).expand(model.n_elites, *action.shape))
    return float(((predicted - torch.as_tensor(next_obs)) ** 2).mean())


@pytest.mark.parametrize("n", [1, 2, 8])
def test_a_fit_on_a_handful_of_transitions_moves_the_model_toward_them(n):
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n, 2)).astype(np.float32)
    action = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    next_obs = (obs + 0.5 * action).astype(np.float32)
    torch.manual_seed(0)
    model = DynamicsEnsemble(2, 1, n_members=2, n_elites=2, hidden=(32,), probabilistic=False)
    untrained = copy.deepcopy(model)
    model.fit(obs, action, next_obs, obs[:, 0].copy(), rng=rng, epochs=40, batch_size=4, patience=40)
    untrained.load_state_dict({**untrained.state_dict(), **{k: v for k, v in model.state_dict().items()
                                                               if k.endswith(("_mean", "_std"))}})
    assert prediction_error(model, obs, action, next_obs) < 0.5 * prediction_error(untrained, obs, action, next_obs)


def test_an_input_that_never_varied_in_the_data_is_left_unscaled():
    # the second observation is 0 in every transition (a sensor that had not moved yet): the model cannot learn how
    # it matters, but a small change of it must not make a huge input (PETS and mbrl-lib leave it unscaled)
    rng = np.random.default_rng(0)
    obs = np.stack([rng.normal(size=300), np.zeros(300)], axis=1).astype(np.float32)
    action = rng.uniform(-1, 1, (300, 1)).astype(np.float32)
    next_obs = obs.copy()
    next_obs[:, 0] = 0.9 * obs[:, 0] + 0.1 * action[:, 0]
    torch.manual_seed(0)
    model = DynamicsEnsemble(2, 1, n_members=2, n_elites=2, hidden=(32,))
    model.fit(obs, action, next_obs, -obs[:, 0] ** 2, rng=rng, epochs=20)
    assert model.in_std[1].item() == 1.0
    assert model.in_std[0].item() == pytest.approx(float(torch.tensor(obs[:, 0]).std()), rel=0.2)  # train split only
    moved = torch.tensor([[0.5, 0.0], [0.5, 0.01]])
    with torch.no_grad():
        predicted, reward, _ = model.step_elites(moved.expand(2, 2, 2), torch.zeros(2, 2, 1))
    assert (predicted[:, 1] - predicted[:, 0]).abs().max() < 0.1  # 0.01 apart in, about 0.01 apart out
    assert (reward[:, 1] - reward[:, 0]).abs().max() < 0.1
