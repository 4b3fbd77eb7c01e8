"""The kit every deep agent is built from: seeding, device, observations as tensors, and checkpointed state.

- :func:`seeded` draws parameter initializations from the run seed's network stream and :func:`agent_generator`
  gives the agent's own ``torch.Generator`` (:mod:`porcini.seeding` defines both streams).
- :class:`DeepConfig` is the base of every deep agent's config: the fields they all share (Stable-Baselines3
  names), documented and checked once; :func:`check_device` validates a ``device`` field.
- :func:`obs_to_tensor` turns the loop's observations into what the networks take (the one conversion).
- :class:`ReplaySample` is the one type of a replayed minibatch, whose TD target is
  ``reward + discount · (1 - terminated) · V(next_obs)`` for every off-policy agent.
- :class:`Checkpointed` registers an agent's modules, optimizers and free learned tensors once;
  :meth:`Checkpointed.registered_state` and :meth:`Checkpointed.load_registered_state` save and restore all of
  them, and each agent adds its counters and random generators.
- :class:`Replaying` is the part every agent with a replay buffer of its own transitions shares (DQN's family and
  the off-policy actor-critics): what it does when a resume cuts the envs' episodes.

Optimizers come from :mod:`porcini.networks.optim`, the only module that touches torch's private APIs.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from porcini.core.config import require
from porcini.core.obs_tree import is_obs_tree, map_obs
from porcini.networks.builders import parse_net_arch
from porcini.networks.encoders import as_float32, is_image_space, obs_to_input
from porcini.networks.mlp import ACTIVATIONS
from porcini.seeding import agent_torch_seed, torch_seed

__all__ = ["Checkpointed", "DeepConfig", "ReplaySample", "Replaying", "agent_generator", "check_device",
           "obs_to_tensor", "seeded"]


@dataclass(frozen=True)
class DeepConfig:
    """The fields every deep agent's config shares, checked here once.

    Each agent's config also names its own ``learning_rate`` (its default and optimizer differ), ``net_arch`` and
    ``activation``; when present, they and ``max_grad_norm`` are checked here too.
    """

    gamma: float = 0.99
    """Discount factor."""
    device: str = "cpu"
    """Torch device of the networks and the update (each fit moves its batch there once)."""
    seed: int = 0
    """Run seed: initial parameters, action sampling, exploration and replay or minibatch draws each take their
    own stream of it (:mod:`porcini.seeding`)."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        learning_rate = getattr(self, "learning_rate", 1.0)
        require(learning_rate > 0, owner, "learning_rate", learning_rate, "> 0")
        require(0 <= self.gamma <= 1, owner, "gamma", self.gamma, "in [0, 1]")
        activation = getattr(self, "activation", "relu")
        require(activation in ACTIVATIONS, owner, "activation", activation, f"one of {sorted(ACTIVATIONS)}")
        max_grad_norm = getattr(self, "max_grad_norm", None)
        require(max_grad_norm is None or max_grad_norm > 0, owner, "max_grad_norm", max_grad_norm, "> 0 or None")
        if hasattr(self, "net_arch"):
            try:
                parse_net_arch(self.net_arch, f"{owner}.net_arch")
            except (TypeError, ValueError) as exc:
                require(False, owner, "net_arch", self.net_arch, f"positive widths ({exc})")
        check_device(owner, self.device)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Draw parameter initializations from ``seed``'s network stream without touching the global torch RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(seed))
        yield


