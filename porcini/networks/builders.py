"""Builders: from an observation space and a ``net_arch`` config to trunk modules.

``net_arch`` follows Stable-Baselines3 so that benchmark configs map one to one: a sequence of widths such as
``(64, 64)`` is used for every network of the agent (actor and critic alike); a mapping
``{"pi": [64, 64], "vf": [256]}`` (``"qf"`` is accepted for ``"vf"``, as SB3's off-policy agents name it)
gives the policy and the value/Q networks different hidden layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import gymnasium as gym
from torch import nn

from porcini.networks.cnn import NatureCNN
from porcini.networks.encoders import (
    FlattenEncoder,
    MultiInputEncoder,
    check_observation_space,
    input_shape,
    is_image_space,
)
from porcini.networks.mlp import MLP

__all__ = ["NetArch", "NetArchConfig", "Trunk", "is_image_space", "make_trunk", "parse_net_arch"]

NetArchConfig = Sequence[int] | Mapping[str, Sequence[int]]


class NetArch(NamedTuple):
    """Hidden widths of the policy (``pi``) and of the value or Q network (``vf``)."""

    pi: tuple[int, ...]
    vf: tuple[int, ...]


def parse_net_arch(net_arch: NetArchConfig, owner: str = "net_arch") -> NetArch:
    """Read an SB3-style ``net_arch`` into a :class:`NetArch`.

    Args:
        net_arch: ``(64, 64)`` (same for policy and value) or ``{"pi": [...], "vf": [...]}`` (``"qf"`` =
            ``"vf"``).
        owner: the config field, named in error messages (e.g. ``"PPOConfig.net_arch"``).

    Raises:
        ValueError: for unknown keys, a missing key, or non-positive widths.
    """
    if isinstance(net_arch, Mapping):
        keys = set(net_arch)
        value_key = "qf" if "qf" in keys else "vf"
        if keys - {"pi", "vf", "qf"} or "pi" not in keys or value_key not in keys or {"vf", "qf"} <= keys:
            raise ValueError(f"{owner}: {dict(net_arch)} must have keys 'pi' and one of 'vf'/'qf', nothing else")
        arch = NetArch(tuple(int(w) for w in net_arch["pi"]), tuple(int(w) for w in net_arch[value_key]))
    elif isinstance(net_arch, Sequence) and not isinstance(net_arch, str):
        widths = tuple(int(w) for w in net_arch)
        arch = NetArch(widths, widths)
    else:
        raise ValueError(f"{owner}: {net_arch!r} must be a sequence of widths or a mapping with 'pi' and 'vf'")
    if any(w < 1 for w in arch.pi + arch.vf):
        raise ValueError(f"{owner}: {net_arch!r} has non-positive widths")
    return arch


class Trunk(nn.Sequential):
    """An encoder followed by an MLP, exposing ``out_dim`` like the modules it chains."""

    @property
    def out_dim(self) -> int:
        """Size of the output features."""
        out_dim = self[-1].out_dim
        assert isinstance(out_dim, int)
        return out_dim


def make_trunk(
    observation_space: gym.Space,
    hidden: Sequence[int],
    activation: str = "tanh",
    init: str = "default",
    features_dim: int = 512,
) -> MLP | Trunk:
    """Build a feature trunk for ``observation_space``; attach a head (:mod:`porcini.networks.heads`) to it.

    The trunk takes observations as :func:`porcini.networks.encoders.obs_to_input` gives them. Vector
    observations (a ``Box`` that is not an image, ``MultiBinary``, and the one-hot codes of ``Discrete`` and
    ``MultiDiscrete``) get an :class:`MLP` with ``out_dim=None`` that flattens the observation (a scalar ``Box`` of
    shape ``()`` is one feature); image observations
    (:func:`is_image_space`) get a :class:`NatureCNN` with ``features_dim`` followed by an MLP over ``hidden``
    (often ``()``: the CNN already ends in a 512-unit layer); ``Dict`` and ``Tuple`` observations get a
    :class:`~porcini.networks.encoders.MultiInputEncoder` (a CNN per image entry, a flatten per other entry,
    concatenated) followed by the MLP.

    Args:
        observation_space: the space of one observation (``EnvInfo.observation_space``).
        hidden: hidden widths of the MLP part.
        activation: hidden activation of the MLP part.
        init: ``"default"`` or ``"orthogonal"`` (gain sqrt(2)), for every layer of the trunk.
        features_dim: output width of the CNN, for images.

    Returns:
        A module mapping ``[*batch, *obs_shape]`` to ``[*batch, out_dim]``, with an ``out_dim`` attribute.

    Raises:
        UnsupportedSpaceError: for observation spaces without a fixed-size numeric value (Text, Graph, Sequence),
            naming the fix.
    """
    check_observation_space(observation_space, "make_trunk")
    if isinstance(observation_space, (gym.spaces.Dict, gym.spaces.Tuple)):
        encoder = MultiInputEncoder(observation_space, features_dim, init)
        return Trunk(encoder, MLP(encoder.features_dim, None, hidden, activation, init=init))
    if is_image_space(observation_space):
        cnn = NatureCNN(input_shape(observation_space), features_dim=features_dim, init=init)
        return Trunk(cnn, MLP(cnn.out_dim, None, hidden, activation, init=init))
    shape = input_shape(observation_space)
    if not shape:  # a scalar Box: observations [*batch] become one feature [*batch, 1]
        return Trunk(FlattenEncoder(shape), MLP(1, None, hidden, activation, init=init))
    return MLP(shape, None, hidden, activation, init=init)
