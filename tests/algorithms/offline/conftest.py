"""Fixtures of the offline agents' tests."""

from collections.abc import Callable
from typing import Any

import pytest
import torch


def _member_q(network: Any, k: int, x: torch.Tensor) -> torch.Tensor:
    """Member ``k`` of a critic ensemble (or IQL's one-member value network), layer by layer: the reference.

    Returns ``[N, 1]``.
    """
    p = dict(network.named_parameters())
    for layer in range(network.n_layers):
        x = x @ p[f"weight_{layer}"][k] + p[f"bias_{layer}"][k, 0]
        if layer < network.n_layers - 1:
            x = torch.relu(x)
    return x


@pytest.fixture
def member_q() -> Callable[[Any, int, torch.Tensor], torch.Tensor]:
    """The reference forward of one ensemble member (:func:`_member_q`)."""
    return _member_q
