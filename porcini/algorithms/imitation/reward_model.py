"""A learned reward, read out of a trained agent (AIRL's, the preference learner's ``r̂``) to train another on.

``RewardModel`` is a frozen copy of the reward networks: called on a batch of transitions (observations, actions,
true successors, termination flags) it gives rewards ``[B]``. :class:`porcini.envs.wrappers.LearnedReward` puts it
in place of an env's reward; ``porcini train ALGO ENV --reward RUN_DIR`` does that with the run's final agent.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from porcini.algorithms.space_hints import DECLARE_BOUNDS, multi_action_hint
from porcini.envs.info import EnvInfo
from porcini.errors import UnsupportedSpaceError
from porcini.networks.encoders import is_image_space
from porcini.networks.heads import normalization_bounds


class RewardModel:
    """``r(s)`` or ``r(s, a)`` (the mean of one or more networks), optionally shaped, on NumPy batches.

    The reward of a transition ``(s, a, s')`` is::

        r(s[, a]) + γ (1 - terminated) h(s') - h(s)     (the shaping only when a potential h is given)
                  + terminal_reward · terminated

    Args:
        networks: modules from ``[B, d]`` inputs to ``[B, 1]`` (an ensemble's members are averaged).
        info: the env the reward was learned on (its spaces encode the inputs).
        state_only: the networks read the flattened observation alone; otherwise it and the action (one-hot for
            Discrete actions, scaled to ``[-1, 1]`` for Box ones).
        terminal_reward: added where the episode terminates: the learned value of ending it (AIRL's absorbing
            state); 0 when the method learns none. A truncation adds nothing.
        potential: AIRL's ``h``, from flattened observations ``[B, obs_dim]`` to ``[B, 1]``; None: no shaping.
        gamma: the discount of the shaping.
    """

    def __init__(self, networks: torch.nn.Module | Sequence[torch.nn.Module], info: EnvInfo, state_only: bool,
                 terminal_reward: float = 0.0, potential: torch.nn.Module | None = None, gamma: float = 1.0) -> None:
        members = [networks] if isinstance(networks, torch.nn.Module) else list(networks)
        self.networks = [_frozen(net) for net in members]
        self.info = info
        self.state_only = state_only
        self.terminal_reward = float(terminal_reward)
        self.potential = None if potential is None else _frozen(potential)
        self.gamma = float(gamma)

    def inputs(self, obs: Any, action: Any = None) -> torch.Tensor:
        """The networks' inputs ``[B, d]`` of observations ``[B, ...]`` and env actions ``[B, ...]``."""
        x = encode_observations(obs, self.info.observation_space)
        if self.state_only:
            return x
        if action is None:
            raise ValueError("this reward reads (s, a): give the actions too")
        return torch.cat([x, encode_actions(action, self.info.action_space)], dim=-1)

    def __call__(self, obs: Any, action: Any = None, next_obs: Any = None, terminated: Any = None) -> np.ndarray:
        """Rewards ``[B]`` (float32) of transitions; ``next_obs`` is needed with a potential.

        Without ``terminated``, no transition is taken to end the episode.
        """
        done = (torch.zeros(len(obs)) if terminated is None
                else torch.as_tensor(np.asarray(terminated, dtype=np.float32).reshape(-1)))
        with torch.inference_mode():
            x = self.inputs(obs, action)
            reward = torch.stack([net(x).squeeze(-1) for net in self.networks]).mean(0)
            if self.potential is not None:
                if next_obs is None:
                    raise ValueError("this reward is shaped by a potential: give next_obs too")
                space = self.info.observation_space
                shaping = self.gamma * (1.0 - done) * self.potential(encode_observations(next_obs, space)).squeeze(-1)
                reward = reward + shaping - self.potential(encode_observations(obs, space)).squeeze(-1)
            reward = reward + self.terminal_reward * done
        return reward.numpy().astype(np.float32)


def _frozen(net: torch.nn.Module) -> torch.nn.Module:
    return copy.deepcopy(net).cpu().eval().requires_grad_(False)


def encode_observations(obs: Any, space: gym.Space) -> torch.Tensor:
    """Box observations ``[B, ...]`` as reward and discriminator networks read them: float32 ``[B, obs_dim]``.

    Flattened; ``uint8`` images (:func:`~porcini.networks.encoders.is_image_space`) scaled to ``[0, 1]`` as the
    policy's CNN scales them, so that the MLP does not read raw 0-255 pixels.
    """
    x = torch.as_tensor(np.asarray(obs, dtype=np.float32).reshape(len(obs), -1))
    return x.mul_(1.0 / 255.0) if is_image_space(space) else x


def encode_actions(action: Any, space: gym.Space) -> torch.Tensor:
    """Env actions ``[B, ...]`` as reward and discriminator networks read them (float32 ``[B, width]``).

    One-hot for Discrete actions; Box actions scaled from their bounds to ``[-1, 1]`` (and clipped there).
    """
    if isinstance(space, gym.spaces.Discrete):
        index = torch.as_tensor(np.asarray(action).reshape(-1) - int(space.start)).long()
        return torch.nn.functional.one_hot(index, int(space.n)).float()
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"encode_actions takes Discrete or Box actions, got {space}")
    low, span = normalization_bounds(space.low.reshape(-1), space.high.reshape(-1))  # low == high: 0, not NaN
    scaled = 2.0 * (np.asarray(action, dtype=np.float64).reshape(len(action), -1) - low) / span - 1.0
    return torch.as_tensor(np.clip(scaled, -1.0, 1.0), dtype=torch.float32)


def check_reward_spaces(info: EnvInfo, who: str) -> None:
    """Raise UnsupportedSpaceError unless ``info`` has Box observations and a Discrete or bounded Box action.

    The spaces a discriminator or reward model can read (:func:`encode_actions`); ``who`` names the method in the
    message.
    """
    space = info.action_space
    if not isinstance(space, (gym.spaces.Discrete, gym.spaces.Box)):
        raise UnsupportedSpaceError(f"{who} needs a Discrete or Box action space; {info.env_id} has {space}"
                                    + multi_action_hint(space))
    if isinstance(space, gym.spaces.Box) and not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise UnsupportedSpaceError(f"{who} scales Box actions to [-1, 1] and needs finite bounds; {info.env_id} has "
                                    f"{space}: {DECLARE_BOUNDS}")
    if not isinstance(info.observation_space, gym.spaces.Box):
        raise UnsupportedSpaceError(f"{who} reads Box observations; {info.env_id} has {info.observation_space}: "
                                    "flatten or one-hot them with a wrapper (FlattenObservation, OneHotObservation)")
