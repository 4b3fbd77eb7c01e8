"""CEM's and MPPI's updates against slow, obviously-correct references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from porcini.functional import cem_update, mppi_update, mppi_weights


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
