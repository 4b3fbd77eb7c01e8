"""The one optimizer path (porcini.networks.optim): its optimizers step like torch's, and no other module of
porcini calls torch's private or functional APIs except the target updates (``functional`` imports nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

import porcini
from porcini.networks import MLP
from porcini.networks.optim import FlatAdam, adam, rmsprop

PRIVATE_TORCH = re.compile(r"torch\._foreach_\w+\(|torch\.optim\.adam\.adam\(|from torch\.optim\.adam import")


def test_only_the_optim_module_and_the_target_updates_call_private_torch_apis():
    root = Path(porcini.__file__).parent
    callers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if PRIVATE_TORCH.search(p.read_text()))
    assert callers == ["functional/target_updates.py", "networks/optim.py"]


def test_adam_is_fused_on_cpu_and_steps_like_torch_adam():
    torch.manual_seed(0)
    a = torch.randn(4, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    ours = adam([a], 1e-2, torch.device("cpu"), eps=1e-5)
    ref = torch.optim.Adam([b], lr=1e-2, eps=1e-5, foreach=False)
    assert ours.param_groups[0]["fused"] is True and ours.param_groups[0]["eps"] == 1e-5
    for _ in range(3):
        for p, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            (p ** 3).sum().backward()
            opt.step()
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert rmsprop([a], 7e-4, 0.99, 1e-5).param_groups[0]["alpha"] == 0.99


def test_flat_adam_steps_exactly_like_torch_adam_after_its_first_step():
    torch.manual_seed(0)
    ours, ref = MLP(3, 2, (8,), "relu"), MLP(3, 2, (8,), "relu")
    ref.load_state_dict(ours.state_dict())
    flat = FlatAdam(list(ours.parameters()), lr=1e-2)
    fused = adam(ref.parameters(), 1e-2, torch.device("cpu"))  # the same fused kernel, through Adam.step
    x = torch.randn(4, 6, 3)
    for i in range(4):
        flat.zero_grad()
        (ours(x[i]) ** 2).sum().backward()
        flat.step()
        fused.zero_grad()
        (ref(x[i]) ** 2).sum().backward()
        fused.step()
        for p, q in zip(ours.parameters(), ref.parameters()):
            assert torch.equal(p, q)
