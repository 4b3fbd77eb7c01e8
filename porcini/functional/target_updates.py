"""Target-network updates: hard copies (DQN) and Polyak averaging (DDPG, TD3, SAC).

Both work in place on the target's own tensors, under ``torch.no_grad()``, with one fused ``torch._foreach_*``
call over all parameters (no Python loop over tensors doing arithmetic). Buffers (e.g. BatchNorm running
statistics) are copied, never averaged, as in Stable-Baselines3.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["hard_update", "polyak_update"]


def _pairs(func: str, kind: str, target: nn.Module, source: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """Return matching tensor lists; raise ValueError naming the first tensor whose shape or count differs."""
    t_list: list[Tensor]
    s_list: list[Tensor]
    if kind == "parameter":
        t_list, s_list = list(target.parameters()), list(source.parameters())
    else:
        t_list, s_list = list(target.buffers()), list(source.buffers())
    mismatch = len(t_list) != len(s_list) or any(t.shape != s.shape for t, s in zip(t_list, s_list))
    if mismatch:  # only now pay for the names, to say which tensor differs
        named = target.named_parameters if kind == "parameter" else target.named_buffers
        s_named = source.named_parameters if kind == "parameter" else source.named_buffers
        t_shapes = {n: tuple(t.shape) for n, t in named()}
        s_shapes = {n: tuple(t.shape) for n, t in s_named()}
        for name in [*t_shapes, *(n for n in s_shapes if n not in t_shapes)]:  # module order
            if t_shapes.get(name) != s_shapes.get(name):
                raise ValueError(
                    f"{func}: {kind} {name!r} has shape {t_shapes.get(name)} in target but "
                    f"{s_shapes.get(name)} in source (None: missing); target and source must be the same "
                    "architecture (build the target with copy.deepcopy(source))"
                )
        raise ValueError(f"{func}: target has {len(t_list)} {kind}s but source has {len(s_list)}")
    return t_list, s_list


def hard_update(target: nn.Module, source: nn.Module) -> None:
    """Copy every parameter and buffer of ``source`` into ``target`` in place (DQN, Mnih et al. 2015).

    Args:
        target: the target network, modified in place.
        source: the online network, read only.

    Raises:
        ValueError: the two modules differ in their parameters' or buffers' names or shapes.
    """
    polyak_update(target, source, 1.0)


def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    r"""Polyak averaging :math:`\theta' \leftarrow (1 - \tau) \theta' + \tau \theta`, in place.

    Lillicrap et al. 2016 (DDPG, arXiv:1509.02971), with SB3's name ``tau`` (0.005 in SB3's SAC and TD3).
    ``tau = 1`` is a hard copy, ``tau = 0`` leaves the parameters unchanged. Parameters are interpolated with
    one ``torch._foreach_lerp_`` (``θ' + τ (θ - θ')``), buffers are copied.

    Args:
        target: the target network, modified in place (no autograd history is recorded).
        source: the online network, read only.
        tau: interpolation weight in [0, 1].

    Raises:
        ValueError: ``tau`` is outside [0, 1], or the modules differ in names or shapes of their tensors.
    """
    func = "hard_update" if tau == 1.0 else "polyak_update"
    if not isinstance(tau, (int, float)) or isinstance(tau, bool) or not 0.0 <= tau <= 1.0:
        raise ValueError(f"{func}: tau = {tau!r} is invalid; pass a float in [0, 1] (e.g. 0.005)")
    t_params, s_params = _pairs(func, "parameter", target, source)
    t_buffers, s_buffers = _pairs(func, "buffer", target, source)
    with torch.no_grad():
        if t_params:
            if tau == 1.0:
                torch._foreach_copy_(t_params, s_params)
            elif tau > 0.0:
                torch._foreach_lerp_(t_params, s_params, float(tau))
        if t_buffers:
            torch._foreach_copy_(t_buffers, s_buffers)
