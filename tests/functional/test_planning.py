"""CEM's and MPPI's updates against slow, obviously-correct references; iCEM's colored noise and its spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from porcini.functional import cem_update, colored_noise, mppi_update, mppi_weights


def test_cem_update_refits_to_the_cheapest_sequences_with_momentum():
    rng = np.random.default_rng(0)
    actions, costs = rng.normal(size=(20, 4, 2)), rng.normal(size=20)
    mean, std = rng.normal(size=(4, 2)), rng.random((4, 2))
    new_mean, new_std = cem_update(torch.tensor(actions), torch.tensor(costs), 5, torch.tensor(mean),
                                   torch.tensor(std), momentum=0.3)
    elites = [actions[i] for i in sorted(range(20), key=lambda i: costs[i])[:5]]
    for h in range(4):
        for a in range(2):
            values = [e[h, a] for e in elites]
            m = sum(values) / 5
            s = math.sqrt(sum((v - m) ** 2 for v in values) / 5)
            assert new_mean[h, a].item() == pytest.approx(0.3 * mean[h, a] + 0.7 * m, rel=1e-12)
            assert new_std[h, a].item() == pytest.approx(0.3 * std[h, a] + 0.7 * s, rel=1e-12)
    with pytest.raises(ValueError, match="n_elites = 0"):
        cem_update(torch.tensor(actions), torch.tensor(costs), 0, torch.tensor(mean), torch.tensor(std))


def test_mppi_weights_and_update_match_the_exponential_average():
    rng = np.random.default_rng(1)
    actions, costs, lam = rng.normal(size=(9, 3, 1)), rng.normal(0, 5, size=9), 0.7
    raw = [math.exp(-c / lam) for c in costs]
    weights = [w / sum(raw) for w in raw]
    np.testing.assert_allclose(mppi_weights(torch.tensor(costs), lam).numpy(), weights, rtol=1e-12)
    expected = sum(w * a for w, a in zip(weights, actions))
    np.testing.assert_allclose(mppi_update(torch.tensor(actions), torch.tensor(costs), lam).numpy(), expected,
                               rtol=1e-12)
    huge = torch.tensor([1000.0, 2000.0])  # shifted by the minimum: no overflow
    assert mppi_weights(huge, 1.0).tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="temperature"):
        mppi_weights(huge, 0.0)


def spectrum_slope(beta: float, horizon: int = 64) -> float:
    """The slope of log power against log frequency (the constant component left out), over 4,000 sequences."""
    noise = colored_noise(beta, (4000, horizon, 1), torch.Generator().manual_seed(0)).numpy()[..., 0]
    power = (np.abs(np.fft.rfft(noise, axis=1)) ** 2).mean(axis=0)
    frequencies = np.arange(1, horizon // 2 + 1) / horizon
    return float(np.polyfit(np.log(frequencies), np.log(power[1:]), 1)[0])


@pytest.mark.parametrize("beta, slope", [(0.0, 0.0), (1.0, -1.0), (2.0, -2.0)])
def test_colored_noise_has_a_power_spectrum_of_slope_minus_beta(beta, slope):
    assert spectrum_slope(beta) == pytest.approx(slope, abs=0.1)


def test_white_colored_noise_is_flat_and_brown_noise_is_smooth():
    white = colored_noise(0.0, (4000, 32, 1), torch.Generator().manual_seed(1)).numpy()[..., 0]
    power = (np.abs(np.fft.rfft(white, axis=1)) ** 2).mean(axis=0)
    np.testing.assert_allclose(power / power.mean(), 1.0, atol=0.15)  # E|X_k|² = H at every frequency
    brown = colored_noise(2.0, (4000, 32, 1), torch.Generator().manual_seed(1)).numpy()[..., 0]
    assert np.abs(np.diff(brown, axis=1)).mean() < 0.5 * np.abs(np.diff(white, axis=1)).mean()


@pytest.mark.parametrize("horizon", [1, 2, 5, 30])
@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0, 3.5])
def test_colored_noise_has_unit_variance_at_every_step_of_every_sequence(beta, horizon):
    noise = colored_noise(beta, (20000, horizon, 2), torch.Generator().manual_seed(2))
    assert noise.shape == (20000, horizon, 2) and noise.dtype == torch.float64
    np.testing.assert_allclose(noise.std(dim=0).numpy(), 1.0, atol=0.03)  # per step and action dimension
    np.testing.assert_allclose(noise.mean(dim=0).numpy(), 0.0, atol=0.05)
    mean_square = (noise ** 2).mean(dim=1)  # per sequence: its mean square over the horizon, whose mean is 1
    assert mean_square.mean().item() == pytest.approx(1.0, abs=0.03)


def test_colored_noise_is_reproducible_with_the_same_generator_and_checks_its_arguments():
    first = colored_noise(2.0, (3, 10, 2), torch.Generator().manual_seed(3), dtype=torch.float32)
    again = colored_noise(2.0, (3, 10, 2), torch.Generator().manual_seed(3), dtype=torch.float32)
    other = colored_noise(2.0, (3, 10, 2), torch.Generator().manual_seed(4), dtype=torch.float32)
    assert first.dtype == torch.float32 and torch.equal(first, again) and not torch.equal(first, other)
    with pytest.raises(ValueError, match="shape"):
        colored_noise(2.0, (10,), torch.Generator())
    with pytest.raises(ValueError, match="beta = -1"):
        colored_noise(-1.0, (2, 10, 1), torch.Generator())
