"""Trajectory sampling and the ensemble's routed steps: TS-∞ against a particle-by-particle reference, TS-1's
re-dealing of elites, known rewards and terminations, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from porcini.algorithms.model_based.dynamics import DynamicsEnsemble
from porcini.algorithms.model_based.trajectory_sampling import particle_cost


def trained_looking_ensemble(seed: int = 0, probabilistic: bool = False) -> DynamicsEnsemble:
    """An ensemble with random weights, non-trivial normalization and elites out of order."""
    torch.manual_seed(seed)
    model = DynamicsEnsemble(3, 2, n_members=4, n_elites=2, hidden=(16,), probabilistic=probabilistic)
    model.in_mean, model.in_std = torch.randn(5), torch.rand(5) + 0.5
    model.out_mean, model.out_std = torch.randn(4) * 0.1, torch.rand(4) * 0.2 + 0.05
    model.elites = torch.tensor([3, 1])
    return model


@torch.no_grad()
def member_step(model: DynamicsEnsemble, member: int, obs: torch.Tensor, action: torch.Tensor):
    """One member's mean prediction, through the whole-ensemble forward (the slow, obvious path)."""
    x = (torch.cat([obs, action], -1) - model.in_mean) / model.in_std
    mean, _ = model(x)
    out = mean[member] * model.out_std + model.out_mean
    return obs + out[:, :3], out[:, 3]


def reference_cost(model, state, sequences, particles, reward_fn=None, termination_fn=None):
    costs = []
    for sequence in sequences:
        returns = []
        for p in range(particles):
            member = int(model.elites[p % model.n_elites])
            obs, total, alive = state[None].float(), 0.0, True
            for action in sequence:
                nxt, reward = member_step(model, member, obs, action[None].float())
                if reward_fn is not None:
                    reward = reward_fn(obs, action[None], nxt)
                total += float(reward[0]) if alive else 0.0
                if termination_fn is not None and bool(termination_fn(obs, action[None], nxt)[0]):
                    alive = False
                obs = nxt
            returns.append(total)
        costs.append(-sum(returns) / particles)
    return torch.tensor(costs)


def test_ts_infinity_gives_each_particle_one_elite_for_the_whole_horizon():
    model = trained_looking_ensemble()
    state, sequences = torch.randn(3), torch.randn(6, 4, 2)
    cost = particle_cost(model, state, sequences, particles=4, propagation="tsinf", generator=torch.Generator(),
                         sample=False)
    torch.testing.assert_close(cost, reference_cost(model, state, sequences, 4), rtol=1e-5, atol=1e-5)


def test_known_reward_and_termination_replace_the_models():
    model = trained_looking_ensemble(1)
    state, sequences = torch.randn(3), torch.randn(5, 6, 2)

    def reward_fn(obs, action, next_obs):
        return -(next_obs**2).sum(-1) - 0.1 * (action**2).sum(-1)

    def termination_fn(obs, action, next_obs):
        return next_obs[:, 0] > obs[:, 0] + 0.05

    cost = particle_cost(model, state, sequences, particles=2, propagation="tsinf", generator=torch.Generator(),
                         sample=False, reward_fn=reward_fn, termination_fn=termination_fn)
    expected = reference_cost(model, state, sequences, 2, reward_fn, termination_fn)
    torch.testing.assert_close(cost, expected, rtol=1e-5, atol=1e-5)


class OffsetElites:
    """A stand-in ensemble: elite ``e`` moves every state by ``10^e`` and pays the new state's first coordinate."""

    n_elites = 2

    def step_elites(self, obs, action, sample=False, generator=None):
        shift = torch.tensor([1.0, 10.0])[:, None, None]
        nxt = obs + shift
        return nxt, nxt[..., 0], torch.zeros(nxt.shape[:2], dtype=torch.bool)

    def step(self, obs, action, sample=False, generator=None):
        rows = torch.randperm(len(obs), generator=generator)
        half = len(obs) // 2
        shift = torch.ones(len(obs))
        shift[rows[half:]] = 10.0
        nxt = obs + shift[:, None]
        return nxt, nxt[:, 0], torch.zeros(len(obs), dtype=torch.bool)


