"""Frame stacking (vector and image observations), grayscale and resize for images; NumPy only.

:class:`NumpyResizeObservation` is not Gymnasium's ``ResizeObservation`` (OpenCV's ``INTER_AREA``, uint8 in
``[0, 255]`` only), hence another name; porcini exports no ``ResizeObservation``, and that name in a run config
is Gymnasium's wrapper.

Resizing is a separable linear map: one ``[out, in]`` weight matrix per axis, computed once, applied with two
matrix products. ``"area"`` averages the input pixels each output pixel covers, weighted by the covered
fraction (exact for any ratio, the right choice for downsampling; equal to PIL's ``BOX`` for integer factors).
``"bilinear"`` interpolates the two nearest pixels at pixel centers (half-pixel convention, edges clamped; equal
to PIL's ``BILINEAR`` when upsampling, with no anti-aliasing when downsampling). Every output pixel is a convex
combination of input pixels, so bounds map to bounds and integer images are rounded back to their dtype.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from porcini.envs.wrappers._common import make_box, require_box, require_env

# the weights of Gymnasium's GrayscaleObservation (not BT.601's 0.299, 0.587, 0.114 of OpenCV and PIL)
GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])
INTERPOLATIONS = ("area", "bilinear")


def resize_weights(n_in: int, n_out: int, interpolation: str) -> np.ndarray:
    """The ``[n_out, n_in]`` matrix that resamples one axis; every row is non-negative and sums to 1."""
    if interpolation == "area":
        edges = np.arange(n_out + 1, dtype=np.float64) * (n_in / n_out)
        start, stop = edges[:-1, None], edges[1:, None]
        j = np.arange(n_in, dtype=np.float64)[None, :]
        overlap = np.clip(np.minimum(stop, j + 1.0) - np.maximum(start, j), 0.0, None)
        return overlap / (stop - start)
    if interpolation == "bilinear":
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1.0)
        left = np.floor(src).astype(np.int64)
        right = np.minimum(left + 1, n_in - 1)
        frac = src - left
        w = np.zeros((n_out, n_in), dtype=np.float64)
        rows = np.arange(n_out)
        np.add.at(w, (rows, left), 1.0 - frac)
        np.add.at(w, (rows, right), frac)
        return w
    raise ValueError(f"interpolation = {interpolation!r} is invalid: choose one of {INTERPOLATIONS}")


def _to_dtype(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(x), info.min, info.max).astype(dtype)
    return x.astype(dtype)


def resize_image(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Apply per-axis weights (:func:`resize_weights`) to an ``[H, W]`` or ``[H, W, C]`` image, keeping its dtype."""
    x = np.asarray(image)
    out = np.tensordot(rows, x.astype(np.float64), axes=(1, 0))  # [h, W, (C)]
    out = np.moveaxis(np.tensordot(cols, out, axes=(1, 1)), 0, 1)  # [h, w, (C)]
    return _to_dtype(out, x.dtype)


class FrameStackObservation(gym.ObservationWrapper):
    """Stacks the last ``stack_size`` observations on a new first axis: oldest first, newest last.

    A Box observation of shape ``S`` becomes ``[stack_size, *S]`` (grayscale ``[H, W]`` frames become
    channels-first ``[k, H, W]`` for a CNN). After a reset, the missing older frames are copies of the first
    observation (``padding_type="reset"``) or zeros (``"zero"``). Because it wraps each env, the final
    observation of an episode that ends is the stack of *that* episode's last frames: porcini's vector env
    reads it before resetting.

    Args:
        env: a single env with a Box observation space.
        stack_size: number of frames (>= 1).
        padding_type: ``"reset"`` or ``"zero"``.

    Example:
        >>> from porcini import make_env
        >>> env = make_env("CartPole-v1", n_envs=2, wrappers=[(FrameStackObservation, {"stack_size": 4})])
        >>> env.observation_space.shape
        (2, 4, 4)
    """

    def __init__(self, env: gym.Env, stack_size: int, *, padding_type: str = "reset") -> None:
        require_env("FrameStackObservation", env, vector=False)
        space = require_box("FrameStackObservation", env.observation_space, "observation",
                            "one-hot Discrete observations first (OneHotObservation) or flatten Dict/Tuple ones")
        if isinstance(stack_size, bool) or not isinstance(stack_size, (int, np.integer)) or stack_size < 1:
            raise ValueError(f"FrameStackObservation: stack_size = {stack_size!r} is invalid: must be an int >= 1")
        if padding_type not in ("reset", "zero"):
            raise ValueError(f"FrameStackObservation: padding_type = {padding_type!r} is invalid: 'reset' or 'zero'")
        if padding_type == "zero" and not space.contains(np.zeros(space.shape, dtype=space.dtype)):
            raise ValueError(f"FrameStackObservation: zero padding is outside {space}; use padding_type='reset'")
        super().__init__(env)
        self.stack_size = int(stack_size)
        self.padding_type = padding_type
        k = self.stack_size
        self.observation_space = make_box(
            np.repeat(space.low[None], k, axis=0), np.repeat(space.high[None], k, axis=0), space.dtype
        )
        self._frames = np.zeros((k, *space.shape), dtype=space.dtype)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Reset and pad the stack with the first observation (or zeros)."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self.padding_type == "reset":
            self._frames[:] = obs
        else:
            self._frames[:] = 0
            self._frames[-1] = obs
        return self._frames.copy(), info

    def observation(self, observation: Any) -> np.ndarray:
        """Drop the oldest frame, append ``observation`` as the newest."""
        self._frames[:-1] = self._frames[1:]
        self._frames[-1] = observation
        return self._frames.copy()


