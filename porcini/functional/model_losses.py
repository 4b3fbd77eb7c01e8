"""Losses of learned dynamics models: the Gaussian negative log-likelihood with soft log-variance bounds (PETS).

A probabilistic model predicts a mean ``μ`` and a log-variance ``log σ²`` per output. Its raw log-variance is
squashed softly into learned bounds ``[min, max]`` (Chua et al. 2018, arXiv:1805.12114), so the variance cannot
collapse on the training data or blow up away from it, and the bounds themselves are kept tight by a small penalty.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_nll(mean: Tensor, log_var: Tensor, target: Tensor) -> Tensor:
    r"""Mean over all elements of ``½ (log σ² + (y - μ)² / σ²)`` (the NLL without its constant ``½ log 2π``)."""
    return 0.5 * (log_var + (target - mean) ** 2 * torch.exp(-log_var)).mean()


def bounded_log_var(raw: Tensor, min_log_var: Tensor, max_log_var: Tensor) -> Tensor:
    """``raw`` softly clamped: ``max - softplus(max - raw)``, then ``min + softplus(· - min)``."""
    upper = max_log_var - F.softplus(max_log_var - raw)
    return min_log_var + F.softplus(upper - min_log_var)


def log_var_bounds_penalty(min_log_var: Tensor, max_log_var: Tensor, weight: float = 0.01) -> Tensor:
    """``weight · (Σ max - Σ min)``: keeps the learned bounds no wider than the data needs."""
    return weight * (max_log_var.sum() - min_log_var.sum())
