"""NatureCNN: the convolutional encoder of DQN (Mnih et al. 2015, "Human-level control through deep RL").

The Nature stack is conv 32×8×8 stride 4 → conv 64×4×4 stride 2 → conv 64×3×3 stride 1 → linear
``features_dim`` (512), ReLU after each. It needs images of at least 36×36 pixels (the first layer alone maps
36 to 8 rows). Smaller images, such as a pixel grid world of 10×10, get the ``"small"`` stack instead: conv
32×3×3 stride 1 padding 1 → conv 64×3×3 stride 2 padding 1 → linear ``features_dim``, which works for any size
≥ 1×1 and keeps ``64 * ceil(H/2) * ceil(W/2)`` flat features (1,600 for 10×10), in the spirit of the MinAtar
networks (Young & Tian 2019). ``arch="auto"`` picks Nature when both sides are ≥ 36 and small otherwise.

Images may be channels-first ``[C, H, W]``, channels-last ``[H, W, C]`` or grayscale ``[H, W]``. Unless told
(``channels_last``), a three-axis image is channels-last only when its last axis is strictly smaller than both
others (``[84, 84, 3]``, ``[7, 7, 3]``); every other shape is channels-first (torch's convention), ties included:
``[4, 84, 84]``, stacked tiny grayscale frames ``[4, 3, 3]`` and ``[8, 8, 8]`` are ``[C, H, W]``. A channels-last
image whose channels are not its fewest axis (a 4x3 RGB image ``[4, 3, 3]``) must be transposed to ``[C, H, W]``
(e.g. with ``gymnasium.wrappers.TransformObservation``). A stack of
``k`` such colour frames ``[k, H, W, C]`` or ``[k, C, H, W]`` (``FrameStackObservation`` over RGB frames) has its
frames' channels side by side, ``k * C`` input channels (as stacked grayscale frames ``[k, H, W]`` do). ``uint8``
inputs are scaled to ``[0, 1]`` by 1/255; other inputs are only cast to the parameters' dtype (assumed already
scaled).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from porcini.networks.mlp import check_init, orthogonal_init_

NATURE_MIN_SIZE = 36
"""Smallest height and width the Nature stack accepts (8×8/4 → 4×4/2 → 3×3/1 leaves 1×1)."""

ARCHS = ("auto", "nature", "small")


def _infer_channels_last(shape: tuple[int, ...]) -> bool:
    # Channels-last only when the last axis is the strictly fewest (see the module docstring): comparing with the
    # first axis alone read stacked grayscale frames [4, 3, 3] as one 4x3 image of 3 channels.
    return shape[-1] < min(shape[:-1])


class NatureCNN(nn.Module):
    """Image observations ``[*batch, *obs_shape]`` to features ``[*batch, features_dim]``.

    The flat size of the convolution output is computed from ``obs_shape`` at construction (one dummy
    forward), so any image size works without hand-computed numbers.

    Args:
        obs_shape: shape of one observation: ``[C, H, W]``, ``[H, W, C]``, ``[H, W]``, or a stack of colour frames
            ``[k, H, W, C]`` / ``[k, C, H, W]``.
        features_dim: width of the final linear layer (512 in the paper).
        channels_last: whether the channel axis is last (of each frame, for a stack); None infers it: last when
            it is strictly smaller than the frame's other two axes, else first (ties included).
        arch: ``"nature"``, ``"small"`` (for images under 36×36), or ``"auto"`` (choose by size).
        init: ``"default"`` (PyTorch's init, as SB3 uses for DQN) or ``"orthogonal"`` (gain sqrt(2), as PPO on
            Atari uses).

    Attributes:
        out_dim: equal to ``features_dim``.
        features_dim: the width of the features.
        arch: the stack actually built (``"nature"`` or ``"small"``).
        n_flatten: size of the flattened convolution output.
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        features_dim: int = 512,
        channels_last: bool | None = None,
        arch: str = "auto",
        init: str = "default",
    ) -> None:
        super().__init__()
        shape = tuple(int(d) for d in obs_shape)
        if len(shape) not in (2, 3, 4) or any(d < 1 for d in shape):
            raise ValueError(
                f"NatureCNN: obs_shape {shape} must be an image [C, H, W], [H, W, C] or [H, W] (or a stack of them "
                "[k, ...]) of positive sizes; use MLP for vector observations"
            )
        if arch not in ARCHS:
            raise ValueError(f"NatureCNN: arch {arch!r} is unknown; use one of {ARCHS}")
        check_init(init, "NatureCNN")
        self.obs_shape = shape
        frame, n_frames = (shape[1:], shape[0]) if len(shape) == 4 else (shape, 1)
        if len(frame) == 2:
            self.channels_last = False
            n_channels, height, width = 1, *frame
        else:
            self.channels_last = _infer_channels_last(frame) if channels_last is None else bool(channels_last)
            n_channels, height, width = (frame[2], frame[0], frame[1]) if self.channels_last else frame
        n_channels *= n_frames
        small = min(height, width) < NATURE_MIN_SIZE
        if arch == "nature" and small:
            raise ValueError(
                f"NatureCNN: arch 'nature' needs images of at least {NATURE_MIN_SIZE}x{NATURE_MIN_SIZE}, got "
                f"{height}x{width} (from obs_shape {shape}); use arch='small' or 'auto'"
            )
        self.arch = "small" if arch == "small" or (arch == "auto" and small) else "nature"
        self.image_shape = (n_channels, height, width)
        self.convs = self._conv_stack(n_channels, self.arch)
        with torch.no_grad():
            self.n_flatten = int(self.convs(torch.zeros(1, *self.image_shape)).shape[1])
        self.linear = nn.Linear(self.n_flatten, features_dim)
        self.out_dim = self.features_dim = int(features_dim)
        if init == "orthogonal":
            for module in self.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    orthogonal_init_(module, 2.0**0.5)

    @staticmethod
    def _conv_stack(n_channels: int, arch: str) -> nn.Sequential:
        if arch == "nature":
            layers = [
                nn.Conv2d(n_channels, 32, kernel_size=8, stride=4),
                nn.ReLU(),
                nn.Conv2d(32, 64, kernel_size=4, stride=2),
                nn.ReLU(),
                nn.Conv2d(64, 64, kernel_size=3, stride=1),
                nn.ReLU(),
            ]
        else:
            layers = [
                nn.Conv2d(n_channels, 32, kernel_size=3, stride=1, padding=1),
                nn.ReLU(),
                nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1),
                nn.ReLU(),
            ]
        return nn.Sequential(*layers, nn.Flatten())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Map images ``[*batch, *obs_shape]`` (uint8 or float) to features ``[*batch, features_dim]``."""
        n_obs_dims = len(self.obs_shape)
        batch_shape = obs.shape[:-n_obs_dims]
        if tuple(obs.shape[-n_obs_dims:]) != self.obs_shape:
            raise ValueError(f"NatureCNN: input shape {tuple(obs.shape)} does not end in obs_shape {self.obs_shape}")
        x = obs.reshape(-1, *self.obs_shape)
        dtype = self.linear.weight.dtype
        if x.dtype == torch.uint8:
            x = x.to(dtype).mul_(1.0 / 255.0)
        elif x.dtype != dtype:
            x = x.to(dtype)
        if self.channels_last:  # [N, (k,) H, W, C] -> [N, (k,) C, H, W]
            x = x.movedim(-1, -3)
        x = x.reshape(-1, *self.image_shape)  # grayscale [N, H, W] and stacks [N, k, C, H, W] alike
        features = torch.relu(self.linear(self.convs(x)))
        return features.reshape(*batch_shape, self.out_dim)
