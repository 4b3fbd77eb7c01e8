"""Target-network updates against the formula applied tensor by tensor."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from porcini.functional import hard_update, polyak_update


def net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    module.train()
    module(torch.randn(8, 3))  # move the BatchNorm running statistics away from their defaults
    return module


def test_polyak_update_matches_formula_and_copies_buffers():
    source, target = net(0), net(1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    ids = [id(p) for p in target.parameters()]
    polyak_update(target, source, 0.25)
    for name, param in target.named_parameters():
        expected = 0.75 * before[name] + 0.25 * source.state_dict()[name]
        torch.testing.assert_close(param.detach(), expected)
        assert param.requires_grad and param.grad_fn is None  # still a leaf, no history recorded
    for name, buffer in target.named_buffers():
        torch.testing.assert_close(buffer, source.state_dict()[name])  # copied, not averaged
    assert ids == [id(p) for p in target.parameters()]  # updated in place


def test_hard_update_and_edge_taus():
    source, target = net(0), net(1)
    hard_update(target, source)
    for (name, a), b in zip(target.state_dict().items(), source.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    target = net(1)
    weight = target[0].weight.detach().clone()
    polyak_update(target, source, 0.0)
    torch.testing.assert_close(target[0].weight.detach(), weight)


def test_mismatch_and_bad_tau_raise():
    source = net(0)
    other = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(5, 3\) in target but \(4, 3\)"):
        polyak_update(other, source, 0.1)
    with pytest.raises(ValueError, match="parameter"):
        hard_update(nn.Linear(3, 4), nn.Linear(3, 4, bias=False))
    with pytest.raises(ValueError, match="tau = 1.5"):
        polyak_update(copy.deepcopy(source), source, 1.5)
