"""Observation encoders: from any supported observation space to one feature vector, in one place.

Every deep agent turns observations into network input the same way, in two steps chosen from the space:

1. :func:`obs_to_input` (called by :func:`porcini.algorithms.kit.obs_to_tensor`) converts a NumPy batch to
   tensors: a numeric or ``bool`` ``Box`` that is not an image becomes float32 (``uint8`` vectors included,
   unscaled; ``bool`` as 0/1, like ``MultiBinary``); an image
   ``Box`` (:func:`~porcini.networks.builders.is_image_space`) stays as it is (the CNN scales ``uint8`` by 1/255);
   ``Discrete`` becomes a one-hot vector and ``MultiDiscrete`` one one-hot block per entry (Stable-Baselines3's
   ``preprocess_obs``); ``MultiBinary`` becomes float32; ``Dict`` and ``Tuple`` observations become dicts and
   tuples of such tensors. A float64 value that float32 cannot hold is refused (:func:`as_float32`), not made inf.
2. :func:`make_encoder` builds the module that maps that input to features ``[*batch, features_dim]``: a
   :class:`~porcini.networks.cnn.NatureCNN` for an image, a flatten for anything else, and for ``Dict`` and
   ``Tuple`` spaces a :class:`MultiInputEncoder`: one encoder per entry, their features concatenated (SB3's
   ``CombinedExtractor``). The agent's usual MLP torso and heads follow
   (:func:`porcini.networks.builders.make_trunk`).

Spaces without a fixed-size numeric value (``Text``, ``Graph``, ``Sequence``, ``OneOf``) are refused by
:func:`check_observation_space` with the fix for each: filter the entry out of a Dict with
``FilterObservation``, or encode it with an observation wrapper. So is an ``"action_mask"`` entry of a Dict
observation, unless the caller applies it (:mod:`porcini.networks.masking`): the encoders never see it then.
"""

from __future__ import annotations

import math
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from porcini.errors import UnsupportedSpaceError
from porcini.networks.cnn import NatureCNN
from porcini.networks.masking import refuse_action_mask

__all__ = ["FlattenEncoder", "MultiInputEncoder", "as_float32", "check_observation_space", "input_shape",
           "is_image_space", "make_encoder", "obs_to_input"]

ARRAY_SPACES = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
"""Spaces whose observations are one fixed-shape numeric array."""


def is_image_space(space: gym.Space) -> bool:
    """Tell image observations: a ``uint8`` ``Box`` of 2 to 4 dimensions whose bounds are exactly ``[0, 255]``.

    Four dimensions are a stack of colour frames ``[k, H, W, C]`` (``FrameStackObservation`` over RGB images),
    which :class:`~porcini.networks.cnn.NatureCNN` takes as ``k * C`` channels.

    The full pixel range is required (as Stable-Baselines3's ``is_image_space`` does): a small ``uint8`` board such
    as ``Box(0, 2, (3, 3), uint8)`` holds codes, not intensities, and scaling it by 1/255 in a CNN would squash its
    values to under 0.01; it is encoded as a vector instead.
    """
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) in (2, 3, 4)
        and bool(np.all(space.low == 0))
        and bool(np.all(space.high == 255))
    )


def _unsupported(space: gym.Space, path: str, owner: str) -> UnsupportedSpaceError:
    name = type(space).__name__
    if path == "observation":
        fix = (f"deep agents cannot encode {name} observations; turn them into a Box with a custom "
               "gymnasium.ObservationWrapper")
    else:
        fix = (f"deep agents cannot encode a {name} entry; filter that key out with FilterObservation "
               "(env.wrappers: [{FilterObservation: {filter_keys: [...the keys to keep...]}}]) or encode it with "
               "a custom gymnasium.ObservationWrapper")
    return UnsupportedSpaceError(f"{owner}: {path} space {space} is not supported: {fix}")