class GrayscaleObservation(gym.ObservationWrapper):
    """Converts ``[H, W, 3]`` uint8 RGB observations to grayscale ``[H, W]`` (``[H, W, 1]`` with ``keep_dim``).

    Gymnasium's ``GrayscaleObservation``, value for value: ``gray = 0.2125 R + 0.7154 G + 0.0721 B`` cast to uint8
    (truncated, not rounded), in ``Box(0, 255, shape, uint8)``. OpenCV's and PIL's BT.601 grayscale
    (:class:`~porcini.envs.wrappers.GrayscaleResize`) weighs the channels otherwise.

    Args:
        env: a single env with a ``Box(0, 255, (H, W, 3), uint8)`` observation space, as Gymnasium's requires.
        keep_dim: keep a channel axis of size 1.

    Example:
        >>> env = GrayscaleObservation(NumpyResizeObservation(gym.make("CarRacing-v3"), (64, 64)))  # doctest: +SKIP
        >>> env.observation_space.shape  # doctest: +SKIP
        (64, 64)
    """

    def __init__(self, env: gym.Env, keep_dim: bool = False) -> None:
        require_env("GrayscaleObservation", env, vector=False)
        space = require_box("GrayscaleObservation", env.observation_space, "observation", "it converts RGB images")
        if len(space.shape) != 3 or space.shape[-1] != 3:
            raise ValueError(f"GrayscaleObservation needs RGB images of shape [H, W, 3], got shape {space.shape}")
        if space.dtype != np.uint8 or not (np.all(space.low == 0) and np.all(space.high == 255)):
            raise ValueError(f"GrayscaleObservation needs uint8 images with bounds 0 to 255, as Gymnasium's, got "
                             f"{space}; convert the images to uint8 in [0, 255] first")
        super().__init__(env)
        self.keep_dim = bool(keep_dim)
        self.observation_space = make_box(0, 255, np.uint8, shape=space.shape[:2] + ((1,) if self.keep_dim else ()))

    def observation(self, observation: Any) -> np.ndarray:
        """The grayscale image, computed as Gymnasium's wrapper computes it."""
        gray = np.sum(np.multiply(observation, GRAY_WEIGHTS), axis=-1).astype(np.uint8)
        return gray[..., None] if self.keep_dim else gray


class NumpyResizeObservation(gym.ObservationWrapper):
    """Resizes ``[H, W]`` or ``[H, W, C]`` image observations to ``shape = (height, width)`` with NumPy.

    Any dtype and bounds: the output keeps the input's dtype (integer images are rounded back to it) and its
    bounds are the resized bounds. Not Gymnasium's ``ResizeObservation``, hence another name: that one needs
    OpenCV, takes uint8 images in ``[0, 255]`` only and computes OpenCV's ``INTER_AREA``, whose values differ
    from the exact box filter here (slightly when shrinking, more when enlarging, where OpenCV interpolates).

    Args:
        env: a single env with a Box observation space of rank 2 or 3.
        shape: ``(height, width)`` of the output (a list, as a run config gives it, is accepted).
        interpolation: ``"area"`` (exact box filter, default, for downsampling) or ``"bilinear"``; see the module doc.

    Example:
        >>> env = NumpyResizeObservation(gym.make("CarRacing-v3"), (84, 84))  # doctest: +SKIP
        >>> env.observation_space.shape  # doctest: +SKIP
        (84, 84, 3)
    """

    def __init__(self, env: gym.Env, shape: tuple[int, int], interpolation: str = "area") -> None:
        name = "NumpyResizeObservation"
        require_env(name, env, vector=False)
        space = require_box(name, env.observation_space, "observation", "it resizes images")
        if len(space.shape) not in (2, 3):
            raise ValueError(f"{name} needs images of shape [H, W] or [H, W, C], got shape {space.shape}")
        size = tuple(shape)
        if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
            raise ValueError(f"{name}: shape = {shape!r} is invalid: give (height, width), positive ints")
        super().__init__(env)
        self.shape = (int(size[0]), int(size[1]))
        self.interpolation = interpolation
        self._rows = resize_weights(space.shape[0], self.shape[0], interpolation)
        self._cols = resize_weights(space.shape[1], self.shape[1], interpolation)
        low, high = (self._resize_bound(b) for b in (space.low, space.high))
        self.observation_space = make_box(low, high, space.dtype)

    def _resize_bound(self, bound: np.ndarray) -> np.ndarray:
        # an infinite bound anywhere in an output pixel's support makes that output bound infinite (inf * 0 = nan)
        out = resize_image(np.where(np.isfinite(bound), bound, 0), self._rows, self._cols)
        for sign in (-np.inf, np.inf):
            hit = resize_image((bound == sign).astype(np.float64), self._rows, self._cols) > 0
            out = np.where(hit, sign, out).astype(bound.dtype)
        return out

    def observation(self, observation: Any) -> np.ndarray:
        """The resized image."""
        return resize_image(observation, self._rows, self._cols)
