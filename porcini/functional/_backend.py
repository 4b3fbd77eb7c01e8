"""One code path for NumPy arrays and torch tensors: argument checks, casts and the backward scan.

The estimators in :mod:`porcini.functional` accept NumPy arrays (classical agents) or torch tensors (deep
agents) and return the same kind. torch is never imported here: a torch tensor can only exist if torch is
already in ``sys.modules``, so NumPy users do not pay for importing it.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

Array = Any
"""A NumPy array or a torch tensor (both are accepted; the result has the kind of the inputs)."""


def _torch() -> Any:
    return sys.modules.get("torch")


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


class Backend:
    """The few array operations the estimators need, for NumPy (``xp = numpy``) or torch (``xp = torch``)."""

    def __init__(self, use_torch: bool) -> None:
        self.torch = use_torch
        self.xp = _torch() if use_torch else np

    def float_dtype(self, arrays: list[Array]) -> Any:
        """Return the promoted floating dtype of ``arrays`` (float64 / torch default if none is floating)."""
        if self.torch:
            torch = self.xp
            floats = [a.dtype for a in arrays if a.dtype.is_floating_point]
            dtype = floats[0] if floats else torch.get_default_dtype()
            for other in floats[1:]:
                dtype = torch.promote_types(dtype, other)
            return dtype
        floats = [a.dtype for a in arrays if np.issubdtype(a.dtype, np.floating)]
        return np.result_type(*floats) if floats else np.dtype(np.float64)

    def cast(self, x: Array, dtype: Any) -> Array:
        """``x`` as ``dtype`` (no copy when it already is)."""
        if self.torch:
            return x if x.dtype == dtype else x.to(dtype)
        return np.asarray(x, dtype=dtype)

    def stack(self, rows: list[Array]) -> Array:
        """Stack ``rows`` along a new leading axis."""
        return self.xp.stack(rows)

    def concat(self, parts: list[Array]) -> Array:
        """Concatenate ``parts`` along the leading axis."""
        return self.xp.cat(parts) if self.torch else np.concatenate(parts)

    def minimum(self, x: Array, bound: float) -> Array:
        """Elementwise ``min(x, bound)``; ``bound`` may be ``inf``."""
        return x.clamp(max=bound) if self.torch else np.minimum(x, bound)

    def take_last(self, x: Array, index: Array) -> Array:
        """``x[..., index[...]]``: pick one entry of the last axis per leading position."""
        if self.torch:
            return self.xp.take_along_dim(x, index.long().unsqueeze(-1), dim=-1).squeeze(-1)
        return np.take_along_axis(x, np.asarray(index, dtype=np.int64)[..., None], axis=-1)[..., 0]

    def argmax_last(self, x: Array) -> Array:
        """Index of the largest entry along the last axis (the first one on ties)."""
        return x.argmax(dim=-1) if self.torch else np.argmax(x, axis=-1)

    def max_last(self, x: Array) -> Array:
        """Largest entry along the last axis."""
        return x.amax(dim=-1) if self.torch else np.max(x, axis=-1)

    def min_first(self, x: Array) -> Array:
        """Smallest entry along the first axis (over an ensemble of critics)."""
        return x.amin(dim=0) if self.torch else np.min(x, axis=0)

    def sum_last(self, x: Array) -> Array:
        """Sum along the last axis."""
        return x.sum(dim=-1) if self.torch else np.sum(x, axis=-1)

    def exp(self, x: Array) -> Array:
        """Elementwise exponential."""
        return self.xp.exp(x)


def backend_of(func: str, arrays: Mapping[str, Any]) -> Backend:
    """Return the backend of ``arrays``; raise TypeError naming the argument if NumPy and torch are mixed."""
    kinds = {name: is_torch(a) for name, a in arrays.items() if a is not None}
    if len(set(kinds.values())) > 1:
        torch_names = [n for n, t in kinds.items() if t]
        numpy_names = [n for n, t in kinds.items() if not t]
        raise TypeError(
            f"{func}: {', '.join(torch_names)} are torch tensors but {', '.join(numpy_names)} are not; "
            "pass all arrays as torch tensors or all as NumPy arrays"
        )
    return Backend(any(kinds.values()))


def as_array(be: Backend, x: Any) -> Array:
    """``x`` as an array of the backend (NumPy converts lists; torch inputs are already tensors)."""
    return x if be.torch else np.asarray(x)


def check_shape(func: str, name: str, x: Array, expected: tuple[int, ...], like: str) -> None:
    """Raise ValueError naming ``name`` unless ``x.shape == expected``."""
    shape = tuple(x.shape)
    if shape != tuple(expected):
        raise ValueError(f"{func}: {name} has shape {shape}, expected {tuple(expected)} like {like}")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_unit(func: str, name: str, value: float, *, allow_zero: bool = True) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a number in [0, 1] (or (0, 1])."""
    ok = _is_real(value) and 0.0 <= value <= 1.0
    if not ok or (not allow_zero and value == 0.0):
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{func}: {name} = {value!r} is invalid; pass a float in {interval}")


