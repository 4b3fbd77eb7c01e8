"""The one optimizer path of the deep agents, and the one place they call torch's private optimizer API.

- :class:`FlatParameters`: a module's parameters and gradients as views of two flat buffers, so that zeroing,
  clipping and the optimizer step are one kernel each; on-policy agents step through it and TRPO reads the flat
  gradient and writes the flat parameters directly.
- :func:`adam` / :func:`rmsprop`: ``torch.optim`` optimizers built alike everywhere (Adam fused on CPU and CUDA,
  multi-tensor elsewhere).
- :class:`FlatAdam`: Adam whose gradients live in one flat buffer and whose step calls ``torch.optim.adam.adam``
  directly, skipping ``Adam.step``'s per-call bookkeeping: for the many small gradient steps of DQN.

Keeping the private calls here means a torch upgrade that changes them breaks one tested module
(``tests/networks/test_optim.py``), not the agents. :mod:`porcini.functional.target_updates` keeps its own
``torch._foreach_*`` calls because ``functional`` imports nothing from porcini (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn
from torch.optim.adam import adam as _functional_adam

__all__ = ["FlatAdam", "FlatParameters", "adam", "rmsprop"]


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


def _fused(device: torch.device) -> bool:
    """Whether ``device`` has Adam's fused kernel (one kernel per step); elsewhere the multi-tensor one is used."""
    return device.type in ("cpu", "cuda")


def adam(params: Iterable[Tensor], lr: float, device: torch.device, eps: float = 1e-8) -> torch.optim.Adam:
    """``torch.optim.Adam`` over ``params`` (on ``device``), fused where the device has a fused kernel.

    Args:
        params: the tensors to optimize.
        lr: learning rate.
        device: the tensors' device.
        eps: Adam's ε.
    """
    fused = _fused(device)
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=fused, foreach=None if fused else True)


def rmsprop(params: Iterable[Tensor], lr: float, alpha: float = 0.99, eps: float = 1e-8) -> torch.optim.RMSprop:
    """``torch.optim.RMSprop`` over ``params`` (PyTorch's form: ε outside the square root)."""
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps)


class FlatAdam:
    """Adam whose parameters' gradients live in one flat buffer: zero, clip and step in a few whole-buffer ops.

    Same math as ``zero_grad(set_to_none=True)`` + ``nn.utils.clip_grad_norm_`` + ``torch.optim.Adam.step``
    (bit-identical parameters), with less per-step overhead, which dominates small networks on a CPU:

    - the ``.grad`` of every parameter is a view into :attr:`flat_grad`; autograd accumulates into it in place, so
      :meth:`zero_grad` is one ``zero_()`` and :meth:`clip_grad_norm` one norm and one multiply (scale by
      ``max_norm / (norm + 1e-6)`` when that is below 1, as ``clip_grad_norm_``);
    - :meth:`step` calls ``torch.optim.adam.adam``, the functional form ``Adam.step`` calls, with the state of
      :attr:`optimizer` (a regular ``torch.optim.Adam``, fused on CPU/CUDA), skipping ``Adam.step``'s per-call
      bookkeeping (hooks, profiler records, state checks). The first step after construction or
      :meth:`load_state_dict` is a regular ``Adam.step``, which creates or adopts the state.

    Never set the parameters' ``.grad`` to None (``optimizer.zero_grad()``): that detaches them from the buffer.

    Args:
        params: the parameters (one device and dtype).
        lr: learning rate.
        eps: Adam's ε.
    """

    def __init__(self, params: Sequence[nn.Parameter], lr: float, eps: float = 1e-8) -> None:
        self.params: list[torch.Tensor] = list(params)
        device = self.params[0].device
        self.optimizer = adam(self.params, lr, device, eps)
        self.flat_grad = torch.zeros(sum(p.numel() for p in self.params), device=device, dtype=self.params[0].dtype)
        offset = 0
        for p in self.params:
            p.grad = self.flat_grad[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        self._state: tuple[list[torch.Tensor], ...] | None = None

    def zero_grad(self) -> None:
        """Zero every gradient (one ``zero_()``)."""
        self.flat_grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> None:
        """Scale the gradients to a global L2 norm of at most ``max_norm`` (no host sync)."""
        scale = max_norm / (torch.linalg.vector_norm(self.flat_grad) + 1e-6)
        self.flat_grad.mul_(scale.clamp_(max=1.0))

    def step(self) -> None:
        """One Adam step with the current gradients."""
        if self._state is None:
            self.optimizer.step()
            states = [self.optimizer.state[p] for p in self.params]
            self._state = tuple([s[key] for s in states] for key in ("exp_avg", "exp_avg_sq", "step"))
            return
        group = self.optimizer.param_groups[0]
        exp_avgs, exp_avg_sqs, steps = self._state
        beta1, beta2 = group["betas"]
        grads = cast(list[torch.Tensor], [p.grad for p in self.params])  # views into flat_grad
        _functional_adam(self.params, grads, exp_avgs, exp_avg_sqs, [], steps, foreach=group["foreach"],
                         fused=group["fused"], amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"],
                         weight_decay=group["weight_decay"], eps=group["eps"], maximize=False)

    def state_dict(self) -> dict[str, Any]:
        """The Adam state (``torch.optim.Adam.state_dict``)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the next step adopts the loaded state."""
        self.optimizer.load_state_dict(state)
        self._state = None
