"""Action masks carried in the observation (PettingZoo's classic-env convention), for policies and Q-learning.

An env with illegal actions reports them in a ``gymnasium.spaces.Dict`` observation with an ``"action_mask"``
entry (``Box(0, 1, (n,), int8)`` or ``MultiBinary(n)``, 1 = legal) beside the features (usually one
``"observation"`` entry), for a ``Discrete(n)`` action space. For a ``MultiDiscrete(nvec)`` action space the mask
is the concatenation of one such mask per component, ``sum(nvec)`` flags (sb3-contrib's ``MaskablePPO``
convention). The mask is not a feature: networks encode the observation without it (:func:`features_space`,
:func:`split_action_mask`) and apply it to their output. Other action spaces have no mask convention:
:func:`mask_width` refuses them. Agents that do not apply a mask refuse it (:func:`refuse_action_mask`, called by
:func:`~porcini.networks.encoders.check_observation_space`) rather than encode it as a feature and play illegal
actions.

Illegal logits and Q-values are replaced by the dtype's most negative finite value rather than ``-inf``, so that
log-probabilities, entropies and ``0 · max`` in a TD target stay finite (an illegal action's probability is then
exactly 0 after the softmax). A state whose mask has no legal action at all (an env bug, or the padding of an
ended episode) is treated as all-legal, so that no distribution or target is ever empty; for ``MultiDiscrete``
actions this holds per component.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.errors import UnsupportedSpaceError

__all__ = ["ACTION_MASK_KEY", "MASK_AGENTS", "features_space", "has_action_mask", "legal_actions", "mask_setup",
           "mask_width", "masked_argmax", "masked_values", "random_legal_actions", "refuse_action_mask",
           "split_action_mask", "without_action_mask"]

ACTION_MASK_KEY = "action_mask"
"""The Dict observation key that holds the mask (PettingZoo's name)."""

MASK_AGENTS = ("PPO, A2C, TRPO, REINFORCE or RecurrentPPO (Discrete or MultiDiscrete actions), or DQN, QR-DQN "
               "or DiscreteCQL (Discrete actions)")
"""The agents that apply an action mask (their networks encode the observation without it)."""


def has_action_mask(observation_space: gym.Space, action_space: gym.Space | None = None) -> bool:
    """Whether observations carry an action mask: a Dict space with an ``"action_mask"`` key.

    Args:
        observation_space: the space of one observation.
        action_space: the env's action space; None skips the check that it is ``Discrete`` or ``MultiDiscrete``
            (the spaces a mask can mask, :func:`mask_width`).
    """
    return (isinstance(observation_space, gym.spaces.Dict) and ACTION_MASK_KEY in observation_space.spaces
            and (action_space is None or isinstance(action_space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete))))


def refuse_action_mask(observation_space: gym.Space, owner: str) -> None:
    """Refuse a top-level ``"action_mask"`` entry: ``owner`` would encode it as a feature and play illegal actions.

    Raises:
        UnsupportedSpaceError: ``observation_space`` carries a mask (:func:`has_action_mask`), naming the agents
            that apply one (:data:`MASK_AGENTS`) and how to drop it.
    """
    if has_action_mask(observation_space):
        raise UnsupportedSpaceError(f"{owner} does not apply the observation's 'action_mask' entry (it would encode it "
                                    f"as a feature and play illegal actions); use {MASK_AGENTS}, or drop it with "
                                    "FilterObservation (or rename it if it is a feature)")


def without_action_mask(observation_space: gym.Space) -> gym.Space:
    """``observation_space`` without its ``"action_mask"`` entry, if it has one (unchecked; see :func:`mask_setup`)."""
    if not has_action_mask(observation_space):
        return observation_space
    assert isinstance(observation_space, gym.spaces.Dict)
    return gym.spaces.Dict({key: sub for key, sub in observation_space.spaces.items() if key != ACTION_MASK_KEY})


def mask_width(action_space: gym.Space) -> int:
    """The number of flags in an action mask for ``action_space``: ``n`` for ``Discrete(n)``, ``sum(nvec)``.

    Raises:
        UnsupportedSpaceError: another action space (Box, MultiBinary, ...): no mask convention applies.
    """
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.MultiDiscrete) and len(action_space.shape) == 1:
        return int(np.sum(action_space.nvec))
    raise UnsupportedSpaceError(f"the observation's 'action_mask' entry masks Discrete or one-dimensional "
                                f"MultiDiscrete actions only, not {action_space}; drop it with FilterObservation "
                                "(or rename it if it is a feature)")


