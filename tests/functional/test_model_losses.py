"""The Gaussian NLL and the soft log-variance bounds of learned dynamics models, against references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from porcini.functional import bounded_log_var, gaussian_nll, log_var_bounds_penalty


def test_gaussian_nll_matches_the_elementwise_reference():
    rng = np.random.default_rng(0)
    mean, log_var, target = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    terms = [0.5 * (lv + (y - m) ** 2 / math.exp(lv)) for m, lv, y in zip(mean.ravel(), log_var.ravel(),
                                                                           target.ravel())]
    out = gaussian_nll(torch.tensor(mean), torch.tensor(log_var), torch.tensor(target))
    assert out.item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)
    # its minimum over the variance is at the squared error: log σ² = log (y - μ)²
    lv = torch.linspace(-6, 2, 801, dtype=torch.float64)
    values = [gaussian_nll(torch.tensor(0.0), v, torch.tensor(0.5)).item() for v in lv]
    assert lv[int(np.argmin(values))].item() == pytest.approx(math.log(0.25), abs=0.01)


def test_bounded_log_var_stays_inside_the_bounds_and_is_near_identity_between_them():
    low, high = torch.tensor([-10.0]), torch.tensor([0.5])
    raw = torch.linspace(-50, 50, 1001).reshape(-1, 1)
    out = bounded_log_var(raw, low, high)
    # the outer softplus lifts the top by softplus(min - max) = 3e-5 here: inside the bounds up to that
    assert torch.all(out >= low) and torch.all(out <= high + 1e-4)
    assert bounded_log_var(torch.tensor([[-4.0]]), low, high).item() == pytest.approx(-4.0, abs=0.02)
    expected = [-10 + math.log1p(math.exp((0.5 - math.log1p(math.exp(0.5 - r))) + 10)) for r in (-3.0, 1.0)]
    out = bounded_log_var(torch.tensor([[-3.0], [1.0]], dtype=torch.float64), low.double(), high.double())
    np.testing.assert_allclose(out.flatten().numpy(), expected, rtol=1e-12)
    assert log_var_bounds_penalty(low, high).item() == pytest.approx(0.01 * 10.5)
