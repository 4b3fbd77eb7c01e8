"""Subnormal floats flushed to zero while an agent fits: the CPU slow path that small-network RL walks into.

Adam's second-moment estimates of parameters whose gradients are (near) zero, such as the weights of dead ReLU
units, decay by ``beta2`` every step until they reach the subnormal range (below about 1.2e-38 in float32). On
x86 CPUs every arithmetic operation on a subnormal takes a microcode assist, which can make a whole small-network
gradient step several times slower (benchmarks/README.md, "Subnormal floats"). Flushing changes a value only
where it is below 1.2e-38: far below Adam's ``eps`` (1e-8), so the
update is the same to float32 precision in every case that matters, but results are not bit-identical to an
unflushed run.

The mode is a per-thread CPU flag (x86 FTZ/DAZ, via ``torch.set_flush_denormal``); :func:`flush_denormals`
sets it for the calling thread for the duration of a call and restores what was there before, so code outside
porcini's fits is not affected. Where the CPU has no such mode (``torch.set_flush_denormal`` returns False) it
does nothing. Torch intra-op worker threads (``torch.set_num_threads(k > 1)``) keep their own mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import numpy as np
import torch

P = ParamSpec("P")
R = TypeVar("R")

_SUBNORMAL = np.float32(1e-39)
_TWO = np.float32(2.0)


def denormals_flushed() -> bool:
    """Whether this thread's CPU currently flushes subnormal floats to zero."""
    # NumPy's scalar arithmetic runs on the same thread under the same CPU flags: a subnormal times two is zero
    # exactly when the mode is on, without a torch tensor round trip
    return bool(_SUBNORMAL * _TWO == 0.0)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Flush subnormal floats to zero on this thread inside the block; restore the previous mode after it.

    Example:
        >>> with flushed_denormals():
        ...     tiny = float(torch.tensor(1e-39) * 2)  # 0.0 on x86; 2e-39 where the CPU has no such mode
        >>> float(torch.tensor(1e-39) * 2) > 0  # restored after the block
        True
    """
    was_on = denormals_flushed()
    if was_on:
        yield
        return
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported:
            torch.set_flush_denormal(False)


def flush_denormals(fit: Callable[P, R]) -> Callable[P, R]:
    """Decorate an agent's ``fit`` so its gradient updates run with subnormals flushed (module docstring).

    Example:
        >>> class Agent:
        ...     @flush_denormals
        ...     def fit(self, batch):
        ...         return {}
    """

    @functools.wraps(fit)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # flushed_denormals() written out: a fit can run at every env step, where a generator context costs
        if denormals_flushed():
            return fit(*args, **kwargs)
        supported = torch.set_flush_denormal(True)
        try:
            return fit(*args, **kwargs)
        finally:
            if supported:
                torch.set_flush_denormal(False)

    return wrapper
