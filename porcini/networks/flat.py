"""FlatParameters: a module's parameters and gradients as views of two flat buffers, for cheap optimizer steps.

On-policy agents step every parameter at once through it (one optimizer over one tensor); TRPO reads the flat
gradient and writes the flat parameters directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn


class FlatParameters:
    """Parameters turned into views of one flat buffer, and their gradients into views of one flat gradient.

    Why: a small network has a dozen parameter tensors, and on a CPU every per-tensor kernel launch costs more than
    its arithmetic. With one buffer, zeroing the gradients, clipping their global norm and the optimizer step are
    one or two kernels each instead of one per tensor (benchmarks/README.md, "Optimizer steps"), and TRPO reads
    the flat gradient and writes the flat parameters directly. The same trick as the flat-buffer optimizers of
    apex, DeepSpeed and FSDP.

    Autograd accumulates into an existing ``.grad`` in place, so ``backward`` fills :attr:`grad`. Anything that
    replaces ``p.grad`` (``zero_grad(set_to_none=True)``) or ``p.data`` (``module.to``) would cut the link:
    :meth:`zero_grad` restores the gradient views, and the module must be on its device before this is built.

    Args:
        params: the parameters (same dtype and device), e.g. ``module.parameters()``.

    Attributes:
        data: the flat parameter vector, a leaf tensor to hand to an optimizer (its ``.grad`` is :attr:`grad`).
        grad: the flat gradient vector.
    """

    def __init__(self, params: Iterator[nn.Parameter] | Sequence[nn.Parameter]) -> None:
        self.params = list(params)
        ref = self.params[0]
        total = sum(p.numel() for p in self.params)
        self.data = torch.zeros(total, dtype=ref.dtype, device=ref.device, requires_grad=True)
        self.grad = torch.zeros(total, dtype=ref.dtype, device=ref.device)
        self._views: list[tuple[nn.Parameter, torch.Tensor]] = []
        offset = 0
        flat = self.data.detach()
        for p in self.params:
            n = p.numel()
            flat[offset:offset + n].copy_(p.detach().reshape(-1))
            p.data = flat[offset:offset + n].view_as(p)
            self._views.append((p, self.grad[offset:offset + n].view_as(p)))
            offset += n
        self.data.grad = self.grad
        self.zero_grad()

    def zero_grad(self) -> None:
        """Zero the flat gradient (and re-attach any parameter whose ``.grad`` was replaced)."""
        self.grad.zero_()
        for p, view in self._views:
            if p.grad is not view:
                p.grad = view

    def clip_grad_norm(self, max_norm: float | None) -> None:
        """Scale the gradient to a global L2 norm of at most ``max_norm`` (``clip_grad_norm_``'s rule, no sync)."""
        if max_norm is not None:
            norm = torch.linalg.vector_norm(self.grad)
            self.grad.mul_((max_norm / (norm + 1e-6)).clamp_(max=1.0))