def agent_generator(seed: int, device: torch.device) -> torch.Generator:
    """The agent's ``torch.Generator`` on ``device`` (sampled actions, minibatch order), seeded from ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(agent_torch_seed(seed))
    return generator


def check_device(owner: str, device: str) -> None:
    """Raise ``ConfigError`` unless ``device`` names a torch device (``owner`` names the config in the message)."""
    try:
        torch.device(device)
    except RuntimeError:
        require(False, owner, "device", device, "a torch device such as 'cpu' or 'cuda'")


def obs_to_tensor(obs: Any, device: torch.device, space: gym.Space | None = None) -> Any:
    """Observations as the networks take them, on ``device`` (sharing memory with ``obs`` when it can).

    With ``space``, the conversion of :func:`porcini.networks.encoders.obs_to_input` chosen from it: float32 for
    vectors (``uint8`` ones included), images as they are (``uint8`` stays: the CNN scales it), one-hot codes
    for Discrete and MultiDiscrete, and dicts (tuples) of tensors for Dict (Tuple) observations. Without
    ``space``: float32, except that ``uint8`` arrays stay ``uint8``.

    Args:
        obs: observations ``[*batch, *obs_shape]`` (NumPy, a sequence, or a tensor; a dict or tuple of them).
        device: the networks' device.
        space: the observation space of one env, or None for Box observations.
    """
    if space is not None and not isinstance(space, gym.spaces.Box):
        return obs_to_input(obs, space, device)
    if isinstance(obs, Tensor):
        x = obs
    elif isinstance(obs, np.ndarray) and obs.flags.writeable:
        x = torch.from_numpy(obs)
    else:  # torch warns on read-only NumPy memory: copy it
        x = torch.as_tensor(np.array(obs))
    if x.dtype != torch.float32 and (x.dtype != torch.uint8 or (space is not None and not is_image_space(space))):
        x = as_float32(x)
    return x.to(device)


class ReplaySample(NamedTuple):
    """Replayed transitions; the TD target is ``reward + discount · (1 - terminated) · V(next_obs)``.

    Off-policy agents draw one sample for all the gradient steps of a fit and :meth:`select` each minibatch.
    Fields are NumPy arrays right after drawing and tensors on the agent's device after the one conversion.

    Attributes:
        obs: ``[*lead, *obs_shape]`` observations (dicts or tuples of them for Dict or Tuple observations).
        action: ``[*lead, *action_shape]`` actions (actor-critic agents: normalized to ``[-1, 1]``).
        reward: ``[*lead]`` float32 rewards (discounted sums over the run for n-step transitions).
        discount: ``γ`` as a float for one-step transitions, or ``[*lead]`` float32 ``γ^m`` for n-step runs of ``m``.
        terminated: ``[*lead]``, true where the MDP ended (no bootstrap); a truncation bootstraps.
        next_obs: ``[*lead, *obs_shape]`` true successors (of a run's last step).
        weights: ``[*lead]`` importance weights (prioritized replay), else None.
        indices: ``[N]`` NumPy buffer indices to update priorities at (prioritized replay), else None.
    """

    obs: Any
    action: Any
    reward: Any
    discount: Any
    terminated: Any
    next_obs: Any
    weights: Any = None
    indices: Any = None

    def select(self, index: int | slice) -> ReplaySample:
        """Every tensor field indexed by ``index`` (a minibatch); floats, None and NumPy ``indices`` stay.

        Dict and Tuple observations are indexed entry by entry.
        """
        return ReplaySample(*(x[index] if isinstance(x, Tensor) else
                              map_obs(lambda t: t[index], x) if is_obs_tree(x) else x for x in self))


class Checkpointed:
    """Modules, optimizers and learned tensors registered once, saved and restored together.

    Agents fill :attr:`modules`, :attr:`optimizers` (anything with ``state_dict``/``load_state_dict``) and
    :attr:`tensors` (learned tensors outside modules, e.g. SAC's ``log α``) after calling :meth:`_init_registry`.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, Any]
    tensors: dict[str, Tensor]

    def _init_registry(self) -> None:
        """Start with nothing registered."""
        self.modules, self.optimizers, self.tensors = {}, {}, {}

    def registered_state(self) -> dict[str, Any]:
        """Copies of every registered module's, optimizer's and tensor's state, under their registered names."""
        return {
            "modules": {name: {k: v.detach().clone() for k, v in m.state_dict().items()}
                        for name, m in self.modules.items()},
            "optimizers": {name: copy.deepcopy(opt.state_dict()) for name, opt in self.optimizers.items()},
            "tensors": {name: t.detach().clone() for name, t in self.tensors.items()},
        }

    def load_registered_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`registered_state` into the registered objects (same names and architectures).

        Raises:
            ValueError: ``state`` has no registered state (a checkpoint written before agents registered their
                modules: PPO's ``model`` and DQN's ``q_net`` were top-level keys then).
        """
        if "modules" not in state:
            raise ValueError(f"{type(self).__name__} state has no 'modules' (keys: {sorted(state)}): it was written "
                             "by an older porcini; load it with that version or train again")
        for name, module in self.modules.items():
            module.load_state_dict(state["modules"][name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        with torch.no_grad():
            for name, t in self.tensors.items():
                t.copy_(state["tensors"][name])


class Replaying:
    """An agent that learns from ``buffer``, a replay buffer of the transitions ``fit`` gave it, env by env."""

    buffer: Any  # ReplayBuffer, PrioritizedReplayBuffer or HerReplayBuffer

    def episodes_cut(self) -> None:
        """Mark every env's last transition ``fit`` stored ``truncated``: the env's episode was cut there.

        A resume that cannot replay the envs begins new episodes after it; n-step runs and hindsight goals then stop
        at the cut instead of reaching into the next episode.
        """
        self.buffer.truncate_last()