def test_ts_one_deals_the_elites_anew_at_every_step():
    sequences = torch.zeros(50, 3, 1)
    state = torch.zeros(1)
    # TS-∞: half the particles always +1 (returns 1+2+3), half always +10 (10+20+30): every candidate the same
    tsinf = particle_cost(OffsetElites(), state, sequences, particles=2, propagation="tsinf",  # type: ignore[arg-type]
                          generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(tsinf, torch.full((50,), -(6.0 + 60.0) / 2))
    # TS-1: a particle's path mixes the two shifts, so candidates' costs differ but keep the same mean
    ts1 = particle_cost(OffsetElites(), state, sequences, particles=2, propagation="ts1",  # type: ignore[arg-type]
                        generator=torch.Generator().manual_seed(0))
    assert ts1.unique().numel() > 1
    assert abs(float(ts1.mean()) - float(tsinf[0])) < 3.0


def test_the_ensembles_step_gives_every_row_one_elites_prediction_in_equal_shares():
    model = trained_looking_ensemble(2)
    for n in (1, 7, 40):
        obs, action = torch.randn(n, 3), torch.randn(n, 2)
        nxt, reward, terminated = model.step(obs, action, generator=torch.Generator().manual_seed(n))
        candidates = [member_step(model, int(m), obs, action) for m in model.elites]
        chosen = []
        for row in range(n):
            matches = [i for i, (o, r) in enumerate(candidates)
                       if torch.allclose(o[row], nxt[row], atol=1e-5)
                       and torch.allclose(r[row], reward[row], atol=1e-5)]
            assert len(matches) == 1
            chosen.append(matches[0])
        assert not terminated.any()
        if n % 2 == 0:
            assert chosen.count(0) == chosen.count(1)


def test_sampled_steps_spread_around_the_means_and_repeat_with_the_seed():
    model = trained_looking_ensemble(3, probabilistic=True)
    obs, action = torch.randn(1, 3).expand(4000, 3), torch.randn(1, 2).expand(4000, 2)
    means, _, _ = model.step_elites(obs.reshape(2, 2000, 3), action.reshape(2, 2000, 2), sample=False)
    drawn, _, _ = model.step_elites(obs.reshape(2, 2000, 3), action.reshape(2, 2000, 2), sample=True,
                                 generator=torch.Generator().manual_seed(0))
    again, _, _ = model.step_elites(obs.reshape(2, 2000, 3), action.reshape(2, 2000, 2), sample=True,
                                 generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(drawn, again)
    assert (drawn.std(dim=1) > 0).all()
    torch.testing.assert_close(drawn.mean(dim=1), means.mean(dim=1), atol=0.1, rtol=0)


@pytest.mark.parametrize("kwargs, match", [({"particles": 3}, "multiple of the model's 2 elites"),
                                           ({"particles": 2, "propagation": "ts2"}, "ts2")])
def test_refusals_name_the_problem(kwargs, match):
    args = {"propagation": "tsinf", **kwargs}
    with pytest.raises(ValueError, match=match):
        particle_cost(trained_looking_ensemble(), torch.zeros(3), torch.zeros(2, 2, 2), generator=torch.Generator(),
                      **args)


def test_a_model_that_learns_terminations_predicts_them_and_particles_stop_earning():
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (3000, 1)).astype(np.float32)
    action = rng.uniform(-1, 1, (3000, 1)).astype(np.float32)
    next_obs = obs + 0.2 * action
    terminated = next_obs[:, 0] > 0.6
    torch.manual_seed(0)
    model = DynamicsEnsemble(1, 1, n_members=3, n_elites=3, hidden=(32, 32), learn_termination=True)
    with pytest.raises(ValueError, match="pass terminated"):
        model.fit(obs, action, next_obs, np.ones(3000, np.float32), rng=rng, epochs=1)
    model.fit(obs, action, next_obs, np.ones(3000, np.float32), rng=rng, terminated=terminated, epochs=40)
    probe = torch.linspace(-0.9, 0.9, 200)[:, None]
    _, _, predicted = model.step(probe, torch.full((200, 1), 0.5))
    truth = (probe[:, 0] + 0.1) > 0.6
    assert (predicted == truth).float().mean() > 0.95
    # reward 1 per step: a particle started past the edge and pushed right ends after its first step
    far, near = torch.tensor([0.8]), torch.tensor([-0.8])
    push = torch.ones(1, 5, 1)
    cost_far = particle_cost(model, far, push, particles=3, propagation="tsinf", generator=torch.Generator(),
                             sample=False)
    cost_near = particle_cost(model, near, push, particles=3, propagation="tsinf", generator=torch.Generator(),
                              sample=False)
    assert cost_far.item() == pytest.approx(-1.0, abs=0.05) and cost_near.item() < -3.5
