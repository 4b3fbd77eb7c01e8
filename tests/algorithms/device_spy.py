"""A second device simulated on the CPU, to catch the bugs a GPU would raise, on a machine without one.

:class:`DeviceSpy` is a ``TorchFunctionMode`` that follows every tensor's *simulated* device as an agent built with
``device=SPY_DEVICE`` (``"cpu:0"``, which torch treats as the CPU but which is not equal to ``torch.device("cpu")``)
uses it. A tensor is on the simulated device when it was created with ``device=SPY_DEVICE`` (or the ``.device`` of
such a tensor, which the spy reports as ``cpu:0``), moved there with ``.to``, or computed from such a tensor; any
other tensor (NumPy's, ``torch.zeros(n)`` without ``device=``, ``.cpu()``) is on the host. The spy records, with the
porcini line that did it, what CUDA would refuse:

- an op mixing host and device tensors (a 0-dim host tensor is a scalar: allowed; indexing a device tensor with host
  indices and ``copy_`` across devices are allowed, as on CUDA, the first counted as a transfer of the indices);
- ``.numpy()`` or ``np.asarray`` of a device tensor (``.cpu()`` first);
- a random op whose ``generator`` is on the other device than the tensor it makes or reads;

and every host → device transfer (``.to``, ``as_tensor``/``tensor`` with ``device=``), so a test can check that a fit
moves its batch once however many minibatches it takes. Transfers copy, as they do between real devices, so a host
tensor never becomes a device tensor in place.
"""

from __future__ import annotations

import traceback
from collections import Counter
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

SPY_DEVICE = torch.device("cpu:0")
_ON, _HOST = "device", "host"
_MIXING_ALLOWED = {"copy_", "to", "cpu", "cuda", "__set__", "__get__", "set_", "backward", "__setstate__",
                   "__reduce_ex__", "__deepcopy__", "_has_compatible_shallow_copy_type",
                   "_pack_padded_sequence"}  # its lengths are on the host, as CUDA wants them
_CREATING = {"tensor", "as_tensor", "from_numpy", "asarray"}


def _tag(t: torch.Tensor) -> str:
    return t.__dict__.get("_spy_device", _HOST)


def _set_tag(t: Any, tag: str) -> None:
    if isinstance(t, torch.Tensor):
        t.__dict__["_spy_device"] = tag


def _where(t: Any) -> str | None:
    """``_ON``, ``_HOST`` or None for a device argument (a device, a string, a tensor or None)."""
    if isinstance(t, torch.Tensor):
        return _tag(t)
    if isinstance(t, (str, torch.device)):
        d = torch.device(t)
        return _ON if d == SPY_DEVICE or d.type == "cuda" else _HOST
    return None