def check_observation_space(space: gym.Space, owner: str = "observation encoder", path: str = "observation",
                            applies_mask: bool = False) -> None:
    """Raise :class:`~porcini.errors.UnsupportedSpaceError` unless every part of ``space`` can be encoded.

    Args:
        space: the observation space of one env.
        owner: who asks, named in the message.
        path: where ``space`` sits in the observation (``observation['mission']`` for a Dict entry).
        applies_mask: ``owner`` applies an ``"action_mask"`` entry (:mod:`porcini.networks.masking`); else such an
            entry is refused (:func:`~porcini.networks.masking.refuse_action_mask`): encoded as a feature, it would
            not stop illegal actions.
    """
    if path == "observation" and not applies_mask:
        refuse_action_mask(space, owner)
    if isinstance(space, gym.spaces.Dict):
        if not space.spaces:
            raise UnsupportedSpaceError(f"{owner}: {path} space {space} is an empty Dict; keep at least one key")
        for key, sub in space.spaces.items():
            check_observation_space(sub, owner, f"{path}[{key!r}]")
    elif isinstance(space, gym.spaces.Tuple):
        if not space.spaces:
            raise UnsupportedSpaceError(f"{owner}: {path} space {space} is an empty Tuple; keep at least one entry")
        for i, sub in enumerate(space.spaces):
            check_observation_space(sub, owner, f"{path}[{i}]")
    elif not isinstance(space, ARRAY_SPACES):
        raise _unsupported(space, path, owner)
    elif isinstance(space, gym.spaces.Box) and not (np.issubdtype(space.dtype, np.number) or space.dtype == bool):
        raise UnsupportedSpaceError(f"{owner}: {path} space {space} has non-numeric dtype {space.dtype}; give it a "
                                    "numeric dtype")


def input_shape(space: gym.Space) -> tuple[int, ...]:
    """The shape of one observation of an array space as :func:`obs_to_input` gives it (one-hot sizes included)."""
    if isinstance(space, gym.spaces.Discrete):
        return (int(space.n),)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return (int(np.sum(space.nvec)),)
    return tuple(int(d) for d in space.shape or ())


def _as_tensor(obs: Any) -> Tensor:
    if isinstance(obs, Tensor):
        return obs
    if isinstance(obs, np.ndarray) and obs.flags.writeable:
        return torch.from_numpy(obs)
    return torch.as_tensor(np.array(obs))  # torch warns on read-only NumPy memory: copy it


def as_float32(x: Tensor) -> Tensor:
    """``x`` cast to float32, refusing values of a wider float type that float32 cannot hold (they would become inf).

    Raises:
        UnsupportedSpaceError: a finite value beyond the float32 range (about 3.4e38), naming the fix.
    """
    y = x.float()
    if x.is_floating_point() and torch.finfo(x.dtype).max > torch.finfo(torch.float32).max:
        overflow = torch.isinf(y) & torch.isfinite(x)
        if bool(overflow.any()):
            value = x[overflow].flatten()[0].item()
            raise UnsupportedSpaceError(f"observation value {value:.3g} is beyond the float32 range of the networks "
                                        "(it would become inf, then NaN weights); scale the observations with "
                                        "gymnasium.wrappers.NormalizeObservation or TransformObservation")
    return y


def _multi_hot(x: Tensor, space: gym.spaces.MultiDiscrete) -> Tensor:
    """One one-hot block per entry of a MultiDiscrete batch ``[*batch, *nvec.shape]`` -> ``[*batch, sum(nvec)]``."""
    nvec = np.asarray(space.nvec).reshape(-1)
    start = np.asarray(space.start).reshape(-1)
    offsets = torch.as_tensor(np.concatenate([[0], np.cumsum(nvec)[:-1]]) - start, device=x.device)
    codes = x.long().reshape(*x.shape[: x.dim() - len(space.shape)], nvec.size) + offsets
    out = torch.zeros(*codes.shape[:-1], int(nvec.sum()), device=x.device)
    return out.scatter_(-1, codes, 1.0)


