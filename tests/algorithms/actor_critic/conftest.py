"""Fixtures of the off-policy actor-critic tests."""

from collections.abc import Callable
from typing import Any

import pytest
import torch


def _member_q(critic: Any, k: int, x: torch.Tensor) -> torch.Tensor:
    """Critic member ``k`` computed layer by layer from its own weights: the slow, obvious reference.

    Returns ``[N, out_dim]``: one column for a ``Q(s, a)`` critic, one per action for discrete SAC's ``Q(s, ·)``.
    """
    p = dict(critic.named_parameters())
    for layer in range(critic.n_layers):
        x = x @ p[f"weight_{layer}"][k] + p[f"bias_{layer}"][k, 0]
        if layer < critic.n_layers - 1:
            x = torch.relu(x)
    return x


@pytest.fixture
def member_q() -> Callable[[Any, int, torch.Tensor], torch.Tensor]:
    """The reference forward of one critic member (:func:`_member_q`)."""
    return _member_q