def _porcini_line() -> str:
    """The innermost porcini (or test) source line of the current stack."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        if "/porcini/" in frame.filename and "device_spy" not in frame.filename:
            return f"{frame.filename.split('/porcini/')[-1]}:{frame.lineno} {frame.line}"
    return "outside porcini"


class _SpyGenerator(torch.Generator):
    """``torch.Generator`` that remembers its simulated device (torch reports ``cpu`` for ``cpu:0``)."""

    def __new__(cls, device: Any = "cpu") -> _SpyGenerator:
        generator = super().__new__(cls, device=torch.device(device).type)
        generator.spy_device = _where(device)
        return generator

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return SPY_DEVICE if self.spy_device == _ON else torch.device("cpu")


def _generator_tag(g: Any) -> str:
    return getattr(g, "spy_device", _HOST)


class DeviceSpy(TorchFunctionMode):
    """Follow simulated devices while active; :attr:`violations` and :attr:`transfers` say what happened.

    Use as a context manager around building, fitting and acting; set :attr:`recording` to False to leave out
    what a test does around the agent.

    Attributes:
        violations: ``Counter`` of "what: where" lines (each distinct porcini line once per kind of fault).
        transfers: ``Counter`` of host → device transfers by porcini line.
    """

    def __init__(self) -> None:
        super().__init__()
        self.violations: Counter[str] = Counter()
        self.transfers: Counter[str] = Counter()
        self.recording = True
        self._patches: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> DeviceSpy:
        original_new = torch.nn.Parameter.__new__

        def parameter_new(cls: Any, data: Any = None, requires_grad: bool = True) -> Any:
            p = original_new(cls, data, requires_grad)
            if isinstance(data, torch.Tensor):
                _set_tag(p, _tag(data))
            return p

        for owner, name, value in ((torch, "Generator", _SpyGenerator),
                                   (torch.nn.Parameter, "__new__", staticmethod(parameter_new))):
            self._patches.append((owner, name, owner.__dict__.get(name, getattr(owner, name))))
            setattr(owner, name, value)
        super().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        for owner, name, value in reversed(self._patches):
            setattr(owner, name, value)
        self._patches.clear()

    def fault(self, what: str) -> None:
        """Record a fault at the current porcini line."""
        if self.recording:
            self.violations[f"{what}: {_porcini_line()}"] += 1

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        self_t = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if name == "__get__" and self_t is not None:
            out = func(*args, **kwargs)
            if _tag(self_t) == _ON and isinstance(out, torch.device):
                return SPY_DEVICE
            if _tag(self_t) == _ON and getattr(func, "__self__", None) is torch.Tensor.is_cpu:
                return False  # fast paths for CPU tensors (NumPy views) are not taken on a device
            _set_tag(out, _tag(self_t))  # .grad, .data, .T: where the tensor is
            return out
        if name == "__set__" and self_t is not None and len(args) > 1 and isinstance(args[1], torch.Tensor):
            out = func(*args, **kwargs)
            _set_tag(self_t, _tag(args[1]))  # param.data = moved: the parameter is where its data is
            return out
        if name in ("numpy", "__array__") and self_t is not None and _tag(self_t) == _ON:
            self.fault("numpy() of a device tensor (call .cpu() first)")
        target = self._target(name, args, kwargs)
        inputs = [t for t in tree_flatten((args, {k: v for k, v in kwargs.items() if k != "out"}))[0]
                  if isinstance(t, torch.Tensor)]
        self._check_mixing(name, self_t, args, inputs)
        if "generator" in kwargs and kwargs["generator"] is not None:
            where = target or (_tag(inputs[0]) if inputs else _HOST)
            if _generator_tag(kwargs["generator"]) != where:
                self.fault(f"{name} with a generator on the {_generator_tag(kwargs['generator'])} makes or reads "
                           f"a tensor on the {where}")
        if name in _CREATING and target is not None and inputs and _tag(inputs[0]) != target:
            self_t = inputs[0]  # as_tensor(host tensor, device=...): a transfer, as .to is
        if target is not None and (name in ("to", "cpu", "cuda") or name in _CREATING) and self_t is not None \
                and _tag(self_t) != target:
            out = self_t.to(SPY_DEVICE if target == _ON else "cpu", copy=True,
                            dtype=next((a for a in args[1:] if isinstance(a, torch.dtype)), kwargs.get("dtype")))
            if target == _ON:
                self._transfer(self_t)
            _set_tag(out, target)
            return out
        out = func(*args, **kwargs)
        if target == _ON and name in _CREATING and not (inputs and _tag(inputs[0]) == _ON):
            self._transfer(out)
        if name.endswith("_") and not name.endswith("__") and self_t is not None:
            return out  # in place: the tensor stays where it is
        tag = target or (_ON if any(_tag(t) == _ON for t in inputs) else _HOST)
        for t in tree_flatten(out)[0]:
            _set_tag(t, tag)
        return out

    def _target(self, name: str, args: tuple, kwargs: dict) -> str | None:
        """The device an op puts its result on, when it names one."""
        if name == "cpu":
            return _HOST
        if name == "cuda":
            return _ON
        if name == "to":
            for a in (*args[1:], kwargs.get("device"), kwargs.get("other")):
                if isinstance(a, (str, torch.device, torch.Tensor)):
                    return _where(a)
            return None
        return _where(kwargs.get("device"))

    def _check_mixing(self, name: str, self_t: Any, args: tuple, inputs: list[torch.Tensor]) -> None:
        if name in _MIXING_ALLOWED or not inputs:
            return
        if name in ("__getitem__", "__setitem__", "index_put_", "index_put"):
            big = [t for t in inputs[1:] if t.dim() > 0 and t.numel() > 0]
            if self_t is not None and _tag(self_t) == _HOST and any(_tag(t) == _ON for t in big):
                self.fault(f"{name}: a host tensor indexed with (or set from) a device tensor")
            if self_t is not None and _tag(self_t) == _ON and any(_tag(t) == _HOST for t in big):
                self._transfer(self_t)  # CUDA copies host indices to the device first
            if name == "__setitem__" and len(args) > 2 and isinstance(args[2], torch.Tensor) and args[2].dim() > 0:
                if _tag(args[2]) != _tag(self_t):
                    self.fault(f"{name}: a {_tag(self_t)} tensor set from a {_tag(args[2])} tensor")
            return
        tags = {_tag(t) for t in inputs if t.dim() > 0 and t.numel() > 0}
        if len(tags) > 1:
            shapes = [(tuple(t.shape), _tag(t)) for t in inputs if t.dim() > 0]
            self.fault(f"{name} mixes host and device tensors {shapes[:4]}")

    def _transfer(self, t: torch.Tensor) -> None:
        if self.recording:
            self.transfers[_porcini_line()] += 1


__all__ = ["SPY_DEVICE", "DeviceSpy"]
