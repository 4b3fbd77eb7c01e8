"""The math of sampling-based planners: CEM's elite refit, MPPI's exponentially weighted average, colored noise.

A planner samples ``N`` action sequences ``[N, H, A]`` (H steps of A-dimensional actions), a model scores them
with costs ``[N]`` (lower is better), and the update turns the scores into the next sampling distribution or the
plan. iCEM samples its sequences with temporally correlated (colored) noise. Torch tensors in, torch tensors out.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cem_update(actions: Tensor, costs: Tensor, n_elites: int, mean: Tensor, std: Tensor,
               momentum: float = 0.0) -> tuple[Tensor, Tensor]:
    """The cross-entropy method's refit: mean and std of the ``n_elites`` cheapest sequences, smoothed.

    ``mean' = momentum · mean + (1 - momentum) · mean(elites)``, and the same for ``std`` (the elites' standard
    deviation, population form).

    Args:
        actions: ``[N, H, A]`` sampled sequences.
        costs: ``[N]`` their costs.
        n_elites: how many of the cheapest refit the distribution (``1 <= n_elites <= N``).
        mean: ``[H, A]`` the distribution's mean before the update.
        std: ``[H, A]`` its standard deviation.
        momentum: weight of the old distribution, in ``[0, 1)``.
    """
    if not 1 <= n_elites <= len(costs):
        raise ValueError(f"cem_update: n_elites = {n_elites} is invalid: must lie in [1, {len(costs)}]")
    elites = actions[torch.topk(costs, n_elites, largest=False).indices]
    new_mean = elites.mean(dim=0)
    new_std = elites.std(dim=0, unbiased=False)
    return momentum * mean + (1 - momentum) * new_mean, momentum * std + (1 - momentum) * new_std


def mppi_weights(costs: Tensor, temperature: float) -> Tensor:
    """MPPI's weights ``w_i ∝ exp(-(c_i - min c) / λ)`` ``[N]``, summing to 1 (``λ = temperature > 0``)."""
    if temperature <= 0:
        raise ValueError(f"mppi_weights: temperature = {temperature} is invalid: must be > 0")
    return torch.softmax(-(costs - costs.min()) / temperature, dim=0)


def mppi_update(actions: Tensor, costs: Tensor, temperature: float) -> Tensor:
    """MPPI's plan: the ``mppi_weights``-weighted average of the sequences ``[H, A]``."""
    return torch.einsum("n,nha->ha", mppi_weights(costs, temperature), actions)


def colored_noise(beta: float, shape: tuple[int, ...], generator: torch.Generator,
                  dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> Tensor:
    """Gaussian noise whose power spectral density along axis -2 (time) decays as ``1 / f^β``.

    iCEM's action noise (Pinneri et al. 2020, arXiv:2008.06389, §3): for ``shape = [N, H, A]`` every one of the
    ``N × A`` sequences of length ``H`` is colored along the horizon. ``β = 0`` is white noise (returned
    unchanged), ``β = 1`` pink, ``β = 2`` brown: smooth sequences that drift rather than jitter.

    White noise ``x`` is drawn, transformed with a real FFT along time, each frequency ``f_k = k / H`` (cycles per
    step, ``k = 0 … ⌊H/2⌋``) is scaled by ``s_k = f_k^(-β/2)``, and transformed back::

        y = irfft(s ⊙ rfft(x)) / σ,   σ² = (1/H) Σ_{k=0}^{H-1} s_k²   (s extended symmetrically to k > H/2)

    The constant component has no finite scale (``0^(-β/2)``); it gets the scale of the lowest frequency,
    ``s_0 = s_1``. With ``H <= 3`` there is no other frequency to share it with: the noise is white.

    Normalization: ``y`` is a circular convolution of white noise, so every entry is Gaussian with variance
    ``σ²`` whatever ``t``; dividing by ``σ`` makes every entry exactly ``N(0, 1)`` (in distribution, over
    draws). A single draw is not rescaled to its own empirical std: for ``β = 2`` most of a draw's energy is a
    near-constant offset, and dividing each draw by the spread around its own mean would blow the offset up.

    Args:
        beta: the exponent β of the spectrum (``>= 0``).
        shape: the output shape, at least 2-D; axis -2 is time.
        generator: the torch generator of the white noise.
        dtype: a floating dtype.
        device: where the noise is made (the generator's device); None: the CPU.

    Returns:
        ``shape`` noise, unit variance per entry.
    """
    if len(shape) < 2:
        raise ValueError(f"colored_noise: shape = {shape} is invalid: needs at least 2 axes, time being axis -2")
    if beta < 0:
        raise ValueError(f"colored_noise: beta = {beta} is invalid: must be >= 0 (0 white, 2 brown)")
    white = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    horizon = shape[-2]
    if beta == 0 or horizon == 1:
        return white
    k = torch.arange(horizon // 2 + 1, dtype=dtype, device=device)
    k[0] = 1.0  # the constant component takes the lowest frequency's scale
    scale = (k / horizon) ** (-beta / 2)
    # the symmetric extension of the rfft scales to all H frequencies: k and H - k share a scale
    full = torch.cat([scale, scale[1:(horizon + 1) // 2].flip(0)])
    sigma = torch.sqrt((full ** 2).mean())
    spectrum = torch.fft.rfft(white, dim=-2) * (scale / sigma)[:, None]
    return torch.fft.irfft(spectrum, n=horizon, dim=-2)