def features_space(observation_space: gym.Space, n_actions: int) -> gym.spaces.Dict:
    """The observation space without its mask entry, after checking the mask's space against ``n_actions``.

    Args:
        observation_space: a Dict space for which :func:`has_action_mask` holds.
        n_actions: the number of flags (:func:`mask_width`): Discrete actions, or values of all MultiDiscrete
            components.

    Raises:
        UnsupportedSpaceError: the mask is not a ``(n_actions,)`` Box or MultiBinary, or it is the only entry.
    """
    assert isinstance(observation_space, gym.spaces.Dict)
    mask = observation_space.spaces[ACTION_MASK_KEY]
    if not isinstance(mask, (gym.spaces.Box, gym.spaces.MultiBinary)) or tuple(mask.shape or ()) != (n_actions,):
        raise UnsupportedSpaceError(f"the observation's 'action_mask' space {mask} must be Box(0, 1, ({n_actions},), "
                                    f"int8) or MultiBinary({n_actions}): one 0/1 flag per action (per value of each "
                                    "MultiDiscrete component, concatenated)")
    rest = without_action_mask(observation_space)
    assert isinstance(rest, gym.spaces.Dict)
    if not rest.spaces:
        raise UnsupportedSpaceError("the observation holds only an 'action_mask'; add the features beside it under "
                                    "'observation'")
    return rest


def mask_setup(observation_space: gym.Space,
               action_space: gym.Space) -> tuple[gym.Space, bool, tuple[int, ...] | None]:
    """How a policy over ``action_space`` reads ``observation_space``: ``(encoded space, masked, nvec)``.

    Without a mask entry: ``(observation_space, False, None)``. With one: the space without it (checked by
    :func:`features_space` against :func:`mask_width`), True, and for MultiDiscrete actions the components' sizes
    (the mask's blocks, for :func:`split_action_mask`), None for Discrete ones.

    Raises:
        UnsupportedSpaceError: a mask beside actions without a mask convention, or of the wrong width.
    """
    if not has_action_mask(observation_space):
        return observation_space, False, None
    blocks = tuple(int(n) for n in action_space.nvec) if isinstance(action_space, gym.spaces.MultiDiscrete) else None
    return features_space(observation_space, mask_width(action_space)), True, blocks


def legal_actions(mask: torch.Tensor) -> torch.Tensor:
    """A mask ``[*batch, n]`` (0/1 in any dtype) as bool, 1 = legal; a row with no legal action becomes all-legal."""
    legal = mask > 0.5 if mask.is_floating_point() else mask != 0
    return legal | ~legal.any(dim=-1, keepdim=True)


def split_action_mask(obs: dict[str, Any], nvec: tuple[int, ...] | None = None) -> tuple[dict[str, Any], torch.Tensor]:
    """A Dict observation batch (tensors) as its features without the mask, and the bool mask ``[*batch, n]``.

    Args:
        obs: the observation batch, mask included.
        nvec: for MultiDiscrete actions, the components' sizes: the all-illegal fallback of :func:`legal_actions`
            then applies to each component's block of flags; None treats the mask as one block (Discrete).
    """
    features = {key: value for key, value in obs.items() if key != ACTION_MASK_KEY}
    mask = obs[ACTION_MASK_KEY]
    if nvec is None:
        return features, legal_actions(mask)
    return features, torch.cat([legal_actions(block) for block in mask.split(list(nvec), dim=-1)], dim=-1)


def masked_values(values: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """``values`` ``[*batch, n]`` with illegal entries set to the dtype's most negative finite value.

    Args:
        values: logits or Q-values.
        legal: bool ``[*batch, n]`` from :func:`legal_actions`.
    """
    return values.masked_fill(~legal, torch.finfo(values.dtype).min)


def masked_argmax(values: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """The index ``[*batch]`` of the largest value among legal actions (ties: the first)."""
    return masked_values(values, legal).argmax(dim=-1)


def random_legal_actions(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of a NumPy mask ``[B, n]``, uniformly among its legal ones (all, if none is legal).

    The argmax of independent uniforms over the legal entries is uniform over them.
    """
    legal = np.asarray(mask) != 0
    legal |= ~legal.any(axis=-1, keepdims=True)
    draws = rng.random(legal.shape)
    return np.where(legal, draws, -1.0).argmax(axis=-1)