def obs_to_input(obs: Any, space: gym.Space, device: torch.device) -> Any:
    """An observation batch ``[*batch, ...]`` (NumPy or tensors) as the encoders take it, on ``device``.

    See the module docstring for what each space becomes; Dict and Tuple observations become dicts and tuples.
    Float32 and ``uint8`` image arrays share memory with ``obs`` where they can.
    """
    if isinstance(space, gym.spaces.Dict):
        return {key: obs_to_input(obs[key], sub, device) for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(obs_to_input(obs[i], sub, device) for i, sub in enumerate(space.spaces))
    x = _as_tensor(obs)
    if isinstance(space, gym.spaces.Discrete):
        return F.one_hot((x.long() - int(space.start)).to(device), int(space.n)).float()
    if isinstance(space, gym.spaces.MultiDiscrete):
        return _multi_hot(x.to(device), space)
    if x.dtype != torch.float32 and not (x.dtype == torch.uint8 and is_image_space(space)):
        x = as_float32(x)
    return x.to(device)


class FlattenEncoder(nn.Module):
    """Flattens ``[*batch, *shape]`` input to features ``[*batch, prod(shape)]`` (no parameters).

    Args:
        shape: the shape of one input (``()`` gives one feature).

    Attributes:
        features_dim: the number of features (also ``out_dim``).
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.features_dim = self.out_dim = max(1, math.prod(self.shape))

    def forward(self, x: Tensor) -> Tensor:
        """Map ``[*batch, *shape]`` to ``[*batch, features_dim]``."""
        return x.reshape(*x.shape[: x.dim() - len(self.shape)], self.features_dim)


def _module_name(key: Any) -> str:
    """A Dict key (or Tuple index) as a submodule name that torch accepts, distinct for distinct keys.

    ``str(key)`` as it is, unless it is empty or holds a ``.`` (torch refuses both in module names) or a ``%``: then
    ``%`` followed by the key with ``%`` written ``%25`` and ``.`` written ``%2E``.
    """
    name = str(key)
    if name and "." not in name and "%" not in name:
        return name
    return "%" + name.replace("%", "%25").replace(".", "%2E")


class MultiInputEncoder(nn.Module):
    """One encoder per entry of a Dict or Tuple space, the features concatenated in the space's order.

    Image entries get a :class:`NatureCNN` (``features_dim`` outputs), the others a :class:`FlattenEncoder`;
    nested Dicts and Tuples nest.

    Args:
        space: a ``Dict`` or ``Tuple`` observation space.
        features_dim: output width of each image entry's CNN.
        init: ``"default"`` or ``"orthogonal"``, for the CNNs.

    Attributes:
        features_dim: the concatenated width (also ``out_dim``).
    """

    def __init__(self, space: gym.spaces.Dict | gym.spaces.Tuple, features_dim: int = 512,
                 init: str = "default") -> None:
        super().__init__()
        entries = space.spaces.items() if isinstance(space, gym.spaces.Dict) else enumerate(space.spaces)
        self.keys: list[Any] = []
        encoders: dict[str, nn.Module] = {}
        for key, sub in entries:
            self.keys.append(key)
            encoders[_module_name(key)] = _encoder(sub, features_dim, init)
        self.names = list(encoders)
        self.encoders = nn.ModuleDict(encoders)
        self.features_dim = self.out_dim = sum(int(cast(Any, e).features_dim) for e in encoders.values())

    def forward(self, obs: Any) -> Tensor:
        """Map a dict (or tuple) of input tensors ``[*batch, ...]`` to features ``[*batch, features_dim]``."""
        encoders = self.encoders
        return torch.cat([encoders[name](obs[key]) for name, key in zip(self.names, self.keys)], dim=-1)


def make_encoder(space: gym.Space, features_dim: int = 512,
                 init: str = "default") -> NatureCNN | FlattenEncoder | MultiInputEncoder:
    """The encoder of ``space``'s observations (after :func:`obs_to_input`), with a ``features_dim`` attribute.

    Args:
        space: the observation space of one env.
        features_dim: output width of a CNN, for images.
        init: ``"default"`` or ``"orthogonal"`` (gain sqrt(2)), for CNN layers.

    Raises:
        UnsupportedSpaceError: for a space :func:`check_observation_space` refuses.
    """
    check_observation_space(space, "make_encoder")
    return _encoder(space, features_dim, init)


def _encoder(space: gym.Space, features_dim: int, init: str) -> NatureCNN | FlattenEncoder | MultiInputEncoder:
    """:func:`make_encoder` for a checked space (an entry of a Dict may be named ``"action_mask"``: a feature)."""
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        return MultiInputEncoder(space, features_dim, init)
    if is_image_space(space):
        return NatureCNN(input_shape(space), features_dim=features_dim, init=init)
    return FlattenEncoder(input_shape(space))