def check_positive(func: str, name: str, value: float) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a number > 0 (``math.inf`` allowed)."""
    ok = _is_real(value) and value > 0 and not math.isnan(value)
    if not ok:
        raise ValueError(
            f"{func}: {name} = {value!r} is invalid; pass a float > 0 (math.inf disables clipping)"
        )


def prepare_time_major(
    func: str, floats: Mapping[str, Any], masks: Mapping[str, Any]
) -> tuple[Backend, list[Array], list[Array]]:
    """Check and cast the ``[T, B]`` arguments of an estimator.

    Args:
        func: the public function's name, for error messages.
        floats: real-valued arguments; the first one sets the expected ``[T, B]`` shape.
        masks: boolean (or 0/1) arguments, returned as floats (1.0 where set).

    Returns:
        The backend, the float arguments in their promoted dtype, and the masks in that same dtype.
    """
    be = backend_of(func, {**floats, **masks})
    float_arrays = [as_array(be, a) for a in floats.values()]
    mask_arrays = [as_array(be, a) for a in masks.values()]
    first_name = next(iter(floats))
    shape = tuple(float_arrays[0].shape)
    if len(shape) != 2:
        raise ValueError(
            f"{func}: {first_name} must be shaped [T, B] (time, env), got shape {shape}; for a single "
            "environment add the env axis with x[:, None]"
        )
    for name, a in zip(list(floats)[1:] + list(masks), float_arrays[1:] + mask_arrays):
        check_shape(func, name, a, shape, f"{first_name} [T, B]")
    dtype = be.float_dtype(float_arrays)
    return be, [be.cast(a, dtype) for a in float_arrays], [be.cast(m, dtype) for m in mask_arrays]


def cut_mask(be: Backend, *ends: Array) -> Array:
    """Where a trace stops: any of ``ends`` (0/1 floats ``[T, B]``) or the last row of the batch.

    At a cut the estimator bootstraps from ``next_value`` (times ``1 - terminated``) instead of continuing
    with the row below, which belongs to the next episode or lies outside the batch.
    """
    cut = ends[0]
    for other in ends[1:]:
        cut = be.xp.maximum(cut, other)
    cut = cut.clone() if be.torch else cut.copy()
    if cut.shape[0] > 0:
        cut[-1] = 1.0
    return cut


def _numpy_can_scan(*tensors: Any) -> bool:
    """Whether the torch tensors can take the NumPy path: on CPU, float32/64, no gradient to track."""
    torch = _torch()
    return all(
        t.is_cpu and t.dtype in (torch.float32, torch.float64) and not t.requires_grad
        for t in tensors
    )


def backward_scan(be: Backend, delta: Array, coef: Array) -> Array:
    """Solve ``y[t] = delta[t] + coef[t] * y[t + 1]`` backwards over time, with ``y[T] = 0``.

    Every estimator in this package is this one linear recursion with its own ``delta`` and ``coef``; the loop
    runs over ``T`` in Python with vector operations over ``B`` (and stays differentiable under torch).
    """
    n_steps = delta.shape[0]
    if n_steps == 0:
        return delta * 0
    if be.torch and _numpy_can_scan(delta, coef):
        # Same loop on zero-copy NumPy views: a NumPy row operation costs about a third of a torch one on CPU.
        return be.xp.from_numpy(backward_scan(Backend(False), delta.numpy(), coef.numpy()))
    deltas, coefs = list(delta), list(coef)  # row views (torch: unbind), cheaper than indexing every step
    out = [deltas[-1]] * n_steps
    acc = deltas[-1]
    for t in range(n_steps - 2, -1, -1):
        acc = deltas[t] + coefs[t] * acc
        out[t] = acc
    return be.stack(out)
