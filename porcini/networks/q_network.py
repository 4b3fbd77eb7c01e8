"""The Q-network of DQN and QR-DQN: a trunk and a Q head, from observations to action values (or quantiles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import torch
from torch import nn

from porcini.networks.builders import make_trunk
from porcini.networks.heads import DuelingQHead, QHead
from porcini.networks.masking import features_space, has_action_mask, split_action_mask


class QNetwork(nn.Module):
    """A trunk and a Q head: observations ``[*batch, *obs_shape]`` to action values ``[*batch, n_actions]``.

    The trunk is an MLP for vector observations, the Nature CNN (then the MLP) for images, an MLP over one-hot
    codes for Discrete observations and a multi-input encoder for Dict ones (:func:`make_trunk`; observations
    converted by ``obs_to_tensor``); a Dict's ``"action_mask"`` entry (:mod:`porcini.networks.masking`) is left out
    of the features, for the agent to apply to the values. With ``n_quantiles`` the
    output is ``[*batch, n_actions, n_quantiles]`` (QR-DQN) from one linear layer.

    Args:
        observation_space: the env's observation space.
        n_actions: the number of (Discrete) actions.
        net_arch: hidden widths of the MLP part.
        activation: hidden activation.
        features_dim: output width of the CNN, for images.
        dueling: a :class:`DuelingQHead` (``V + A - mean A``) instead of a linear :class:`QHead`.
        n_quantiles: quantiles per action (distributional output), or None.
    """

    def __init__(self, observation_space: gym.Space, n_actions: int, net_arch: Sequence[int], activation: str,
                 features_dim: int, dueling: bool = False, n_quantiles: int | None = None) -> None:
        super().__init__()
        self.masked = has_action_mask(observation_space)
        if self.masked:  # the agent applies the mask to the values; it is not a feature
            observation_space = features_space(observation_space, n_actions)
        self.trunk = make_trunk(observation_space, net_arch, activation, "default", features_dim)
        if dueling and n_quantiles is not None:
            raise ValueError("QNetwork: a dueling head has no quantile version here; use dueling=False")
        self.n_actions, self.n_quantiles = n_actions, n_quantiles
        head = DuelingQHead if dueling else QHead
        self.head = head(cast(int, self.trunk.out_dim), n_actions * (n_quantiles or 1))

    def forward(self, obs: Any) -> torch.Tensor:
        """Action values ``[*batch, n_actions]`` (or quantiles ``[*batch, n_actions, n_quantiles]``), unmasked."""
        if self.masked:
            obs = split_action_mask(obs)[0]
        out = self.head(self.trunk(obs))
        return out if self.n_quantiles is None else out.unflatten(-1, (self.n_actions, self.n_quantiles))
